package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReplicationSource replicates one PVC to a destination with exactly one mover.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=repsrc
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.sourcePVC`
// +kubebuilder:printcolumn:name="Last sync",type=string,format=date-time,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.lastSyncDuration`
// +kubebuilder:printcolumn:name="Next sync",type=string,format=date-time,JSONPath=`.status.nextSyncTime`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synchronizing")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReplicationSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what to replicate, when and how.
	Spec ReplicationSourceSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status ReplicationSourceStatus `json:"status,omitempty"`
}

// ReplicationSourceSpec is what to replicate, when and how. Exactly one mover block must be set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.rsync), has(self.rsyncTLS), has(self.rclone), has(self.restic), has(self.external)].filter(x, x).size() == 1",message="exactly one mover of rsync, rsyncTLS, rclone, restic, external must be set"
type ReplicationSourceSpec struct {
	// SourcePVC is the name of the PVC to replicate, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SourcePVC string `json:"sourcePVC"`
	// Trigger says when to sync; without one, syncs run back to back.
	// +optional
	Trigger *ReplicationTriggerSpec `json:"trigger,omitempty"`
	// Paused stops new syncs and suspends a running one.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// Rsync moves data with rsync over ssh.
	// +optional
	Rsync *ReplicationSourceRsyncSpec `json:"rsync,omitempty"`
	// RsyncTLS moves data with rsync inside stunnel with a pre-shared key.
	// +optional
	RsyncTLS *ReplicationSourceRsyncTLSSpec `json:"rsyncTLS,omitempty"`
	// Rclone copies data to an object store through rclone.
	// +optional
	Rclone *ReplicationSourceRcloneSpec `json:"rclone,omitempty"`
	// Restic backs data up into a restic repository.
	// +optional
	Restic *ReplicationSourceResticSpec `json:"restic,omitempty"`
	// External hands replication to another controller.
	// +optional
	External *ExternalSpec `json:"external,omitempty"`
}

// ReplicationSourceRsyncSpec configures rsync over ssh from the source.
type ReplicationSourceRsyncSpec struct {
	ReplicationSourceVolumeOptions `json:",inline"`
	// SSHKeys names the Secret with the keys; generated per relationship when unset.
	// +optional
	SSHKeys *string `json:"sshKeys,omitempty"`
	// ServiceType of the Service that exposes the source when it listens (unused when address is set).
	// +optional
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// Address of the destination to connect to.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port of the destination's ssh server. Defaults to 22.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`
	// Path on the destination to write into.
	// +optional
	Path *string `json:"path,omitempty"`
	// SSHUser on the destination. Defaults to root.
	// +optional
	SSHUser     *string `json:"sshUser,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationSourceRsyncTLSSpec configures rsync inside stunnel from the source.
type ReplicationSourceRsyncTLSSpec struct {
	ReplicationSourceVolumeOptions `json:",inline"`
	// KeySecret names the Secret with the pre-shared key (key psk.txt).
	// +optional
	KeySecret *string `json:"keySecret,omitempty"`
	// Address of the destination.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port of the destination. Defaults to 8000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port        *int32 `json:"port,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationSourceRcloneSpec configures rclone from the source.
type ReplicationSourceRcloneSpec struct {
	ReplicationSourceVolumeOptions `json:",inline"`
	// RcloneConfigSection is the remote's section in rclone.conf.
	// +optional
	RcloneConfigSection *string `json:"rcloneConfigSection,omitempty"`
	// RcloneDestPath is the bucket and path to copy into.
	// +optional
	RcloneDestPath *string `json:"rcloneDestPath,omitempty"`
	// RcloneConfig names the Secret holding rclone.conf.
	// +optional
	RcloneConfig *string `json:"rcloneConfig,omitempty"`
	// CustomCA for the remote's TLS.
	// +optional
	CustomCA    *CustomCASpec `json:"customCA,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationSourceResticSpec configures restic backups from the source.
type ReplicationSourceResticSpec struct {
	ReplicationSourceVolumeOptions `json:",inline"`
	// Repository names the Secret with RESTIC_REPOSITORY, RESTIC_PASSWORD and the store's credentials.
	// +kubebuilder:validation:MinLength=1
	Repository string `json:"repository"`
	// PruneIntervalDays is the number of days between restic prune runs. Defaults to 7.
	// +optional
	// +kubebuilder:validation:Minimum=1
	PruneIntervalDays *int32 `json:"pruneIntervalDays,omitempty"`
	// Retain maps to restic forget.
	// +optional
	Retain *ResticRetainPolicy `json:"retain,omitempty"`
	// CacheCapacity of the restic cache volume. Defaults to 1Gi.
	// +optional
	CacheCapacity *resource.Quantity `json:"cacheCapacity,omitempty"`
	// CacheStorageClassName of the restic cache volume.
	// +optional
	CacheStorageClassName *string `json:"cacheStorageClassName,omitempty"`
	// CacheAccessModes of the restic cache volume.
	// +optional
	CacheAccessModes []corev1.PersistentVolumeAccessMode `json:"cacheAccessModes,omitempty"`
	// CustomCA for the repository's TLS.
	// +optional
	CustomCA *CustomCASpec `json:"customCA,omitempty"`
	// Unlock removes stale locks once each time its value changes (as the manual trigger does).
	// +optional
	Unlock string `json:"unlock,omitempty"`
	// Exclude lists path patterns restic leaves out of the backup.
	// +optional
	Exclude     []string `json:"exclude,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationSourceStatus is what the controller reports about a ReplicationSource.
type ReplicationSourceStatus struct {
	ReplicationStatus `json:",inline"`
	// Rsync status.
	// +optional
	Rsync *ReplicationSourceRsyncStatus `json:"rsync,omitempty"`
	// RsyncTLS status.
	// +optional
	RsyncTLS *ReplicationSourceRsyncTLSStatus `json:"rsyncTLS,omitempty"`
	// Restic status.
	// +optional
	Restic *ResticStatus `json:"restic,omitempty"`
	// External status, written by the external provider.
	// +optional
	External map[string]string `json:"external,omitempty"`
}

// ReplicationSourceRsyncStatus reports the rsync mover of a source.
type ReplicationSourceRsyncStatus struct {
	// SSHKeys names the Secret with the keys in use.
	// +optional
	SSHKeys *string `json:"sshKeys,omitempty"`
	// Address the source listens on, when it is the side that listens.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port the source listens on.
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// ReplicationSourceRsyncTLSStatus reports the rsync-tls mover of a source.
type ReplicationSourceRsyncTLSStatus struct {
	// KeySecret names the Secret with the pre-shared key in use.
	// +optional
	KeySecret *string `json:"keySecret,omitempty"`
}

// ResticStatus reports restic maintenance.
type ResticStatus struct {
	// LastPruned is when restic prune last ran.
	// +optional
	LastPruned *metav1.Time `json:"lastPruned,omitempty"`
	// LastUnlocked is the spec.restic.unlock value last acted on.
	// +optional
	LastUnlocked string `json:"lastUnlocked,omitempty"`
}

// +kubebuilder:object:root=true

// ReplicationSourceList is a list of ReplicationSources.
type ReplicationSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReplicationSource `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReplicationSource{}, &ReplicationSourceList{})
}
