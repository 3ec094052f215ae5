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
// +kubebuilder:validation:XValidation:rule="[has(self.rsync), has(self.rsyncTLS), has(self.rclone), has(self.restic), has(self.syncthing), has(self.external)].filter(x, x).size() == 1",message="exactly one mover of rsync, rsyncTLS, rclone, restic, syncthing, external must be set"
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
	// Syncthing keeps the PVC in sync with peers continuously, both ways, with Syncthing. It runs
	// as a Deployment that stays up; spec.trigger does not apply to it.
	// +optional
	Syncthing *ReplicationSourceSyncthingSpec `json:"syncthing,omitempty"`
	// External hands replication to another controller.
	// +optional
	External *ExternalSpec `json:"external,omitempty"`
}

// ReplicationSourceSyncthingSpec configures the syncthing mover, as VolSync's does: the source
// PVC is shared, read and written, with every peer listed (and every device an introducer peer
// brings along).
type ReplicationSourceSyncthingSpec struct {
	// Peers are the Syncthing devices to share the volume with: each one's status.syncthing.ID and
	// status.syncthing.address, for another volsync ReplicationSource.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.ID == p.ID))",message="each peer ID may appear only once"
	Peers []SyncthingPeer `json:"peers,omitempty"`
	// ServiceType of the Service that exposes Syncthing's data port (22000) to the peers.
	// Defaults to ClusterIP.
	// +optional
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// ConfigCapacity of the volume that keeps Syncthing's configuration and database. Defaults to
	// 1Gi.
	// +optional
	ConfigCapacity *resource.Quantity `json:"configCapacity,omitempty"`
	// ConfigStorageClassName of that volume. Defaults to the source PVC's.
	// +optional
	ConfigStorageClassName *string `json:"configStorageClassName,omitempty"`
	// ConfigAccessModes of that volume. Defaults to the source PVC's.
	// +optional
	ConfigAccessModes []corev1.PersistentVolumeAccessMode `json:"configAccessModes,omitempty"`
	MoverConfig       `json:",inline"`
}

// SyncthingPeer is one Syncthing device to share the volume with.
type SyncthingPeer struct {
	// Address of the peer, such as tcp://10.0.0.7:22000.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(dynamic|(tcp|tcp4|tcp6|quic|quic4|quic6|relay)://[^/]+)$`
	Address string `json:"address"`
	// ID is the peer's Syncthing device ID.
	// Syncthing's 56 characters of A-Z and 2-7, in groups of 7 joined by dashes or not.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([A-Za-z2-7]{7}-?){7}[A-Za-z2-7]{7}$`
	ID string `json:"ID"`
	// Introducer makes this peer introduce the devices it shares the volume with, which are then
	// shared with too.
	Introducer bool `json:"introducer"`
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
	// Syncthing status: this device and its peers.
	// +optional
	Syncthing *ReplicationSourceSyncthingStatus `json:"syncthing,omitempty"`
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

// ReplicationSourceSyncthingStatus reports the syncthing mover of a source.
type ReplicationSourceSyncthingStatus struct {
	// ID is this device's Syncthing device ID, for the peers' spec.
	// +optional
	ID string `json:"ID,omitempty"`
	// Address is where peers reach this device, for the peers' spec.
	// +optional
	Address string `json:"address,omitempty"`
	// Peers are the devices the volume is shared with, and whether each is connected now.
	// +optional
	Peers []SyncthingPeerStatus `json:"peers,omitempty"`
}

// SyncthingPeerStatus is one device the volume is shared with.
type SyncthingPeerStatus struct {
	// ID is the peer's device ID.
	ID string `json:"ID"`
	// Address is the peer's address: where it is connected from, else the one configured.
	// +optional
	Address string `json:"address,omitempty"`
	// Connected says whether the peer is connected now.
	Connected bool `json:"connected"`
	// IntroducedBy is the device ID of the introducer that brought this peer, when one did.
	// +optional
	IntroducedBy string `json:"introducedBy,omitempty"`
	// Name is the peer's device name.
	// +optional
	Name string `json:"name,omitempty"`
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
