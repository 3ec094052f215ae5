package migration

import (
	"fmt"
	"testing"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// entries are n ConfigMap entries of one outcome, named prefix-0 and on.
func entries(prefix string, n int, status volsyncv1alpha1.RunStatus) []volsyncv1alpha1.MigrationResourceInfo {
	out := make([]volsyncv1alpha1.MigrationResourceInfo, n)
	for i := range out {
		out[i] = volsyncv1alpha1.MigrationResourceInfo{Version: "v1", Kind: "ConfigMap", Namespace: "big",
			Name: fmt.Sprintf("%s-%d", prefix, i), Status: status, Reason: reasonFor(status)}
	}
	return out
}

func listed(st *volsyncv1alpha1.MigrationStatus) (ok, notOK int) {
	for _, r := range st.Resources {
		if noteworthy(r) {
			notOK++
		} else {
			ok++
		}
	}
	return ok, notOK
}

func TestRecordResources(t *testing.T) {
	const limit = 10
	tests := []struct {
		name           string
		batches        [][]volsyncv1alpha1.MigrationResourceInfo
		wantOK, wantNo int   // listed successes and failures
		wantNotListed  int64 // counted only
		wantTotal      int64
		wantMigrated   int64
	}{
		{"a run smaller than the limit lists every object",
			[][]volsyncv1alpha1.MigrationResourceInfo{entries("a", 4, ok), entries("b", 2, failed)}, 4, 2, 0, 6, 4},
		{"successes beyond the limit are only counted",
			[][]volsyncv1alpha1.MigrationResourceInfo{entries("a", 25, ok)}, 10, 0, 15, 25, 25},
		{"a failure after the list filled with successes pushes out the latest success",
			[][]volsyncv1alpha1.MigrationResourceInfo{entries("a", 10, ok), entries("b", 3, failed)}, 7, 3, 3, 13, 10},
		{"failures beyond a list of failures are only counted",
			[][]volsyncv1alpha1.MigrationResourceInfo{entries("b", 12, failed), entries("a", 2, ok)}, 0, 10, 4, 14, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &volsyncv1alpha1.MigrationStatus{}
			for _, b := range tt.batches {
				recordResources(st, b, limit)
			}
			gotOK, gotNo := listed(st)
			if gotOK != tt.wantOK || gotNo != tt.wantNo || st.ResourcesNotListed != tt.wantNotListed {
				t.Errorf("listed %d successes and %d failures, %d not listed; want %d, %d, %d",
					gotOK, gotNo, st.ResourcesNotListed, tt.wantOK, tt.wantNo, tt.wantNotListed)
			}
			if total, migrated := resourceTotals(st); total != tt.wantTotal || migrated != tt.wantMigrated {
				t.Errorf("totals %d/%d, want %d/%d", migrated, total, tt.wantMigrated, tt.wantTotal)
			}
			if int64(len(st.Resources))+st.ResourcesNotListed != tt.wantTotal {
				t.Errorf("%d listed + %d not listed != %d counted", len(st.Resources), st.ResourcesNotListed, tt.wantTotal)
			}
		})
	}
}

func TestTheListKeepsTheCopiersOrder(t *testing.T) {
	st := &volsyncv1alpha1.MigrationStatus{}
	recordResources(st, entries("a", 3, ok), 3)
	recordResources(st, entries("b", 1, failed), 3)
	var names []string
	for _, r := range st.Resources {
		names = append(names, r.Name)
	}
	if fmt.Sprint(names) != "[a-0 a-1 b-0]" {
		t.Errorf("listed %v, want the first successes in order and then the failure", names)
	}
}

func TestReplacingAnEntryMovesItsCount(t *testing.T) {
	st := &volsyncv1alpha1.MigrationStatus{}
	recordResources(st, entries("a", 2, ok), 10)
	again := entries("a", 1, failed)[0]
	replaceResource(st, again, 10)
	replaceResource(st, again, 10) // the purge ran again after a retry
	if total, migrated := resourceTotals(st); total != 2 || migrated != 1 {
		t.Errorf("totals %d/%d, want 1/2", migrated, total)
	}
	if outcome(st) != volsyncv1alpha1.RunStatusPartialSuccess {
		t.Errorf("outcome %s, want PartialSuccess", outcome(st))
	}
}

func TestAStatusFromBeforeTheCountsCountsItsList(t *testing.T) {
	st := &volsyncv1alpha1.MigrationStatus{Resources: entries("a", 3, ok)}
	if !kindRecorded(st, "", "ConfigMap") || kindRecorded(st, "", "Secret") {
		t.Errorf("kinds recorded wrongly from the list %+v", st.Resources)
	}
	if total, migrated := resourceTotals(st); total != 3 || migrated != 3 {
		t.Errorf("totals %d/%d, want 3/3", migrated, total)
	}
}
