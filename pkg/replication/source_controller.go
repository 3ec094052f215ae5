package replication

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/controller"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
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

// SourceReconciler runs ReplicationSources.
type SourceReconciler struct {
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

// +kubebuilder:rbac:groups=volsync.backube,resources=replicationsources;replicationdestinations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=replicationsources/status;replicationdestinations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=replicationsyncs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=volsync.backube,resources=replicationsyncs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=namespacedschedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;secrets;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshots,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile takes one ReplicationSource a step through its cycle.
func (r *SourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := base{client: r.Client, recorder: r.Recorder, clock: r.Clock, writes: &r.writes}
	return reconcileObject(ctx, b, r.APIReader, req.NamespacedName,
		func() *volsyncv1alpha1.ReplicationSource { return &volsyncv1alpha1.ReplicationSource{} }, r.pass)
}

// pass runs one pass over rs and writes its status when it changed.
func (r *SourceReconciler) pass(ctx context.Context, b *base, rs *volsyncv1alpha1.ReplicationSource) (ctrl.Result, error) {
	if rs.DeletionTimestamp != nil || rs.Spec.External != nil {
		// Deleted (owner references take the rest), or served by a vendor's controller.
		return ctrl.Result{}, nil
	}
	before := rs.DeepCopy()
	logger := log.FromContext(ctx)
	now := b.clock.Now()
	res, err := b.reconcileTarget(ctx, target{
		obj: rs, kind: "ReplicationSource", role: roleSource, trigger: rs.Spec.Trigger, paused: rs.Spec.Paused,
		status: &rs.Status.ReplicationStatus,
		build: func(privileged bool) (mover.Mover, error) {
			return mover.GetSourceMover(r.Builders, r.Client, logger, r.Recorder, rs, privileged)
		},
	}, now)
	rs.Status.ObservedGeneration = rs.Generation
	res, err = b.writeStatus(ctx, before, rs, !equality.Semantic.DeepEqual(before.Status, rs.Status), res, err)
	return b.fromNow(res, now), err
}

// SetupWithManager registers the controller with its indexes and watches.
func (r *SourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &volsyncv1alpha1.ReplicationSource{}, indexSchedulePolicy, func(o client.Object) []string {
		if t := o.(*volsyncv1alpha1.ReplicationSource).Spec.Trigger; t != nil && t.SchedulePolicyName != "" {
			return []string{t.SchedulePolicyName}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &volsyncv1alpha1.ReplicationSource{}, indexSourcePVC, func(o client.Object) []string {
		return []string{o.(*volsyncv1alpha1.ReplicationSource).Spec.SourcePVC}
	}); err != nil {
		return err
	}
	c := mgr.GetClient()
	b := ctrl.NewControllerManagedBy(mgr)
	if snapshotsServed(mgr) {
		b = b.Owns(&snapv1.VolumeSnapshot{})
	}
	return b.
		For(&volsyncv1alpha1.ReplicationSource{}).
		Owns(&batchv1.Job{}, jobChanged).
		Owns(&appsv1.Deployment{}).
		WithOptions(controller.TypedOptions[reconcile.Request]{RateLimiter: retryLimiter()}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&corev1.Service{}).
		Watches(&volsyncv1alpha1.SchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list volsyncv1alpha1.ReplicationSourceList
			if err := c.List(ctx, &list, client.MatchingFields{indexSchedulePolicy: o.GetName()}); err != nil {
				return nil
			}
			return requests(list.Items)
		}), policyChanged).
		Watches(&volsyncv1alpha1.NamespacedSchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list volsyncv1alpha1.ReplicationSourceList
			if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSchedulePolicy: o.GetName()}); err != nil {
				return nil
			}
			return requests(list.Items)
		}), policyChanged).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			// The cache holds only volsync's own PVCs (cachepolicy), so this sees a source PVC
			// that volsync made, such as a restored copy replicated onwards. A user's PVC is
			// looked at again on a timer while the sync waits for it or for its copy trigger.
			var list volsyncv1alpha1.ReplicationSourceList
			if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSourcePVC: o.GetName()}); err != nil {
				return nil
			}
			return requests(list.Items)
		})).
		Named("replicationsource").
		Complete(r)
}

func requests[T any, P interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for i := range items {
		o := P(&items[i])
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return out
}
