package replication

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metricValue reads one series of a gauge, counter or summary (its sample count) for an object.
func metricValue(t *testing.T, name, ns, obj string) (float64, bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] != obj || labels["obj_namespace"] != ns {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetSummary() != nil:
				return float64(m.GetSummary().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// missedCount reads volsync_missed_intervals_total for one object from the registry volsyncd
// serves.
func missedCount(t *testing.T, ns, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "volsync_missed_intervals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] == name && labels["obj_namespace"] == ns {
				if labels["role"] != "source" || labels["method"] != "rsync-tls" {
					t.Errorf("labels %v", labels)
				}
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
