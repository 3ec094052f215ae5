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

// annotationSnapshotName is where an earlier version recorded the snapshot being taken on the
// destination PVC; cleanup still removes it.
const annotationSnapshotName = "volsync.backube/snapname"

// SnapshotName is the VolumeSnapshot the sync of owner that started at start publishes. The name
// comes from the sync's own record (status.activeSync), so a pass after a crash or a lost write
// finds the same snapshot instead of taking another.
func SnapshotName(owner string, start time.Time) string {
	return mover.ObjectName("dst", owner) + "-" + start.UTC().Format("20060102150405")
}

// Destination makes the volume a destination mover writes and publishes its images.
type Destination struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Owner    *volsyncv1alpha1.ReplicationDestination
	Options  volsyncv1alpha1.ReplicationDestinationVolumeOptions
	// VolumeMode of a provisioned PVC (rsync movers offer it).
	VolumeMode *corev1.PersistentVolumeMode
	// PVCSuffix ends the provisioned PVC's name, as VolSync names it: "dst" for the rsync movers,
	// "dest" for rclone and restic.
	PVCSuffix string
}

// PVCName is the PVC provisioned for owner when destinationPVC is unset, under VolSync's name:
// "volsync-<owner>-<suffix>", the suffix being "dst" for the rsync movers and "dest" for rclone
// and restic.
func PVCName(owner, suffix string) string { return mover.PVCName(owner, suffix) }

// legacyPVCName is what an earlier version of volsync called that PVC. A destination that has one
// keeps using it, so that an upgrade never starts it over on an empty volume.
func legacyPVCName(owner string) string { return mover.ObjectName("dst", owner) }

// OwnedPVC reads the PVC volsync provisions for owner: under name or, when only that one exists,
// under legacy, an earlier version's name (so an upgrade keeps its volume). It returns the PVC, nil
// when there is none yet, and the name it has or is to be created under. A PVC of that name that
// owner does not control is a NameConflict: volsync never writes into someone else's volume.
// name is read first, so once the PVC exists the answer comes from the cache.
func OwnedPVC(ctx context.Context, c client.Client, owner client.Object, name, legacy string) (*corev1.PersistentVolumeClaim, string, error) {
	names := []string{name}
	if legacy != "" && legacy != name {
		names = append(names, legacy)
	}
	for _, n := range names {
		var pvc corev1.PersistentVolumeClaim
		err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: n}, &pvc)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if !metav1.IsControlledBy(&pvc, owner) {
			if n != name {
				continue // an older name that is someone else's now: not this owner's volume
			}
			return nil, "", mover.Transient(mover.ReasonNameConflict, &pvc,
				"PVC %s exists but was not created for %s; delete or rename it", n, owner.GetName())
		}
		return &pvc, n, nil
	}
	return nil, name, nil
}

func (d *Destination) now() time.Time {
	if d.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return d.Clock.Now()
}

// warn shows a warning in the Synchronizing condition (Warn).
func (d *Destination) warn(reason, msg string) {
	Warn(&d.Owner.Status.ReplicationStatus, reason, msg)
}

// PVC returns the volume the mover writes into: destinationPVC, or one provisioned for the owner.
func (d *Destination) PVC(ctx context.Context) (*corev1.PersistentVolumeClaim, error) {
	ns := d.Owner.Namespace
	if d.Options.DestinationPVC != nil && *d.Options.DestinationPVC != "" {
		var pvc corev1.PersistentVolumeClaim
		if err := d.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: *d.Options.DestinationPVC}, &pvc); err != nil {
			if apierrors.IsNotFound(err) {
				d.warn(ReasonDestinationPVCAbsent, fmt.Sprintf("destinationPVC %q not found in namespace %q; waiting for it", *d.Options.DestinationPVC, ns))
				return nil, nil
			}
			return nil, err
		}
		return &pvc, nil
	}
	existing, name, err := OwnedPVC(ctx, d.Client, d.Owner, PVCName(d.Owner.Name, d.PVCSuffix), legacyPVCName(d.Owner.Name))
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.DeletionTimestamp != nil {
			return nil, nil
		}
		return existing, nil
	}
	if d.Options.Capacity == nil {
		return nil, mover.Transient(mover.ReasonCapacityRequired, nil, "capacity is required unless destinationPVC is set: set spec.<mover>.capacity, or name an existing PVC in destinationPVC")
	}
	accessModes := d.Options.AccessModes
	if len(accessModes) == 0 {
		accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	labels := map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}
	if d.Options.CleanupTempPVC && Method(d.Options.CopyMethod) == volsyncv1alpha1.CopyMethodSnapshot {
		labels = TemporaryLabels(d.Owner)
	}
	pvc := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      accessModes,
			StorageClassName: d.Options.StorageClassName,
			VolumeMode:       d.VolumeMode,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *d.Options.Capacity}},
		},
	}
	if err := controllerutil.SetControllerReference(d.Owner, &pvc, d.Client.Scheme()); err != nil {
		return nil, err
	}
	if err := d.Client.Create(ctx, &pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating destination PVC %s: %w", name, err)
	}
	return nil, nil
}

