package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReplicationDestination receives data for one volume and publishes each good copy as latestImage.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rd;repdst
// +kubebuilder:printcolumn:name="Last sync",type=string,format=date-time,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.lastSyncDuration`
// +kubebuilder:printcolumn:name="Next sync",type=string,format=date-time,JSONPath=`.status.nextSyncTime`
// +kubebuilder:printcolumn:name="Latest image",type=string,JSONPath=`.status.latestImage.name`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synchronizing")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReplicationDestination struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is where data lands, when and how.
	Spec ReplicationDestinationSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status ReplicationDestinationStatus `json:"status,omitempty"`
}

// ReplicationDestinationSpec is where data lands, when and how. Exactly one mover block must be set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.rsync), has(self.rsyncTLS), has(self.rclone), has(self.restic), has(self.external)].filter(x, x).size() == 1",message="exactly one mover of rsync, rsyncTLS, rclone, restic, external must be set"
type ReplicationDestinationSpec struct {
	// Trigger says when to sync; without one the destination always listens (rsync) or pulls back
	// to back (rclone, restic).
	// +optional
	Trigger *ReplicationTriggerSpec `json:"trigger,omitempty"`
	// Paused stops new syncs and suspends a running one.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// Rsync receives data with rsync over ssh.
	// +optional
	Rsync *ReplicationDestinationRsyncSpec `json:"rsync,omitempty"`
	// RsyncTLS receives data with rsync inside stunnel.
	// +optional
	RsyncTLS *ReplicationDestinationRsyncTLSSpec `json:"rsyncTLS,omitempty"`
	// Rclone pulls data from an object store.
	// +optional
	Rclone *ReplicationDestinationRcloneSpec `json:"rclone,omitempty"`
	// Restic restores data from a restic repository.
	// +optional
	Restic *ReplicationDestinationResticSpec `json:"restic,omitempty"`
	// External hands replication to another controller.
	// +optional
	External *ExternalSpec `json:"external,omitempty"`
}

