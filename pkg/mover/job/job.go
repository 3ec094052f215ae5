package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Where the mover container finds things. The mover image's entry points rely on these paths.
const (
	ContainerName = "mover"
	DataMountPath = "/data"
	// DataDevicePath is where a Block PVC's device appears in a mover, as in VolSync.
	DataDevicePath        = "/dev/block"
	CacheMountPath        = "/cache"
	KeysMountPath         = "/keys"
	RcloneConfigMountPath = "/rclone-config"
	CustomCAMountPath     = "/customca"
	TmpMountPath          = "/tmp"
	// Binary is the mover image's entry point; its arguments are the mover and the role.
	Binary = "volsync-mover"
)

// Limits and defaults.
const (
	// DefaultBackoffLimit is how many times a failed mover pod is retried within one sync.
	DefaultBackoffLimit int32 = 2
	// MaxLogBytes caps latestMoverStatus.logs.
	MaxLogBytes = 1024
	// unprivilegedUID runs unprivileged movers when the user gave no security context.
	unprivilegedUID int64 = 65534
	// jobUIDLabel is set by the API server on a Job's pod template, so on all its pods. It tells
	// the pods of this Job from those of an earlier Job of the same name still being deleted.
	jobUIDLabel = "batch.kubernetes.io/controller-uid"
)

