// Package metrics holds the Prometheus metrics that more than one controller writes, so each is
// defined and registered once. Every series is labelled with the object it is about.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names shared by the volsync_ metrics of every controller.
const (
	LabelName      = "obj_name"
	LabelNamespace = "obj_namespace"
	LabelRole      = "role"
	LabelMethod    = "method"
)

// ObjectLabels are the labels of a per-object series, in order.
var ObjectLabels = []string{LabelName, LabelNamespace, LabelRole, LabelMethod}

// MissedIntervals counts scheduled runs that did not happen at their time, for ReplicationSources
// and ReplicationDestinations (role source or destination, method the mover) and for
// MigrationSchedules (role migration, method schedulepolicy).
var MissedIntervals = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "volsync_missed_intervals_total",
	Help: "Scheduled syncs that did not run at their time: caught up once later, or skipped.",
}, ObjectLabels)

func init() {
	crmetrics.Registry.MustRegister(MissedIntervals)
}
