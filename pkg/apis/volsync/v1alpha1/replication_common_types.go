package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CronPattern is the anchored shape of a schedule robfig/cron/v3 accepts with optional seconds and
// descriptors: 5 or 6 fields, or @hourly-style descriptors, optionally led by CRON_TZ=Zone. A field
// is made of numbers, *, ?, ranges, steps, lists and the three-letter month and weekday names (any
// case), so a word such as "garbage" is not taken for a field. The controller parses it again with
// the real parser; this only keeps junk out at admission.
const CronPattern = `^((CRON_TZ|TZ)=[A-Za-z0-9_/+-]+ +)?(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9a-z.]+|(([*?]|([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat))(-([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)))?)(/[0-9]+)?(,([*?]|([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat))(-([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)))?)(/[0-9]+)?)*( +|$)){5,6})$`

// ReplicationTriggerSpec says when a replication runs. With no field set it runs continuously
// ("always"). schedule and schedulePolicyName exclude each other. manual may be set beside either
// and then wins, as in VolSync: while it is set, the object syncs once for each new value and the
// schedule is not followed (automation patches a manual trigger onto a scheduled source to run a
// last sync before a failover).
//
// +kubebuilder:validation:XValidation:rule="!(has(self.schedule) && has(self.schedulePolicyName))",message="trigger takes schedule or schedulePolicyName, not both (manual may go with either, and wins)"
type ReplicationTriggerSpec struct {
	// Schedule is a cron expression: 5 fields, 6 with leading seconds, or a descriptor such as
	// @hourly, optionally prefixed with CRON_TZ=Zone. The zone must be one the controller can load
	// (an IANA name, not Local), so that a schedule admission stores is one the controller can run.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^((CRON_TZ|TZ)=[A-Za-z0-9_/+-]+ +)?(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9a-z.]+|(([*?]|([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat))(-([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)))?)(/[0-9]+)?(,([*?]|([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat))(-([0-9]+|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)))?)(/[0-9]+)?)*( +|$)){5,6})$')",message="schedule must be a cron expression of 5 fields (6 with seconds) or a descriptor such as @hourly"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^(CRON_TZ|TZ)=') || (self.matches('^(CRON_TZ|TZ)=[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)* ') && !self.matches('^(CRON_TZ|TZ)=Local ') && timestamp('2000-01-01T00:00:00Z').getFullYear(self.substring(self.indexOf('=') + 1, self.indexOf(' '))) >= 1999)",message="the zone after CRON_TZ= must be an IANA name such as Europe/Berlin"
	Schedule *string `json:"schedule,omitempty"`
	// Manual starts one sync whenever it differs from status.lastManualSync. A change never
	// interrupts a running sync.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Manual string `json:"manual,omitempty"`
	// SchedulePolicyName names a cluster SchedulePolicy. Each policy type that comes due creates a
	// dated ReplicationSync child, and history is kept per type up to the policy's retain.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SchedulePolicyName string `json:"schedulePolicyName,omitempty"`
}

// CopyMethodType says how a point-in-time copy of a volume is made.
// +kubebuilder:validation:Enum=Direct;None;Clone;Snapshot
type CopyMethodType string

// Copy methods. None is the legacy spelling of Direct.
const (
	CopyMethodDirect   CopyMethodType = "Direct"
	CopyMethodNone     CopyMethodType = "None"
	CopyMethodClone    CopyMethodType = "Clone"
	CopyMethodSnapshot CopyMethodType = "Snapshot"
)

