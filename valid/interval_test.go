package valid

import (
	"testing"
	"time"
)

func TestParseInterval(t *testing.T) {
	start := time.Date(2022, 4, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want Interval // zero when the input must be refused
	}{
		{"R/2022-04-01T10:00:00Z/P1M", Interval{Repeats: -1, Start: start, Duration: Duration{Months: 1}}},
		{"R12/2022-04-01T10:00:00Z/P1Y2M3W4DT5H6M7S", Interval{Repeats: 12, Start: start,
			Duration: Duration{Years: 1, Months: 2, Weeks: 3, Days: 4, Hours: 5, Minutes: 6, Seconds: 7}}},
		{"R0/PT1H/2022-04-01T10:00:00Z", Interval{Repeats: 0, End: start, Duration: Duration{Hours: 1}}},
		{"R/2022-04-01T10:00:00Z/2022-04-02T10:00:00Z", Interval{Repeats: -1, Start: start, End: start.Add(24 * time.Hour)}},
		{"R/2022-04-01T10:00:00Z/PT1M", Interval{Repeats: -1, Start: start, Duration: Duration{Minutes: 1}}},
		{"", Interval{}},
		{"R/P1M", Interval{}},
		{"2022-04-01T10:00:00Z/P1M", Interval{}},
		{"Rx/2022-04-01T10:00:00Z/P1M", Interval{}},
		{"R-1/2022-04-01T10:00:00Z/P1M", Interval{}},
		{"R1000000001/2022-04-01T10:00:00Z/P1M", Interval{}},
		{"R/2022-04-01T10:00:00/P1M", Interval{}},                   // no offset
		{"R/2022-04-01/P1M", Interval{}},                            // no time
		{"R/2022-04-01T10:00:00Z/P", Interval{}},                    // no unit
		{"R/2022-04-01T10:00:00Z/PT", Interval{}},                   // T without unit
		{"R/2022-04-01T10:00:00Z/P0D", Interval{}},                  // zero
		{"R/2022-04-01T10:00:00Z/P1D1Y", Interval{}},                // out of order
		{"R/2022-04-01T10:00:00Z/P1H", Interval{}},                  // hours before T
		{"R/2022-04-01T10:00:00Z/PT1D", Interval{}},                 // days after T
		{"R/2022-04-01T10:00:00Z/P1.5D", Interval{}},                // fraction
		{"R/2022-04-01T10:00:00Z/P1000001D", Interval{}},            // too large
		{"R/2022-04-01T10:00:00Z/2022-04-01T10:00:00Z", Interval{}}, // empty
		{"R/P1D/P1D", Interval{}},
		{"R/2022-04-01T10:00:00Z/P1M/x", Interval{}},
		{"R/2022-04-01T10:00:00Z/P1111111111111111111111111111111111111111111111111111111111111111111111111111111111111D", Interval{}},
	} {
		got, err := ParseInterval(tc.in)
		if tc.want == (Interval{}) {
			if err == nil {
				t.Errorf("%q: parsed as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Start.Equal(tc.want.Start) || !got.End.Equal(tc.want.End) ||
			got.Repeats != tc.want.Repeats || got.Duration != tc.want.Duration {
			t.Errorf("%q: got %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestAmount(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "1": true, "18446744073709551615": true,
		"": false, "18446744073709551616": false, "01": false, "-1": false, "+1": false, "1.0": false, " 1": false,
	} {
		if Amount(in) != want {
			t.Errorf("Amount(%q) = %t", in, !want)
		}
	}
}

// FuzzParseInterval checks the interval parser on any input: it never
// panics, and what it accepts it writes back in a form it reads as the same
// interval.
func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"R/2022-04-01T10:00:00Z/P1M", "R3/PT1H/2022-04-01T10:00:00+02:00",
		"R/2022-04-01T10:00:00Z/2022-05-01T10:00:00.5Z", "R/P", "R//", "R99999999999/x/P1D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := ParseInterval(s)
		if err != nil {
			return
		}
		again, err := ParseInterval(iv.String())
		if err != nil {
			t.Fatalf("%q written as %q, which does not parse: %v", s, iv.String(), err)
		}
		if again.Repeats != iv.Repeats || again.Duration != iv.Duration || !again.Start.Equal(iv.Start) || !again.End.Equal(iv.End) {
			t.Fatalf("%q read back as %+v, was %+v", s, again, iv)
		}
	})
}
