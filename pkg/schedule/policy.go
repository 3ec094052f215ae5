package schedule

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Type names what caused a trigger: one of a policy's four sections, or a replication trigger
// kind. It keys History.Last and Decision, and its lower-cased value is part of child names.
type Type = v1alpha1.SchedulePolicyType

// Trigger types. The policy types are the API's own; the others key the same History map for
// the trigger kinds a ReplicationSource may use instead of a policy.
const (
	TypeInterval Type = v1alpha1.SchedulePolicyTypeInterval
	TypeDaily    Type = v1alpha1.SchedulePolicyTypeDaily
	TypeWeekly   Type = v1alpha1.SchedulePolicyTypeWeekly
	TypeMonthly  Type = v1alpha1.SchedulePolicyTypeMonthly
	// TypeSchedule is a cron schedule (spec.trigger.schedule).
	TypeSchedule Type = "Schedule"
	// TypeManual is a manual trigger (spec.trigger.manual).
	TypeManual Type = "Manual"
	// TypeAlways is the absence of a trigger: sync again as soon as the last sync ends.
	TypeAlways Type = "Always"
)

// Trigger is what both the ReplicationSource and the MigrationSchedule controllers ask "is it time,
// and when next?". Policies, cron schedules, manual and "always" triggers all implement it, so
// each controller has one code path for all of them.
type Trigger interface {
	// Due lists what should run now (see Policy.Due).
	Due(h History, now time.Time) []Decision
	// NextTriggers lists, per trigger type, the next time the owner will act on, sorted by time;
	// a controller requeues at the earliest.
	NextTriggers(h History, now time.Time) []Occurrence
}

var (
	_ Trigger = (*Policy)(nil)
	_ Trigger = (*CronTrigger)(nil)
	_ Trigger = ManualTrigger{}
	_ Trigger = AlwaysTrigger{}
)

// History is what an owner remembers of its triggers. It is all the engine needs to be restartable:
// the owner keeps it in its status, so a controller restart neither repeats nor loses a run.
type History struct {
	// Start is when the owner began (its creationTimestamp). The interval's first trigger is Start
	// and nothing fires before it. A zero Start is read as "now": an owner that cannot say when it
	// began catches nothing up.
	Start time.Time
	// Last is, per type, the scheduled time of the newest trigger the owner handled, whether it
	// ran it or skipped it. A missing or zero entry means never.
	Last map[Type]time.Time
}

// Decision is one type that came due.
type Decision struct {
	// Type that came due.
	Type Type
	// Scheduled is the time the trigger was scheduled for (the newest in the window); child names
	// and History.Last use it, never the time the controller noticed.
	Scheduled time.Time
	// Fire says to run it. False means it is past the starting deadline: record Scheduled as
	// handled and count it as missed, but do not run.
	Fire bool
	// Missed is how many scheduled times were skipped (for volsync_missed_intervals_total):
	// the older ones in the window, plus Scheduled itself when Fire is false.
	Missed int
}

// Occurrence is one trigger time of one type.
type Occurrence struct {
	// Type of the trigger.
	Type Type
	// Time it fires.
	Time time.Time
}

// Policy is a compiled SchedulePolicy: validated once, with times parsed and the zone loaded, so
// that Due can run for thousands of owners per resync without parsing strings. Its methods do not
// modify it, so one Policy may be shared by every owner that names it, from any goroutine.
type Policy struct {
	// Name of the SchedulePolicy, for messages.
	Name string
	// Location is the zone of daily, weekly and monthly times and of the times this package
	// returns.
	Location *time.Location
	// Interval, Daily, Weekly, Monthly are the present sections; nil when absent.
	Interval *IntervalRule
	Daily    *DailyRule
	Weekly   *WeeklyRule
	Monthly  *MonthlyRule
	// StartingDeadline is how late a trigger may still fire. Zero means always catch up (once).
	StartingDeadline time.Duration
	// Since is when the policy took its present form (the policy's status.policyChangedTime, set
	// by the caller; Compile leaves it zero). A trigger scheduled at or before it is never counted
	// missed: the policy as it stood then may not have called for it, as when an interval is
	// shortened and the new grid seems to have a backlog. It does not change what fires. Zero
	// means every unhandled trigger counts.
	Since time.Time
}

