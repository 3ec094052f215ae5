package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RuleActionType is what kind of action a Rule runs. Stork knows one, command.
// +kubebuilder:validation:Enum=command
type RuleActionType string

// RuleActionCommand runs the action's value with `sh -c` in the selected pods' container.
const RuleActionCommand RuleActionType = "command"

// RuleWaitPlaceholder is what a background action's command holds where it is to wait until the
// copy has ended, as in Stork. volsyncd puts there the path of a small script that says the
// command has got that far and then waits until it is told to end. A command such as
// `flock /data/lock -c ${WAIT_CMD}` holds the lock for exactly as long as the copy runs.
const RuleWaitPlaceholder = "${WAIT_CMD}"

// Rule lists commands that a Migration runs in the pods of the namespaces it migrates, before
// it copies anything (spec.preExecRule) or after the volumes are copied (spec.postExecRule), so
// that the copy is application-consistent: a database flushed and locked while its volume is
// read, and unlocked afterwards. It is Stork's Rule (stork.libopenstorage.org/v1alpha1), field
// for field: the fields sit at the top level, there is no spec.
//
// A Migration reads the Rule of the name it gives from each namespace it migrates and runs it in
// that namespace's pods, as Stork does, so whoever wrote a command can write in the namespace it
// runs in.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=rl
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Rules run in order; each one's actions run in order in the pods its podSelector matches.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Rules []RuleItem `json:"rules"`
}

// RuleItem is a set of pods, by label, and the actions to run in them.
type RuleItem struct {
	// PodSelector chooses the pods, in the migrated namespace, by all these labels. Only running
	// pods count; a selector that matches none fails the migration before anything is copied.
	// +kubebuilder:validation:MinProperties=1
	PodSelector map[string]string `json:"podSelector"`
	// Container is the container of each pod the actions run in. Empty means the pod's only
	// container; a pod with several needs it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Container string `json:"container,omitempty"`
	// Actions run in order. A failing action fails the migration.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Actions []RuleAction `json:"actions"`
}

// RuleAction is one command.
// +kubebuilder:validation:XValidation:rule="!has(self.background) || !self.background || self.value.contains('${WAIT_CMD}')",message="a background action must hold ${WAIT_CMD} where it waits for the copy to end",fieldPath=".value"
type RuleAction struct {
	// Type of the action: command.
	Type RuleActionType `json:"type"`
	// Value is the command, run with `sh -c` in the container.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	Value string `json:"value"`
	// Background starts the command and goes on once it has reached ${WAIT_CMD}, leaving it
	// running until the volumes are copied (or the migration fails or is deleted), when it is
	// told to end. Only a preExecRule may have background actions, as in Stork.
	// +optional
	Background bool `json:"background,omitempty"`
	// RunInSinglePod runs the action in one of the matching pods only: the first by name.
	// +optional
	RunInSinglePod bool `json:"runInSinglePod,omitempty"`
}

// +kubebuilder:object:root=true

// RuleList is a list of Rules.
type RuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Rule{}, &RuleList{})
}
