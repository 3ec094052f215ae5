package replication

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/schedule"
)

// ensureChild creates the dated ReplicationSync child for d, or finds it (a retry, a restart or a
// lost status write: the name makes it the same run), and records it in status.scheduledSyncs.
// The child's created-at annotation is read from clk just before the create.
func ensureChild(ctx context.Context, c client.Client, owner client.Object, kind string,
	st *volsyncv1alpha1.ReplicationStatus, d schedule.Decision, now time.Time, clk clock.PassiveClock) (*volsyncv1alpha1.ReplicationSync, *volsyncv1alpha1.ScheduledRun, error) {
	name := schedule.ChildName(owner.GetName(), d.Type, d.Scheduled)
	scheduled := metav1.NewTime(d.Scheduled.Truncate(time.Second))
	child := &volsyncv1alpha1.ReplicationSync{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(),
			Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Spec: volsyncv1alpha1.ReplicationSyncSpec{
			Replication:   volsyncv1alpha1.ReplicationRef{Kind: kind, Name: owner.GetName()},
			PolicyType:    d.Type,
			ScheduledTime: scheduled,
		},
	}
	if err := controllerutil.SetControllerReference(owner, child, c.Scheme()); err != nil {
		return nil, nil, err
	}
	child.Annotations = map[string]string{volsyncv1alpha1.CreatedAtAnnotation: clk.Now().UTC().Format(time.RFC3339Nano)}
	if err := c.Create(ctx, child); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, nil, fmt.Errorf("creating ReplicationSync %s: %w", name, err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(child), child); err != nil {
			return nil, nil, err
		}
		// The name makes it this run only when this owner made it: a child of that name from
		// anyone else (a user, an owner deleted and re-created under the same name) is not adopted.
		if !metav1.IsControlledBy(child, owner) {
			return nil, nil, mover.Transient(mover.ReasonNameConflict, child,
				"ReplicationSync %s exists but was not created by this %s (UID %s); delete it or rename the %s", name, kind, owner.GetUID(), kind)
		}
	}
	if err := supersede(ctx, c, owner.GetNamespace(), st, d, name, now); err != nil {
		return nil, nil, err
	}
	if st.ScheduledSyncs == nil {
		st.ScheduledSyncs = map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{}
	}
	runs := st.ScheduledSyncs[d.Type]
	for i := range runs {
		if runs[i].Name == name {
			return child, &runs[i], nil
		}
	}
	st.ScheduledSyncs[d.Type] = append(runs, volsyncv1alpha1.ScheduledRun{
		Name: name, ScheduledTime: &scheduled, CreationTimestamp: child.CreationTimestamp,
		Status: volsyncv1alpha1.RunStatusPending,
	})
	runs = st.ScheduledSyncs[d.Type]
	return child, &runs[len(runs)-1], nil
}

// queuePolicyRun shows a trigger that came due while another sync runs as a Pending child.
func queuePolicyRun(ctx context.Context, c client.Client, owner client.Object, kind string,
	st *volsyncv1alpha1.ReplicationStatus, d schedule.Decision, now time.Time, clk clock.PassiveClock) error {
	name := schedule.ChildName(owner.GetName(), d.Type, d.Scheduled)
	for _, r := range st.ScheduledSyncs[d.Type] {
		if r.Name == name {
			return nil // queued on an earlier reconcile
		}
	}
	child, run, err := ensureChild(ctx, c, owner, kind, st, d, now, clk)
	if err != nil {
		return err
	}
	if child.Status.Status == "" {
		child.Status.Status = volsyncv1alpha1.RunStatusPending
		conditions.Set(&child.Status.Conditions, metav1.Condition{
			Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse,
			Reason: "Queued", Message: "waiting for the running sync to finish",
		}, now)
		if err := c.Status().Update(ctx, child); err != nil {
			return fmt.Errorf("marking ReplicationSync %s pending: %w", child.Name, err)
		}
	}
	if run.Status == "" {
		run.Status = volsyncv1alpha1.RunStatusPending
	}
	return nil
}

// startPolicyRun creates (or finds) the dated child for d, marks it InProgress and records it in
// status.scheduledSyncs.
func startPolicyRun(ctx context.Context, c client.Client, owner client.Object, kind string,
	st *volsyncv1alpha1.ReplicationStatus, d schedule.Decision, now time.Time, clk clock.PassiveClock) error {
	child, run, err := ensureChild(ctx, c, owner, kind, st, d, now, clk)
	if err != nil {
		return err
	}
	if child.Status.Status == "" || child.Status.Status == volsyncv1alpha1.RunStatusPending {
		start := metav1.NewTime(now)
		child.Status.Status = volsyncv1alpha1.RunStatusInProgress
		child.Status.StartTime = &start
		conditions.Set(&child.Status.Conditions, metav1.Condition{
			Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse,
			Reason: volsyncv1alpha1.ReasonSyncInProgress, Message: "the sync is running",
		}, now)
		if err := c.Status().Update(ctx, child); err != nil {
			return fmt.Errorf("marking ReplicationSync %s in progress: %w", child.Name, err)
		}
	}
	run.Status = volsyncv1alpha1.RunStatusInProgress
	return nil
}

