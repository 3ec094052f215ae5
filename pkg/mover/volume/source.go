package volume

import (
	"context"
	"fmt"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

// Event reasons.
const (
	ReasonPVCNotBound          = "PersistentVolumeClaimNotBound"
	ReasonSnapshotNotReady     = "VolumeSnapshotNotReady"
	ReasonCopyTriggerTimeout   = "CopyTriggerTimeoutError"
	ReasonSourcePVCNotFound    = "SourcePVCNotFound"
	ReasonDestinationPVCAbsent = "DestinationPVCNotFound"
	// MissingPVCRetry is how often a missing user-named PVC is looked for. volsyncd does not
	// watch users' PVCs (cachepolicy), so nothing else would tell when it appears.
	MissingPVCRetry = 10 * time.Second
)

// Source makes the volume a source mover reads.
type Source struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Owner is the ReplicationSource; its status receives warnings.
	Owner *volsyncv1alpha1.ReplicationSource
	// Options are the mover block's volume options.
	Options volsyncv1alpha1.ReplicationSourceVolumeOptions
}

// CopyName is the name of the clone PVC, snapshot and snapshot PVC made for owner.
func CopyName(owner string) string { return mover.ObjectName("src", owner) }

func (s *Source) now() time.Time {
	if s.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return s.Clock.Now()
}

func (s *Source) event(warning bool, reason, note string) {
	if s.Recorder == nil {
		return
	}
	t := corev1.EventTypeNormal
	if warning {
		t = corev1.EventTypeWarning
	}
	s.Recorder.Eventf(s.Owner, nil, t, reason, "Synchronize", "%s", note)
}

// Method is the copy method with the legacy alias resolved and the default applied.
func Method(m volsyncv1alpha1.CopyMethodType) volsyncv1alpha1.CopyMethodType {
	if m == "" || m == volsyncv1alpha1.CopyMethodNone {
		return volsyncv1alpha1.CopyMethodDirect
	}
	return m
}

// Direct says whether the mover reads the source PVC itself (copyMethod Direct), not a copy.
func (s *Source) Direct() bool {
	return Method(s.Options.CopyMethod) == volsyncv1alpha1.CopyMethodDirect
}

type readAheadKey struct{}

// WithReadAhead gives Source.PVC the source PVC as read a moment ago (Source.Read, ahead of a
// trigger), to use instead of reading it again.
func WithReadAhead(ctx context.Context, pvc *corev1.PersistentVolumeClaim) context.Context {
	return context.WithValue(ctx, readAheadKey{}, pvc)
}

// Read reads the source PVC, with no other effect: nil when it does not exist.
func (s *Source) Read(ctx context.Context) (*corev1.PersistentVolumeClaim, error) {
	var src corev1.PersistentVolumeClaim
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Owner.Namespace, Name: s.Owner.Spec.SourcePVC}, &src)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &src, nil
}

// PVC returns the volume the mover reads, making the copy when needed. (nil, 0, nil) means "not
// ready yet"; a positive duration asks to be looked at again after it (a timeout is due).
func (s *Source) PVC(ctx context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error) {
	pre, _ := ctx.Value(readAheadKey{}).(*corev1.PersistentVolumeClaim)
	if pre == nil || pre.Name != s.Owner.Spec.SourcePVC || pre.Namespace != s.Owner.Namespace {
		var err error
		if pre, err = s.Read(ctx); err != nil {
			return nil, 0, err
		}
	}
	if pre == nil {
		// Waiting, not failing: the PVC may be on its way.
		s.warn(ReasonSourcePVCNotFound, fmt.Sprintf("source PVC %q not found in namespace %q; waiting for it", s.Owner.Spec.SourcePVC, s.Owner.Namespace))
		return nil, MissingPVCRetry, nil
	}
	src := *pre.DeepCopy()
	method := Method(s.Options.CopyMethod)
	if method == volsyncv1alpha1.CopyMethodDirect {
		return &src, 0, nil
	}

	started, err := s.copyStarted(ctx, method)
	if err != nil {
		return nil, 0, err
	}
	if !started {
		proceed, wait, err := s.copyTriggerAllows(ctx, &src)
		if err != nil || !proceed {
			return nil, wait, err
		}
	}

	var copyPVC *corev1.PersistentVolumeClaim
	var retry time.Duration
	switch method {
	case volsyncv1alpha1.CopyMethodClone:
		copyPVC, retry, err = s.clone(ctx, &src)
	case volsyncv1alpha1.CopyMethodSnapshot:
		copyPVC, retry, err = s.fromSnapshot(ctx, &src)
	default:
		return nil, 0, fmt.Errorf("copyMethod %q is not one of Direct, None, Clone, Snapshot", method)
	}
	if err != nil || copyPVC == nil {
		return nil, retry, err
	}
	if err := s.copyDone(ctx, &src); err != nil {
		return nil, 0, err
	}
	return copyPVC, 0, nil
}