// ReplicationSourceVolumeOptions says how the source volume is copied before it is moved.
type ReplicationSourceVolumeOptions struct {
	// CopyMethod: Direct (alias None) uses the PVC as it is, Clone makes a CSI clone, Snapshot a
	// VolumeSnapshot and a PVC from it.
	// +optional
	CopyMethod CopyMethodType `json:"copyMethod,omitempty"`
	// Capacity of the point-in-time copy. Defaults to that of the source.
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`
	// StorageClassName of the point-in-time copy. Defaults to that of the source.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// AccessModes of the point-in-time copy. Default to those of the source.
	// +optional
	AccessModes []corev1.PersistentVolumeAccessMode `json:"accessModes,omitempty"`
	// VolumeSnapshotClassName used with copyMethod Snapshot.
	// +optional
	VolumeSnapshotClassName *string `json:"volumeSnapshotClassName,omitempty"`
}

// ReplicationDestinationVolumeOptions says where incoming data lands and what is kept of it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.copyMethod) || self.copyMethod != 'Clone'",message="copyMethod on a destination must be Direct, None or Snapshot"
type ReplicationDestinationVolumeOptions struct {
	// CopyMethod: Snapshot takes a VolumeSnapshot after every sync and publishes it as latestImage;
	// Direct (alias None) publishes the PVC itself.
	// +optional
	CopyMethod CopyMethodType `json:"copyMethod,omitempty"`
	// Capacity of the provisioned destination PVC; required unless destinationPVC is set.
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`
	// StorageClassName of the provisioned destination PVC.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// AccessModes of the provisioned destination PVC.
	// +optional
	AccessModes []corev1.PersistentVolumeAccessMode `json:"accessModes,omitempty"`
	// VolumeSnapshotClassName used with copyMethod Snapshot.
	// +optional
	VolumeSnapshotClassName *string `json:"volumeSnapshotClassName,omitempty"`
	// DestinationPVC is an existing PVC to write into instead of provisioning one.
	// +optional
	DestinationPVC *string `json:"destinationPVC,omitempty"`
	// CleanupTempPVC deletes the provisioned PVC after each sync (the snapshot is kept).
	// +optional
	CleanupTempPVC bool `json:"cleanupTempPVC,omitempty"`
}

// MoverConfig shapes the pod that moves the data.
type MoverConfig struct {
	// MoverSecurityContext for the mover pod. Movers run as non-root with no capabilities unless the
	// namespace carries volsync.backube/privileged-movers: "true".
	// +optional
	MoverSecurityContext *corev1.PodSecurityContext `json:"moverSecurityContext,omitempty"`
	// MoverServiceAccount replaces the service account volsync creates for the mover.
	// +optional
	MoverServiceAccount *string `json:"moverServiceAccount,omitempty"`
	// MoverPodLabels are added to the mover pod.
	// +optional
	MoverPodLabels map[string]string `json:"moverPodLabels,omitempty"`
	// MoverResources are the mover container's requests and limits.
	// +optional
	MoverResources *corev1.ResourceRequirements `json:"moverResources,omitempty"`
	// MoverAffinity for the mover pod.
	// +optional
	MoverAffinity *corev1.Affinity `json:"moverAffinity,omitempty"`
	// MoverBackoffLimit is how many times a failed mover pod is retried, with exponential backoff,
	// before the sync is marked Failed. Defaults to 2. There is no endless retry loop.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=20
	MoverBackoffLimit *int32 `json:"moverBackoffLimit,omitempty"`
	// MoverVolumes are more volumes for the mover pod, each mounted at /mnt/<mountPath>, as in
	// VolSync: a Secret or a PVC, for a mover that needs a file the spec has no field for.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(v, self.exists_one(w, w.mountPath == v.mountPath))",message="each moverVolumes mountPath must be different"
	MoverVolumes []MoverVolume `json:"moverVolumes,omitempty"`
}

// MoverVolume is one of MoverConfig's moverVolumes.
type MoverVolume struct {
	// MountPath is where the volume is mounted, relative to /mnt. Its segments may not start with
	// a dot, so it can never climb out of /mnt or shadow what the mover itself mounts.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$')",message="mountPath must be a path relative to /mnt, such as certs or config/extra, with no segment that starts with a dot"
	MountPath string `json:"mountPath"`
	// VolumeSource is the volume: a Secret or a PVC.
	VolumeSource MoverVolumeSource `json:"volumeSource"`
}

// MoverVolumeSource is a moverVolume's content: exactly one of secret and persistentVolumeClaim.
//
// +kubebuilder:validation:XValidation:rule="has(self.secret) != has(self.persistentVolumeClaim)",message="volumeSource takes exactly one of secret and persistentVolumeClaim"
type MoverVolumeSource struct {
	// +optional
	Secret *corev1.SecretVolumeSource `json:"secret,omitempty"`
	// +optional
	PersistentVolumeClaim *corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
}