// IntervalRule fires every Minutes, measured in elapsed time (a DST change does not stretch it).
type IntervalRule struct {
	// Minutes between triggers. Kept in minutes, not a time.Duration, because the API allows
	// periods longer than a Duration can hold.
	Minutes int64
	// Retain is how many children of this type to keep.
	Retain int
	// Options are the section's pass-through options.
	Options map[string]string
}

// DailyRule fires every day at Hour:Minute on the wall clock.
type DailyRule struct {
	// Hour (0-23) and Minute of the wall-clock time.
	Hour, Minute int
	// Retain is how many children of this type to keep.
	Retain int
	// Options are the section's pass-through options.
	Options map[string]string
}

// WeeklyRule fires every week on Day at Hour:Minute on the wall clock.
type WeeklyRule struct {
	// Day of the week.
	Day time.Weekday
	// Hour (0-23) and Minute of the wall-clock time.
	Hour, Minute int
	// Retain is how many children of this type to keep.
	Retain int
	// Options are the section's pass-through options.
	Options map[string]string
}

// MonthlyRule fires every month on Date at Hour:Minute on the wall clock. A month without Date
// rolls over into the next month by the missing days (Date 31 in February 2023 fires on March 3),
// and the next month still fires on its own Date, so every month fires exactly once.
type MonthlyRule struct {
	// Date is the day of the month, 1 to 31.
	Date int
	// Hour (0-23) and Minute of the wall-clock time.
	Hour, Minute int
	// Retain is how many children of this type to keep.
	Retain int
	// Options are the section's pass-through options.
	Options map[string]string
}

// Compile validates a policy and turns it into a Policy. A policy with any problem is rejected
// whole, never half-applied; the error is an *InvalidPolicyError listing every problem and
// matches ErrInvalidPolicy.
func Compile(name string, item v1alpha1.SchedulePolicyItem) (*Policy, error) {
	if errs := ValidatePolicy(item); len(errs) > 0 {
		return nil, &InvalidPolicyError{Name: name, Errs: errs}
	}
	loc, err := LoadTimeZone(item.TimeZone)
	if err != nil { // validation loaded it already; this cannot fail short of a runtime bug
		return nil, fmt.Errorf("schedule policy %q: %w", name, err)
	}
	p := &Policy{Name: name, Location: loc}
	retain := func(r *int32, def int) int {
		if r == nil || *r == 0 { // 0 is Stork's "not set"
			return def
		}
		return int(*r)
	}
	if s := item.Interval; s != nil {
		p.Interval = &IntervalRule{
			Minutes: int64(s.IntervalMinutes),
			Retain:  retain(s.Retain, v1alpha1.DefaultIntervalRetain),
			Options: maps.Clone(s.Options),
		}
	}
	if s := item.Daily; s != nil {
		h, m, _ := ParseKitchen(s.Time)
		p.Daily = &DailyRule{Hour: h, Minute: m,
			Retain: retain(s.Retain, v1alpha1.DefaultDailyRetain), Options: maps.Clone(s.Options)}
	}
	if s := item.Weekly; s != nil {
		h, m, _ := ParseKitchen(s.Time)
		d, _ := ParseWeekday(s.Day)
		p.Weekly = &WeeklyRule{Day: d, Hour: h, Minute: m,
			Retain: retain(s.Retain, v1alpha1.DefaultWeeklyRetain), Options: maps.Clone(s.Options)}
	}
	if s := item.Monthly; s != nil {
		h, m, _ := ParseKitchen(s.Time)
		p.Monthly = &MonthlyRule{Date: int(s.Date), Hour: h, Minute: m,
			Retain: retain(s.Retain, v1alpha1.DefaultMonthlyRetain), Options: maps.Clone(s.Options)}
	}
	if d := item.StartingDeadlineMinutes; d != nil {
		p.StartingDeadline = minutesToDuration(int64(*d))
	}
	return p, nil
}

