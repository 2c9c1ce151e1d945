package ilp

import (
	"errors"
	"testing"
	"time"
)

// The valid and invalid examples of RFC 30, "Fixed-length Timestamps".
func TestParseTimestamp(t *testing.T) {
	valid := map[string]string{
		"20171224161432279": "2017-12-24T16:14:32.279Z",
		"20171224161432270": "2017-12-24T16:14:32.27Z",
		"20171224161432000": "2017-12-24T16:14:32Z",
		"20161231235959852": "2016-12-31T23:59:59.852Z",
		"20171225000000000": "2017-12-25T00:00:00Z",
		"99991224161432279": "9999-12-24T16:14:32.279Z",
		"20240229000000000": "2024-02-29T00:00:00Z",
		"00000101000000000": "0000-01-01T00:00:00Z",
	}
	for in, want := range valid {
		got, err := parseTimestamp([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s := got.Format(time.RFC3339Nano); s != want || got.Location() != time.UTC {
			t.Fatalf("%s = %s (%s), want %s", in, s, got.Location(), want)
		}
		b, err := appendTimestamp(nil, got)
		if err != nil || string(b) != in {
			t.Fatalf("%s re-encodes to %s, %v", in, b, err)
		}
	}
	for _, in := range []string{
		"20171224235312.431+0200", "201712242153124318", "20171324161432200", "20171224230000000.",
		"20171224240000000", "20171224215300", "2017122421531", "201712242153", "2017122421",
		"20161231235960852", "20170229000000000", "20171200161432200", "20171131000000000",
		"2017122416143227Z", " 0171224161432279", "+0171224161432279", "20171224166032279",
	} {
		if _, err := parseTimestamp([]byte(in)); err == nil {
			t.Fatalf("%s: parsed, want an error", in)
		}
	}
}

func TestAppendTimestamp(t *testing.T) {
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2017, 12, 24, 16, 14, 32, 279112000, time.UTC), "20171224161432279"},
		{time.Date(2017, 12, 24, 18, 14, 32, 0, time.FixedZone("+0200", 2*3600)), "20171224161432000"},
		{time.Date(2017, 12, 24, 24, 0, 0, 0, time.UTC), "20171225000000000"},
		{time.Date(2017, 12, 24, 16, 14, 32, 999999999, time.UTC), "20171224161432999"},
		{time.Date(5, 1, 2, 3, 4, 5, 6000000, time.UTC), "00050102030405006"},
	}
	for _, c := range cases {
		b, err := appendTimestamp(nil, c.in)
		if err != nil || string(b) != c.want {
			t.Fatalf("%s: %s, %v; want %s", c.in, b, err, c.want)
		}
	}
	for _, in := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)} {
		if _, err := appendTimestamp(nil, in); err == nil {
			t.Fatalf("%s: encoded, want an error", in)
		}
		if _, err := EncodePrepare(Prepare{ExpiresAt: in, Destination: "g.a"}); err == nil {
			t.Fatalf("a Prepare expiring %s: encoded, want an error", in)
		}
	}
	_, err := DecodePrepare(mustEncodePrepare(t, Prepare{ExpiresAt: time.Date(2017, 2, 28, 0, 0, 0, 0, time.UTC), Destination: "g.a"}, func(b []byte) {
		copy(b[2+8:], "20170229")
	}))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("a Prepare expiring on 29 February 2017: %v, want ErrMalformed", err)
	}
}
