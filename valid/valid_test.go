package valid

import (
	"regexp"
	"strings"
	"testing"
)

func TestID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},
		{"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},
		{"", "", false}, {"*", "", false}, {">", "", false}, {"a.b", "", false},
		{"urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "", false},
		{"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "", false},
		{"a0eebc999c0b4ef8bb6d6bb9bd380a11", "", false},
		{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", "", false},
		{"a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", "", false},
	} {
		got, ok := ID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ID(%q) = %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && !IsID(got) {
			t.Errorf("IsID(%q) is false", got)
		}
	}
	if IsID("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11") {
		t.Error("an upper-case id is not canonical")
	}
}

func TestTextAndToken(t *testing.T) {
	for _, tc := range []struct {
		in          string
		text, token bool
	}{
		{"Bank B", true, false}, {"secret-1", true, true}, {"日本語 😀", true, false}, {"", true, false},
		{"a\x00b", false, false}, {"a\nb", false, false}, {"\x7f", false, false}, {"\u0085", false, false},
		{string([]byte{0xff, 0xfe}), false, false}, {strings.Repeat("x", TextLengthMax), true, true},
		{strings.Repeat("x", TextLengthMax+1), false, false}, {strings.Repeat("é", 128), false, false},
	} {
		if got := Text(tc.in, TextLengthMax); got != tc.text {
			t.Errorf("Text(%q) = %v", tc.in, got)
		}
		if got := Token(tc.in); got != tc.token {
			t.Errorf("Token(%q) = %v", tc.in, got)
		}
	}
}

func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		in          string
		http, space bool
	}{
		{"https://a.example", true, true}, {"http://a.example:8080/x/y", true, true}, {"https://a.example/x?q=1", true, false},
		{"https://a.example/x#f", true, false}, {"https://u:p@a.example/x", true, false}, {"https://a.example/a//b", true, false},
		{"https://a.example/../b", true, false}, {"https://a.example/%2e%2e/b", true, false}, {"https://a.example/./b", true, false},
		{" https://a.example/x", false, false}, {"https://a.example/x ", false, false},
		{"\u00a0https://a.example/x", false, false}, {"http://a.example:65535/x", true, true},
		{"http://a.example:65536/x", false, false}, {"http://127.0.0.1:99999/x", false, false},
		{"http://a.example:080/x", true, false}, {"http://a.example:/x", true, false}, {"http://a.example:0/x", true, false},
		{"ftp://a.example", false, false}, {"https://", false, false},
		{"https://a..example", false, false}, {"https://a.example.", false, false}, {"a.example/x", false, false},
		{"javascript:alert(1)", false, false}, {"https://a.example/\x00", false, false}, {"", false, false},
		{"https://a.example/" + strings.Repeat("x", 300), false, false},
	} {
		if got := HTTPURL(tc.in, TextLengthMax); got != tc.http {
			t.Errorf("HTTPURL(%q) = %v", tc.in, got)
		}
		if got := SpaceURL(tc.in); got != tc.space {
			t.Errorf("SpaceURL(%q) = %v", tc.in, got)
		}
	}
}

func TestILPAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"test.bank", true}, {"g.us.bank-1~x_y", true}, {"test3.a", true}, {"private.a.b.c", true},
		{"test", false}, {"test.", false}, {"test..a", false}, {".test.a", false}, {"nope.a", false}, {"test.a b", false},
		{"test.a*", false}, {"test.>", false}, {"", false}, {"test." + strings.Repeat("a", ILPAddressLengthMax-5), true},
		{"test." + strings.Repeat("a", ILPAddressLengthMax-4), false},
	} {
		if got := ILPAddress(tc.in); got != tc.want {
			t.Errorf("ILPAddress(%q) = %v", tc.in, got)
		}
	}
}

// Spaces nest on whole segments: a path segment of a URL, a dot-separated
// segment of an ILP address.
func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		a, b   string
		within bool
	}{
		{"https://a.example/ali/x", "https://a.example/ali", true},
		{"https://a.example/ali", "https://a.example/ali", true},
		{"https://a.example/ali/", "https://a.example/ali", true},
		{"https://a.example/ali", "https://a.example/ali/", true},
		{"https://a.example/alice", "https://a.example/ali", false},
		{"https://a.example/ali", "https://a.example/alice", false},
		{"https://a.example/ali", "https://a.example/ali/x", false},
		{"https://a.example/x", "https://a.example", true},
		{"https://a.example/x", "https://a.example/", true},
		{"https://A.Example/ALI/x", "https://a.example/ali", true},
		{"http://a.example/ali/x", "https://a.example/ali", true},
		{"https://a.example:443/ali/x", "https://a.example/ali", true},
		{"https://a.example:8443/ali/x", "https://a.example/ali", false},
		{"https://b.a.example/ali/x", "https://a.example/ali", false},
		{"https://a.example.evil/ali/x", "https://a.example/ali", false},
		{"https://a.example/ali?x", "https://a.example/ali", false},
	} {
		if got := URLWithin(tc.a, tc.b); got != tc.within {
			t.Errorf("URLWithin(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := URLsOverlap(tc.a, tc.b); got != (tc.within || URLWithin(tc.b, tc.a)) || got != URLsOverlap(tc.b, tc.a) {
			t.Errorf("URLsOverlap(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	for _, tc := range []struct {
		a, b   string
		within bool
	}{
		{"test.bank.x", "test.bank", true}, {"test.bank", "test.bank", true}, {"test.bankx", "test.bank", false},
		{"test.bank", "test.bank.x", false}, {"test.Bank.x", "test.bank", true}, {"test.bank.x.y", "test", true},
		{"g.bank", "test.bank", false},
	} {
		if got := ILPWithin(tc.a, tc.b); got != tc.within {
			t.Errorf("ILPWithin(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := ILPAddressesOverlap(tc.a, tc.b); got != ILPAddressesOverlap(tc.b, tc.a) || (tc.within && !got) {
			t.Errorf("ILPAddressesOverlap(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// FuzzURLWithin checks the parsers on any input: no panic, a space URL lies
// in itself, no other URL lies in anything, and ids come out canonical.
func FuzzURLWithin(f *testing.F) {
	for _, s := range []string{"https://a.example/ali", "https://a.example/ali/x", "http://[::1]:80/x", "https://a.example/%2e", "*", ""} {
		f.Add(s, "https://a.example/ali")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		within := URLWithin(a, b)
		if within && (!SpaceURL(a) || !SpaceURL(b)) {
			t.Fatalf("%q within %q, but not both are space URLs", a, b)
		}
		if SpaceURL(a) && !URLWithin(a, a) {
			t.Fatalf("%q is not within itself", a)
		}
		if id, ok := ID(a); ok && !IsID(id) {
			t.Fatalf("ID(%q) = %q, not canonical", a, id)
		}
		if ILPAddress(a) && !ILPWithin(a, a) {
			t.Fatalf("%q is not within itself", a)
		}
	})
}

// IsID accepts exactly what the pattern of a canonical UUID matches.
func FuzzIsID(f *testing.F) {
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, seed := range []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\n", "a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", "------------------------------------", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1é"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := IsID(id), canonical.MatchString(id); got != want {
			t.Fatalf("IsID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
