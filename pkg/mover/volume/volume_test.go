package volume

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestCopyMethodNoneIsDirectAndEmptyDefaultsToDirect(t *testing.T) {
	for in, want := range map[volsyncv1alpha1.CopyMethodType]volsyncv1alpha1.CopyMethodType{
		"":                                 volsyncv1alpha1.CopyMethodDirect,
		volsyncv1alpha1.CopyMethodNone:     volsyncv1alpha1.CopyMethodDirect,
		volsyncv1alpha1.CopyMethodDirect:   volsyncv1alpha1.CopyMethodDirect,
		volsyncv1alpha1.CopyMethodClone:    volsyncv1alpha1.CopyMethodClone,
		volsyncv1alpha1.CopyMethodSnapshot: volsyncv1alpha1.CopyMethodSnapshot,
	} {
		if got := Method(in); got != want {
			t.Errorf("Method(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAWarningSetsTheReasonOfARunningSync(t *testing.T) {
	st := &volsyncv1alpha1.ReplicationStatus{ActiveSync: &volsyncv1alpha1.ActiveSync{Stage: volsyncv1alpha1.SyncStageSynchronizing}}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionTrue, Reason: volsyncv1alpha1.ReasonSyncInProgress, Message: "sync started"})
	Warn(st, ReasonSnapshotNotReady, "snapshot not ready")
	c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c.Status != metav1.ConditionTrue || c.Reason != ReasonSnapshotNotReady || c.Message != "snapshot not ready" {
		t.Errorf("condition %+v", c)
	}
}

func TestCopyTriggersAreUsedOnlyWhenThePVCAsks(t *testing.T) {
	if UsesCopyTrigger(&corev1.PersistentVolumeClaim{}) {
		t.Error("a PVC without annotations uses copy triggers")
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{volsyncv1alpha1.UseCopyTriggerAnnotation: ""}}}
	if !UsesCopyTrigger(pvc) {
		t.Error("an empty use-copy-trigger annotation is ignored; seed 001 says any value counts")
	}
}

func TestAWarningLeavesAPausedConditionAlone(t *testing.T) {
	st := &volsyncv1alpha1.ReplicationStatus{}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionFalse, Reason: volsyncv1alpha1.ReasonPaused, Message: "paused during a sync: ..."})
	st.ActiveSync = &volsyncv1alpha1.ActiveSync{Stage: volsyncv1alpha1.SyncStageSynchronizing}
	Warn(st, ReasonSnapshotNotReady, "snapshot not ready")
	if c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing); c.Message != "paused during a sync: ..." {
		t.Errorf("message %q was replaced", c.Message)
	}
}
