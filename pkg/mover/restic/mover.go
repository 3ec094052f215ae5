package restic

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// Restic's exit code for a repository it could not lock.
const exitRepositoryLocked = 11

// ReasonRepositoryLocked is the failure reason of a locked repository.
const ReasonRepositoryLocked = "RepositoryLocked"

// Defaults.
const (
	defaultPruneIntervalDays = 7
	defaultCacheCapacity     = "1Gi"
)

// lockedRepository fails the Job at the first exit 11: retrying a locked repository only repeats
// the failure (and its storage traffic) until someone removes the lock.
var lockedRepository = job.FailFast{
	ExitCode: exitRepositoryLocked,
	Reason:   ReasonRepositoryLocked,
	Message: "the restic repository is locked (restic exit code 11): another restic process holds the lock, " +
		"or a killed run left a stale one; set spec.restic.unlock to a new value to remove stale locks",
}

// resticMover is a restic source (backup) or destination (restore).
type resticMover struct{ job.Flow }

// Name is the mover's name, as metrics and Job names use it.
func (m *resticMover) Name() string { return MoverName }

// ReasonNothingRestored is the Warning Event of a restore that found no snapshot to restore and
// completed with an empty volume.
const ReasonNothingRestored = "NothingRestored"

// CacheName is the cache PVC of an owner in a role ("src" or "dst"), as VolSync names it:
// "volsync-<role>-<owner>-cache".
func CacheName(role, owner string) string { return mover.PVCName(role, owner, "cache") }

// legacyCacheName is what an earlier version of volsync called the cache PVC.
func legacyCacheName(role, owner string) string { return mover.ObjectName("restic-cache-"+role, owner) }

// ForgetOptions turns a retain policy into restic forget's flags; nothing set keeps the last one.
func ForgetOptions(r *volsyncv1alpha1.ResticRetainPolicy) string {
	if r == nil {
		return "--keep-last 1"
	}
	var opts []string
	add := func(flag string, v *int32) {
		if v != nil {
			opts = append(opts, fmt.Sprintf("--keep-%s %d", flag, *v))
		}
	}
	add("hourly", r.Hourly)
	add("daily", r.Daily)
	add("weekly", r.Weekly)
	add("monthly", r.Monthly)
	add("yearly", r.Yearly)
	if r.Within != nil && *r.Within != "" {
		opts = append(opts, "--keep-within "+*r.Within)
	}
	if r.Last != nil {
		// Admission allows an int or a string of digits; IntValue reads either.
		opts = append(opts, fmt.Sprintf("--keep-last %d", r.Last.IntValue()))
	}
	if len(opts) == 0 {
		return "--keep-last 1"
	}
	return strings.Join(opts, " ")
}

// PruneDue says whether pruneIntervalDays have passed since the last prune (or since the owner
// was created, before the first).
func PruneDue(intervalDays *int32, lastPruned *metav1.Time, created, now time.Time) bool {
	days := int32(defaultPruneIntervalDays)
	if intervalDays != nil && *intervalDays > 0 {
		days = *intervalDays
	}
	since := created
	if lastPruned != nil {
		since = lastPruned.Time
	}
	return !now.Before(since.AddDate(0, 0, int(days)))
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func envValue(j *corev1.PodSpec, name string) string {
	for _, c := range j.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

// ensureCache makes the cache PVC (kept between syncs unless temporary).
// It returns the cache's name: an upgrade keeps a cache made under the earlier name.
func ensureCache(ctx context.Context, c client.Client, owner client.Object, role string, capacity *resource.Quantity,
	class *string, modes []corev1.PersistentVolumeAccessMode, temporary bool) (string, bool, error) {
	existing, name, err := volume.OwnedPVC(ctx, c, owner, CacheName(role, owner.GetName()), legacyCacheName(role, owner.GetName()))
	if err != nil || existing != nil {
		return name, existing != nil && existing.DeletionTimestamp == nil, err
	}
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	labels := map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}
	if temporary {
		labels = volume.TemporaryLabels(owner)
	}
	pvc := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: modes, StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: volume.Size(capacity, defaultCacheCapacity)}},
		},
	}
	if err := controllerutil.SetControllerReference(owner, &pvc, c.Scheme()); err != nil {
		return name, false, err
	}
	if err := c.Create(ctx, &pvc); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return name, false, nil // made a moment ago, or someone else's: the next pass reads which
		}
		return name, false, fmt.Errorf("creating restic cache PVC %s: %w", name, err)
	}
	return name, true, nil
}

func commonVolumes(pvc *corev1.PersistentVolumeClaim, readOnly bool, cache string, ca *volsyncv1alpha1.CustomCASpec) ([]job.Volume, []corev1.EnvVar) {
	vols := []job.Volume{
		job.DataVolume(pvc, readOnly),
		{Volume: corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: cache}}}, MountPath: job.CacheMountPath},
	}
	var env []corev1.EnvVar
	if v, ok := job.CustomCAVolume(ca); ok {
		vols = append(vols, v)
		env = append(env, corev1.EnvVar{Name: "CUSTOM_CA", Value: job.CustomCAFile})
	}
	return vols, env
}

func repositoryEnv(secret string) []corev1.EnvFromSource {
	return []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}
}

