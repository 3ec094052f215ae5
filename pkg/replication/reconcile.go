package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
	"github.com/volsync/volsync/pkg/replication/statemachine"
	"github.com/volsync/volsync/pkg/schedule"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Field indexes.
const (
	indexSchedulePolicy = "spec.trigger.schedulePolicyName"
	indexSourcePVC      = "spec.sourcePVC"
)

// policyChanged lets through the SchedulePolicy events that can change what its owners do: a
// policy created, deleted or edited. The policy controller's own status writes (its next trigger
// time moves on each time one passes) would otherwise wake every owner of the policy at once.
var policyChanged = builder.WithPredicates(predicate.GenerationChangedPredicate{})

// jobChanged lets through the events of an owner's mover Job that tell it something: the Job's
// progress, its end, its deletion. Its creation is not one: the owner made it, and asked for the
// pass that records the sync's start (StartRecordDelay) already, so a wake-up for the creation
// would be a second pass for each owner of a firing while the rest of the firing's Jobs are still
// being made. (After a restart every owner is looked at anyway, Jobs or not.)
var jobChanged = builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})

// ReasonMoverNotFound is the Event reason when the catalog cannot pick a mover.
const ReasonMoverNotFound = "MoverNotFound"

// ReasonSnapshotKept is the Event of a do-not-delete snapshot handed over to its user.
const ReasonSnapshotKept = "SnapshotKept"

// base is what both reconcilers share.
type base struct {
	client   client.Client
	recorder events.EventRecorder
	clock    clock.PassiveClock
	// writes are this process's own status writes that the cache may not show yet.
	writes *ownWrites
}

// target is one ReplicationSource or ReplicationDestination, seen the same way.
type target struct {
	obj     client.Object
	kind    string
	role    string
	trigger *volsyncv1alpha1.ReplicationTriggerSpec
	paused  bool
	status  *volsyncv1alpha1.ReplicationStatus
	// build asks the catalog for the object's mover.
	build   func(privileged bool) (mover.Mover, error)
	onImage func(*corev1.TypedLocalObjectReference)
}

// reconcileTarget runs one pass of the cycle at now and says when to come back, counted from now.
// It only edits t.status; the caller writes it.
func (b *base) reconcileTarget(ctx context.Context, t target, now time.Time) (ctrl.Result, error) {
	privileged, err := b.privileged(ctx, t.obj.GetNamespace())
	if err != nil {
		b.showError(t, err, now)
		return ctrl.Result{}, err
	}
	released, err := volume.ReleaseKept(ctx, b.client, t.obj)
	for _, name := range released {
		b.event(t.obj, nil, corev1.EventTypeNormal, ReasonSnapshotKept, fmt.Sprintf(
			"VolumeSnapshot %s is labelled %s: it no longer belongs to this %s, and volsync never deletes it",
			name, volsyncv1alpha1.DoNotDeleteLabel, t.kind))
	}
	if err != nil {
		b.showError(t, err, now)
		return ctrl.Result{}, err
	}
	m, err := t.build(privileged)
	if err != nil {
		// No mover, several, or a mover block a Builder rejects: all spec problems, so nothing
		// changes until the spec does (which brings the next reconcile).
		b.catalogError(t, err, now)
		return ctrl.Result{}, nil
	}
	if mover.IsContinuous(m) {
		return b.runContinuous(ctx, t, m, now)
	}
	policy, trigErr := b.policy(ctx, t.obj.GetNamespace(), t.trigger, now)
	var trig schedule.Trigger
	if trigErr == nil {
		trig, trigErr = schedule.ReplicationTrigger(t.trigger, t.status.LastManualSync, policy)
	}
	om := &objectMachine{
		client: b.client, recorder: b.recorder, obj: t.obj, kind: t.kind, trigger: t.trigger, paused: t.paused,
		status: t.status, mover: m, policy: policy, now: now, clock: b.clock, onImage: t.onImage,
		metrics: newObjectMetrics(t.obj.GetName(), t.obj.GetNamespace(), t.role, m.Name()),
	}
	res, err := statemachine.Run(ctx, om, trig, trigErr, now)
	om.metrics.freshness(t.status.LastSyncTime, policy)
	return res.ReconcileResult(), err
}