// copyStarted says whether this sync's copy exists already (so the copy trigger was passed).
func (s *Source) copyStarted(ctx context.Context, method volsyncv1alpha1.CopyMethodType) (bool, error) {
	key := client.ObjectKey{Namespace: s.Owner.Namespace, Name: CopyName(s.Owner.Name)}
	var obj client.Object = &corev1.PersistentVolumeClaim{}
	if method == volsyncv1alpha1.CopyMethodSnapshot {
		obj = &snapv1.VolumeSnapshot{}
	}
	err := s.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (s *Source) clone(ctx context.Context, src *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, time.Duration, error) {
	pvc, err := s.ensurePVC(ctx, src, &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: src.Name}, src.Spec.Resources.Requests[corev1.ResourceStorage])
	if err != nil || pvc == nil {
		return nil, 0, err
	}
	return pvc, s.warnIfUnbound(pvc), nil
}

// warnIfUnbound raises the PVCBindTimeout warning. It does not hold the sync back: with a
// WaitForFirstConsumer class the PVC binds only once the mover's pod uses it.
func (s *Source) warnIfUnbound(pvc *corev1.PersistentVolumeClaim) time.Duration {
	if pvc.Status.Phase == corev1.ClaimBound {
		return 0
	}
	waited := s.now().Sub(pvc.CreationTimestamp.Time)
	if waited < mover.PVCBindTimeout {
		return mover.PVCBindTimeout - waited
	}
	s.warn(ReasonPVCNotBound, fmt.Sprintf("PVC %s is not bound after %s; check its storage class and events", pvc.Name, mover.PVCBindTimeout))
	return 0
}

// warn shows a warning in the Synchronizing condition (Warn).
func (s *Source) warn(reason, msg string) {
	Warn(&s.Owner.Status.ReplicationStatus, reason, msg)
}

func (s *Source) ensurePVC(ctx context.Context, src *corev1.PersistentVolumeClaim, dataSource *corev1.TypedLocalObjectReference, size resource.Quantity) (*corev1.PersistentVolumeClaim, error) {
	name := CopyName(s.Owner.Name)
	var pvc corev1.PersistentVolumeClaim
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Owner.Namespace, Name: name}, &pvc)
	if err == nil {
		if pvc.DeletionTimestamp != nil {
			return nil, nil // the last sync's copy is still going away
		}
		return &pvc, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	if s.Options.Capacity != nil {
		size = *s.Options.Capacity
	}
	accessModes := s.Options.AccessModes
	if len(accessModes) == 0 {
		accessModes = src.Spec.AccessModes
	}
	storageClass := src.Spec.StorageClassName
	if s.Options.StorageClassName != nil {
		storageClass = s.Options.StorageClassName
	}
	pvc = corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Owner.Namespace, Labels: TemporaryLabels(s.Owner)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      accessModes,
			StorageClassName: storageClass,
			VolumeMode:       src.Spec.VolumeMode,
			DataSource:       dataSource,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if err := controllerutil.SetControllerReference(s.Owner, &pvc, s.Client.Scheme()); err != nil {
		return nil, err
	}
	if err := s.Client.Create(ctx, &pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating PVC %s: %w", name, err)
	}
	return nil, nil
}

