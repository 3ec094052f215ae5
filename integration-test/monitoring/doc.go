// Package monitoring checks the alerts and the Grafana dashboard of specs/prometheus against
// volsyncd itself: every metric their queries name must be one a running volsyncd serves on
// /metrics, once it has objects to report on.
package monitoring
