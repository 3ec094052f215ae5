package replication

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncmetrics "github.com/volsync/volsync/pkg/metrics"
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
)

func init() {
	metrics.Registry.MustRegister(syncDuration, outOfSync, syncFailures)
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

// forget drops a deleted object's series.
func forgetMetrics(name, namespace string) {
	l := prometheus.Labels{labelName: name, labelNamespace: namespace}
	missedIntervals.DeletePartialMatch(l)
	syncDuration.DeletePartialMatch(l)
	outOfSync.DeletePartialMatch(l)
	syncFailures.DeletePartialMatch(l)
}