// showError puts an error a pass met before the state machine ran in the Synchronizing condition
// and a Warning Event (statemachine.ShowError).
func (b *base) showError(t target, err error, now time.Time) {
	prev := meta.FindStatusCondition(t.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if prev != nil {
		c := *prev
		prev = &c
	}
	statemachine.ShowError(t.status, prev, t.obj.GetNamespace(), t.paused, err, now, func(reason, msg string, related client.Object) {
		b.event(t.obj, related, corev1.EventTypeWarning, reason, msg)
	})
}

// catalogError shows why no mover could be picked: Synchronizing=False, reason Error, and a
// Warning Event when the message is new.
func (b *base) catalogError(t target, err error, now time.Time) {
	prev := meta.FindStatusCondition(t.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if prev == nil || prev.Reason != volsyncv1alpha1.ReasonError || prev.Message != err.Error() {
		b.event(t.obj, nil, corev1.EventTypeWarning, ReasonMoverNotFound, err.Error())
	}
	statemachine.SetCondition(t.status, metav1.ConditionFalse, volsyncv1alpha1.ReasonError, err.Error(), now)
}

func (b *base) event(obj, related client.Object, eventType, reason, msg string) {
	recordEvent(b.recorder, obj, related, eventType, reason, msg)
}

// recordEvent records an Event on obj, action "Synchronize", about related when it is not nil
// (a nil related must reach the recorder as an untyped nil).
func recordEvent(rec events.EventRecorder, obj, related client.Object, eventType, reason, msg string) {
	if rec == nil {
		return
	}
	if related == nil {
		rec.Eventf(obj, nil, eventType, reason, "Synchronize", "%s", msg)
		return
	}
	rec.Eventf(obj, related, eventType, reason, "Synchronize", "%s", msg)
}

// privileged says whether the namespace lets movers run privileged.
func (b *base) privileged(ctx context.Context, namespace string) (bool, error) {
	var ns corev1.Namespace
	if err := b.client.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	return ns.Annotations[volsyncv1alpha1.PrivilegedMoversAnnotation] == "true", nil
}

// policy fetches and compiles the policy the trigger names, if any: a NamespacedSchedulePolicy of
// the owner's namespace, else the SchedulePolicy of that name.
func (b *base) policy(ctx context.Context, namespace string, trig *volsyncv1alpha1.ReplicationTriggerSpec, now time.Time) (*schedule.Policy, error) {
	if trig == nil || trig.SchedulePolicyName == "" {
		return nil, nil
	}
	found, err := schedulepolicy.Lookup(ctx, b.client, namespace, trig.SchedulePolicyName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("schedule policy %q not found (neither a NamespacedSchedulePolicy in %s nor a SchedulePolicy): create it, or change spec.trigger.schedulePolicyName",
				trig.SchedulePolicyName, namespace)
		}
		return nil, err
	}
	compiled, err := found.Compile(now)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be used: %w", found.Describe(), err)
	}
	return compiled, nil
}

// fromNow turns a wait counted from the start of a pass into one counted from now. The waits are
// for points in time (a trigger, a timeout), and the pass's own writes have used some of them: a
// requeue counted from the start would wake that much late.
func (b *base) fromNow(res ctrl.Result, start time.Time) ctrl.Result {
	if res.RequeueAfter <= 0 {
		return res
	}
	res.RequeueAfter = max(res.RequeueAfter-b.clock.Since(start), time.Millisecond)
	return res
}

// writeStatus writes obj's status when it differs from before, and notes the write until the
// cache shows it. It patches the difference rather than updating with a resource version: the
// controller is the status's only writer, and the steps this reconcile took (a Job created, a
// child started) must be recorded even when someone edited the object meanwhile; a lost write
// would have the next reconcile take them again.
func (b *base) writeStatus(ctx context.Context, before, obj client.Object, changed bool, res ctrl.Result, runErr error) (ctrl.Result, error) {
	if changed {
		key := client.ObjectKeyFromObject(obj)
		if err := b.client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
			if apierrors.IsNotFound(err) {
				b.writes.forget(key)
				return ctrl.Result{}, nil
			}
			// It may have been stored all the same: the next pass reads the object afresh.
			b.writes.wrote(key, "")
			return ctrl.Result{}, errors.Join(err, runErr)
		}
		b.writes.wrote(key, obj.GetResourceVersion())
	}
	return res, runErr
}

// snapshotsServed says whether the cluster serves VolumeSnapshots. Without the CRDs the controllers
// still run (copyMethod Direct and Clone work); only the snapshot watch is left out, since a watch
// on a kind the API server does not know would stop the whole manager.
func snapshotsServed(mgr ctrl.Manager) bool {
	_, err := mgr.GetRESTMapper().RESTMapping(schema.GroupKind{Group: snapv1.GroupName, Kind: "VolumeSnapshot"}, snapv1.SchemeGroupVersion.Version)
	if err != nil {
		mgr.GetLogger().Info("VolumeSnapshots are not served; copyMethod Snapshot will fail until their CRDs are installed", "error", err.Error())
		return false
	}
	return true
}

// retryLimiter spaces the retries of a pass that failed: 5 ms, doubling, up to a minute. The
// errors a replication pass meets (a missing Secret, a quota, an RBAC denial) are mostly about
// objects volsyncd does not watch, so no event would end a longer wait; controller-runtime's
// default would reach 16 minutes. The condition and an Event show each error meanwhile.
func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, time.Minute),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}
