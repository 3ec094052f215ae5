package migrationschedule

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metric label values of this controller: MigrationSchedules are the "migration" role, triggered
// by a "schedulepolicy".
const (
	metricRole   = "migration"
	metricMethod = "schedulepolicy"
)

var (
	// missedIntervals is one metric with the replication controllers', which count the misses of
	// ReplicationSources under role="source". Prometheus accepts a second registration of a name
	// only as the very same descriptor, so the help text and labels must stay identical to
	// package replication's (TestMissedIntervalsIsSharedWithReplication checks it); the collector
	// registered first is then the one both use.
	missedIntervals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_missed_intervals_total",
		Help: "Scheduled syncs that did not run at their time: caught up once later, or skipped.",
	}, []string{"obj_name", "obj_namespace", "role", "method"})

	registerOnce sync.Once
)

// registerMetrics adds the metrics to controller-runtime's registry once per process, reusing the
// collector of the same name another package registered first. It runs at set-up, after every
// package's init, so that a package that registers in init with MustRegister never finds this
// one there first.
func registerMetrics() error {
	var err error
	registerOnce.Do(func() {
		err = metrics.Registry.Register(missedIntervals)
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
				missedIntervals, err = existing, nil
			}
		}
	})
	if err != nil {
		return fmt.Errorf("registering volsync_missed_intervals_total: %w", err)
	}
	return nil
}

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