// supersede ends the Pending children of d's type other than keep: a newer trigger of the same
// type came due before they could start, and runs instead (the older one is counted as missed).
func supersede(ctx context.Context, c client.Client, namespace string, st *volsyncv1alpha1.ReplicationStatus,
	d schedule.Decision, keep string, now time.Time) error {
	runs := st.ScheduledSyncs[d.Type]
	finish := metav1.NewTime(now)
	for i := range runs {
		if runs[i].Name == keep || runs[i].Status != volsyncv1alpha1.RunStatusPending {
			continue
		}
		var child volsyncv1alpha1.ReplicationSync
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: runs[i].Name}, &child)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil && !child.Status.Status.Finished() {
			child.Status.Status = volsyncv1alpha1.RunStatusFailed
			child.Status.FinishTime = &finish
			conditions.Set(&child.Status.Conditions, metav1.Condition{
				Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionTrue, Reason: "Superseded",
				Message: fmt.Sprintf("the %s trigger of %s came due before this one could start, and runs instead",
					d.Type, d.Scheduled.UTC().Format(time.RFC3339)),
			}, now)
			if err := c.Status().Update(ctx, &child); err != nil {
				return fmt.Errorf("marking ReplicationSync %s superseded: %w", child.Name, err)
			}
		}
		runs[i].Status = volsyncv1alpha1.RunStatusFailed
		runs[i].FinishTimestamp = &finish
	}
	return nil
}

// finishPolicyRuns records the outcome of the running ReplicationSync child (if the sync was a
// policy's) in the child and in status, then trims that type's history to the policy's retain,
// deleting the children that fall out of it.
func finishPolicyRuns(ctx context.Context, c client.Client, owner client.Object, st *volsyncv1alpha1.ReplicationStatus,
	policy *schedule.Policy, failure *mover.FailedError, now time.Time) error {
	result := volsyncv1alpha1.RunStatusSuccessful
	reason, message := "SyncSucceeded", "the sync completed"
	if failure != nil {
		result = volsyncv1alpha1.RunStatusFailed
		reason, message = failure.Reason, failure.Message
	}
	finish := metav1.NewTime(now)
	for t, runs := range st.ScheduledSyncs {
		changed := false
		for i := range runs {
			if runs[i].Status != volsyncv1alpha1.RunStatusInProgress {
				continue // Pending ones are queued behind the sync that just ended
			}
			var child volsyncv1alpha1.ReplicationSync
			err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: runs[i].Name}, &child)
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			if err == nil && !child.Status.Status.Finished() {
				child.Status.Status = result
				child.Status.FinishTime = &finish
				if st.LatestMoverStatus != nil {
					child.Status.MoverStatus = st.LatestMoverStatus.DeepCopy()
				}
				conditions.Set(&child.Status.Conditions, metav1.Condition{
					Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionTrue, Reason: reason, Message: message,
				}, now)
				if err := c.Status().Update(ctx, &child); err != nil {
					return fmt.Errorf("recording the outcome of ReplicationSync %s: %w", child.Name, err)
				}
			}
			runs[i].Status = result
			runs[i].FinishTimestamp = &finish
			changed = true
		}
		if changed && policy != nil {
			kept, err := trimRuns(ctx, c, owner.GetNamespace(), runs, policy.Retain(t))
			if err != nil {
				return err
			}
			runs = kept
		}
		st.ScheduledSyncs[t] = runs
	}
	return nil
}

// trimRuns keeps the newest retain runs and deletes the children of the others.
func trimRuns(ctx context.Context, c client.Client, namespace string, runs []volsyncv1alpha1.ScheduledRun, retain int) ([]volsyncv1alpha1.ScheduledRun, error) {
	sort.SliceStable(runs, func(i, j int) bool { return scheduledOf(runs[i]).Before(scheduledOf(runs[j])) })
	if retain <= 0 || len(runs) <= retain {
		return runs, nil
	}
	drop := runs[:len(runs)-retain]
	for _, r := range drop {
		child := &volsyncv1alpha1.ReplicationSync{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: namespace}}
		if err := c.Delete(ctx, child); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting ReplicationSync %s beyond the policy's retain: %w", r.Name, err)
		}
	}
	return append([]volsyncv1alpha1.ScheduledRun(nil), runs[len(runs)-retain:]...), nil
}

func scheduledOf(r volsyncv1alpha1.ScheduledRun) time.Time {
	if r.ScheduledTime != nil {
		return r.ScheduledTime.Time
	}
	return r.CreationTimestamp.Time
}
