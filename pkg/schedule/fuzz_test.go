package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func FuzzParseKitchen(f *testing.F) {
	for _, s := range []string{"1:02PM", "1:02pm", "12:00AM", "01:02PM", "13:00PM", "1:2PM", "1:02", "", "0:30AM", "1:02 PM", "12:59am"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, m, err := ParseKitchen(s)
		if ok := timeRE.MatchString(s); ok != (err == nil) {
			t.Fatalf("ParseKitchen(%q) err=%v disagrees with the CRD pattern (match=%v)", s, err, ok)
		}
		if err != nil {
			return
		}
		if h < 0 || h > 23 || m < 0 || m > 59 {
			t.Fatalf("ParseKitchen(%q) = %d:%d, out of range", s, h, m)
		}
		// Accepted strings are time.Kitchen, give or take case and a leading zero.
		if want := strings.TrimPrefix(s, "0"); !strings.EqualFold(FormatKitchen(h, m), want) {
			t.Fatalf("ParseKitchen(%q) = %d:%02d, which formats as %q", s, h, m, FormatKitchen(h, m))
		}
		ref, perr := time.Parse(time.Kitchen, strings.ToUpper(strings.TrimPrefix(s, "0")))
		if perr != nil || ref.Hour() != h || ref.Minute() != m {
			t.Fatalf("ParseKitchen(%q) = %d:%02d, time.Parse says %v %v", s, h, m, ref, perr)
		}
	})
}

func FuzzParseWeekday(f *testing.F) {
	for _, s := range []string{"Sunday", "Sun", "sunday", "SUN", "thu", "thur", "thurs", "tue", "tues", "Funday", "", "ſun"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseWeekday(s)
		lower := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, s)
		_, listed := weekdays[lower]
		if listed != (err == nil) {
			t.Fatalf("ParseWeekday(%q) err=%v, but the CRD list says %v", s, err, listed)
		}
		// Every accepted form is a prefix of the day's English name.
		if err == nil && !strings.HasPrefix(strings.ToLower(d.String()), lower) {
			t.Fatalf("ParseWeekday(%q) = %v", s, d)
		}
	})
}

func FuzzMonthlyDate(f *testing.F) {
	f.Add(int32(31), int16(2023), uint8(2))
	f.Add(int32(29), int16(2024), uint8(2))
	f.Add(int32(0), int16(2024), uint8(1))
	f.Add(int32(32), int16(2024), uint8(12))
	f.Fuzz(func(t *testing.T, date int32, year int16, month uint8) {
		err := CheckDate(date)
		if (date >= 1 && date <= 31) != (err == nil) {
			t.Fatalf("CheckDate(%d) = %v", date, err)
		}
		if err != nil {
			return
		}
		m := time.Month(month%12 + 1)
		y, rm, d := RolloverDate(int(year), m, int(date))
		next := time.Date(int(year), m+1, 1, 0, 0, 0, 0, time.UTC)
		switch {
		case y == int(year) && rm == m && d == int(date):
		case y == next.Year() && rm == next.Month() && d >= 1 && d <= 3:
		default:
			t.Fatalf("date %d of %d-%02d fires on %d-%02d-%02d", date, year, m, y, rm, d)
		}
		// This month's trigger comes before next month's: every month fires once, in order.
		r := &MonthlyRule{Date: int(date)}
		n := int64(year)*12 + int64(m) - 1
		if !(r.wallAt(n) < r.wallAt(n+1)) || r.floorIndex(r.wallAt(n)) != n {
			t.Fatalf("date %d: month %d at %d, next at %d, floorIndex %d", date, n, r.wallAt(n), r.wallAt(n+1), r.floorIndex(r.wallAt(n)))
		}
	})
}