// minutesToDuration saturates instead of overflowing: a deadline of centuries means "no deadline"
// in practice, and must not wrap around to a negative one.
func minutesToDuration(m int64) time.Duration {
	if m > int64(math.MaxInt64/time.Minute) {
		return math.MaxInt64
	}
	return time.Duration(m) * time.Minute
}

// ShortestPeriod is the nominal time between two triggers of the policy's most frequent type:
// intervalMinutes, else a day, a week, or 31 days for monthly (the longest month). It is what a
// recovery point is measured against: data older than it means a run was missed or failed.
func (p *Policy) ShortestPeriod() time.Duration {
	switch {
	case p.Interval != nil:
		return minutesToDuration(p.Interval.Minutes)
	case p.Daily != nil:
		return 24 * time.Hour
	case p.Weekly != nil:
		return 7 * 24 * time.Hour
	case p.Monthly != nil:
		return 31 * 24 * time.Hour
	}
	return 0
}

// Types lists the sections present, in check order (Interval, Daily, Weekly, Monthly), which is
// also the order of Due's decisions.
func (p *Policy) Types() []Type {
	out := make([]Type, 0, 4)
	for _, t := range v1alpha1.SchedulePolicyTypes {
		if p.Has(t) {
			out = append(out, t)
		}
	}
	return out
}

// Has says whether the policy has section t.
func (p *Policy) Has(t Type) bool {
	switch t {
	case TypeInterval:
		return p.Interval != nil
	case TypeDaily:
		return p.Daily != nil
	case TypeWeekly:
		return p.Weekly != nil
	case TypeMonthly:
		return p.Monthly != nil
	}
	return false
}

// Retain is how many dated children of type t to keep. A policy type the policy lacks gets its
// default (10, 30, 7, 12), so that removing a section from a policy trims that type's old
// children instead of wiping them; other types get 0.
func (p *Policy) Retain(t Type) int {
	switch t {
	case TypeInterval:
		if p.Interval != nil {
			return p.Interval.Retain
		}
		return v1alpha1.DefaultIntervalRetain
	case TypeDaily:
		if p.Daily != nil {
			return p.Daily.Retain
		}
		return v1alpha1.DefaultDailyRetain
	case TypeWeekly:
		if p.Weekly != nil {
			return p.Weekly.Retain
		}
		return v1alpha1.DefaultWeeklyRetain
	case TypeMonthly:
		if p.Monthly != nil {
			return p.Monthly.Retain
		}
		return v1alpha1.DefaultMonthlyRetain
	}
	return 0
}

// Options returns the pass-through options of section t (nil when absent), for the child it
// creates.
func (p *Policy) Options(t Type) map[string]string {
	switch t {
	case TypeInterval:
		if p.Interval != nil {
			return p.Interval.Options
		}
	case TypeDaily:
		if p.Daily != nil {
			return p.Daily.Options
		}
	case TypeWeekly:
		if p.Weekly != nil {
			return p.Weekly.Options
		}
	case TypeMonthly:
		if p.Monthly != nil {
			return p.Monthly.Options
		}
	}
	return nil
}

// wallRule is a wall-clock schedule whose trigger times are numbered by an integer index in
// increasing order, so that windows are counted by arithmetic, not by stepping through them: a
// year-long outage costs the same as a minute.
type wallRule interface {
	// wallAt is trigger n's wall time.
	wallAt(n int64) int64
	// floorIndex is the index of the latest trigger whose wall time is <= w.
	floorIndex(w int64) int64
}

func (r *DailyRule) clock() int64 { return int64(r.Hour)*3600 + int64(r.Minute)*60 }

