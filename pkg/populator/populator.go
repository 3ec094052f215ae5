package populator

import (
	"context"
	"fmt"
	"sync"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Event reasons on the user's claim. Where VolSync has a reason for the step, it is VolSync's.
const (
	// ReasonReplicationDestinationMissing (Warning): the ReplicationDestination the claim names
	// does not exist (yet).
	ReasonReplicationDestinationMissing = "VolSyncPopulatorReplicationDestinationMissing"
	// ReasonNoLatestImage: the destination has no latestImage yet. Normal while the claim is
	// younger than Reconciler.NoImageWarning, Warning after.
	ReasonNoLatestImage = "VolSyncPopulatorReplicationDestinationNoLatestImage"
	// ReasonPVCCreated: the prime claim was created from the destination's latestImage.
	ReasonPVCCreated = "VolSyncPopulatorPVCCreated"
	// ReasonPVCCreationError (Warning): the prime claim could not be created, or its name is
	// taken by a claim that is not this claim's.
	ReasonPVCCreationError = "VolSyncPopulatorPVCCreationError"
	// ReasonPopulatorError (Warning): the claim cannot be populated as it stands (a latestImage
	// that is not a VolumeSnapshot, a missing StorageClass or snapshot).
	ReasonPopulatorError = "VolSyncPopulatorError"
	// ReasonPopulatorFinished: the claim is bound to the restored volume.
	ReasonPopulatorFinished = "VolSyncPopulatorFinished"
	// ReasonWaitingForConsumer: the StorageClass binds on first consumer and no pod using the
	// claim has been scheduled yet (VolSync only logs this step).
	ReasonWaitingForConsumer = "VolSyncPopulatorWaitingForFirstConsumer"
	// ReasonRebinding: the prime claim is bound and its volume is being handed to the claim.
	ReasonRebinding = "VolSyncPopulatorRebinding"
	// ReasonRestarting: the snapshot went before the prime claim was restored from it; the prime
	// claim is deleted and the restore starts again from the destination's current latestImage.
	ReasonRestarting = "VolSyncPopulatorRestarting"
)

// Labels and annotations of the populator.
const (
	// PrimePrefix starts the name of a prime claim, followed by the user claim's UID.
	PrimePrefix = "volsync-prime-"
	// PopulatorForLabel is, on a prime claim, the UID of the claim it populates.
	PopulatorForLabel = "volsync.backube/populator-for"
	// PopulatedFromAnnotation is, on a prime claim and then on the volume, what the volume was
	// restored from: "<ReplicationDestination>/<VolumeSnapshot>".
	PopulatedFromAnnotation = "volsync.backube/populated-from"
	// selectedNodeAnnotation is where the scheduler puts the node of a WaitForFirstConsumer claim.
	selectedNodeAnnotation = "volume.kubernetes.io/selected-node"
)

// DefaultNoImageWarning is how long a claim may wait for its destination's first latestImage
// before the wait becomes a Warning Event.
const DefaultNoImageWarning = 10 * time.Minute

// storageClassRetry is when a claim whose StorageClass is missing is looked at again: StorageClasses
// are not watched (one GET when needed keeps them out of the cache).
const storageClassRetry = time.Minute

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups=volsync.backube,resources=replicationdestinations,verbs=get;list;watch
// +kubebuilder:rbac:groups=snapshot.storage.k8s.io,resources=volumesnapshots,verbs=get;list;watch
// +kubebuilder:rbac:groups=populator.storage.k8s.io,resources=volumepopulators,verbs=get;create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconciler populates claims whose dataSourceRef names a ReplicationDestination.
type Reconciler struct {
	// Client is the manager's client: prime claims (labelled, so cached), ReplicationDestinations
	// and VolumeSnapshots.
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// APIReader reads PersistentVolumes and StorageClasses with one GET each, so that neither is
	// cached. Defaults to the manager's.
	APIReader client.Reader
	// NoImageWarning is DefaultNoImageWarning unless set.
	NoImageWarning time.Duration
	// Claims is the claim watch (see claims.go); SetupWithManager makes it unless set.
	Claims *ClaimWatch

	// said is the last Event recorded per claim (with the claim's UID), so that a reconcile that
	// finds the same state (a destination's status changes often while it syncs) does not record
	// it again. A restart forgets it and may repeat the latest Event once.
	mu   sync.Mutex
	said map[types.NamespacedName]string
}

// Reconcile takes one claim a step towards being bound to a volume restored from its
// destination's latestImage.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pvc := r.Claims.Get(req.NamespacedName)
	if pvc == nil {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil // deleted; its prime claim, owned by it, goes with it
	}
	rdName := replicationDestinationOf(pvc)
	if pvc.DeletionTimestamp != nil {
		// The prime claim is owned by this one: the garbage collector takes it along.
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	prime, err := r.prime(ctx, pvc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pvc.Spec.VolumeName != "" {
		return r.finish(ctx, pvc, prime)
	}
	if prime == nil {
		return r.startRestore(ctx, pvc, rdName)
	}
	if prime.DeletionTimestamp != nil {
		// Deleted to start again (restoring); its delete event, or this, brings the next pass.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return r.rebind(ctx, pvc, prime)
}

// primeName is the name of pvc's prime claim.
func primeName(pvc *corev1.PersistentVolumeClaim) string { return PrimePrefix + string(pvc.UID) }

// prime returns pvc's prime claim, nil when there is none. A claim of that name that pvc does not
// control is an error shown on pvc: it is never used or deleted.
func (r *Reconciler) prime(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	var prime corev1.PersistentVolumeClaim
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: pvc.Namespace, Name: primeName(pvc)}, &prime)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !controlledBy(&prime, pvc) {
		msg := fmt.Sprintf("cannot populate the volume: PersistentVolumeClaim %s exists and is not this claim's prime claim; delete or rename it", prime.Name)
		r.event(pvc, corev1.EventTypeWarning, ReasonPVCCreationError, msg)
		return nil, reconcile.TerminalError(fmt.Errorf("%s", msg))
	}
	return &prime, nil
}

func controlledBy(obj metav1.Object, owner *corev1.PersistentVolumeClaim) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == owner.UID && ref.Kind == "PersistentVolumeClaim"
}