// privilegedCapabilities are what rsync needs, as root, to keep ownership and permissions, and what
// sshd needs as root for its privilege separation (SYS_CHROOT; AUDIT_WRITE where it is built with
// audit support).
var privilegedCapabilities = []corev1.Capability{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SYS_CHROOT"}

// Volume is a pod volume and where the mover container mounts it.
type Volume struct {
	Volume    corev1.Volume
	MountPath string
	ReadOnly  bool
	// DevicePath, for a PVC of volumeMode Block, is where the device appears in the container
	// (volumeDevices) instead of a mount.
	DevicePath string
}

// FailFast is an exit code that fails the Job at once, without the Job's retries, and what it means.
type FailFast struct {
	ExitCode int32
	Reason   string
	Message  string
}

// Spec is what a mover Job runs.
type Spec struct {
	// Owner is the ReplicationSource or ReplicationDestination; it controls the Job.
	Owner client.Object
	// Name of the Job (see mover.ObjectName).
	Name string
	// Image, Command and Env of the mover container.
	Image   string
	Command []string
	Env     []corev1.EnvVar
	EnvFrom []corev1.EnvFromSource
	Ports   []corev1.ContainerPort
	Volumes []Volume
	// Config is the user's MoverConfig.
	Config volsyncv1alpha1.MoverConfig
	// ServiceAccount the pod runs as.
	ServiceAccount string
	// ImagePullSecrets of the pod (Flow sets them when the pod runs as the user's service account;
	// volsync's own account carries them otherwise).
	ImagePullSecrets []corev1.LocalObjectReference
	// Privileged is true in namespaces annotated volsync.backube/privileged-movers: "true".
	Privileged bool
	// Paused suspends the Job (parallelism 0).
	Paused bool
	// PodLabels are added to the pod (a Service selects the pod by them).
	PodLabels map[string]string
	// FailFast lists exit codes that end the Job at once.
	FailFast []FailFast
	// Sync is the sync the Job is made for (SyncOf), kept in its SyncAnnotation.
	Sync string
	// SecretsPresent are Secrets of the pod known to exist (read ahead of the trigger), which are
	// not read again before the Job is created.
	SecretsPresent map[string]bool
}

// UserVolumesDir is where a spec's moverVolumes are mounted, each at its mountPath, as in VolSync.
const UserVolumesDir = "/mnt"

// userVolumes are a spec's moverVolumes as the pod's volumes. Admission keeps every mountPath a
// plain relative path; one that is not (stored before that rule, or by a client that skipped it)
// is left out rather than mounted somewhere the mover did not expect.
func userVolumes(vs []volsyncv1alpha1.MoverVolume) []Volume {
	var out []Volume
	for i, v := range vs {
		clean := path.Clean("/" + v.MountPath)
		if clean == "/" || clean[1:] != v.MountPath || strings.Contains(v.MountPath, "/.") || strings.HasPrefix(v.MountPath, ".") {
			continue
		}
		vol := Volume{Volume: corev1.Volume{Name: fmt.Sprintf("mover-volume-%d", i)}, MountPath: UserVolumesDir + clean}
		switch src := v.VolumeSource; {
		case src.Secret != nil:
			vol.Volume.Secret = src.Secret.DeepCopy()
			vol.ReadOnly = true
		case src.PersistentVolumeClaim != nil:
			vol.Volume.PersistentVolumeClaim = src.PersistentVolumeClaim.DeepCopy()
			vol.ReadOnly = src.PersistentVolumeClaim.ReadOnly
		default:
			continue
		}
		out = append(out, vol)
	}
	return out
}

// Labels every mover Job and pod carries, besides the user's.
func Labels(owner client.Object) map[string]string {
	return map[string]string{
		volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue,
		volsyncv1alpha1.CleanupLabel:   string(owner.GetUID()),
	}
}

// SyncOf names the running sync of st for its mover Job: the trigger, the scheduled time of a
// scheduled trigger, the attempt, and the end of the sync before it. Each is fixed from the pass
// that creates the Job to the end of the sync, and two syncs of one owner never share all four,
// so the name tells a Job of this sync from one an earlier sync left. (The Job's own name stays
// VolSync's, one per owner, which users and VolSync's docs look Jobs up by.)
func SyncOf(st *volsyncv1alpha1.ReplicationStatus) string {
	a := st.ActiveSync
	if a == nil {
		return ""
	}
	parts := []string{a.Trigger}
	if a.ScheduledTime != nil {
		parts = append(parts, "scheduled "+a.ScheduledTime.UTC().Format(time.RFC3339))
	}
	parts = append(parts, fmt.Sprintf("attempt %d", a.Attempt))
	if st.LastSyncTime != nil {
		parts = append(parts, "after the sync that ended "+st.LastSyncTime.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func syncAnnotation(sync string) map[string]string {
	if sync == "" {
		return nil
	}
	return map[string]string{volsyncv1alpha1.SyncAnnotation: sync}
}

// Build makes the Job for s. It is pure: the same Spec gives the same Job.
func Build(s Spec) *batchv1.Job {
	labels := Labels(s.Owner)
	podLabels := Labels(s.Owner)
	for k, v := range s.Config.MoverPodLabels {
		podLabels[k] = v
	}
	for k, v := range s.PodLabels {
		podLabels[k] = v
	}
	backoff := DefaultBackoffLimit
	if s.Config.MoverBackoffLimit != nil {
		backoff = *s.Config.MoverBackoffLimit
	}
	parallelism := int32(1)
	if s.Paused {
		parallelism = 0
	}

	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: TmpMountPath}}
	var devices []corev1.VolumeDevice
	env := slices.Clone(s.Env)
	for _, v := range append(slices.Clone(s.Volumes), userVolumes(s.Config.MoverVolumes)...) {
		volumes = append(volumes, v.Volume)
		if v.DevicePath != "" {
			devices = append(devices, corev1.VolumeDevice{Name: v.Volume.Name, DevicePath: v.DevicePath})
			if v.Volume.Name == "data" {
				// The entry points read the data from the device instead of DATA_DIR.
				env = append(env, corev1.EnvVar{Name: "DATA_DEVICE", Value: v.DevicePath})
			}
			continue
		}
		mounts = append(mounts, corev1.VolumeMount{Name: v.Volume.Name, MountPath: v.MountPath, ReadOnly: v.ReadOnly})
	}

	command := s.Command
	if Debugging(s.Owner) && len(command) > 0 && command[0] == Binary {
		command = append([]string{Binary, DebugCommand}, command[1:]...)
	}
	container := corev1.Container{
		Name:                     ContainerName,
		Image:                    s.Image,
		Command:                  command,
		Env:                      env,
		EnvFrom:                  s.EnvFrom,
		Ports:                    s.Ports,
		VolumeMounts:             mounts,
		VolumeDevices:            devices,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		ImagePullPolicy:          corev1.PullIfNotPresent,
	}
	if s.Config.MoverResources != nil {
		container.Resources = *s.Config.MoverResources
	}
	podSC := podSecurityContext(s)
	container.SecurityContext = containerSecurityContext(s.Privileged)

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Owner.GetNamespace(), Labels: labels, Annotations: syncAnnotation(s.Sync)},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(backoff),
			Parallelism:  ptr.To(parallelism),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					Containers:                   []corev1.Container{container},
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           s.ServiceAccount,
					ImagePullSecrets:             s.ImagePullSecrets,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext:              podSC,
					Affinity:                     s.Config.MoverAffinity,
					Volumes:                      volumes,
				},
			},
		},
	}
	if len(s.FailFast) > 0 {
		codes := make([]int32, 0, len(s.FailFast))
		for _, f := range s.FailFast {
			codes = append(codes, f.ExitCode)
		}
		sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
		job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(ContainerName),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        codes,
			},
		}}}
	}
	return job
}

