package volume

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Warn shows a warning while a sync is in progress: reason and msg become the Synchronizing
// condition's, whose status stays True (the sync goes on waiting). The state machine raises the
// Warning Event when the warning is new and clears it on the first pass that does not raise it
// again, so a mover calls Warn on every pass the cause persists. Other conditions (Paused, say) are
// left alone: they are the state machine's. A continuous mover (mover.Continuous) has no active
// sync; its pass starts with the condition at SyncInProgress, which a warning replaces the same way.
func Warn(st *volsyncv1alpha1.ReplicationStatus, reason, msg string) {
	c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c == nil || c.Status != metav1.ConditionTrue {
		return
	}
	if st.ActiveSync == nil && c.Reason != volsyncv1alpha1.ReasonSyncInProgress {
		return
	}
	c.Reason, c.Message = reason, msg
}
