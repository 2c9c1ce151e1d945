package ilp

import (
	"testing"
)

func TestErrorCodes(t *testing.T) {
	codes := ErrorCodes()
	if len(codes) != 21 {
		t.Fatalf("%d codes, want RFC 27's 21", len(codes))
	}
	seen := map[string]bool{}
	for _, e := range codes {
		if len(e.Code) != 3 || !stringsContainsByte("FTR", e.Code[0]) || e.Name == "" || seen[e.Code] {
			t.Fatalf("bad row %+v", e)
		}
		seen[e.Code] = true
		got, ok := LookupErrorCode(e.Code)
		if !ok || got != e {
			t.Fatalf("LookupErrorCode(%s) = %+v, %v", e.Code, got, ok)
		}
	}
	for code, name := range map[string]string{"F02": "Unreachable", "F08": "Amount Too Large", "T04": "Insufficient Liquidity", "R00": "Transfer Timed Out", "R99": "Application Error"} {
		if e, _ := LookupErrorCode(code); e.Name != name {
			t.Fatalf("%s is %q, want %q", code, e.Name, name)
		}
	}
	if _, ok := LookupErrorCode("F09"); ok {
		t.Fatal("F09 found; RFC 27 does not define it")
	}
	codes[0].Name = "changed"
	if e, _ := LookupErrorCode(CodeBadRequest); e.Name != "Bad Request" {
		t.Fatal("ErrorCodes shares the table")
	}
}

func stringsContainsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