func (s *Source) fromSnapshot(ctx context.Context, src *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, time.Duration, error) {
	snap, retry, err := ensureSnapshot(ctx, s.Client, s.Owner, CopyName(s.Owner.Name), src.Name, s.Options.VolumeSnapshotClassName, TemporaryLabels(s.Owner), s.now(), s.warn)
	if err != nil || snap == nil {
		return nil, retry, err
	}
	size := src.Spec.Resources.Requests[corev1.ResourceStorage]
	if snap.Status != nil && snap.Status.RestoreSize != nil && snap.Status.RestoreSize.Cmp(size) > 0 {
		size = *snap.Status.RestoreSize
	}
	pvc, err := s.ensurePVC(ctx, src, &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapv1.GroupName), Kind: "VolumeSnapshot", Name: snap.Name}, size)
	if err != nil || pvc == nil {
		return nil, 0, err
	}
	return pvc, s.warnIfUnbound(pvc), nil
}

// ensureSnapshot returns the named VolumeSnapshot of pvc once it is ready to use. It warns after
// SnapshotBindTimeout and keeps waiting.
func ensureSnapshot(ctx context.Context, c client.Client, owner client.Object, name, pvc string, class *string,
	labels map[string]string, now time.Time, warn func(reason, msg string)) (*snapv1.VolumeSnapshot, time.Duration, error) {
	var snap snapv1.VolumeSnapshot
	err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: name}, &snap)
	if apierrors.IsNotFound(err) {
		snap = snapv1.VolumeSnapshot{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), Labels: labels},
			Spec: snapv1.VolumeSnapshotSpec{
				Source:                  snapv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(pvc)},
				VolumeSnapshotClassName: class,
			},
		}
		if err := controllerutil.SetControllerReference(owner, &snap, c.Scheme()); err != nil {
			return nil, 0, err
		}
		if err := c.Create(ctx, &snap); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, 0, fmt.Errorf("creating VolumeSnapshot %s: %w", name, err)
		}
		return nil, mover.SnapshotBindTimeout, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if snap.DeletionTimestamp != nil {
		return nil, 0, nil
	}
	if snap.Status != nil && snap.Status.ReadyToUse != nil && *snap.Status.ReadyToUse {
		return &snap, 0, nil
	}
	waited := now.Sub(snap.CreationTimestamp.Time)
	if waited < mover.SnapshotBindTimeout {
		return nil, mover.SnapshotBindTimeout - waited, nil
	}
	msg := fmt.Sprintf("VolumeSnapshot %s is not ready after %s", name, waited.Truncate(time.Second))
	if snap.Status != nil && snap.Status.Error != nil && snap.Status.Error.Message != nil {
		msg += ": " + *snap.Status.Error.Message
	}
	warn(ReasonSnapshotNotReady, msg+"; check the VolumeSnapshotClass and the CSI driver")
	return nil, 0, nil
}

// TemporaryLabels mark an object to be deleted when the owner's sync is cleaned up.
func TemporaryLabels(owner client.Object) map[string]string {
	return map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue, volsyncv1alpha1.CleanupLabel: string(owner.GetUID())}
}

// DeleteTemporaries deletes the PVCs and VolumeSnapshots labelled as owner's temporaries. It
// returns once the deletes are issued; a PVC still in use goes when its pod does.
func DeleteTemporaries(ctx context.Context, c client.Client, owner client.Object) error {
	sel := client.MatchingLabels{volsyncv1alpha1.CleanupLabel: string(owner.GetUID())}
	ns := client.InNamespace(owner.GetNamespace())
	var snaps snapv1.VolumeSnapshotList
	if err := c.List(ctx, &snaps, ns, sel); err != nil {
		return fmt.Errorf("listing temporary snapshots: %w", err)
	}
	for i := range snaps.Items {
		if err := deleteUnlessKept(ctx, c, &snaps.Items[i]); err != nil {
			return err
		}
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &pvcs, ns, sel); err != nil {
		return fmt.Errorf("listing temporary PVCs: %w", err)
	}
	for i := range pvcs.Items {
		if err := deleteUnlessKept(ctx, c, &pvcs.Items[i]); err != nil {
			return err
		}
	}
	return nil
}

func deleteUnlessKept(ctx context.Context, c client.Client, obj client.Object) error {
	if obj.GetDeletionTimestamp() != nil {
		return nil
	}
	if _, keep := obj.GetLabels()[volsyncv1alpha1.DoNotDeleteLabel]; keep {
		return nil
	}
	if err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
	}
	return nil
}