var fuzzZones = []string{"", "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo",
	"Pacific/Apia", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Africa/Casablanca", "Nowhere/Land", "Local"}

func FuzzCompile(f *testing.F) {
	f.Add(uint8(15), int32(1), "10:14PM", "Thursday", "10:13PM", int32(14), "8:05PM", uint8(0), "", int32(0), int32(0), int64(1550000000), int64(3600))
	f.Add(uint8(14), int32(0), "2:30AM", "sun", "1:30am", int32(31), "2:30AM", uint8(2), "", int32(60), int32(5), int64(1710050000), int64(86400*3))
	f.Add(uint8(1), int32(2147483647), "", "", "", int32(0), "", uint8(3), "Mars/Base", int32(2147483647), int32(1), int64(-5000000000), int64(1))
	f.Fuzz(func(t *testing.T, sections uint8, minutes int32, dtime, wday, wtime string, date int32, mtime string,
		zone uint8, tz string, deadline, retain int32, nowSec, sinceLast int64) {
		item := v1alpha1.SchedulePolicyItem{TimeZone: tz}
		if tz == "" {
			item.TimeZone = fuzzZones[int(zone)%len(fuzzZones)]
		}
		if sections&1 != 0 {
			item.Interval = &v1alpha1.IntervalPolicy{IntervalMinutes: minutes, Retain: &retain}
		}
		if sections&2 != 0 {
			item.Daily = &v1alpha1.DailyPolicy{Time: dtime}
		}
		if sections&4 != 0 {
			item.Weekly = &v1alpha1.WeeklyPolicy{Day: wday, Time: wtime}
		}
		if sections&8 != 0 {
			item.Monthly = &v1alpha1.MonthlyPolicy{Date: date, Time: mtime}
		}
		if sections&16 != 0 {
			item.StartingDeadlineMinutes = &deadline
		}
		errs := ValidatePolicy(item)
		p, err := Compile("fuzz", item)
		if (len(errs) == 0) != (err == nil) {
			t.Fatalf("ValidatePolicy found %v but Compile said %v", errs, err)
		}
		if err != nil {
			return
		}
		// Keep instants within a few centuries of now, where tz data and calendars are meaningful.
		const span = int64(200 * 366 * secondsPerDay)
		now := time.Unix(((nowSec%span)+span)%span+time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nowSec&0x3fffffff)
		for _, typ := range p.Types() {
			after := now
			for step := range 4 {
				next := p.Next(typ, after)
				if !next.After(after) || !next.After(now) {
					t.Fatalf("%s step %d: Next after %s = %s, not later", typ, step, after, next)
				}
				after = next
			}
		}
		// Whatever the history, Due only returns handled-able past times, and once they are
		// recorded nothing is due again at the same instant: a run is never replayed.
		if sinceLast < 0 {
			sinceLast = -sinceLast
		}
		last := now.Add(-time.Duration(sinceLast%(400*24)) * time.Hour)
		h := History{Start: last.Add(-time.Hour), Last: map[Type]time.Time{}}
		for _, typ := range p.Types() {
			if sections&32 != 0 {
				h.Last[typ] = p.Next(typ, last.Add(-48*time.Hour))
				if h.Last[typ].After(now) {
					delete(h.Last, typ)
				}
			}
		}
		for _, d := range p.Due(h, now) {
			if d.Scheduled.After(now) || d.Missed < 0 || (!h.Last[d.Type].IsZero() && !d.Scheduled.After(h.Last[d.Type])) {
				t.Fatalf("bad decision %+v for history %v at %s", d, h, now)
			}
			h.Last[d.Type] = d.Scheduled
		}
		if again := p.Due(h, now); len(again) != 0 {
			t.Fatalf("after recording, Due again = %+v", again)
		}
		for _, o := range p.NextTriggers(h, now) {
			if !o.Time.After(now) {
				t.Fatalf("after recording, next %s at %s is not after now %s", o.Type, o.Time, now)
			}
		}
	})
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "CRON_TZ=Europe/Berlin 30 2 * * *", "@every 90m", "TZ=", "TZ=UTC", "@hourly",
		"*/5 * * * * *", "0 0 29 2 *", "1-5/2 * * JAN-MAR MON-FRI"} {
		f.Add(s, int64(1710050000))
	}
	f.Fuzz(func(t *testing.T, expr string, nowSec int64) {
		c, err := ParseCron(expr)
		if err != nil {
			return
		}
		const span = int64(100 * 366 * secondsPerDay)
		now := time.Unix(((nowSec%span)+span)%span+time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), 0)
		after := now
		for step := range 3 {
			next := c.Next(after)
			if next.IsZero() {
				return
			}
			if !next.After(after) {
				t.Fatalf("%q step %d: Next after %s = %s", expr, step, after, next)
			}
			after = next
		}
	})
}

func FuzzResolveWall(f *testing.F) {
	f.Add(uint8(2), int64(1710037800))
	f.Add(uint8(3), int64(1730597400))
	f.Fuzz(func(t *testing.T, zone uint8, w int64) {
		loc, err := LoadTimeZone(fuzzZones[int(zone)%(len(fuzzZones)-2)])
		if err != nil {
			t.Skip()
		}
		const span = int64(300 * 366 * secondsPerDay)
		w = ((w%span)+span)%span + time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		r := resolveWall(loc, w)
		if wallOf(loc, r) < w || wallCeiling(loc, r.Add(-time.Second)) >= w {
			t.Fatalf("wall %s in %s resolved to %s", time.Unix(w, 0).UTC(), loc, r)
		}
	})
}
