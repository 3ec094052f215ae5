package schedule

import "time"

// Wall-clock arithmetic.
//
// Daily, weekly, monthly and cron schedules are defined on the wall clock of a time zone, but
// triggers happen at instants. The engine therefore works in two spaces:
//
//   - "wall" seconds: the local date and time read as if it were UTC (seconds since 1970-01-01T00:00
//     on the wall clock). Calendar arithmetic is exact there because there is no daylight saving.
//   - instants: time.Time values.
//
// A wall time w maps to the instant resolveWall(w): the earliest instant at which the zone's clock
// shows w or later. That single rule gives the product's DST semantics: a wall time that occurs
// twice resolves to its first occurrence, and one that is skipped resolves to the instant the
// clocks jump past it. Going the other way, wallCeiling(t) is the latest wall time the clock has
// shown up to and including t; since resolveWall(w) <= t exactly when w <= wallCeiling(t), windows
// of instants map to windows of wall times without ever firing a repeated hour twice.

const (
	secondsPerDay = 24 * 60 * 60
	// maxZoneSwing bounds |UTC offset| with room to spare (tzdata's extremes are about 15h56m, from
	// local mean time).
	maxZoneSwing = 36 * 60 * 60
)

// floorDiv divides rounding towards minus infinity, so that wall times before 1970 land in the
// right day, week or month.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// wallOf is the wall-clock reading of t in loc, in wall seconds (fractions dropped).
func wallOf(loc *time.Location, t time.Time) int64 {
	_, off := t.In(loc).Zone()
	return t.Unix() + int64(off)
}

// wallCeiling is the latest wall time loc's clock has shown at or before t. It differs from
// wallOf(t) only in the hours after a fall-back, when the clock reads an hour it already showed.
func wallCeiling(loc *time.Location, t time.Time) int64 {
	t = t.In(loc)
	w := wallOf(loc, t)
	if loc == time.UTC {
		return w
	}
	start, _ := t.ZoneBounds()
	// Only periods that began less than two days before t can hold a higher reading: an older
	// period ended with its clock well below t's.
	for range 4 {
		if start.IsZero() || t.Sub(start) >= 48*time.Hour {
			break
		}
		prev := start.Add(-time.Nanosecond)
		if pw := wallOf(loc, prev); pw > w {
			w = pw
		}
		start, _ = prev.ZoneBounds()
	}
	return w
}

// resolveWall is the earliest instant at which loc's clock shows wall time w or later: w itself
// when it occurs once, its first occurrence when it occurs twice, and the moment of the jump when
// the clock skips it. time.Date is not used because its choice in gaps and overlaps is not this
// rule (and differs between zones).
func resolveWall(loc *time.Location, w int64) time.Time {
	if loc == time.UTC {
		return time.Unix(w, 0).In(loc)
	}
	// Walk the zone's periods from a point where the clock surely read less than w. Within one
	// period the clock runs at a fixed offset, so the earliest candidate there is
	// max(periodStart, w-offset); the first period that has one holds the answer.
	t := time.Unix(w-maxZoneSwing, 0).In(loc)
	for range 64 {
		start, end := t.ZoneBounds()
		_, off := t.Zone()
		c := w - int64(off)
		if !start.IsZero() && c < start.Unix() {
			c = start.Unix()
		}
		if end.IsZero() || c < end.Unix() {
			return time.Unix(c, 0).In(loc)
		}
		t = end
	}
	// Not reachable with real zone data (periods are months long); keep a sane answer anyway.
	u := time.Unix(w, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), 0, loc)
}

// dayNumber is the number of days from 1970-01-01 to the given civil date. time.Date normalizes
// out-of-range days, which is how monthly rollover is computed (February 31 is March 3).
func dayNumber(year int, month time.Month, day int) int64 {
	return floorDiv(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix(), secondsPerDay)
}