// ReplicationDestinationRsyncSpec configures the rsync-over-ssh receiver.
type ReplicationDestinationRsyncSpec struct {
	ReplicationDestinationVolumeOptions `json:",inline"`
	// SSHKeys names the Secret with the keys; generated per relationship when unset.
	// +optional
	SSHKeys *string `json:"sshKeys,omitempty"`
	// ServiceType of the Service the source connects to: ClusterIP (default) or LoadBalancer.
	// +optional
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// ServiceAnnotations are set on that Service.
	// +optional
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	// Address of the source, when the destination connects out instead of listening.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port of the ssh server. Defaults to 22.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`
	// Path to write into.
	// +optional
	Path *string `json:"path,omitempty"`
	// SSHUser to log in as. Defaults to root.
	// +optional
	SSHUser *string `json:"sshUser,omitempty"`
	// VolumeMode of the provisioned PVC.
	// +optional
	VolumeMode  *corev1.PersistentVolumeMode `json:"volumeMode,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationDestinationRsyncTLSSpec configures the rsync-tls receiver.
type ReplicationDestinationRsyncTLSSpec struct {
	ReplicationDestinationVolumeOptions `json:",inline"`
	// KeySecret names the Secret with the pre-shared key; generated when unset.
	// +optional
	KeySecret *string `json:"keySecret,omitempty"`
	// ServiceType of the Service the source connects to: ClusterIP (default) or LoadBalancer.
	// +optional
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// ServiceAnnotations are set on that Service.
	// +optional
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	// VolumeMode of the provisioned PVC.
	// +optional
	VolumeMode  *corev1.PersistentVolumeMode `json:"volumeMode,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationDestinationRcloneSpec configures the rclone puller.
type ReplicationDestinationRcloneSpec struct {
	ReplicationDestinationVolumeOptions `json:",inline"`
	// RcloneConfigSection is the remote's section in rclone.conf.
	// +optional
	RcloneConfigSection *string `json:"rcloneConfigSection,omitempty"`
	// RcloneDestPath is the bucket and path to copy from.
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

// ReplicationDestinationResticSpec configures restic restores.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.previous) && has(self.restoreAsOf))",message="restic takes previous or restoreAsOf, not both"
type ReplicationDestinationResticSpec struct {
	ReplicationDestinationVolumeOptions `json:",inline"`
	// Repository names the Secret with RESTIC_REPOSITORY, RESTIC_PASSWORD and the store's credentials.
	// +kubebuilder:validation:MinLength=1
	Repository string `json:"repository"`
	// CustomCA for the repository's TLS.
	// +optional
	CustomCA *CustomCASpec `json:"customCA,omitempty"`
	// CacheCapacity of the restic cache volume. Defaults to 1Gi.
	// +optional
	CacheCapacity *resource.Quantity `json:"cacheCapacity,omitempty"`
	// CacheStorageClassName of the restic cache volume.
	// +optional
	CacheStorageClassName *string `json:"cacheStorageClassName,omitempty"`
	// CacheAccessModes of the restic cache volume.
	// +optional
	CacheAccessModes []corev1.PersistentVolumeAccessMode `json:"cacheAccessModes,omitempty"`
	// CleanupCachePVC deletes the cache PVC after each restore.
	// +optional
	CleanupCachePVC bool `json:"cleanupCachePVC,omitempty"`
	// Previous restores the snapshot this many before the latest (0 is the latest).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Previous *int32 `json:"previous,omitempty"`
	// RestoreAsOf restores the newest snapshot taken at or before this time (RFC 3339).
	// +optional
	// +kubebuilder:validation:Format=date-time
	RestoreAsOf *string `json:"restoreAsOf,omitempty"`
	// EnableFileDeletion removes files in the destination that the snapshot lacks.
	// +optional
	EnableFileDeletion bool `json:"enableFileDeletion,omitempty"`
	// Unlock removes stale locks once each time its value changes.
	// +optional
	Unlock      string `json:"unlock,omitempty"`
	MoverConfig `json:",inline"`
}

// ReplicationDestinationStatus is what the controller reports about a ReplicationDestination.
type ReplicationDestinationStatus struct {
	ReplicationStatus `json:",inline"`
	// LatestImage is the newest good copy: a VolumeSnapshot (copyMethod Snapshot) or the PVC (Direct).
	// The previous one stays until a new one is ready.
	// +optional
	LatestImage *corev1.TypedLocalObjectReference `json:"latestImage,omitempty"`
	// Rsync status: where the source connects and with which keys.
	// +optional
	Rsync *ReplicationDestinationRsyncStatus `json:"rsync,omitempty"`
	// RsyncTLS status: where the source connects and with which key.
	// +optional
	RsyncTLS *ReplicationDestinationRsyncTLSStatus `json:"rsyncTLS,omitempty"`
	// Restic status.
	// +optional
	Restic *ResticStatus `json:"restic,omitempty"`
	// External status, written by the external provider.
	// +optional
	External map[string]string `json:"external,omitempty"`
}

// ReplicationDestinationRsyncStatus reports the rsync receiver.
type ReplicationDestinationRsyncStatus struct {
	// SSHKeys names the Secret the source needs.
	// +optional
	SSHKeys *string `json:"sshKeys,omitempty"`
	// Address the source connects to.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port the source connects to.
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// ReplicationDestinationRsyncTLSStatus reports the rsync-tls receiver.
type ReplicationDestinationRsyncTLSStatus struct {
	// KeySecret names the Secret with the pre-shared key the source needs.
	// +optional
	KeySecret *string `json:"keySecret,omitempty"`
	// Address the source connects to.
	// +optional
	Address *string `json:"address,omitempty"`
	// Port the source connects to.
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// +kubebuilder:object:root=true

// ReplicationDestinationList is a list of ReplicationDestinations.
type ReplicationDestinationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReplicationDestination `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReplicationDestination{}, &ReplicationDestinationList{})
}
