package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MissedCountLimit caps how many missed cron times Due counts. A cron schedule has no arithmetic
// shortcut (unlike policies), so counting means stepping through the window; the cap bounds the
// work after a long outage of a very frequent schedule. Missed is a metric, not a ledger.
const MissedCountLimit = 100000

// ErrInvalidCron is wrapped by ParseCron's errors.
var ErrInvalidCron = errors.New("schedule must be a cron expression of 5 fields (6 with seconds) or a descriptor such as @hourly")

// cronParser accepts what the CRD's pattern admits: 5 fields, 6 with leading seconds, and
// descriptors including @every.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// CronTrigger is a parsed cron schedule (a ReplicationSource's spec.trigger.schedule). It follows
// the same rules as policies: its wall times are resolved with the same DST rule (robfig/cron's
// own Next would skip a 2:30AM run on the spring-forward day and run a 1:30AM one twice on the
// fall-back day), a missed run is caught up once, and misses are counted. Its History key is
// TypeSchedule.
type CronTrigger struct {
	// Expr is the expression as written, for messages.
	Expr string
	// Location is the zone from a CRON_TZ= or TZ= prefix; UTC without one (never the host's zone).
	Location *time.Location
	// StartingDeadline is how late a run may still start; zero means always catch up.
	StartingDeadline time.Duration

	// spec walks wall time: it is robfig's schedule with its location replaced by UTC, so that its
	// Next is pure calendar arithmetic and resolveWall alone decides DST questions.
	spec *cron.SpecSchedule
	// every is the period of an @every schedule (elapsed time, like the interval policy).
	every time.Duration
}

// ParseCron parses a cron expression: 5 fields, 6 with leading seconds, or a descriptor such as
// @hourly or @every 90m, optionally led by CRON_TZ=Zone or TZ=Zone.
func ParseCron(expr string) (c *CronTrigger, err error) {
	defer func() {
		// The third-party parser has panicked on malformed input before; a user's typo must
		// become an error, not a crashed controller.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%w, not %q", ErrInvalidCron, expr)
		}
	}()
	body := strings.TrimSpace(expr)
	loc := time.UTC
	if rest, ok := cutZonePrefix(body); ok {
		name, tail, _ := strings.Cut(rest, " ")
		if loc, err = LoadTimeZone(name); err != nil || name == "" {
			return nil, fmt.Errorf("%w, not %q: the zone after CRON_TZ= must be an IANA name such as Europe/Berlin", ErrInvalidCron, expr)
		}
		body = strings.TrimSpace(tail)
	}
	if _, again := cutZonePrefix(body); again || body == "" {
		return nil, fmt.Errorf("%w, not %q", ErrInvalidCron, expr)
	}
	sched, err := cronParser.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w, not %q: %w", ErrInvalidCron, expr, err)
	}
	c = &CronTrigger{Expr: expr, Location: loc}
	switch s := sched.(type) {
	case *cron.SpecSchedule:
		spec := *s
		spec.Location = time.UTC
		c.spec = &spec
	case cron.ConstantDelaySchedule:
		c.every = s.Delay
	case *cron.ConstantDelaySchedule:
		c.every = s.Delay
	default:
		return nil, fmt.Errorf("%w, not %q: unsupported schedule kind %T", ErrInvalidCron, expr, sched)
	}
	return c, nil
}

func cutZonePrefix(s string) (string, bool) {
	if rest, ok := strings.CutPrefix(s, "CRON_TZ="); ok {
		return rest, true
	}
	return strings.CutPrefix(s, "TZ=")
}

// nextWall is the spec's first wall time strictly after w; false when there is none within the
// five years robfig/cron searches (such as February 30).
func (c *CronTrigger) nextWall(w int64) (int64, bool) {
	n := c.spec.Next(time.Unix(w, 0).UTC())
	if n.IsZero() {
		return 0, false
	}
	return n.Unix(), true
}

// Next is the first scheduled time strictly after `after` (for @every: `after` plus the period, as
// `after` is taken as the previous run); zero if the expression never matches again.
func (c *CronTrigger) Next(after time.Time) time.Time {
	if c.spec == nil {
		return after.Add(c.every).In(c.Location)
	}
	w, ok := c.nextWall(wallCeiling(c.Location, after))
	if !ok {
		return time.Time{}
	}
	return resolveWall(c.Location, w)
}

