package ilp

import (
	"fmt"
	"time"
)

// timestampBytes is the size of an ILP timestamp, YYYYMMDDHHmmssfff in UTC
// (RFC 27, RFC 30 "Fixed-length Timestamps").
const timestampBytes = 17

// appendTimestamp appends t in UTC, truncated to the millisecond.
func appendTimestamp(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	year := t.Year()
	if year < 0 || year > 9999 {
		return dst, fmt.Errorf("timestamp %s: year outside 0000-9999", t.Format(time.RFC3339))
	}
	dst = appendDigits(dst, year, 4)
	dst = appendDigits(dst, int(t.Month()), 2)
	dst = appendDigits(dst, t.Day(), 2)
	dst = appendDigits(dst, t.Hour(), 2)
	dst = appendDigits(dst, t.Minute(), 2)
	dst = appendDigits(dst, t.Second(), 2)
	return appendDigits(dst, t.Nanosecond()/int(time.Millisecond), 3), nil
}

func appendDigits(dst []byte, v, width int) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, width)...)
	for i := n + width - 1; i >= n; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst
}

// parseTimestamp reads an ILP timestamp. Every field must be in range:
// month 1-12, a day the month has, hour 0-23, minute and second 0-59 (leap
// seconds are smeared, never written as 60).
func parseTimestamp(b []byte) (time.Time, error) {
	if len(b) != timestampBytes {
		return time.Time{}, fmt.Errorf("timestamp of %d bytes, want %d", len(b), timestampBytes)
	}
	for i, c := range b {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("timestamp %q: byte %d is not a digit", b, i)
		}
	}
	year := digits(b[0:4])
	month := digits(b[4:6])
	day := digits(b[6:8])
	hour := digits(b[8:10])
	minute := digits(b[10:12])
	second := digits(b[12:14])
	milli := digits(b[14:17])
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, fmt.Errorf("timestamp %q: a field is out of range", b)
	}
	if day > daysIn(time.Month(month), year) {
		return time.Time{}, fmt.Errorf("timestamp %q: %s %d has no day %d", b, time.Month(month), year, day)
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, milli*int(time.Millisecond), time.UTC), nil
}

func digits(b []byte) int {
	v := 0
	for _, c := range b {
		v = v*10 + int(c-'0')
	}
	return v
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
