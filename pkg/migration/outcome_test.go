package migration

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func resources(statuses ...volsyncv1alpha1.RunStatus) []volsyncv1alpha1.MigrationResourceInfo {
	var out []volsyncv1alpha1.MigrationResourceInfo
	for i, s := range statuses {
		out = append(out, volsyncv1alpha1.MigrationResourceInfo{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: string(rune('a' + i)), Status: s, Reason: reasonFor(s)})
	}
	return out
}

func volumes(statuses ...volsyncv1alpha1.RunStatus) []volsyncv1alpha1.MigrationVolumeInfo {
	var out []volsyncv1alpha1.MigrationVolumeInfo
	for i, s := range statuses {
		out = append(out, volsyncv1alpha1.MigrationVolumeInfo{Namespace: "shop", PersistentVolumeClaim: string(rune('p' + i)), Status: s, Reason: reasonFor(s), BytesTotal: 100})
	}
	return out
}

func reasonFor(s volsyncv1alpha1.RunStatus) string {
	if s == volsyncv1alpha1.RunStatusSuccessful {
		return ""
	}
	return "it went wrong"
}

const (
	ok      = volsyncv1alpha1.RunStatusSuccessful
	failed  = volsyncv1alpha1.RunStatusFailed
	pending = volsyncv1alpha1.RunStatusPending
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		name string
		st   volsyncv1alpha1.MigrationStatus
		want volsyncv1alpha1.RunStatus
	}{
		{"every resource copied is Successful", volsyncv1alpha1.MigrationStatus{Resources: resources(ok, ok)}, ok},
		{"nothing to copy is Successful", volsyncv1alpha1.MigrationStatus{}, ok},
		{"one failure among successes is PartialSuccess", volsyncv1alpha1.MigrationStatus{Resources: resources(ok, failed)}, volsyncv1alpha1.RunStatusPartialSuccess},
		{"every resource failing is Failed", volsyncv1alpha1.MigrationStatus{Resources: resources(failed, failed)}, failed},
		{"resources copied but volumes waiting for the volume path is PartialSuccess",
			volsyncv1alpha1.MigrationStatus{Resources: resources(ok), Volumes: volumes(pending)}, volsyncv1alpha1.RunStatusPartialSuccess},
		{"only volumes, all waiting, nothing failed is PartialSuccess",
			volsyncv1alpha1.MigrationStatus{Volumes: volumes(pending)}, volsyncv1alpha1.RunStatusPartialSuccess},
		{"volumes waiting and every resource failed is Failed",
			volsyncv1alpha1.MigrationStatus{Resources: resources(failed), Volumes: volumes(pending)}, failed},
		{"resources and volumes all moved is Successful",
			volsyncv1alpha1.MigrationStatus{Resources: resources(ok), Volumes: volumes(ok)}, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcome(&tt.st); got != tt.want {
				t.Errorf("outcome = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	start := metav1.NewTime(time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC))
	vols := metav1.NewTime(start.Add(90 * time.Second))
	res := metav1.NewTime(vols.Add(30 * time.Second))
	st := volsyncv1alpha1.MigrationStatus{
		Resources: resources(ok, ok, failed), Volumes: volumes(ok, pending),
		StartTimestamp: &start, VolumeMigrationFinishTimestamp: &vols, ResourceMigrationFinishTimestamp: &res,
	}
	s := summarize(&st)
	if s.Resources != "2/3" || s.Volumes != "1/2" {
		t.Errorf("printer columns = %q resources, %q volumes; want 2/3 and 1/2", s.Resources, s.Volumes)
	}
	if s.TotalNumberOfResources != 3 || s.NumberOfMigratedResources != 2 || s.TotalNumberOfVolumes != 2 || s.NumberOfMigratedVolumes != 1 {
		t.Errorf("counts = %+v", s)
	}
	if s.TotalBytesMigrated != 200 {
		t.Errorf("bytes = %d, want 200", s.TotalBytesMigrated)
	}
	if s.ElapsedTimeForVolumeMigration != "1m30s" || s.ElapsedTimeForResourceMigration != "30s" {
		t.Errorf("elapsed = %q volumes, %q resources; want 1m30s and 30s", s.ElapsedTimeForVolumeMigration, s.ElapsedTimeForResourceMigration)
	}
}

func TestOutcomeMessageNamesWhatFellShort(t *testing.T) {
	st := volsyncv1alpha1.MigrationStatus{Resources: resources(ok, failed, failed, failed, failed), Volumes: volumes(pending)}
	msg := outcomeMessage(&st, 61*time.Second)
	for _, want := range []string{"migrated 1/5 resources and 0/1 volumes in 1m1s", "ConfigMap shop/b: it went wrong", "and 2 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
}