// startRestore creates pvc's prime claim from its destination's latestImage, once there is one
// and, for a WaitForFirstConsumer class, once the claim has a node.
func (r *Reconciler) startRestore(ctx context.Context, pvc *corev1.PersistentVolumeClaim, rdName string) (ctrl.Result, error) {
	node, wait, err := r.node(ctx, pvc)
	if err != nil || wait != nil {
		return ptrOr(wait), err
	}

	var rd volsyncv1alpha1.ReplicationDestination
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: pvc.Namespace, Name: rdName}, &rd); err != nil {
		if apierrors.IsNotFound(err) {
			r.event(pvc, corev1.EventTypeWarning, ReasonReplicationDestinationMissing,
				fmt.Sprintf("cannot populate the volume: ReplicationDestination %s not found in namespace %s; waiting for it", rdName, pvc.Namespace))
			return ctrl.Result{}, nil // the destination watch brings it back
		}
		return ctrl.Result{}, err
	}
	image := rd.Status.LatestImage
	if image == nil {
		return r.noImage(pvc, rdName), nil
	}
	if image.Kind != "VolumeSnapshot" || image.APIGroup == nil || *image.APIGroup != snapv1.GroupName {
		r.event(pvc, corev1.EventTypeWarning, ReasonPopulatorError,
			fmt.Sprintf("cannot populate the volume: the latestImage of ReplicationDestination %s is %s %s, not a VolumeSnapshot (use copyMethod Snapshot)", rdName, image.Kind, image.Name))
		return ctrl.Result{}, nil // a new latestImage brings it back
	}
	var snap snapv1.VolumeSnapshot
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: pvc.Namespace, Name: image.Name}, &snap); err != nil {
		if apierrors.IsNotFound(err) {
			r.event(pvc, corev1.EventTypeWarning, ReasonPopulatorError,
				fmt.Sprintf("cannot populate the volume: VolumeSnapshot %s, the latestImage of ReplicationDestination %s, not found", image.Name, rdName))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	prime := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: pvc.Namespace, Name: primeName(pvc),
			Labels: map[string]string{
				volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue,
				PopulatorForLabel:              string(pvc.UID),
			},
			Annotations: map[string]string{PopulatedFromAnnotation: rdName + "/" + image.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: pvc.Name, UID: pvc.UID,
				Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
			}},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      pvc.Spec.AccessModes,
			Resources:        pvc.Spec.Resources,
			StorageClassName: pvc.Spec.StorageClassName,
			VolumeMode:       pvc.Spec.VolumeMode,
			DataSourceRef: &corev1.TypedObjectReference{
				APIGroup: ptrTo(snapv1.GroupName), Kind: "VolumeSnapshot", Name: image.Name,
			},
		},
	}
	if node != "" {
		prime.Annotations[selectedNodeAnnotation] = node
	}
	if err := r.Client.Create(ctx, prime); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Made by an earlier pass the cache did not show; prime checks that it is ours.
			_, err := r.prime(ctx, pvc)
			return ctrl.Result{}, err
		}
		r.event(pvc, corev1.EventTypeWarning, ReasonPVCCreationError, fmt.Sprintf("cannot create the prime claim %s: %v", prime.Name, err))
		return ctrl.Result{}, err
	}
	r.event(pvc, corev1.EventTypeNormal, ReasonPVCCreated,
		fmt.Sprintf("restoring VolumeSnapshot %s, the latestImage of ReplicationDestination %s, into the prime claim %s", image.Name, rdName, prime.Name))
	return ctrl.Result{}, nil // the prime claim's watch brings it back
}

