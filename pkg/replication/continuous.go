package replication

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/replication/statemachine"
)

// runContinuous runs one pass of a continuous mover (mover.Continuous). There are no syncs to
// start or finish: the mover keeps its workload running (or scaled down while paused) and its
// status current. The Synchronizing condition says so, a warning the mover raises replaces it
// (with a Warning Event when it is new), and an error shows as in any other pass.
func (b *base) runContinuous(ctx context.Context, t target, m mover.Mover, now time.Time) (ctrl.Result, error) {
	prev := meta.FindStatusCondition(t.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if prev != nil {
		c := *prev
		prev = &c
	}
	msg := fmt.Sprintf("%s syncs continuously", m.Name())
	if t.trigger != nil {
		msg += "; spec.trigger does not apply to it"
	}
	if t.paused {
		statemachine.SetCondition(t.status, metav1.ConditionFalse, volsyncv1alpha1.ReasonPaused,
			fmt.Sprintf("paused: %s is stopped until spec.paused is cleared", m.Name()), now)
	} else {
		statemachine.SetCondition(t.status, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, msg, now)
	}
	res, err := m.Synchronize(ctx)
	if err != nil {
		statemachine.ShowError(t.status, prev, t.obj.GetNamespace(), t.paused, err, now, func(reason, msg string, related client.Object) {
			b.event(t.obj, related, corev1.EventTypeWarning, reason, msg)
		})
		return res.ReconcileResult(), err
	}
	c := meta.FindStatusCondition(t.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c != nil && c.Reason != volsyncv1alpha1.ReasonSyncInProgress && c.Reason != volsyncv1alpha1.ReasonPaused &&
		(prev == nil || prev.Reason != c.Reason || prev.Message != c.Message) {
		b.event(t.obj, nil, corev1.EventTypeWarning, c.Reason, c.Message)
	}
	return res.ReconcileResult(), nil
}
