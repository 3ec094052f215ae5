package volume

import (
	"k8s.io/apimachinery/pkg/api/meta"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Warn writes msg into the Synchronizing condition's message while a sync is in progress, keeping
// its status and reason (the sync goes on waiting). It reports whether the message is new, so the
// caller raises the Event once rather than on every reconcile. Other conditions (Paused, say) are
// left alone: their messages are the state machine's.
func Warn(st *volsyncv1alpha1.ReplicationStatus, msg string) bool {
	c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c == nil || c.Reason != volsyncv1alpha1.ReasonSyncInProgress {
		return false
	}
	if c.Message == msg {
		return false
	}
	c.Message = msg
	return true
}
