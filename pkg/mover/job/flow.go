package job

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// ReasonDebugMover is the condition reason, and Warning Event, of a sync whose mover waits in
// debug mode (EnableDebugMoverAnnotation).
const ReasonDebugMover = "DebugMover"

// Roles, as the mover command line and object names spell them.
const (
	RoleSource      = "source"
	RoleDestination = "destination"
)

// Flow is the sync every Job-based mover runs: make what the mover needs, get the volume, run the
// Job to its outcome, and (on a destination) publish the image. Movers supply the steps that
// differ; each returns "not ready yet" as (false, nil).
type Flow struct {
	Client client.Client
	// Owner is the ReplicationSource or ReplicationDestination.
	Owner client.Object
	// Status is the owner's shared status; outcomes are written here.
	Status *volsyncv1alpha1.ReplicationStatus
	// Config is the mover block's MoverConfig.
	Config volsyncv1alpha1.MoverConfig
	// ServiceAccount is the account the Job runs as.
	ServiceAccount string
	// PullSecrets are volsyncd's mover image pull secrets, copied into the owner's namespace and
	// named on volsync's service account, or on the pod when it runs as the user's account.
	PullSecrets PullSecrets
	// Prepare makes what the mover needs before its volume (keys, a Service, a cache). Optional.
	Prepare func(ctx context.Context) (bool, error)
	// Volume returns the data volume; (nil, d, nil) waits, looking again after d when d > 0.
	Volume func(ctx context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error)
	// ReadVolume reads the user's volume Volume starts from, with no other effect, so that it can
	// be read ahead of a trigger (ReadAhead); Volume takes it from volume.WithReadAhead. Nil when
	// the volume is volsync's own (a destination's), which the cache holds.
	ReadVolume func(ctx context.Context) (*corev1.PersistentVolumeClaim, error)
	// Direct says that Volume is the user's PVC itself (a source's copyMethod Direct), which the
	// running Job holds, so that the passes while it runs need not read it. A copy's volume is
	// read on every pass: its reads come from the cache, and they warn of a copy that does not bind.
	Direct bool
	// Clock dates what is read ahead; the real clock when nil.
	Clock clock.PassiveClock
	// Spec is the Job for the data volume.
	Spec func(pvc *corev1.PersistentVolumeClaim) Spec
	// Succeeded runs after a successful Job, before the image is published (status updates such as
	// restic's lastPruned). Optional.
	Succeeded func(o *Outcome)
	// Image publishes a destination's image; (nil, d, nil) waits. Nil on sources.
	Image func(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.TypedLocalObjectReference, time.Duration, error)
	// CleanupVolumes removes the sync's temporaries once the Job is gone.
	CleanupVolumes func(ctx context.Context) error
}

func waitFor(d time.Duration) mover.Result {
	if d > 0 {
		return mover.RetryAfter(d)
	}
	return mover.InProgress()
}

// Synchronize runs one step of the sync.
func (f *Flow) Synchronize(ctx context.Context) (mover.Result, error) {
	pulls, err := EnsurePullSecrets(ctx, f.Client, f.Owner, f.PullSecrets)
	if err != nil {
		return mover.Result{}, err
	}
	if err := EnsureServiceAccount(ctx, f.Client, f.Owner, f.Config, f.ServiceAccount, pulls...); err != nil {
		return mover.Result{}, err
	}
	if f.Prepare != nil {
		ready, err := f.Prepare(ctx)
		if err != nil || !ready {
			return mover.InProgress(), err
		}
	}
	// A mover that runs holds the user's volume: the passes while it runs (the start record, each
	// change of its pod) look at the Job in the cache alone, rather than GET the user's PVC again
	// while other owners of the same firing still wait for their Jobs.
	if f.Direct {
		if running, err := Running(ctx, f.Client, f.spec(nil)); running || err != nil {
			return f.stillRunning(err)
		}
	}
	// What was read ahead of the trigger stands in for this pass's reads, this once.
	pre, readAhead := ahead.take(f.Owner.GetUID(), f.now())
	if readAhead {
		ctx = volume.WithReadAhead(ctx, pre.pvc)
	}
	pvc, wait, err := f.Volume(ctx)
	if err != nil || pvc == nil {
		return waitFor(wait), err
	}
	spec := f.spec(pvc)
	spec.SecretsPresent = pre.secrets
	if spec.ImagePullSecrets, err = PodPullSecrets(ctx, f.Client, f.Owner, f.Config, pulls); err != nil {
		return mover.InProgress(), err
	}
	out, created, err := Run(ctx, f.Client, spec)
	if created {
		return mover.Result{Started: true}, nil
	}
	if IsStale(err) && f.Image == nil && f.CleanupVolumes != nil {
		// A source's point-in-time copy is as old as the stale Job: it goes too, and the next
		// pass takes a new one.
		if cerr := f.CleanupVolumes(ctx); cerr != nil {
			return mover.Result{}, cerr
		}
	}
	if err != nil || out == nil {
		return f.stillRunning(err)
	}
	out.Apply(f.Status)
	if !out.Succeeded {
		return mover.Result{}, out.Failure
	}
	if f.Succeeded != nil {
		f.Succeeded(out)
	}
	if f.Image == nil {
		return mover.Complete(), nil
	}
	image, wait, err := f.Image(ctx, pvc)
	if err != nil || image == nil {
		return waitFor(wait), err
	}
	return mover.CompleteWithImage(image), nil
}

