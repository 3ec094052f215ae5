// Package schedule is volsync's schedule engine: it validates SchedulePolicies, says which policy
// types (and cron or manual triggers) are due, when they fire next, how many runs were missed, and
// what the dated child of a run is called.
//
// It is pure on purpose. Nothing here reads the clock, talks to the API server or keeps state:
// every function takes the policy, the owner's trigger history and "now", and returns values. That
// is what lets the ReplicationSource and MigrationSchedule controllers, the admission-time checks
// and volsyncctl share one implementation (so they can never disagree about when something runs),
// and what lets the tests pin down daylight-saving changes, month rollovers and outages with
// tables of fixed instants instead of waiting for a real clock.
//
// Wall-clock times (daily, weekly, monthly, cron) are computed by calendar arithmetic in the
// policy's time zone, never by adding 24 hours, and every wall time is resolved explicitly:
// a time that does not exist on a spring-forward day fires at the instant the clocks jump, and a
// time that occurs twice on a fall-back day fires at its first occurrence. The IANA time zone
// database is compiled into the binary, so results do not depend on the host's zone files.
package schedule