func podSecurityContext(s Spec) *corev1.PodSecurityContext {
	var sc *corev1.PodSecurityContext
	if s.Config.MoverSecurityContext != nil {
		sc = s.Config.MoverSecurityContext.DeepCopy()
	} else {
		sc = &corev1.PodSecurityContext{}
		if s.Privileged {
			sc.RunAsUser = ptr.To[int64](0)
		} else {
			sc.RunAsUser = ptr.To(unprivilegedUID)
			sc.RunAsGroup = ptr.To(unprivilegedUID)
		}
	}
	if !s.Privileged {
		sc.RunAsNonRoot = ptr.To(true)
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			// Root is only for privileged namespaces, whatever the spec asks.
			sc.RunAsUser = ptr.To(unprivilegedUID)
		}
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return sc
}

func containerSecurityContext(privileged bool) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	if privileged {
		sc.Capabilities.Add = append([]corev1.Capability(nil), privilegedCapabilities...)
		sc.RunAsNonRoot = ptr.To(false)
	}
	return sc
}

// Summary is what the mover writes to /dev/termination-log when it ends.
type Summary = entrypoint.Summary

// Outcome is how a finished Job went.
type Outcome struct {
	// Succeeded is false for a failed Job.
	Succeeded bool
	// Summary is the mover's summary; zero when it wrote none.
	Summary Summary
	// Logs is the tail of the termination message (the summary's message, or the log tail the
	// kubelet falls back to), capped at MaxLogBytes.
	Logs string
	// Failure is set when the Job failed.
	Failure *mover.FailedError
	// Job is the finished Job, for movers that act on what it ran with.
	Job *batchv1.Job
}

// Apply writes the outcome into status: latestMoverStatus and progress.
func (o *Outcome) Apply(st *volsyncv1alpha1.ReplicationStatus) {
	result := volsyncv1alpha1.MoverResultSuccessful
	if !o.Succeeded {
		result = volsyncv1alpha1.MoverResultFailed
	}
	st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: result, Logs: o.Logs, Summary: o.Summary.Message}
	if o.Summary.Bytes > 0 || o.Summary.Files > 0 {
		st.Progress = &volsyncv1alpha1.MoverProgress{
			BytesDone: o.Summary.Bytes, BytesTotal: o.Summary.Bytes,
			FilesDone: o.Summary.Files, FilesTotal: o.Summary.Files,
		}
	}
}

// Run creates the Job when it is missing, keeps its parallelism in line with Paused, and returns
// the Outcome once it finished: nil Outcome with nil error means "still running, come back".
// created says whether this call created the Job.
func Run(ctx context.Context, c client.Client, s Spec) (*Outcome, bool, error) {
	var job batchv1.Job
	key := client.ObjectKey{Namespace: s.Owner.GetNamespace(), Name: s.Name}
	err := cachepolicy.Cached(c).Get(ctx, key, &job)
	if apierrors.IsNotFound(err) {
		want := Build(s)
		if err := requireSecrets(ctx, c, want, s.SecretsPresent); err != nil {
			return nil, false, err
		}
		if err := controllerutil.SetControllerReference(s.Owner, want, c.Scheme()); err != nil {
			return nil, false, err
		}
		err := c.Create(ctx, want)
		if err == nil {
			return nil, true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, false, fmt.Errorf("creating mover job %s: %w", s.Name, err)
		}
		// Made a moment ago and not in the cache yet, or not ours (never cached): ask the API
		// server, and treat it as the Job that exists.
		if err := c.Get(ctx, key, &job); err != nil {
			return nil, false, err
		}
	} else if err != nil {
		return nil, false, err
	}
	out, err := runExisting(ctx, c, s, &job)
	return out, false, err
}

