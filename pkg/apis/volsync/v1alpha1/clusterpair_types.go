package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultKubeconfigKey is the Secret key read when a ClusterPair does not name one.
const DefaultKubeconfigKey = "kubeconfig"

// ClusterPair says how to reach the destination cluster of Migrations.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cp
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.status.serverVersion`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterPair struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is where the kubeconfig is.
	Spec ClusterPairSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status ClusterPairStatus `json:"status,omitempty"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret. Defaults to kubeconfig.
	// +optional
	Key string `json:"key,omitempty"`
}

// ClusterPairSpec is where the kubeconfig of the destination is.
type ClusterPairSpec struct {
	// KubeconfigSecretRef names the Secret holding a kubeconfig for the destination cluster.
	KubeconfigSecretRef SecretKeyRef `json:"kubeconfigSecretRef"`
	// Options for the pair. The volume path of a Migration reads volumeServiceType (the Service
	// the destination listens on: LoadBalancer, the default, or ClusterIP when the two clusters
	// share a network) and volumeCopyMethod (how the source is read: Clone, the default,
	// Snapshot or Direct).
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// ClusterPairStatus is the result of the last connectivity check.
type ClusterPairStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ServerVersion of the destination's API server.
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`
	// LastCheckTime is when connectivity was last checked.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// Conditions: Ready, from a real check of the server and of the permissions a migration needs.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterPairList is a list of ClusterPairs.
type ClusterPairList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterPair `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterPair{}, &ClusterPairList{})
}
