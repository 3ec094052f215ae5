package replication

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncmetrics "github.com/volsync/volsync/pkg/metrics"
	"github.com/volsync/volsync/pkg/schedule"
)

// Metric labels.
const (
	labelName      = volsyncmetrics.LabelName
	labelNamespace = volsyncmetrics.LabelNamespace
	labelRole      = volsyncmetrics.LabelRole
	labelMethod    = volsyncmetrics.LabelMethod
	roleSource     = "source"
	roleDest       = "destination"
)

var metricLabels = volsyncmetrics.ObjectLabels

// missedIntervals is shared with the MigrationSchedule controller.
var missedIntervals = volsyncmetrics.MissedIntervals

var (
	syncDuration = prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       "volsync_sync_duration_seconds",
		Help:       "How long successful syncs took.",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		MaxAge:     24 * time.Hour,
	}, metricLabels)
	outOfSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "volsync_volume_out_of_sync",
		Help: "1 while the volume is behind its schedule (the last sync failed or a trigger was missed), else 0.",
	}, metricLabels)
	// syncFailures counts syncs that ended Failed: the mover gave up after its bounded retries
	// (a Job past its backoffLimit, a tool error retrying cannot fix). Transient errors a sync
	// waits out are not counted; they show in the Synchronizing condition.
	syncFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_sync_failures_total",
		Help: "Syncs that ended Failed after the mover's retries; the next attempt waits for a backoff.",
	}, metricLabels)
	// lastSync and syncInterval let an alert or a dashboard put the age of the data beside what
	// the object's SchedulePolicy promises, as volsync_recovery_point_age_seconds does for a
	// MigrationSchedule. Both come from status and spec, so they are right after a restart.
	lastSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "volsync_last_sync_timestamp_seconds",
		Help: "When the object's last successful sync ended (status.lastSyncTime), as a Unix time.",
	}, metricLabels)
	syncInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "volsync_sync_interval_seconds",
		Help: "Nominal time between two triggers of the most frequent type of the object's SchedulePolicy.",
	}, metricLabels)
)

func init() {
	metrics.Registry.MustRegister(syncDuration, outOfSync, syncFailures, lastSync, syncInterval)
}

// objectMetrics are one object's series.
type objectMetrics struct {
	labels prometheus.Labels
}

func newObjectMetrics(name, namespace, role, method string) objectMetrics {
	m := objectMetrics{labels: prometheus.Labels{labelName: name, labelNamespace: namespace, labelRole: role, labelMethod: method}}
	// The failure counter exists (at 0) from the object's first pass, so that increase() alerts
	// see its first failure.
	syncFailures.With(m.labels)
	return m
}

func (m objectMetrics) missed(n int) { missedIntervals.With(m.labels).Add(float64(n)) }
func (m objectMetrics) duration(d time.Duration) {
	syncDuration.With(m.labels).Observe(d.Seconds())
}
func (m objectMetrics) failed() { syncFailures.With(m.labels).Inc() }
func (m objectMetrics) outOfSync(b bool) {
	v := 0.0
	if b {
		v = 1
	}
	outOfSync.With(m.labels).Set(v)
}

// freshness sets the object's last-sync time and its policy's period from what this pass left in
// status; an object that never synced, or has no policy, has no such series.
func (m objectMetrics) freshness(last *metav1.Time, policy *schedule.Policy) {
	if last != nil {
		lastSync.With(m.labels).Set(float64(last.Unix()))
	} else {
		lastSync.Delete(m.labels)
	}
	if policy != nil && policy.ShortestPeriod() > 0 {
		syncInterval.With(m.labels).Set(policy.ShortestPeriod().Seconds())
	} else {
		syncInterval.Delete(m.labels)
	}
}

// forget drops a deleted object's series.
func forgetMetrics(name, namespace string) {
	l := prometheus.Labels{labelName: name, labelNamespace: namespace}
	missedIntervals.DeletePartialMatch(l)
	syncDuration.DeletePartialMatch(l)
	outOfSync.DeletePartialMatch(l)
	syncFailures.DeletePartialMatch(l)
	lastSync.DeletePartialMatch(l)
	syncInterval.DeletePartialMatch(l)
}