func (f *Flow) now() time.Time {
	if f.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return f.Clock.Now()
}

// spec is the Job for pvc, for the running sync.
func (f *Flow) spec(pvc *corev1.PersistentVolumeClaim) Spec {
	s := f.Spec(pvc)
	s.Sync = SyncOf(f.Status)
	return s
}

// stillRunning is the result of a pass that leaves the Job running: err is what stands in its
// way, if anything. A debug mover is said to wait for the user.
func (f *Flow) stillRunning(err error) (mover.Result, error) {
	if err == nil && Debugging(f.Owner) {
		spec := f.Spec(nil)
		volume.Warn(f.Status, ReasonDebugMover, fmt.Sprintf("mover Job %s waits for you to run the mover by hand "+
			"(kubectl exec into its pod, then: %s); remove the %s annotation and delete the Job to sync normally",
			spec.Name, strings.Join(spec.Command, " "), volsyncv1alpha1.EnableDebugMoverAnnotation))
	}
	return mover.InProgress(), err
}

// Cleanup deletes the Job, waits until it is gone (so the next sync cannot mistake it for its
// own), then the temporaries.
func (f *Flow) Cleanup(ctx context.Context) (mover.Result, error) {
	gone, err := Delete(ctx, f.Client, f.Owner.GetNamespace(), f.Spec(nil).Name)
	if err != nil || !gone {
		return mover.InProgress(), err
	}
	if f.CleanupVolumes != nil {
		if err := f.CleanupVolumes(ctx); err != nil {
			return mover.Result{}, err
		}
	}
	return mover.Complete(), nil
}

// DataVolume mounts pvc at /data, or, for a PVC of volumeMode Block, gives its device at
// /dev/block (and DATA_DEVICE names it).
func DataVolume(pvc *corev1.PersistentVolumeClaim, readOnly bool) Volume {
	name := ""
	if pvc != nil {
		name = pvc.Name
	}
	v := Volume{
		Volume:    corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: readOnly}}},
		MountPath: DataMountPath,
		ReadOnly:  readOnly,
	}
	if pvc != nil && pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		v.MountPath, v.DevicePath = "", DataDevicePath
	}
	return v
}

// SecretVolume mounts a Secret read-only. Its files are readable by every user (0444): kubelet
// makes them root's, and the mover runs as whichever user the spec or the namespace chooses (nobody
// by default), often without an fsGroup, since an fsGroup would make kubelet change the group of
// every file of the data volume. The pod holds the mover alone, and the entry points copy keys to
// private files before ssh or stunnel read them.
func SecretVolume(volName, secret, mountPath string, items ...corev1.KeyToPath) Volume {
	return Volume{
		Volume: corev1.Volume{Name: volName, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret, Items: items, DefaultMode: ptrInt32(0o444),
		}}},
		MountPath: mountPath,
		ReadOnly:  true,
	}
}

// CustomCAVolume mounts the CA bundle of spec at /customca/ca.crt; ok is false without one.
func CustomCAVolume(spec *volsyncv1alpha1.CustomCASpec) (Volume, bool) {
	if spec == nil || (spec.SecretName == "" && spec.ConfigMapName == "") {
		return Volume{}, false
	}
	key := spec.Key
	if key == "" {
		key = "ca.crt"
	}
	items := []corev1.KeyToPath{{Key: key, Path: "ca.crt"}}
	v := Volume{MountPath: CustomCAMountPath, ReadOnly: true}
	if spec.SecretName != "" {
		v.Volume = corev1.Volume{Name: "custom-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: spec.SecretName, Items: items}}}
	} else {
		v.Volume = corev1.Volume{Name: "custom-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: spec.ConfigMapName}, Items: items}}}
	}
	return v, true
}

// CustomCAFile is where CustomCAVolume puts the bundle.
const CustomCAFile = CustomCAMountPath + "/ca.crt"

func ptrInt32(v int32) *int32 { return &v }

// SourceVolume adapts a volume.Source to Flow.Volume.
func SourceVolume(s *volume.Source) func(ctx context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error) {
	return s.PVC
}

// DestinationVolume adapts a volume.Destination to Flow.Volume.
func DestinationVolume(d *volume.Destination) func(ctx context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error) {
	return func(ctx context.Context) (*corev1.PersistentVolumeClaim, time.Duration, error) {
		pvc, err := d.PVC(ctx)
		if pvc == nil && err == nil {
			// A user's destinationPVC is not watched (cachepolicy): look for it again.
			return nil, volume.MissingPVCRetry, nil
		}
		return pvc, 0, err
	}
}