// Running is Run for a Job that the cache holds, made by the owner, and not finished: running
// says it was such a Job, and err is then what Run would have said of it. Every other case (no Job
// yet, a finished one, someone else's) is left to Run, which needs the volume to decide it.
func Running(ctx context.Context, c client.Client, s Spec) (running bool, err error) {
	var job batchv1.Job
	key := client.ObjectKey{Namespace: s.Owner.GetNamespace(), Name: s.Name}
	if err := cachepolicy.Cached(c).Get(ctx, key, &job); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(&job, s.Owner) {
		return false, nil
	}
	if _, done := finished(&job); done {
		return false, nil
	}
	_, err = runExisting(ctx, c, s, &job)
	return true, err
}

// runExisting is Run for a Job that exists.
func runExisting(ctx context.Context, c client.Client, s Spec, job *batchv1.Job) (*Outcome, error) {
	if !metav1.IsControlledBy(job, s.Owner) {
		// The name is this owner's mover, but someone else made the Job: never run it as ours.
		return nil, mover.Transient(mover.ReasonNameConflict, job,
			"Job %s exists but was not created for %s; delete or rename it", s.Name, s.Owner.GetName())
	}
	if job.DeletionTimestamp != nil {
		return nil, nil
	}
	if done, ok := finished(job); ok {
		if made, ok := job.Annotations[volsyncv1alpha1.SyncAnnotation]; ok && s.Sync != "" && made != s.Sync {
			return nil, stale(ctx, c, job, made, s.Sync)
		}
		return outcome(ctx, c, job, done, s.FailFast)
	}
	parallelism := int32(1)
	if s.Paused {
		parallelism = 0
	}
	if job.Spec.Parallelism == nil || *job.Spec.Parallelism != parallelism {
		job.Spec.Parallelism = ptr.To(parallelism)
		if err := c.Update(ctx, job); err != nil {
			return nil, fmt.Errorf("setting parallelism of mover job %s: %w", s.Name, err)
		}
	}
	return nil, stuckPod(ctx, c, job)
}

// stale deletes a Job that finished for another sync than the running one: a volsyncd stopped
// after it created the Job and before it recorded the start, and the Job ran to its end before
// the next trigger came. Its result would date this sync's data too early, so the mover runs again
// for this sync, and the user is told (the error's reason, a Warning Event). A Job that is still
// running is this sync's, whatever it was made for: stopping it would throw its transfer away.
func stale(ctx context.Context, c client.Client, job *batchv1.Job, made, running string) error {
	err := c.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &job.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting mover job %s, which finished for an earlier sync: %w", job.Name, err)
	}
	return mover.Transient(mover.ReasonStaleJob, job,
		"mover Job %s finished for an earlier sync (%s) whose start was never recorded; it is deleted and the mover runs again for this one (%s)",
		job.Name, made, running)
}

// IsStale says whether err is the one stale returns.
func IsStale(err error) bool {
	var t *mover.TransientError
	return errors.As(err, &t) && t.Reason == mover.ReasonStaleJob
}

// stuckReasons are the kubelet's reasons for a container that cannot start without someone's help:
// a Job has no deadline, so without this a wrong image, a missing pull secret or a bad mount would
// leave the sync running in silence.
var stuckReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true,
}

// stuckPod returns, for a running Job, the reason one of its pods' mover container cannot start, as
// a transient error with the kubelet's reason and message.
func stuckPod(ctx context.Context, c client.Client, job *batchv1.Job) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{jobUIDLabel: string(job.UID)}); err != nil {
		return fmt.Errorf("listing the pods of mover job %s: %w", job.Name, err)
	}
	return StuckContainer(pods.Items, "job "+job.Name)
}

// StuckContainer returns, for the pods of a mover workload (of says which, such as "job x"), the
// reason one of their containers cannot start, as a transient error with the kubelet's reason and
// message; nil when none is stuck.
func StuckContainer(pods []corev1.Pod, of string) error {
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && stuckReasons[w.Reason] {
				return mover.Transient(w.Reason, &pods[i], "the mover pod %s of %s cannot start: %s: %s",
					pods[i].Name, of, w.Reason, w.Message)
			}
		}
	}
	return nil
}

