package migrationschedule

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

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

// recoveryPoints exports, per schedule, the age of its recovery point (computed at each scrape
// from the injected clock, so it grows between passes without any write) next to its policy's
// shortest period: an admin alerts when the one exceeds a multiple of the other.
var recoveryPoints = newRecoveryPointCollector()

type recoveryPointEntry struct {
	at     time.Time
	period time.Duration
}

type recoveryPointCollector struct {
	mu      sync.Mutex
	clock   clock.PassiveClock
	entries map[[2]string]recoveryPointEntry
	age     *prometheus.Desc
	period  *prometheus.Desc
}

func newRecoveryPointCollector() *recoveryPointCollector {
	labels := []string{volsyncmetrics.LabelName, volsyncmetrics.LabelNamespace}
	return &recoveryPointCollector{
		clock:   clock.RealClock{},
		entries: map[[2]string]recoveryPointEntry{},
		age: prometheus.NewDesc("volsync_recovery_point_age_seconds",
			"Age of the data of the newest successful migration of a MigrationSchedule: what a failover now would lose.", labels, nil),
		period: prometheus.NewDesc("volsync_migration_schedule_period_seconds",
			"Nominal time between two triggers of the most frequent type of a MigrationSchedule's policy.", labels, nil),
	}
}

func (c *recoveryPointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.age
	ch <- c.period
}

func (c *recoveryPointCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for k, e := range c.entries {
		if !e.at.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(now.Sub(e.at).Seconds(), 0), k[0], k[1])
		}
		if e.period > 0 {
			ch <- prometheus.MustNewConstMetric(c.period, prometheus.GaugeValue, e.period.Seconds(), k[0], k[1])
		}
	}
}

// recordRecoveryPoint sets a schedule's series; a schedule with no success yet has only its period.
func recordRecoveryPoint(name, namespace string, at *metav1.Time, period time.Duration) {
	e := recoveryPointEntry{period: period}
	if at != nil {
		e.at = at.Time
	}
	recoveryPoints.mu.Lock()
	defer recoveryPoints.mu.Unlock()
	recoveryPoints.entries[[2]string{name, namespace}] = e
}

// forgetRecoveryPoint drops a deleted schedule's series.
func forgetRecoveryPoint(name, namespace string) {
	recoveryPoints.mu.Lock()
	defer recoveryPoints.mu.Unlock()
	delete(recoveryPoints.entries, [2]string{name, namespace})
}

// useClock makes the collector read c; SetupWithManager passes the reconciler's.
func useClock(c clock.PassiveClock) {
	recoveryPoints.mu.Lock()
	defer recoveryPoints.mu.Unlock()
	recoveryPoints.clock = c
}

var registerOnce sync.Once

// registerMetrics registers the collector with controller-runtime's registry, once.
func registerMetrics() {
	registerOnce.Do(func() { crmetrics.Registry.MustRegister(recoveryPoints) })
}
