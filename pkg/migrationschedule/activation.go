package migrationschedule

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
)

// status.applicationActivated says the schedule's destination runs the application now. It is
// set by `volsyncctl activate` (and `perform failover`) when the source can be reached, and by
// this controller when one of its Migrations is refused with reason ApplicationActivated, which
// is how the schedule learns of an activation made while the source was away. It is cleared by
// `deactivate` (and `perform failback`), or by a run that started after it was set and found the
// destination no longer activated.
//
// With spec.autoSuspend the schedule then suspends itself, as Stork's does: the first pass that
// sees the activation sets spec.suspend, so no further Migration is even created. Resuming is
// the user's decision, after a deactivation or a failback.

// activation publishes the ApplicationActivated condition and, with autoSuspend, suspends the
// schedule. It writes the spec when it suspends; the status is written with the rest of the pass.
func (p *pass) activation(ctx context.Context) error {
	ms := p.ms
	cond := metav1.Condition{
		Type: volsyncv1alpha1.ConditionApplicationActivated, Status: metav1.ConditionFalse,
		Reason: volsyncv1alpha1.ReasonNotActivated, Message: "the destination is a static copy: migrations update it",
		ObservedGeneration: ms.Generation,
	}
	if p.status.ApplicationActivated {
		cond.Status, cond.Reason = metav1.ConditionTrue, volsyncv1alpha1.ReasonApplicationActivated
		cond.Message = "the destination is activated: migrations into it fail with reason ApplicationActivated; " +
			"deactivate it ('volsyncctl deactivate migration') or fail back ('volsyncctl perform failback') to migrate again"
		if ms.Spec.AutoSuspend {
			cond.Reason = volsyncv1alpha1.ReasonAutoSuspended
			cond.Message = "the destination is activated, so the schedule suspended itself (autoSuspend); " +
				"resume it ('volsyncctl resume migrationschedule " + ms.Name + "') after deactivating the destination or failing back"
			if !suspended(ms) {
				ms.Spec.Suspend = new(bool)
				*ms.Spec.Suspend = true
				if err := p.r.Client.Update(ctx, ms); err != nil {
					return fmt.Errorf("suspending schedule %s (autoSuspend): %w", ms.Name, err)
				}
				p.r.event(ms, nil, "Warning", volsyncv1alpha1.ReasonAutoSuspended, "Suspend",
					"the destination of this schedule is activated: suspended (autoSuspend), so no migration overwrites it")
			}
		}
	}
	conditions.Set(&p.status.Conditions, cond, statusTime(p.now).Time)
	return nil
}

// recoveryPoint keeps status.recoveryPoint at the start of the newest successful Migration: its
// data is what a failover recovers. A Migration's data is taken while it runs, from its start.
func (p *pass) recoveryPoint() {
	for _, child := range p.children {
		if child.Status.Status != volsyncv1alpha1.RunStatusSuccessful {
			continue
		}
		start := child.CreationTimestamp
		if child.Status.StartTimestamp != nil {
			start = *child.Status.StartTimestamp
		}
		at := statusTime(start.Time)
		if p.status.RecoveryPoint == nil || p.status.RecoveryPoint.Before(&at) {
			p.status.RecoveryPoint = &at
		}
	}
}
