package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/volsync/volsync/pkg/version"
)

// registerBuildInfo publishes volsync_build_info, the usual constant-1 gauge whose labels say which
// build is running, so that dashboards can tell versions apart during a rollout.
func registerBuildInfo() error {
	v := version.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "volsync_build_info",
		Help: "Build of the running volsyncd; the value is always 1.",
		ConstLabels: prometheus.Labels{
			"version":    v.Version,
			"git_commit": v.GitCommit,
			"go_version": v.GoVersion,
		},
	})
	g.Set(1)
	return metrics.Registry.Register(g)
}