func newBackupMover(b *Builder, c client.Client, rec events.EventRecorder, rs *volsyncv1alpha1.ReplicationSource, privileged bool) mover.Mover {
	spec := rs.Spec.Restic
	vol := &volume.Source{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rs, Options: spec.ReplicationSourceVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "src", rs.Name)
	cache := CacheName("src", rs.Name)
	var lastPruned *metav1.Time
	lastUnlocked := ""
	if rs.Status.Restic != nil {
		lastPruned, lastUnlocked = rs.Status.Restic.LastPruned, rs.Status.Restic.LastUnlocked
	}
	return &resticMover{job.Flow{
		Client: c, Owner: rs, Status: &rs.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Prepare: func(ctx context.Context) (bool, error) {
			var ready bool
			var err error
			cache, ready, err = ensureCache(ctx, c, rs, "src", spec.CacheCapacity, spec.CacheStorageClassName, spec.CacheAccessModes, false)
			return ready, err
		},
		Volume:     vol.PVC,
		ReadVolume: vol.Read,
		Direct:     vol.Direct(),
		Clock:      b.Clocked(),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			vols, env := commonVolumes(pvc, true, cache, spec.CustomCA)
			env = append(env,
				corev1.EnvVar{Name: "FORGET_OPTIONS", Value: ForgetOptions(spec.Retain)},
				corev1.EnvVar{Name: "PRUNE", Value: flag(PruneDue(spec.PruneIntervalDays, lastPruned, rs.CreationTimestamp.Time, b.Clocked().Now()))},
				corev1.EnvVar{Name: "UNLOCK", Value: flag(spec.Unlock != "" && spec.Unlock != lastUnlocked)},
			)
			if len(spec.Exclude) > 0 {
				env = append(env, corev1.EnvVar{Name: "RESTIC_EXCLUDES", Value: strings.Join(spec.Exclude, "\n")})
			}
			return job.Spec{
				Owner: rs, Name: mover.ObjectName("restic-src", rs.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleSource),
				Env:     env, EnvFrom: repositoryEnv(spec.Repository), Volumes: vols,
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rs.Spec.Paused,
				FailFast: []job.FailFast{lockedRepository},
			}
		},
		Succeeded: func(o *job.Outcome) {
			st := rs.Status.Restic
			if st == nil {
				st = &volsyncv1alpha1.ResticStatus{}
			}
			// What the Job ran with, not what would be decided now.
			if envValue(&o.Job.Spec.Template.Spec, "PRUNE") == "1" {
				now := metav1.NewTime(b.Clocked().Now())
				st.LastPruned = &now
			}
			if envValue(&o.Job.Spec.Template.Spec, "UNLOCK") == "1" {
				st.LastUnlocked = spec.Unlock
			}
			rs.Status.Restic = st
		},
		CleanupVolumes: func(ctx context.Context) error { return volume.DeleteTemporaries(ctx, c, rs) },
	}}
}

func newRestoreMover(b *Builder, c client.Client, rec events.EventRecorder, rd *volsyncv1alpha1.ReplicationDestination, privileged bool) mover.Mover {
	spec := rd.Spec.Restic
	vol := &volume.Destination{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rd, PVCSuffix: "dest", Options: spec.ReplicationDestinationVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "dst", rd.Name)
	cache := CacheName("dst", rd.Name)
	lastUnlocked := ""
	if rd.Status.Restic != nil {
		lastUnlocked = rd.Status.Restic.LastUnlocked
	}
	return &resticMover{job.Flow{
		Client: c, Owner: rd, Status: &rd.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Prepare: func(ctx context.Context) (bool, error) {
			var ready bool
			var err error
			cache, ready, err = ensureCache(ctx, c, rd, "dst", spec.CacheCapacity, spec.CacheStorageClassName, spec.CacheAccessModes, spec.CleanupCachePVC)
			return ready, err
		},
		Volume: job.DestinationVolume(vol),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			vols, env := commonVolumes(pvc, false, cache, spec.CustomCA)
			env = append(env, corev1.EnvVar{Name: "UNLOCK", Value: flag(spec.Unlock != "" && spec.Unlock != lastUnlocked)})
			if spec.RestoreAsOf != nil && *spec.RestoreAsOf != "" {
				env = append(env, corev1.EnvVar{Name: "RESTORE_AS_OF", Value: *spec.RestoreAsOf})
			}
			if spec.Previous != nil {
				env = append(env, corev1.EnvVar{Name: "SELECT_PREVIOUS", Value: strconv.Itoa(int(*spec.Previous))})
			}
			if spec.EnableFileDeletion {
				env = append(env, corev1.EnvVar{Name: "ENABLE_FILE_DELETION", Value: "1"})
			}
			return job.Spec{
				Owner: rd, Name: mover.ObjectName("restic-dst", rd.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleDestination),
				Env:     env, EnvFrom: repositoryEnv(spec.Repository), Volumes: vols,
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rd.Spec.Paused,
				FailFast: []job.FailFast{lockedRepository},
			}
		},
		Succeeded: func(o *job.Outcome) {
			if o.Summary.Warning != "" {
				// An empty restore completes, as in VolSync, but never silently.
				rec.Eventf(rd, nil, corev1.EventTypeWarning, ReasonNothingRestored, "Synchronize", "%s", o.Summary.Warning)
			}
			if envValue(&o.Job.Spec.Template.Spec, "UNLOCK") == "1" {
				if rd.Status.Restic == nil {
					rd.Status.Restic = &volsyncv1alpha1.ResticStatus{}
				}
				rd.Status.Restic.LastUnlocked = spec.Unlock
			}
		},
		Image:          vol.Image,
		CleanupVolumes: vol.Cleanup,
	}}
}
