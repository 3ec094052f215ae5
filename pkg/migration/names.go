package migration

import volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"

// ScheduleLabel names, on a Migration created by a MigrationSchedule, the schedule. The metrics
// of a run are labelled with it; a Migration without it falls back to its controlling owner of
// kind MigrationSchedule.
const ScheduleLabel = volsyncv1alpha1.MigrationScheduleLabel

// FieldOwner is the server-side apply field manager of every object a Migration writes on the
// destination.
const FieldOwner = "volsync"

// ConditionDestinationReady says whether a Migration reached its destination the last time it
// tried. While it is False its message counts the attempts and says when the next one is due,
// and its lastTransitionTime is when the current run of failures began.
const ConditionDestinationReady = "DestinationReady"

// Reasons of Migration conditions, on top of the ClusterPair reasons (Connected, SecretNotFound,
// InvalidKubeconfig, Unreachable, Forbidden) that DestinationReady shares.
const (
	// ReasonClusterPairNotFound: spec.clusterPair names no ClusterPair in the Migration's namespace.
	ReasonClusterPairNotFound = "ClusterPairNotFound"
	// ReasonInvalidSpec: the spec cannot be run as written (such as a selector value that is not a
	// label value); the message names the field.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonUnknownResourceType: excludeResourceTypes names a type the migration does not know, or
	// includeOptionalResourceTypes one that is not optional.
	ReasonUnknownResourceType = "UnknownResourceType"
	// ReasonNamespaceSkipped: a listed namespace does not exist on the source and
	// spec.skipDeletedNamespaces skipped it.
	ReasonNamespaceSkipped = "NamespaceSkipped"
	// ReasonNoNamespaces: spec.namespaces lists none and spec.namespaceSelectors chose none.
	ReasonNoNamespaces = "NoNamespaces"
	// ReasonPurged: objects copied earlier that are gone from the source were deleted.
	ReasonPurged = "Purged"
	// ReasonSameNamespace: the run would write a namespace onto itself, or onto another of its
	// own source namespaces, because the ClusterPair reaches this very cluster; the message names
	// the namespaces and says to use spec.namespaceMapping.
	ReasonSameNamespace = "SameNamespace"
	// ReasonDefinitionDiffers: a CustomResourceDefinition exists on the destination with other
	// served versions, schema or subresources than on the source. It is not overwritten; its
	// custom resources fail, and the message says how the two differ.
	ReasonDefinitionDiffers = "DefinitionDiffers"
	// ReasonRuleNotFound: spec.preExecRule or spec.postExecRule names a Rule that a migrated
	// namespace does not have. The run fails before anything is copied.
	ReasonRuleNotFound = "RuleNotFound"
	// ReasonRuleInvalid: the Rule has what the stage cannot run (a background action in a
	// postExecRule, one without ${WAIT_CMD}, an unknown action type).
	ReasonRuleInvalid = "RuleInvalid"
	// ReasonRulePodsNotFound: a podSelector of the Rule matches no running pod in a migrated
	// namespace. The run fails before anything is copied.
	ReasonRulePodsNotFound = "RulePodsNotFound"
	// ReasonRuleFailed: an action of the Rule failed: its exit code and output tail are in
	// status.ruleActions, and the message repeats them.
	ReasonRuleFailed = "RuleFailed"
	// ReasonRuleWaiting: a background action has started and has not yet reached ${WAIT_CMD}.
	ReasonRuleWaiting = "RuleWaiting"
	// ReasonRuleActionEnded: the background actions of spec.preExecRule were told to end.
	ReasonRuleActionEnded = "RuleActionEnded"
)