// finished says whether the Job ended and whether it succeeded.
func finished(job *batchv1.Job) (succeeded bool, done bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, true
		case batchv1.JobFailed:
			return false, true
		}
	}
	return false, false
}

// secretsOf names the Secrets a pod reads (envFrom, env, volumes), each with whether the pod
// needs it: false when every reference to it is optional.
func secretsOf(pod *corev1.PodSpec) map[string]bool {
	names := map[string]bool{}
	add := func(name string, optional *bool) {
		names[name] = names[name] || !ptr.Deref(optional, false)
	}
	for _, ct := range pod.Containers {
		for _, ef := range ct.EnvFrom {
			if ef.SecretRef != nil {
				add(ef.SecretRef.Name, ef.SecretRef.Optional)
			}
		}
		for _, e := range ct.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName, v.Secret.Optional)
		}
	}
	return names
}

// requireSecrets checks, before the Job is created, that every Secret it needs exists. A pod whose
// Secret is missing never starts, and a Job has no deadline: without this the sync would wait in
// silence. The user is told which Secret to create, and the next pass after it appears goes on.
// present are Secrets found a moment ago (read ahead of the trigger), not asked for again.
func requireSecrets(ctx context.Context, c client.Client, job *batchv1.Job, present map[string]bool) error {
	names := secretsOf(&job.Spec.Template.Spec)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !names[name] || present[name] {
			continue
		}
		ok, err := secretExists(ctx, c, job.Namespace, name)
		if err != nil {
			return err
		}
		if !ok {
			missing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: job.Namespace}}
			return mover.Transient(mover.ReasonSecretNotFound, missing,
				"Secret %q, which the mover needs, does not exist in namespace %q; create it and the sync goes on", name, job.Namespace)
		}
	}
	return nil
}

// secretExists reads the Secret's metadata alone: enough to know it exists, and it never brings the
// values into volsyncd.
func secretExists(ctx context.Context, c client.Client, namespace, name string) (bool, error) {
	secret := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading Secret %s: %w", name, err)
	}
	return true, nil
}

func outcome(ctx context.Context, c client.Client, job *batchv1.Job, succeeded bool, failFast []FailFast) (*Outcome, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{jobUIDLabel: string(job.UID)}); err != nil {
		return nil, fmt.Errorf("listing the pods of mover job %s: %w", job.Name, err)
	}
	term := lastTermination(pods.Items, succeeded)
	o := &Outcome{Succeeded: succeeded, Job: job}
	if term != nil {
		// Secrets never leave the mover: the mover masks its Secrets' values itself, and so is
		// every value of every Secret the Job hands the mover (envFrom, env, volumes) masked here
		// too, in the whole termination message before it is cut, for what a mover could not
		// mask (the log tail the kubelet falls back to, an older mover image). Status and Events
		// are made from what remains. A Secret that cannot be read is left to the mover.
		masker := entrypoint.NewMasker()
		for name := range secretsOf(&job.Spec.Template.Spec) {
			var secret corev1.Secret
			if err := c.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: name}, &secret); err != nil {
				continue
			}
			for key, value := range secret.Data {
				masker.Add(string(value))
				if strings.HasSuffix(key, ".conf") {
					// A config file such as rclone.conf: each of its values, as the mover masks them.
					masker.Add(entrypoint.ConfigFileValues(string(value), "type", "provider")...)
				}
			}
		}
		o.Summary, o.Logs = parseTermination(masker.Mask(term.Message))
	}
	if succeeded {
		return o, nil
	}
	reason, message := "BackoffLimitExceeded", fmt.Sprintf("mover job %s failed after its retries", job.Name)
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
			if cond.Reason != "" {
				reason = cond.Reason
			}
			if cond.Message != "" {
				message = fmt.Sprintf("mover job %s failed: %s", job.Name, cond.Message)
			}
		}
	}
	if term != nil {
		for _, f := range failFast {
			if term.ExitCode == f.ExitCode {
				reason, message = f.Reason, f.Message
			}
		}
	}
	if o.Summary.Message != "" {
		message += ": " + o.Summary.Message
	}
	o.Failure = &mover.FailedError{Reason: reason, Message: message}
	return o, nil
}