// noImage shows that the destination has published no image yet: Normal at first, Warning once
// the claim has waited NoImageWarning (counted from its creation, so a restart does not reset it).
func (r *Reconciler) noImage(pvc *corev1.PersistentVolumeClaim, rdName string) ctrl.Result {
	limit := r.NoImageWarning
	if limit <= 0 {
		limit = DefaultNoImageWarning
	}
	waited := r.Clock.Since(pvc.CreationTimestamp.Time)
	if waited >= limit {
		r.event(pvc, corev1.EventTypeWarning, ReasonNoLatestImage,
			fmt.Sprintf("cannot populate the volume: ReplicationDestination %s has had no latestImage for %s; has it synchronized yet?", rdName, limit))
		return ctrl.Result{}
	}
	r.event(pvc, corev1.EventTypeNormal, ReasonNoLatestImage,
		fmt.Sprintf("waiting for ReplicationDestination %s to have a latestImage", rdName))
	return ctrl.Result{RequeueAfter: limit - waited}
}

// node returns the node a WaitForFirstConsumer claim was scheduled to, or a result to wait with.
func (r *Reconciler) node(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (string, *ctrl.Result, error) {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return "", nil, nil
	}
	var sc storagev1.StorageClass
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: *pvc.Spec.StorageClassName}, &sc); err != nil {
		if apierrors.IsNotFound(err) {
			r.event(pvc, corev1.EventTypeWarning, ReasonPopulatorError,
				fmt.Sprintf("cannot populate the volume: StorageClass %s not found", *pvc.Spec.StorageClassName))
			return "", &ctrl.Result{RequeueAfter: storageClassRetry}, nil
		}
		return "", nil, err
	}
	if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		return "", nil, nil
	}
	node := pvc.Annotations[selectedNodeAnnotation]
	if node == "" {
		r.event(pvc, corev1.EventTypeNormal, ReasonWaitingForConsumer,
			fmt.Sprintf("StorageClass %s binds on first consumer: the volume is restored once a pod using this claim is scheduled", sc.Name))
		return "", &ctrl.Result{}, nil // the scheduler's annotation is an update of the claim
	}
	return node, nil, nil
}

