package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReplicationSync is one dated, policy-triggered sync of a ReplicationSource or
// ReplicationDestination. The owner creates it, named <owner>-<type>-<YYYY-MM-DD-HHMMSS> from the
// scheduled time, so a retry or a restart can never create it twice; the owner runs it and records
// the outcome here.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=repsync
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.replication.name`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.policyType`
// +kubebuilder:printcolumn:name="Scheduled",type=string,format=date-time,JSONPath=`.spec.scheduledTime`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReplicationSync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which replication and which trigger this sync is for.
	Spec ReplicationSyncSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status ReplicationSyncStatus `json:"status,omitempty"`
}

// ReplicationRef names a ReplicationSource or ReplicationDestination in the same namespace.
type ReplicationRef struct {
	// Kind is ReplicationSource or ReplicationDestination.
	// +kubebuilder:validation:Enum=ReplicationSource;ReplicationDestination
	Kind string `json:"kind"`
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// ReplicationSyncSpec says which replication and which trigger a sync is for. It is immutable.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type ReplicationSyncSpec struct {
	// Replication is the owner that runs this sync.
	Replication ReplicationRef `json:"replication"`
	// PolicyType is the policy section that came due.
	PolicyType SchedulePolicyType `json:"policyType"`
	// ScheduledTime is the trigger instant this sync stands for.
	ScheduledTime metav1.Time `json:"scheduledTime"`
}

// ReplicationSyncStatus is how the sync went.
type ReplicationSyncStatus struct {
	// Status is Pending until the owner starts it, then InProgress, then Successful or Failed.
	// +optional
	Status RunStatus `json:"status,omitempty"`
	// StartTime is when the mover started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// FinishTime is when it ended.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`
	// MoverStatus is the outcome and log tail of the mover.
	// +optional
	MoverStatus *MoverStatus `json:"moverStatus,omitempty"`
	// Conditions of the sync.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true

// ReplicationSyncList is a list of ReplicationSyncs.
type ReplicationSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReplicationSync `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReplicationSync{}, &ReplicationSyncList{})
}