// Daily trigger n is on day n since 1970-01-01.
func (r *DailyRule) wallAt(n int64) int64 { return n*secondsPerDay + r.clock() }
func (r *DailyRule) floorIndex(w int64) int64 {
	return floorDiv(w-r.clock(), secondsPerDay)
}

// weekOffset is the first day number with the rule's weekday (1970-01-01 was a Thursday).
func (r *WeeklyRule) weekOffset() int64 {
	return (int64(r.Day) - int64(time.Thursday) + 7) % 7
}
func (r *WeeklyRule) clock() int64 { return int64(r.Hour)*3600 + int64(r.Minute)*60 }

// Weekly trigger n is on day 7n+weekOffset since 1970-01-01.
func (r *WeeklyRule) wallAt(n int64) int64 {
	return (7*n+r.weekOffset())*secondsPerDay + r.clock()
}
func (r *WeeklyRule) floorIndex(w int64) int64 {
	return floorDiv(w-r.clock()-r.weekOffset()*secondsPerDay, 7*secondsPerDay)
}

// Monthly trigger n belongs to month n (year*12 + month-1), even when it rolls over into the next.
func (r *MonthlyRule) wallAt(n int64) int64 {
	year, month := floorDiv(n, 12), time.Month(n-12*floorDiv(n, 12)+1)
	return dayNumber(int(year), month, r.Date)*secondsPerDay + int64(r.Hour)*3600 + int64(r.Minute)*60
}
func (r *MonthlyRule) floorIndex(w int64) int64 {
	u := time.Unix(w, 0).UTC()
	n := int64(u.Year())*12 + int64(u.Month()) - 1
	// The month of w itself, or the one before whose rollover lands early in w's month, or (if w is
	// before both) the one before that, which is always earlier.
	for n > math.MinInt64/2 && r.wallAt(n) > w {
		n--
	}
	return n
}

// RolloverDate is the civil date on which a monthly policy with the given date fires for the
// given month: the date itself, or, when the month is shorter, as many days into the next month
// as are missing (February 31 is March 3, or March 2 in a leap year).
func RolloverDate(year int, month time.Month, date int) (int, time.Month, int) {
	t := time.Date(year, month, date, 0, 0, 0, 0, time.UTC)
	return t.Year(), t.Month(), t.Day()
}

func (p *Policy) wallRule(t Type) wallRule {
	switch t {
	case TypeDaily:
		if p.Daily != nil {
			return p.Daily
		}
	case TypeWeekly:
		if p.Weekly != nil {
			return p.Weekly
		}
	case TypeMonthly:
		if p.Monthly != nil {
			return p.Monthly
		}
	}
	return nil
}

// wallWindow finds the triggers of r whose instants lie in (lo, hi]: the newest, and how many.
// hiWall is wallCeiling(loc, hi), passed in because Due shares it between types.
func wallWindow(loc *time.Location, r wallRule, lo time.Time, hiWall int64) (time.Time, int64, bool) {
	nHi := r.floorIndex(hiWall)
	nLo := r.floorIndex(wallCeiling(loc, lo)) + 1
	if nHi < nLo {
		return time.Time{}, 0, false
	}
	return resolveWall(loc, r.wallAt(nHi)), nHi - nLo + 1, true
}

// wallNext is r's first trigger strictly after t.
func wallNext(loc *time.Location, r wallRule, t time.Time) time.Time {
	return resolveWall(loc, r.wallAt(r.floorIndex(wallCeiling(loc, t))+1))
}

// startOf reads History.Start, defaulting to now.
func startOf(h History, now time.Time) time.Time {
	if h.Start.IsZero() {
		// Status keeps whole seconds; truncating keeps an interval grid anchored here stable
		// across a round trip through it.
		return now.Truncate(time.Second)
	}
	return h.Start
}

// lowerBound is the exclusive lower end of a type's window: the last handled trigger, or just
// before Start when there is none (Start itself may fire). A Last older than Start (history
// carried over from before the owner existed) does not let anything before Start fire.
func lowerBound(h History, t Type, now time.Time) time.Time {
	lo := startOf(h, now).Add(-time.Nanosecond)
	if last := h.Last[t]; !last.IsZero() && last.After(lo) {
		lo = last
	}
	return lo
}