// CustomCASpec names a CA bundle in a Secret or ConfigMap for TLS to the remote end.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.secretName) && has(self.configMapName))",message="customCA takes secretName or configMapName, not both"
type CustomCASpec struct {
	// SecretName holding the CA bundle.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// ConfigMapName holding the CA bundle.
	// +optional
	ConfigMapName string `json:"configMapName,omitempty"`
	// Key of the bundle in the Secret or ConfigMap.
	// +optional
	Key string `json:"key,omitempty"`
}

// ResticRetainPolicy maps to restic forget's --keep-* flags. With nothing set, the last snapshot is
// kept.
type ResticRetainPolicy struct {
	// Hourly snapshots to keep.
	// +optional
	Hourly *int32 `json:"hourly,omitempty"`
	// Daily snapshots to keep.
	// +optional
	Daily *int32 `json:"daily,omitempty"`
	// Weekly snapshots to keep.
	// +optional
	Weekly *int32 `json:"weekly,omitempty"`
	// Monthly snapshots to keep.
	// +optional
	Monthly *int32 `json:"monthly,omitempty"`
	// Yearly snapshots to keep.
	// +optional
	Yearly *int32 `json:"yearly,omitempty"`
	// Within keeps every snapshot newer than this duration (restic's 1y5m7d2h form).
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]+[ymdh])+$`
	Within *string `json:"within,omitempty"`
	// Last snapshots to keep: a number, or a string of digits as VolSync spells it ("5").
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+$')",message="last must be a whole number of snapshots, such as 5 or \"5\""
	Last *intstr.IntOrString `json:"last,omitempty"`
}

// ExternalSpec hands the object to a storage vendor's own controller; volsync leaves it alone.
type ExternalSpec struct {
	// Provider names the controller that serves this object, such as example.com/replicator.
	// +kubebuilder:validation:MinLength=1
	Provider string `json:"provider"`
	// Parameters are for the provider.
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
}

// MoverResult is the outcome of a mover run.
// +kubebuilder:validation:Enum=Successful;Failed
type MoverResult string

// Mover results.
const (
	MoverResultSuccessful MoverResult = "Successful"
	MoverResultFailed     MoverResult = "Failed"
)

// MoverStatus is the outcome and the tail of the log of the last mover run.
type MoverStatus struct {
	// Result of the last run.
	// +optional
	Result MoverResult `json:"result,omitempty"`
	// Logs is the filtered tail of the mover's log, up to 1024 bytes, with secrets masked: the
	// lines a person looks for, then "<Mover> completed in <duration>", as in VolSync. For a run
	// that failed, it is the end of what the mover said about the failure.
	// +optional
	Logs string `json:"logs,omitempty"`
	// Summary is volsync's one-line account of the run (files, bytes, snapshot).
	// +optional
	Summary string `json:"summary,omitempty"`
}

// MoverProgress is what the mover reported while it ran, when the tool reports it.
type MoverProgress struct {
	// BytesDone moved so far.
	// +optional
	BytesDone int64 `json:"bytesDone,omitempty"`
	// BytesTotal to move, when known.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`
	// FilesDone moved so far.
	// +optional
	FilesDone int64 `json:"filesDone,omitempty"`
	// FilesTotal to move, when known.
	// +optional
	FilesTotal int64 `json:"filesTotal,omitempty"`
}

