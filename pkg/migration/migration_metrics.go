package migration

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	volsyncmetrics "github.com/volsync/volsync/pkg/metrics"
)

// Metric labels: the schedule that made the run ("" for a Migration created by hand) and the
// namespace of the Migration, so per-schedule dashboards and alerts need no join.
var migrationLabels = []string{"migration_schedule", "obj_namespace"}

var (
	migrationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "volsync_migration_duration_seconds",
		Help: "How long finished migrations took, from start to finish, retries included.",
		// 1s to about 4.5h: a namespace of config takes seconds, volumes can take hours.
		Buckets: prometheus.ExponentialBuckets(1, 2, 15),
	}, migrationLabels)
	migrationObjects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_migration_objects_total",
		Help: "Objects copied to the destination by finished migrations.",
	}, migrationLabels)
	migrationBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_migration_bytes_total",
		Help: "Volume bytes moved to the destination by finished migrations.",
	}, migrationLabels)
	migrationsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_migrations_failed_total",
		Help: "Migrations that ended Failed.",
	}, migrationLabels)
	// migrationsFinished counts every outcome, so that a dashboard shows the share of each and an
	// alert sees PartialSuccess (some namespaces or volumes failed) besides Failed.
	migrationsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "volsync_migrations_finished_total",
		Help: "Finished migrations by their outcome (status: Successful, PartialSuccess or Failed).",
	}, append([]string{"status"}, migrationLabels...))
	// pairReady is each ClusterPair's Ready condition as a number, for an alert on a pair that
	// cannot reach its destination before the next migration finds out.
	pairReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "volsync_clusterpair_ready",
		Help: "1 while the ClusterPair's last check reached its destination (Ready), else 0.",
	}, []string{volsyncmetrics.LabelName, volsyncmetrics.LabelNamespace})

	registerMigrationMetrics sync.Once
)

// registerMetrics adds the migration metrics to controller-runtime's registry, once per process
// however many managers are set up (the tests run several).
func registerMetrics() {
	registerMigrationMetrics.Do(func() {
		metrics.Registry.MustRegister(migrationDuration, migrationObjects, migrationBytes, migrationsFailed,
			migrationsFinished, pairReady)
	})
}

// recordFinished counts one finished run. It is called after the final status is stored, so a
// run whose last write failed and is redone is not counted twice.
func recordFinished(schedule string, m *volsyncv1alpha1.Migration) {
	l := prometheus.Labels{"migration_schedule": schedule, "obj_namespace": m.Namespace}
	st := m.Status
	if st.StartTimestamp != nil && st.FinishTimestamp != nil {
		migrationDuration.With(l).Observe(max(st.FinishTimestamp.Sub(st.StartTimestamp.Time), 0).Seconds())
	}
	if st.Summary != nil {
		migrationObjects.With(l).Add(float64(st.Summary.NumberOfMigratedResources))
		migrationBytes.With(l).Add(float64(st.Summary.TotalBytesMigrated))
	}
	// Touch the failure counter on every run so the series exists (at 0) before the first failure
	// and rate() alerts work from the start.
	failedCounter := migrationsFailed.With(l)
	if st.Status == volsyncv1alpha1.RunStatusFailed {
		failedCounter.Inc()
	}
	// Likewise every outcome's series exists from the first finished run.
	for _, s := range []volsyncv1alpha1.RunStatus{volsyncv1alpha1.RunStatusSuccessful,
		volsyncv1alpha1.RunStatusPartialSuccess, volsyncv1alpha1.RunStatusFailed} {
		c := migrationsFinished.WithLabelValues(string(s), schedule, m.Namespace)
		if st.Status == s {
			c.Inc()
		}
	}
}

// recordPairReady sets a pair's series from its stored Ready condition.
func recordPairReady(pair *volsyncv1alpha1.ClusterPair) {
	v := 0.0
	if meta.IsStatusConditionTrue(pair.Status.Conditions, volsyncv1alpha1.ConditionReady) {
		v = 1
	}
	pairReady.WithLabelValues(pair.Name, pair.Namespace).Set(v)
}

// forgetPairReady drops a deleted pair's series, so that no alert fires for a pair that is gone.
func forgetPairReady(name, namespace string) {
	pairReady.DeleteLabelValues(name, namespace)
}

// elapsed is the run's duration so far.
func elapsed(m *volsyncv1alpha1.Migration, now time.Time) time.Duration {
	if m.Status.StartTimestamp == nil {
		return 0
	}
	return max(now.Sub(m.Status.StartTimestamp.Time), 0)
}
