package migration

import (
	"time"
)

// RetryPolicy bounds how long a Migration keeps trying to reach its destination.
//
// Why retry inside the run at all, when a MigrationSchedule makes a new run at its next trigger:
// a destination is often briefly away (its API server restarting during an upgrade, a load
// balancer failing over), and failing a run for a blip would cost a whole schedule period of
// recovery point. Why bound it: a run that waits forever holds back the schedule, which starts
// nothing while a run is going, and hides a real outage behind "Pending". So a run retries for
// about two and a half minutes by default, showing each attempt in its status, and then fails
// with the reason; the schedule's next run is the retry after that.
//
// The schedule of attempts is computed from when the current run of failures began (kept in the
// DestinationReady condition), not from counters in memory, so it survives a restart of volsyncd.
type RetryPolicy struct {
	// Attempts is how many times, counting the first, the destination is tried before the run
	// fails.
	Attempts int
	// Initial is the wait after the first failure; each later wait doubles it.
	Initial time.Duration
	// Max caps one wait.
	Max time.Duration
}

// DefaultRetryPolicy tries 5 times over about two and a half minutes: at 0s, 10s, 30s, 70s, 150s.
var DefaultRetryPolicy = RetryPolicy{Attempts: 5, Initial: 10 * time.Second, Max: 2 * time.Minute}

// withDefaults fills the zero fields from DefaultRetryPolicy.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryPolicy.Attempts
	}
	if p.Initial <= 0 {
		p.Initial = DefaultRetryPolicy.Initial
	}
	if p.Max <= 0 {
		p.Max = max(DefaultRetryPolicy.Max, p.Initial)
	}
	return p
}

// wait is the pause after attempt n (1-based) failed.
func (p RetryPolicy) wait(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Attempt places a failure at now in the schedule of a run of failures that began at since: which
// attempt it counts as (1-based), when the next one is due, and whether it was the last one
// allowed. A failure before the next attempt is due (a watch event woke the run early) counts as
// the same attempt, so early wake-ups never use up the budget.
func (p RetryPolicy) Attempt(since, now time.Time) (attempt int, next time.Time, exhausted bool) {
	p = p.withDefaults()
	attempt, next = 1, since.Add(p.wait(1))
	for !now.Before(next) && attempt < p.Attempts {
		attempt++
		next = next.Add(p.wait(attempt))
	}
	return attempt, next, attempt >= p.Attempts
}
