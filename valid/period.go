package valid

import (
	"math/big"
	"time"
)

// periodStepsMax bounds the periods of calendar months walked to find the
// one holding a time: a monthly interval over eight thousand years.
const periodStepsMax = 100_000

// Period is the repetition of a repeating interval that holds t, as Open
// Payments grant limits count spending per period: the first period is the
// interval as written, each next one follows (or, for R/<duration>/<end>,
// precedes) it by the duration, up to Repeats more (unbounded for -1). ok
// is false when no period holds t: before the first, past the last.
// Durations add in UTC; a month added to the 31st ends on the month's last
// day.
func (iv Interval) Period(t time.Time) (start, end time.Time, ok bool) {
	t = t.UTC()
	backward := iv.Start.IsZero()
	switch {
	case backward:
		end = iv.End.UTC()
		start = iv.Duration.subtract(end)
	case iv.End.IsZero():
		start = iv.Start.UTC()
		end = iv.Duration.add(start)
	default:
		start, end = iv.Start.UTC(), iv.End.UTC()
	}
	fixed := iv.End.Sub(iv.Start)
	step := func(from time.Time, forward bool) time.Time {
		switch {
		case !iv.Start.IsZero() && !iv.End.IsZero() && forward:
			return from.Add(fixed)
		case !iv.Start.IsZero() && !iv.End.IsZero():
			return from.Add(-fixed)
		case forward:
			return iv.Duration.add(from)
		}
		return iv.Duration.subtract(from)
	}
	holds := func(s, e time.Time) bool { return !t.Before(s) && t.Before(e) }
	if holds(start, end) {
		return start, end, true
	}
	if (!backward && t.Before(start)) || (backward && !t.Before(end)) {
		return time.Time{}, time.Time{}, false
	}
	if length, ok := iv.length(); ok {
		// Periods of one length: the one holding t is found by division,
		// in exact arithmetic, as a time.Duration holds 292 years only.
		k := periodsIn(start, t, length)
		if backward {
			k = periodsIn(t, end.Add(-time.Nanosecond), length)
		}
		if iv.Repeats >= 0 && k > iv.Repeats {
			return time.Time{}, time.Time{}, false
		}
		if backward {
			k = -k
		}
		return shifted(start, k, length), shifted(end, k, length), true
	}
	for i := int64(1); (iv.Repeats < 0 || i <= iv.Repeats) && i <= periodStepsMax; i++ {
		if backward {
			start, end = step(start, false), start
		} else {
			start, end = end, step(end, true)
		}
		if holds(start, end) {
			return start, end, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// periodsIn is how many whole lengths fit from from to to (not before it).
func periodsIn(from, to time.Time, length time.Duration) int64 {
	d := new(big.Int).Mul(big.NewInt(to.Unix()-from.Unix()), big.NewInt(int64(time.Second)))
	d.Add(d, big.NewInt(int64(to.Nanosecond()-from.Nanosecond())))
	return d.Quo(d, big.NewInt(int64(length))).Int64()
}

// shifted is t moved by k lengths.
func shifted(t time.Time, k int64, length time.Duration) time.Time {
	d := new(big.Int).Mul(big.NewInt(k), big.NewInt(int64(length)))
	seconds, nanos := new(big.Int).QuoRem(d, big.NewInt(int64(time.Second)), new(big.Int))
	return time.Unix(t.Unix()+seconds.Int64(), int64(t.Nanosecond())+nanos.Int64()).UTC()
}

// length is the length of every period, when none has calendar months.
func (iv Interval) length() (time.Duration, bool) {
	if !iv.Start.IsZero() && !iv.End.IsZero() {
		return iv.End.Sub(iv.Start), true
	}
	d := iv.Duration
	if d.Years != 0 || d.Months != 0 {
		return 0, false
	}
	return time.Duration(d.Weeks*7+d.Days)*24*time.Hour + d.clock(), true
}

// add is t plus the duration, months added as calendar months that keep
// the day, or end on the month's last day when it has fewer.
func (d Duration) add(t time.Time) time.Time {
	t = addMonths(t, d.Years*12+d.Months)
	return t.AddDate(0, 0, d.Weeks*7+d.Days).Add(d.clock())
}

// subtract is t less the duration, as add counts it.
func (d Duration) subtract(t time.Time) time.Time {
	t = addMonths(t, -(d.Years*12 + d.Months))
	return t.AddDate(0, 0, -(d.Weeks*7 + d.Days)).Add(-d.clock())
}

func (d Duration) clock() time.Duration {
	return time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute + time.Duration(d.Seconds)*time.Second
}

// addMonths adds months keeping the day of the month, or the month's last
// day when it is shorter (31 January and a month is 28 or 29 February).
func addMonths(t time.Time, months int) time.Time {
	if months == 0 {
		return t
	}
	first := time.Date(t.Year(), t.Month()+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}
