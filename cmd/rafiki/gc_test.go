package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", servicesGCPercent},
		{"50", 77}, // GOGC set: the runtime read it at start; tuneGC leaves the setting alone
		{"off", 77},
	} {
		t.Run(tc.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			before := debug.SetGCPercent(77)
			defer debug.SetGCPercent(before)
			tuneGC()
			if got := debug.SetGCPercent(77); got != tc.want {
				t.Fatalf("GOGC=%q: GC percent %d, want %d", tc.gogc, got, tc.want)
			}
		})
	}
}
