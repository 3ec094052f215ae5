package replication

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/controller"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

// DestinationReconciler runs ReplicationDestinations.
type DestinationReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// APIReader reads the object itself past the cache (mgr.GetAPIReader()) when the cache does
	// not show this controller's last write of it yet (see reconcileObject). Defaults to the
	// manager's.
	APIReader client.Reader
	// Builders are the movers this controller runs; mover.Catalog when nil.
	Builders []mover.Builder

	// writes are this controller's status writes that the cache may not show yet.
	writes ownWrites
}

// Reconcile takes one ReplicationDestination a step through its cycle.
func (r *DestinationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := base{client: r.Client, recorder: r.Recorder, clock: r.Clock, writes: &r.writes}
	return reconcileObject(ctx, b, r.APIReader, req.NamespacedName,
		func() *volsyncv1alpha1.ReplicationDestination { return &volsyncv1alpha1.ReplicationDestination{} }, r.pass)
}

// pass runs one pass over rd and writes its status when it changed.
func (r *DestinationReconciler) pass(ctx context.Context, b *base, rd *volsyncv1alpha1.ReplicationDestination) (ctrl.Result, error) {
	if rd.DeletionTimestamp != nil || rd.Spec.External != nil {
		return ctrl.Result{}, nil
	}
	before := rd.DeepCopy()
	logger := log.FromContext(ctx)
	now := b.clock.Now()
	res, err := b.reconcileTarget(ctx, target{
		obj: rd, kind: "ReplicationDestination", role: roleDest, trigger: rd.Spec.Trigger, paused: rd.Spec.Paused,
		status: &rd.Status.ReplicationStatus,
		build: func(privileged bool) (mover.Mover, error) {
			return mover.GetDestinationMover(r.Builders, r.Client, logger, r.Recorder, rd, privileged)
		},
		onImage: func(image *corev1.TypedLocalObjectReference) { rd.Status.LatestImage = image },
	}, now)
	rd.Status.ObservedGeneration = rd.Generation
	res, err = b.writeStatus(ctx, before, rd, !equality.Semantic.DeepEqual(before.Status, rd.Status), res, err)
	return b.fromNow(res, now), err
}

// SetupWithManager registers the controller with its index and watches.
func (r *DestinationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &volsyncv1alpha1.ReplicationDestination{}, indexSchedulePolicy, func(o client.Object) []string {
		if t := o.(*volsyncv1alpha1.ReplicationDestination).Spec.Trigger; t != nil && t.SchedulePolicyName != "" {
			return []string{t.SchedulePolicyName}
		}
		return nil
	}); err != nil {
		return err
	}
	c := mgr.GetClient()
	b := ctrl.NewControllerManagedBy(mgr)
	if snapshotsServed(mgr) {
		b = b.Owns(&snapv1.VolumeSnapshot{})
	}
	return b.
		For(&volsyncv1alpha1.ReplicationDestination{}).
		Owns(&batchv1.Job{}, jobChanged).
		WithOptions(controller.TypedOptions[reconcile.Request]{RateLimiter: retryLimiter()}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.Secret{}).
		Watches(&volsyncv1alpha1.SchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list volsyncv1alpha1.ReplicationDestinationList
			if err := c.List(ctx, &list, client.MatchingFields{indexSchedulePolicy: o.GetName()}); err != nil {
				return nil
			}
			return requests(list.Items)
		}), policyChanged).
		Watches(&volsyncv1alpha1.NamespacedSchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list volsyncv1alpha1.ReplicationDestinationList
			if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSchedulePolicy: o.GetName()}); err != nil {
				return nil
			}
			return requests(list.Items)
		}), policyChanged).
		Named("replicationdestination").
		Complete(r)
}