// Image publishes what the sync wrote into pvc: the PVC itself (Direct), or a new VolumeSnapshot of
// it once that is ready (Snapshot). The previous image is deleted only then, so the destination
// always has a good image; a snapshot labelled volsync.backube/do-not-delete is kept.
func (d *Destination) Image(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.TypedLocalObjectReference, time.Duration, error) {
	if Method(d.Options.CopyMethod) != volsyncv1alpha1.CopyMethodSnapshot {
		return &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: pvc.Name}, 0, nil
	}
	start := d.Owner.Status.LastSyncStartTime
	if a := d.Owner.Status.ActiveSync; a != nil {
		start = &a.StartTime
	}
	if start == nil {
		return nil, 0, fmt.Errorf("no sync is running: the snapshot has no name")
	}
	name := SnapshotName(d.Owner.Name, start.Time)
	if prev := d.Owner.Status.LatestImage; prev != nil && prev.Name == name {
		// The sync before this one started in the same second (status times are whole seconds).
		name += "-1"
	}
	labels := map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue, volsyncv1alpha1.ImageOfLabel: string(d.Owner.UID)}
	snap, retry, err := ensureSnapshot(ctx, d.Client, d.Owner, name, pvc.Name, d.Options.VolumeSnapshotClassName, labels, d.now(), d.warn)
	if err != nil || snap == nil {
		return nil, retry, err
	}
	if prev := d.Owner.Status.LatestImage; prev != nil && prev.Kind == "VolumeSnapshot" && prev.Name != snap.Name {
		var old snapv1.VolumeSnapshot
		err := d.Client.Get(ctx, client.ObjectKey{Namespace: d.Owner.Namespace, Name: prev.Name}, &old)
		if err == nil {
			if err := deleteUnlessKept(ctx, d.Client, &old); err != nil {
				return nil, 0, err
			}
		} else if !apierrors.IsNotFound(err) {
			return nil, 0, err
		}
	}
	return &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapv1.GroupName), Kind: "VolumeSnapshot", Name: snap.Name}, 0, nil
}

// Cleanup deletes the temporaries (the provisioned PVC too, with cleanupTempPVC), and the snapshot
// name an earlier version recorded on the PVC.
func (d *Destination) Cleanup(ctx context.Context) error {
	for _, name := range []string{PVCName(d.Owner.Name, d.PVCSuffix), legacyPVCName(d.Owner.Name), ptr.Deref(d.Options.DestinationPVC, "")} {
		if name == "" {
			continue
		}
		var pvc corev1.PersistentVolumeClaim
		err := d.Client.Get(ctx, client.ObjectKey{Namespace: d.Owner.Namespace, Name: name}, &pvc)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if _, ok := pvc.Annotations[annotationSnapshotName]; ok {
			patch := client.MergeFrom(pvc.DeepCopy())
			delete(pvc.Annotations, annotationSnapshotName)
			if err := d.Client.Patch(ctx, &pvc, patch); err != nil {
				return fmt.Errorf("clearing the snapshot name on PVC %s: %w", name, err)
			}
		}
	}
	return DeleteTemporaries(ctx, d.Client, d.Owner)
}

// Size is the capacity to ask for, for callers that need one (such as a cache volume).
func Size(q *resource.Quantity, def string) resource.Quantity {
	if q != nil {
		return *q
	}
	return resource.MustParse(def)
}

// KeepsSnapshots says whether each sync ends in a VolumeSnapshot (copyMethod Snapshot). Then the
// previous image is that snapshot, whatever a sync cut off half-way leaves on the volume, so a
// mover may write into the volume in place instead of staging.
func (d *Destination) KeepsSnapshots() bool {
	return Method(d.Options.CopyMethod) == volsyncv1alpha1.CopyMethodSnapshot
}
