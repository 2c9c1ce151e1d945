package valid

import (
	"testing"
	"time"
)

func TestIntervalPeriod(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		interval, at string
		start, end   string // empty: no period holds it
	}{
		{"R/2026-01-01T00:00:00Z/P1M", "2026-01-15T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
		{"R/2026-01-01T00:00:00Z/P1M", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"R/2026-01-01T00:00:00Z/P1M", "2025-12-31T23:59:59Z", "", ""},
		{"R/2026-01-31T00:00:00Z/P1M", "2026-02-28T12:00:00Z", "2026-02-28T00:00:00Z", "2026-03-28T00:00:00Z"},
		{"R2/2026-01-01T00:00:00Z/P1D", "2026-01-03T10:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
		{"R2/2026-01-01T00:00:00Z/P1D", "2026-01-04T00:00:00Z", "", ""},
		{"R0/2026-01-01T00:00:00Z/PT1H", "2026-01-01T00:30:00Z", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
		{"R0/2026-01-01T00:00:00Z/PT1H", "2026-01-01T01:00:00Z", "", ""},
		{"R/P1D/2026-01-10T00:00:00Z", "2026-01-08T06:00:00Z", "2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z"},
		{"R/P1D/2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z", "", ""},
		{"R/2026-01-01T00:00:00Z/2026-01-01T12:00:00Z", "2026-01-02T13:00:00Z", "2026-01-02T12:00:00Z", "2026-01-03T00:00:00Z"},
		{"R/2000-01-01T00:00:00Z/PT1S", "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"},
		{"R/P1W/2026-01-10T00:00:00Z", "2025-12-27T00:00:00Z", "2025-12-27T00:00:00Z", "2026-01-03T00:00:00Z"},
		{"R1/P1W/2026-01-10T00:00:00Z", "2025-12-26T00:00:00Z", "", ""},
		{"R/2026-01-01T00:00:00Z/P1Y", "2031-06-01T00:00:00Z", "2031-01-01T00:00:00Z", "2032-01-01T00:00:00Z"},
	} {
		iv, err := ParseInterval(tc.interval)
		if err != nil {
			t.Fatalf("%s: %v", tc.interval, err)
		}
		start, end, ok := iv.Period(at(tc.at))
		if tc.start == "" {
			if ok {
				t.Errorf("%s at %s: got [%s, %s), want none", tc.interval, tc.at, start, end)
			}
			continue
		}
		if !ok || !start.Equal(at(tc.start)) || !end.Equal(at(tc.end)) {
			t.Errorf("%s at %s: got [%s, %s) %v, want [%s, %s)", tc.interval, tc.at, start, end, ok, tc.start, tc.end)
		}
	}
}
