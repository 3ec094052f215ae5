package migrationschedule

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	// Registers its own metrics in init, as it does in volsyncd, next to the shared counter.
	_ "github.com/volsync/volsync/pkg/replication"
)

func TestMissedIntervalsIsExportedBesideReplication(t *testing.T) {
	countMissed("shared-metric", "ns", 2)
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "volsync_missed_intervals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] == "shared-metric" && labels["role"] == "migration" && labels["method"] == "schedulepolicy" {
				if v := m.GetCounter().GetValue(); v != 2 {
					t.Errorf("counter is %v, want 2", v)
				}
				return
			}
		}
	}
	t.Error("the schedule's misses are not in the exported volsync_missed_intervals_total")
}