// addMinutes adds whole minutes in elapsed time, with integer seconds so that periods longer than
// a time.Duration still work.
func addMinutes(t time.Time, n, minutes int64) time.Time {
	return time.Unix(t.Unix()+n*minutes*60, int64(t.Nanosecond())).In(t.Location())
}

// intervalAnchor is the grid origin of the interval type and the index of its first trigger in
// the window: the last handled trigger (next index 1), or Start (index 0, it fires at Start).
func intervalAnchor(h History, now time.Time) (time.Time, int64) {
	start := startOf(h, now)
	if last := h.Last[TypeInterval]; !last.IsZero() && !last.Before(start) {
		return last, 1
	}
	return start, 0
}

// elapsedPeriods is floor((now-anchor)/period) for a period of whole minutes, without the
// ~292-year limit of time.Duration.
func elapsedPeriods(anchor, now time.Time, minutes int64) int64 {
	sec := now.Unix() - anchor.Unix()
	if now.Nanosecond() < anchor.Nanosecond() {
		sec-- // borrow: the fractional part is then in [0, 1s), which cannot cross a whole minute
	}
	return floorDiv(sec, minutes*60)
}

// window returns type t's newest trigger time at or before now that the owner has not handled,
// how many unhandled trigger times there are, and how many of those are after p.Since (the ones
// that may count as missed).
func (p *Policy) window(t Type, h History, now time.Time, nowWall int64) (time.Time, int64, int64, bool) {
	if t == TypeInterval {
		if p.Interval == nil {
			return time.Time{}, 0, 0, false
		}
		anchor, first := intervalAnchor(h, now)
		n := elapsedPeriods(anchor, now, p.Interval.Minutes)
		if n < first {
			return time.Time{}, 0, 0, false
		}
		counted := n - first + 1
		if !p.Since.IsZero() && !p.Since.Before(anchor) {
			// Grid points anchor + k*period with k > (Since-anchor)/period are after Since.
			kMin := max(first, elapsedPeriods(anchor, p.Since, p.Interval.Minutes)+1)
			counted = max(n-kMin+1, 0)
		}
		return addMinutes(anchor, n, p.Interval.Minutes).In(p.Location), n - first + 1, counted, true
	}
	r := p.wallRule(t)
	if r == nil {
		return time.Time{}, 0, 0, false
	}
	lo := lowerBound(h, t, now)
	s, n, ok := wallWindow(p.Location, r, lo, nowWall)
	if !ok {
		return s, n, n, ok
	}
	counted := n
	if p.Since.After(lo) {
		_, counted, _ = wallWindow(p.Location, r, p.Since, nowWall)
		counted = min(counted, n)
	}
	return s, n, counted, true
}

// nowWall is wallCeiling(now), computed once per call for all wall-clock types because zone
// lookups are most of Due's cost; an interval-only policy needs none.
func (p *Policy) nowWall(now time.Time) int64 {
	if p.Daily == nil && p.Weekly == nil && p.Monthly == nil {
		return 0
	}
	return wallCeiling(p.Location, now)
}

// decide applies the starting deadline to a window. counted is how many of the window's trigger
// times may count as missed (those after Policy.Since); the newest, scheduled, is one of them
// whenever counted > 0.
func decide(t Type, scheduled time.Time, counted int64, deadline time.Duration, now time.Time) Decision {
	d := Decision{Type: t, Scheduled: scheduled, Fire: true, Missed: int(max(counted-1, 0))}
	if deadline > 0 && now.Sub(scheduled) > deadline {
		d.Fire = false
		if counted > 0 {
			d.Missed++
		}
	}
	return d
}

