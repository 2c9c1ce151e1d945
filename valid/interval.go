package valid

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// IntervalLengthMax bounds an interval's text: the longest form, two RFC
// 3339 times with nanoseconds and offsets and a repeat count, is well below.
const IntervalLengthMax = 100

// repeatsMax bounds a repeat count; componentMax each duration component.
// Both only keep arithmetic on them far from overflow.
const (
	repeatsMax   = 1_000_000_000
	componentMax = 1_000_000
)

// Duration is an ISO 8601 duration of whole units. Years, months and days
// are calendar units, so it is no time.Duration: a month is as long as the
// month it is added to.
type Duration struct {
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int
}

// Interval is an ISO 8601 repeating interval, as Open Payments limits use
// (R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>).
// Repeats is -1 when unbounded (R/…). Start or End is zero when the other
// is given with Duration; both are set when the interval names them.
type Interval struct {
	Repeats  int64
	Start    time.Time
	End      time.Time
	Duration Duration
}

// ParseInterval reads a repeating interval. Times are RFC 3339 with an
// explicit offset: a time in the server's local zone would mean different
// periods on different servers.
func ParseInterval(v string) (Interval, error) {
	if len(v) > IntervalLengthMax {
		return Interval{}, fmt.Errorf("interval longer than %d bytes", IntervalLengthMax)
	}
	parts := strings.Split(v, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "R") {
		return Interval{}, errors.New("interval is not R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>")
	}
	iv := Interval{Repeats: -1}
	if n := parts[0][1:]; n != "" {
		r, err := digits(n, repeatsMax)
		if err != nil {
			return Interval{}, fmt.Errorf("interval repeats: %w", err)
		}
		iv.Repeats = int64(r)
	}
	var err error
	switch {
	case strings.HasPrefix(parts[1], "P"):
		if iv.Duration, err = ParseDuration(parts[1]); err != nil {
			return Interval{}, err
		}
		if iv.End, err = instant(parts[2]); err != nil {
			return Interval{}, err
		}
	case strings.HasPrefix(parts[2], "P"):
		if iv.Start, err = instant(parts[1]); err != nil {
			return Interval{}, err
		}
		if iv.Duration, err = ParseDuration(parts[2]); err != nil {
			return Interval{}, err
		}
	default:
		if iv.Start, err = instant(parts[1]); err != nil {
			return Interval{}, err
		}
		if iv.End, err = instant(parts[2]); err != nil {
			return Interval{}, err
		}
		if !iv.End.After(iv.Start) {
			return Interval{}, errors.New("interval ends before it starts")
		}
	}
	return iv, nil
}

// String writes the interval in the form ParseInterval reads.
func (iv Interval) String() string {
	r := "R"
	if iv.Repeats >= 0 {
		r += strconv.FormatInt(iv.Repeats, 10)
	}
	switch {
	case iv.Start.IsZero():
		return r + "/" + iv.Duration.String() + "/" + iv.End.Format(time.RFC3339Nano)
	case iv.End.IsZero():
		return r + "/" + iv.Start.Format(time.RFC3339Nano) + "/" + iv.Duration.String()
	default:
		return r + "/" + iv.Start.Format(time.RFC3339Nano) + "/" + iv.End.Format(time.RFC3339Nano)
	}
}

func instant(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("interval time %q is not RFC 3339 with an offset", v)
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("interval time %q out of range", v)
	}
	return t, nil
}

// ParseDuration reads an ISO 8601 duration of whole units:
// P[nY][nM][nW][nD][T[nH][nM][nS]], with at least one non-zero unit.
func ParseDuration(v string) (Duration, error) {
	var d Duration
	rest, ok := strings.CutPrefix(v, "P")
	if !ok || rest == "" {
		return d, fmt.Errorf("duration %q does not start with P and a unit", v)
	}
	date, clock, hasT := strings.Cut(rest, "T")
	if hasT && clock == "" {
		return d, fmt.Errorf("duration %q has T without a unit", v)
	}
	if err := units(date, "YMWD", []*int{&d.Years, &d.Months, &d.Weeks, &d.Days}); err != nil {
		return d, fmt.Errorf("duration %q: %w", v, err)
	}
	if err := units(clock, "HMS", []*int{&d.Hours, &d.Minutes, &d.Seconds}); err != nil {
		return d, fmt.Errorf("duration %q: %w", v, err)
	}
	if d == (Duration{}) {
		return d, fmt.Errorf("duration %q is zero", v)
	}
	return d, nil
}

// units reads numbers each followed by its unit letter, in the order of
// designators, each at most once.
func units(s, designators string, into []*int) error {
	next := 0
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return errors.New("a unit without a number, or a number without a unit")
		}
		at := strings.IndexByte(designators[next:], s[i])
		if at < 0 {
			return fmt.Errorf("unit %q unknown or out of order", s[i])
		}
		n, err := digits(s[:i], componentMax)
		if err != nil {
			return err
		}
		*into[next+at] = n
		next += at + 1
		s = s[i+1:]
	}
	return nil
}

// digits reads a decimal number of at most max.
func digits(s string, max int) (int, error) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("%q is larger than %d", s, max)
	}
	return n, nil
}

// String writes the duration in ISO 8601, omitting zero units.
func (d Duration) String() string {
	var b strings.Builder
	b.WriteString("P")
	for _, u := range []struct {
		n int
		c string
	}{{d.Years, "Y"}, {d.Months, "M"}, {d.Weeks, "W"}, {d.Days, "D"}} {
		if u.n != 0 {
			b.WriteString(strconv.Itoa(u.n) + u.c)
		}
	}
	if d.Hours != 0 || d.Minutes != 0 || d.Seconds != 0 {
		b.WriteString("T")
		for _, u := range []struct {
			n int
			c string
		}{{d.Hours, "H"}, {d.Minutes, "M"}, {d.Seconds, "S"}} {
			if u.n != 0 {
				b.WriteString(strconv.Itoa(u.n) + u.c)
			}
		}
	}
	return b.String()
}

// Amount tells whether v is an Open Payments amount value: an unsigned
// 64-bit integer in decimal, without sign or leading zeros.
func Amount(v string) bool {
	if v == "" || len(v) > 20 || (len(v) > 1 && v[0] == '0') {
		return false
	}
	_, err := strconv.ParseUint(v, 10, 64)
	return err == nil && strings.TrimLeft(v, "0123456789") == ""
}

// Nonce tells whether v can be a GNAP nonce: 1 to 255 printable ASCII
// characters, as it goes into a hash and a URL query.
func Nonce(v string) bool { return Token(v) }