// rebind hands the prime claim's volume to pvc once the prime claim is bound: the volume's
// claimRef is pointed at pvc, in one write, and the PersistentVolume controller does the rest.
//
// The volume keeps the reclaim policy its StorageClass gave it: once it is pvc's, it must behave
// like a volume provisioned for pvc (Delete with the claim, if that is the class's policy). The
// one window where that policy could lose the restored data is a deleted prime claim whose
// volume still names it; finish deletes the prime claim only after the volume names pvc.
func (r *Reconciler) rebind(ctx context.Context, pvc, prime *corev1.PersistentVolumeClaim) (ctrl.Result, error) {
	if prime.Spec.VolumeName == "" {
		return r.restoring(ctx, pvc, prime)
	}
	if prime.Status.Phase != corev1.ClaimBound {
		return ctrl.Result{}, nil // the PersistentVolume controller is binding it
	}
	var pv corev1.PersistentVolume
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: prime.Spec.VolumeName}, &pv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ref := pv.Spec.ClaimRef
	switch {
	case ref != nil && ref.UID == pvc.UID:
		return ctrl.Result{}, nil // handed over; waiting for the PersistentVolume controller to bind pvc
	case ref == nil || ref.UID != prime.UID:
		msg := fmt.Sprintf("cannot populate the volume: PersistentVolume %s of the prime claim %s is claimed by %v", pv.Name, prime.Name, ref)
		r.event(pvc, corev1.EventTypeWarning, ReasonPopulatorError, msg)
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("%s", msg))
	}
	patch := client.MergeFromWithOptions(pv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	pv.Spec.ClaimRef = &corev1.ObjectReference{
		Kind: "PersistentVolumeClaim", APIVersion: "v1",
		Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
	}
	if pv.Annotations == nil {
		pv.Annotations = map[string]string{}
	}
	if from := prime.Annotations[PopulatedFromAnnotation]; from != "" {
		pv.Annotations[PopulatedFromAnnotation] = pvc.Namespace + "/" + from
	}
	if err := r.Client.Patch(ctx, &pv, patch); err != nil {
		return ctrl.Result{}, err
	}
	r.event(pvc, corev1.EventTypeNormal, ReasonRebinding,
		fmt.Sprintf("the prime claim %s is bound; handing its PersistentVolume %s to this claim", prime.Name, pv.Name))
	return ctrl.Result{}, nil
}

// restoring waits for the provisioner to restore the prime claim. The snapshot it restores may go
// before the provisioner starts (the destination replaces its image and deletes the old one;
// the snapshotter protects a snapshot from deletion only once a restore from it is under way):
// then the prime claim could never be bound, and it is deleted, so that the next pass restores
// the destination's current latestImage. The snapshot watch is the destination's: a new image is
// a change of the destination, which brings this claim back.
func (r *Reconciler) restoring(ctx context.Context, pvc, prime *corev1.PersistentVolumeClaim) (ctrl.Result, error) {
	ref := prime.Spec.DataSourceRef
	if ref == nil || ref.Kind != "VolumeSnapshot" {
		return ctrl.Result{}, nil
	}
	var snap snapv1.VolumeSnapshot
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: prime.Namespace, Name: ref.Name}, &snap)
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	if err := r.Client.Delete(ctx, prime, client.Preconditions{UID: &prime.UID}); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	r.event(pvc, corev1.EventTypeNormal, ReasonRestarting,
		fmt.Sprintf("VolumeSnapshot %s went before it was restored; deleted the prime claim %s to restore the destination's current latestImage", ref.Name, prime.Name))
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// finish cleans up after pvc is bound: the prime claim goes, once its volume is pvc's.
func (r *Reconciler) finish(ctx context.Context, pvc, prime *corev1.PersistentVolumeClaim) (ctrl.Result, error) {
	if prime == nil {
		r.forget(client.ObjectKeyFromObject(pvc))
		return ctrl.Result{}, nil
	}
	if prime.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	populated := prime.Spec.VolumeName != "" && prime.Spec.VolumeName == pvc.Spec.VolumeName
	if populated {
		var pv corev1.PersistentVolume
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, &pv); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
			return ctrl.Result{}, nil // not handed over yet: the volume still names the prime claim
		}
	}
	// Either the volume is pvc's now, or pvc was bound to another volume (by hand, say) and the
	// prime claim's volume, if any, was restored for nothing: its reclaim policy deals with it.
	if err := r.Client.Delete(ctx, prime, client.Preconditions{UID: &prime.UID}); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	if populated {
		r.event(pvc, corev1.EventTypeNormal, ReasonPopulatorFinished,
			fmt.Sprintf("populated from %s: bound to PersistentVolume %s", prime.Annotations[PopulatedFromAnnotation], pvc.Spec.VolumeName))
	} else {
		log.FromContext(ctx).Info("the claim is bound to a volume of its own; deleted its prime claim", "volume", pvc.Spec.VolumeName, "prime", prime.Name)
	}
	// The last Event is kept until a pass finds the prime claim gone, so that a pass that still
	// sees it (the cache is behind) does not say "finished" twice.
	return ctrl.Result{}, nil
}