// Due says which of the policy's types should run at now, given what the owner already handled.
// For each type with a scheduled time in (Last[t], now] (or [Start, now] when the type never
// triggered) it returns one Decision for the newest such time: a trigger missed while the
// controller was down is caught up once, never replayed, and the older ones are counted in
// Missed. Past StartingDeadline the decision says not to fire. Decisions are in check order, and
// the result depends only on the arguments.
func (p *Policy) Due(h History, now time.Time) []Decision {
	var out []Decision
	nowWall := p.nowWall(now)
	// Walks the fixed type list rather than Types() so that a resync over thousands of owners does
	// not allocate per call.
	for _, t := range v1alpha1.SchedulePolicyTypes {
		if s, _, counted, ok := p.window(t, h, now, nowWall); ok {
			if out == nil {
				out = make([]Decision, 0, 4)
			}
			out = append(out, decide(t, s, counted, p.StartingDeadline, now))
		}
	}
	return out
}

// Next is type t's first scheduled time strictly after `after`, in p.Location; zero when the
// policy has no such section. For the interval type `after` is taken as the previous trigger,
// since interval triggers are spaced from the previous one, not from a fixed clock.
func (p *Policy) Next(t Type, after time.Time) time.Time {
	if t == TypeInterval {
		if p.Interval == nil {
			return time.Time{}
		}
		return addMinutes(after, 1, p.Interval.Minutes).In(p.Location)
	}
	r := p.wallRule(t)
	if r == nil {
		return time.Time{}
	}
	return wallNext(p.Location, r, after)
}

// nextAfterNow is type t's first trigger after now on the owner's own grid (used once nothing is
// pending).
func (p *Policy) nextAfterNow(t Type, h History, now time.Time) time.Time {
	if t == TypeInterval {
		anchor, first := intervalAnchor(h, now)
		n := elapsedPeriods(anchor, now, p.Interval.Minutes) + 1
		n = max(n, first)
		return addMinutes(anchor, n, p.Interval.Minutes).In(p.Location)
	}
	lo := lowerBound(h, t, now)
	if now.After(lo) {
		lo = now
	}
	return wallNext(p.Location, p.wallRule(t), lo)
}

// NextTriggers lists, per present type, the next scheduled time the owner will act on (after
// Last[t], not before Start), sorted by time with ties in check order: the pending trigger Due
// would fire now, or else the first one after now. A controller requeues at the first entry and
// shows the list in status.
func (p *Policy) NextTriggers(h History, now time.Time) []Occurrence {
	var out []Occurrence
	nowWall := p.nowWall(now)
	for _, t := range p.Types() {
		if s, _, counted, ok := p.window(t, h, now, nowWall); ok && decide(t, s, counted, p.StartingDeadline, now).Fire {
			out = append(out, Occurrence{Type: t, Time: s})
			continue
		}
		out = append(out, Occurrence{Type: t, Time: p.nextAfterNow(t, h, now)})
	}
	sortOccurrences(out)
	return out
}

// Preview lists count trigger times of each type as if the policy started at from with nothing
// triggered before: the interval's first time is from itself, the other types list their times at
// or after from. The result is sorted by time, ties in check order, in p.Location. The CLI and the
// policy status use it to show people what a policy will do.
func (p *Policy) Preview(from time.Time, count int) []Occurrence {
	if count <= 0 {
		return nil
	}
	types := p.Types()
	out := make([]Occurrence, 0, count*len(types))
	for _, t := range types {
		var at time.Time
		if t == TypeInterval {
			at = from.In(p.Location)
		} else {
			at = p.Next(t, from.Add(-time.Nanosecond))
		}
		for range count {
			out = append(out, Occurrence{Type: t, Time: at})
			at = p.Next(t, at)
		}
	}
	sortOccurrences(out)
	return out
}

// sortOccurrences orders by time; the stable sort keeps check order among equal times because
// callers append types in check order.
func sortOccurrences(o []Occurrence) {
	slices.SortStableFunc(o, func(a, b Occurrence) int { return a.Time.Compare(b.Time) })
}