// lastTermination is the mover container's termination state in the newest pod that ended the
// way the Job did.
func lastTermination(pods []corev1.Pod, succeeded bool) *corev1.ContainerStateTerminated {
	var best *corev1.ContainerStateTerminated
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			t := cs.State.Terminated
			if cs.Name != ContainerName || t == nil || (t.ExitCode == 0) != succeeded {
				continue
			}
			if best == nil || best.FinishedAt.Before(&t.FinishedAt) {
				best = t
			}
		}
	}
	return best
}

// parseTermination reads the mover's JSON summary; anything else is the log tail the kubelet fell
// back to.
func parseTermination(msg string) (Summary, string) {
	var s Summary
	trimmed := strings.TrimSpace(msg)
	if err := json.Unmarshal([]byte(trimmed), &s); err == nil && s.Result != "" {
		if s.Logs != "" {
			return s, Tail(s.Logs, MaxLogBytes)
		}
		return s, Tail(s.Message, MaxLogBytes)
	}
	return Summary{}, Tail(trimmed, MaxLogBytes)
}

// Tail is the last max bytes of s, cut at a line start when one is near.
func Tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < max/4 {
		s = s[i+1:]
	}
	return s
}

// Delete removes the Job (its pods go with it) and reports whether it is gone. Propagation is in
// the background so that the Job disappears at once.
func Delete(ctx context.Context, c client.Client, namespace, name string) (bool, error) {
	var job batchv1.Job
	// The cache saw the Job finish, so it holds it until it saw the Job go.
	err := cachepolicy.Cached(c).Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &job)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if job.DeletionTimestamp == nil {
		if err := c.Delete(ctx, &job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("deleting mover job %s: %w", name, err)
		}
	}
	return false, nil
}

// ServiceAccountName is the account a mover runs as: the user's, or volsync-<role>-<owner>.
func ServiceAccountName(config volsyncv1alpha1.MoverConfig, role, owner string) string {
	if config.MoverServiceAccount != nil && *config.MoverServiceAccount != "" {
		return *config.MoverServiceAccount
	}
	return mover.ObjectName(role, owner)
}

// EnsureServiceAccount creates the per-owner service account when the user gave none, with
// pullSecrets (the copies EnsurePullSecrets made) as its imagePullSecrets, and keeps that list up
// to date. It grants nothing: movers need no access to the API. A user's moverServiceAccount is
// left alone.
func EnsureServiceAccount(ctx context.Context, c client.Client, owner client.Object, config volsyncv1alpha1.MoverConfig, name string, pullSecrets ...corev1.LocalObjectReference) error {
	if config.MoverServiceAccount != nil && *config.MoverServiceAccount != "" {
		return nil
	}
	var sa corev1.ServiceAccount
	err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: name}, &sa)
	if err == nil && !metav1.IsControlledBy(&sa, owner) {
		return mover.Transient(mover.ReasonNameConflict, &sa,
			"ServiceAccount %s exists but was not created for %s; delete or rename it, or set moverServiceAccount", name, owner.GetName())
	}
	if err == nil {
		if want := servicePullSecrets(sa.ImagePullSecrets, pullSecrets); !slices.Equal(want, sa.ImagePullSecrets) {
			sa.ImagePullSecrets = want
			if err := c.Update(ctx, &sa); err != nil {
				return fmt.Errorf("updating the imagePullSecrets of mover service account %s: %w", name, err)
			}
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	sa = corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		AutomountServiceAccountToken: ptr.To(false),
		ImagePullSecrets:             pullSecrets,
	}
	if err := controllerutil.SetControllerReference(owner, &sa, c.Scheme()); err != nil {
		return err
	}
	if err := c.Create(ctx, &sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating mover service account %s: %w", name, err)
	}
	return nil
}

// DebugCommand is volsync-mover's subcommand that waits instead of running the mover.
const DebugCommand = "debug"

// Debugging says whether owner asks for debug movers (EnableDebugMoverAnnotation).
func Debugging(owner client.Object) bool {
	_, ok := owner.GetAnnotations()[volsyncv1alpha1.EnableDebugMoverAnnotation]
	return ok
}

// Command is the mover container's command: volsync-mover <mover> <role>.
func Command(moverName, role string) []string {
	return []string{Binary, moverName, role}
}