// event records an Event on pvc unless the last one recorded for it was the same.
func (r *Reconciler) event(pvc *corev1.PersistentVolumeClaim, eventType, reason, msg string) {
	key := string(pvc.UID) + "/" + eventType + "/" + reason + "/" + msg
	name := client.ObjectKeyFromObject(pvc)
	r.mu.Lock()
	if r.said == nil {
		r.said = map[types.NamespacedName]string{}
	}
	same := r.said[name] == key
	r.said[name] = key
	r.mu.Unlock()
	if same || r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(pvc, nil, eventType, reason, "Populate", "%s", msg)
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.said, key)
	r.mu.Unlock()
}

// SetupWithManager registers the populator: its claim cache, and watches on claims to populate,
// their prime claims and ReplicationDestinations.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Claims == nil {
		c, err := NewClaimWatch(mgr.GetConfig(), mgr.GetHTTPClient())
		if err != nil {
			return fmt.Errorf("building the populator's claim watch: %w", err)
		}
		r.Claims = c
	}
	primes := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[PopulatorForLabel] != ""
	})
	if err := mgr.Add(&registration{client: mgr.GetClient(), mapper: mgr.GetRESTMapper()}); err != nil {
		return err
	}
	claims := r.Claims
	c := mgr.GetClient()
	b := ctrl.NewControllerManagedBy(mgr)
	if _, err := mgr.GetRESTMapper().RESTMapping(schema.GroupKind{Group: snapv1.GroupName, Kind: "VolumeSnapshot"}, snapv1.SchemeGroupVersion.Version); err == nil {
		// A snapshot deleted before its restore started (see restoring). Without the
		// VolumeSnapshot CRDs there is nothing to restore from, and no watch (a watch on a kind the
		// API server does not serve would stop the manager).
		b = b.Watches(&snapv1.VolumeSnapshot{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var primes corev1.PersistentVolumeClaimList
			if err := c.List(ctx, &primes, client.InNamespace(o.GetNamespace()), client.HasLabels{PopulatorForLabel}); err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for _, p := range primes.Items {
				ref := metav1.GetControllerOf(&p)
				if p.Spec.DataSourceRef != nil && p.Spec.DataSourceRef.Name == o.GetName() && ref != nil {
					reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: ref.Name}})
				}
			}
			return reqs
		}), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
		}))
	}
	return b.
		Named("volumepopulator").
		WatchesRawSource(r.Claims).
		Watches(&corev1.PersistentVolumeClaim{},
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &corev1.PersistentVolumeClaim{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(primes)).
		Watches(&volsyncv1alpha1.ReplicationDestination{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var reqs []reconcile.Request
			for _, key := range claims.ForDestination(o.GetNamespace(), o.GetName()) {
				reqs = append(reqs, reconcile.Request{NamespacedName: key})
			}
			return reqs
		}), builder.WithPredicates(imageChanged)).
		Complete(r)
}

// imageChanged lets through a destination created or deleted, or one whose latestImage changed:
// its other status writes (conditions, sync times) change nothing for a claim.
var imageChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*volsyncv1alpha1.ReplicationDestination)
		n, ok2 := e.ObjectNew.(*volsyncv1alpha1.ReplicationDestination)
		if !ok1 || !ok2 {
			return true
		}
		return !equality.Semantic.DeepEqual(o.Status.LatestImage, n.Status.LatestImage)
	},
}

func ptrTo[T any](v T) *T { return &v }

func ptrOr(r *ctrl.Result) ctrl.Result {
	if r == nil {
		return ctrl.Result{}
	}
	return *r
}