// window finds the newest scheduled time in (lo, hi] and counts the distinct instants there, up
// to MissedCountLimit+1.
func (c *CronTrigger) window(lo, hi time.Time) (time.Time, int64, bool) {
	if c.spec == nil {
		// @every: like the interval policy, but the first run comes one period after lo, as with
		// robfig/cron. Periods are whole seconds.
		sec := hi.Unix() - lo.Unix()
		if hi.Nanosecond() < lo.Nanosecond() {
			sec--
		}
		n := floorDiv(sec, int64(c.every/time.Second))
		if n < 1 {
			return time.Time{}, 0, false
		}
		at := time.Unix(lo.Unix()+n*int64(c.every/time.Second), int64(lo.Nanosecond()))
		return at.In(c.Location), n, true
	}
	a, b := wallCeiling(c.Location, lo), wallCeiling(c.Location, hi)
	if b <= a {
		return time.Time{}, 0, false
	}
	// Find the newest wall time <= b by scanning ever wider windows that end at b, so that a
	// frequent schedule is not stepped through from a distant lo just to find its newest time.
	latest, found := int64(0), false
	from := b
	for _, width := range []int64{60, 3600, secondsPerDay, 32 * secondsPerDay, 367 * secondsPerDay} {
		from = max(a, b-width)
		for w, ok := c.nextWall(from); ok && w <= b; w, ok = c.nextWall(w) {
			latest, found = w, true
		}
		if found || from == a {
			break
		}
	}
	for !found && from > a {
		// Rare schedules (February 29) over a long window: keep stepping back five years at a time,
		// robfig/cron's own search horizon.
		to := from
		from = max(a, from-5*366*secondsPerDay)
		for w, ok := c.nextWall(from); ok && w <= to; w, ok = c.nextWall(w) {
			latest, found = w, true
		}
	}
	if !found {
		return time.Time{}, 0, false
	}
	// Count distinct instants: wall times inside a spring-forward gap all resolve to the same
	// instant and are one run, not many.
	var count int64
	var prev time.Time
	for w, ok := c.nextWall(a); ok && w <= latest && count <= MissedCountLimit; w, ok = c.nextWall(w) {
		if at := resolveWall(c.Location, w); !at.Equal(prev) {
			count++
			prev = at
		}
	}
	return resolveWall(c.Location, latest), count, true
}

// Due returns at most one TypeSchedule decision: the newest scheduled time in (Last, now] (or
// [Start, now] when it never ran), with earlier ones counted as missed, as Policy.Due does.
func (c *CronTrigger) Due(h History, now time.Time) []Decision {
	lo := lowerBound(h, TypeSchedule, now)
	if c.spec == nil {
		lo = everyAnchor(h, now)
	}
	s, n, ok := c.window(lo, now)
	if !ok {
		if h.Last[TypeSchedule].IsZero() {
			// VolSync's rule, which automation waits on: an object on a cron schedule syncs once
			// as soon as it exists, then at the schedule's times. Without it, "0 0 1 1 *" created
			// in December would have no copy until January.
			at := startOf(h, now)
			if at.After(now) {
				at = now.Truncate(time.Second) // the API server's clock ahead of ours
			}
			return []Decision{decide(TypeSchedule, at, 1, c.StartingDeadline, now)}
		}
		return nil
	}
	return []Decision{decide(TypeSchedule, s, n, c.StartingDeadline, now)}
}

// everyAnchor is the origin of an @every grid: the last run, or Start.
func everyAnchor(h History, now time.Time) time.Time {
	start := startOf(h, now)
	if last := h.Last[TypeSchedule]; !last.IsZero() && !last.Before(start) {
		return last
	}
	return start
}

// NextTriggers returns the schedule's next time the owner will act on: the pending one, or the
// first after now. Empty when the expression never matches again.
func (c *CronTrigger) NextTriggers(h History, now time.Time) []Occurrence {
	if d := c.Due(h, now); len(d) == 1 && d[0].Fire {
		return []Occurrence{{Type: TypeSchedule, Time: d[0].Scheduled}}
	}
	var next time.Time
	if c.spec == nil {
		anchor := everyAnchor(h, now)
		period := int64(c.every / time.Second)
		sec := now.Unix() - anchor.Unix()
		if now.Nanosecond() < anchor.Nanosecond() {
			sec--
		}
		n := max(floorDiv(sec, period)+1, 1)
		next = time.Unix(anchor.Unix()+n*period, int64(anchor.Nanosecond())).In(c.Location)
	} else {
		lo := lowerBound(h, TypeSchedule, now)
		if now.After(lo) {
			lo = now
		}
		next = c.Next(lo)
	}
	if next.IsZero() {
		return nil
	}
	return []Occurrence{{Type: TypeSchedule, Time: next}}
}

// ManualTrigger fires once per new value of spec.trigger.manual: when Requested is set and differs
// from Completed (status.lastManualSync). Its identity is the string, not a time, so Scheduled is
// simply now.
type ManualTrigger struct {
	// Requested is spec.trigger.manual.
	Requested string
	// Completed is status.lastManualSync: the value the last finished sync ran for.
	Completed string
}

// Due fires TypeManual at now while a request is outstanding.
func (m ManualTrigger) Due(_ History, now time.Time) []Decision {
	if m.Requested == "" || m.Requested == m.Completed {
		return nil
	}
	return []Decision{{Type: TypeManual, Scheduled: now, Fire: true}}
}

// NextTriggers is now while a request is outstanding, else nothing: a manual trigger has no
// schedule to wait for.
func (m ManualTrigger) NextTriggers(h History, now time.Time) []Occurrence {
	if len(m.Due(h, now)) == 0 {
		return nil
	}
	return []Occurrence{{Type: TypeManual, Time: now}}
}

// AlwaysTrigger is a replication with no trigger: sync again as soon as the previous sync ends.
// The controller only asks when it is idle, so it is always due.
type AlwaysTrigger struct{}

// Due always fires TypeAlways at now.
func (AlwaysTrigger) Due(_ History, now time.Time) []Decision {
	return []Decision{{Type: TypeAlways, Scheduled: now, Fire: true}}
}

// NextTriggers is always now.
func (AlwaysTrigger) NextTriggers(_ History, now time.Time) []Occurrence {
	return []Occurrence{{Type: TypeAlways, Time: now}}
}
