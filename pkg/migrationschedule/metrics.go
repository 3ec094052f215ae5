package migrationschedule

import (
	volsyncmetrics "github.com/volsync/volsync/pkg/metrics"
)

// Metric label values of this controller: MigrationSchedules are the "migration" role, triggered
// by a "schedulepolicy".
const (
	metricRole   = "migration"
	metricMethod = "schedulepolicy"
)

// missedIntervals is shared with the replication controllers, which count the misses of
// ReplicationSources and ReplicationDestinations under their own roles.
var missedIntervals = volsyncmetrics.MissedIntervals

// countMissed adds n missed triggers of a schedule. The series is touched even for n == 0, so that
// it exists at 0 from the first pass and rate() alerts work from the start.
func countMissed(name, namespace string, n int) {
	c := missedIntervals.WithLabelValues(name, namespace, metricRole, metricMethod)
	if n > 0 {
		c.Add(float64(n))
	}
}

// forgetMissed drops a deleted schedule's series, so that it does not linger at its last value.
func forgetMissed(name, namespace string) {
	missedIntervals.DeleteLabelValues(name, namespace, metricRole, metricMethod)
}