// ReplicationStatus is the part of status that ReplicationSource and ReplicationDestination share.
type ReplicationStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastSyncTime is when the last successful sync finished.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// LastSyncStartTime is when the current or last sync started.
	// +optional
	LastSyncStartTime *metav1.Time `json:"lastSyncStartTime,omitempty"`
	// LastSyncDuration is how long the last successful sync took.
	// +optional
	LastSyncDuration *metav1.Duration `json:"lastSyncDuration,omitempty"`
	// NextSyncTime is when the next scheduled sync starts.
	// +optional
	NextSyncTime *metav1.Time `json:"nextSyncTime,omitempty"`
	// LastManualSync is the value of spec.trigger.manual that the last finished sync ran for.
	// +optional
	LastManualSync string `json:"lastManualSync,omitempty"`
	// ConsecutiveFailures is how many syncs in a row have failed. It sets the backoff before the
	// next attempt (1m, 2m, 4m ... up to 1h) and returns to 0 after a successful sync.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// NextRetryTime is the earliest time the next sync may start after a failure.
	// +optional
	NextRetryTime *metav1.Time `json:"nextRetryTime,omitempty"`
	// ActiveSync is the sync under way, from its start to the end of its cleanup; absent between
	// syncs. The controller's phase is this record, never a condition's text.
	// +optional
	ActiveSync *ActiveSync `json:"activeSync,omitempty"`
	// LatestMoverStatus is the outcome and log tail of the last mover run.
	// +optional
	LatestMoverStatus *MoverStatus `json:"latestMoverStatus,omitempty"`
	// Progress of the running sync, when the mover reports it.
	// +optional
	Progress *MoverProgress `json:"progress,omitempty"`
	// Conditions: Synchronizing (reasons SyncInProgress, WaitingForSchedule, WaitingForManual,
	// CleaningUp, Error).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ScheduledSyncs is the history of policy-triggered syncs per policy type, newest last, trimmed to
	// the policy's retain.
	// +optional
	ScheduledSyncs map[SchedulePolicyType][]ScheduledRun `json:"scheduledSyncs,omitempty"`
	// NextTriggers are the next trigger times per policy type, with schedulePolicyName.
	// +optional
	NextTriggers []PolicyTrigger `json:"nextTriggers,omitempty"`
	// LastTriggers is the scheduled time of the newest trigger handled per type (Interval, Daily,
	// Weekly, Monthly, or Schedule for a cron), whether it ran or was skipped as too late, so a
	// skipped trigger is counted as missed once and never again.
	// +optional
	LastTriggers map[SchedulePolicyType]metav1.Time `json:"lastTriggers,omitempty"`
}

// SyncStage is where a running sync stands.
// +kubebuilder:validation:Enum=Synchronizing;CleaningUp
type SyncStage string

// Sync stages.
const (
	// SyncStageSynchronizing: the mover is moving the data.
	SyncStageSynchronizing SyncStage = "Synchronizing"
	// SyncStageCleaningUp: the sync ended (status records how) and its temporary objects are being
	// removed.
	SyncStageCleaningUp SyncStage = "CleaningUp"
)

// ActiveSync records the running sync.
type ActiveSync struct {
	// Trigger is the type of trigger that started the sync: Always, Manual, Schedule (a cron), or
	// a policy type (Interval, Daily, Weekly, Monthly).
	// +kubebuilder:validation:Enum=Always;Manual;Schedule;Interval;Daily;Weekly;Monthly
	Trigger string `json:"trigger"`
	// ScheduledTime is the time the trigger was scheduled for; absent for Always and Manual.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
	// StartTime is when the sync started.
	StartTime metav1.Time `json:"startTime"`
	// Stage is where the sync stands.
	Stage SyncStage `json:"stage"`
	// Attempt counts the attempts since the last successful sync: 1, or 1 + consecutiveFailures.
	Attempt int32 `json:"attempt"`
}

// ScheduledRun is one dated child created by a policy-triggered owner.
type ScheduledRun struct {
	// Name of the child object.
	Name string `json:"name"`
	// ScheduledTime the child was created for (its name is derived from it).
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
	// CreationTimestamp of the child.
	// +optional
	CreationTimestamp metav1.Time `json:"creationTimestamp,omitempty"`
	// FinishTimestamp of the child, once it finished.
	// +optional
	FinishTimestamp *metav1.Time `json:"finishTimestamp,omitempty"`
	// Status of the child: Pending, InProgress, Successful, PartialSuccess or Failed.
	// +optional
	Status RunStatus `json:"status,omitempty"`
}

// RunStatus is where one run (a sync or a migration) stands.
// +kubebuilder:validation:Enum=Pending;InProgress;Successful;PartialSuccess;Failed
type RunStatus string

// Run statuses.
const (
	RunStatusPending        RunStatus = "Pending"
	RunStatusInProgress     RunStatus = "InProgress"
	RunStatusSuccessful     RunStatus = "Successful"
	RunStatusPartialSuccess RunStatus = "PartialSuccess"
	RunStatusFailed         RunStatus = "Failed"
)

// Finished says whether a run has ended, well or not.
func (s RunStatus) Finished() bool {
	return s == RunStatusSuccessful || s == RunStatusPartialSuccess || s == RunStatusFailed
}
