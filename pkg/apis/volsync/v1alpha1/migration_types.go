package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MigrationReplicasAnnotation stores, on a Deployment or StatefulSet migrated with
// startApplications=false, the replica count it had on the source.
const MigrationReplicasAnnotation = "volsync.backube/migration-replicas"

// MigrationStage is the step a Migration is at.
// +kubebuilder:validation:Enum=PreExecRule;Volumes;PostExecRule;Applications;Final
type MigrationStage string

// MigrationFinalizer holds a Migration until what its volume path made (the ReplicationSource and
// copied key Secret here, the ReplicationDestination on the destination) is deleted on both
// clusters.
const MigrationFinalizer = "volsync.backube/migration-cleanup"

// Migration stages, in order.
const (
	// MigrationStagePreExecRule runs spec.preExecRule, before anything is copied.
	MigrationStagePreExecRule MigrationStage = "PreExecRule"
	MigrationStageVolumes     MigrationStage = "Volumes"
	// MigrationStagePostExecRule ends the preExecRule's background actions and runs
	// spec.postExecRule, once the volumes are copied.
	MigrationStagePostExecRule MigrationStage = "PostExecRule"
	MigrationStageApplications MigrationStage = "Applications"
	MigrationStageFinal        MigrationStage = "Final"
)

// Migration is one run that copies the resources, and optionally the volumes, of some namespaces to
// the cluster a ClusterPair reaches.
//
// What it copies: the Namespaces; their ResourceQuotas, LimitRanges, ServiceAccounts, Secrets,
// ConfigMaps, Roles and RoleBindings; the ClusterRoleBindings with a subject that is a
// ServiceAccount of a migrated namespace, and the ClusterRoles they reference (not the
// cluster's built-in ones, which every cluster has); NetworkPolicies, PersistentVolumeClaims,
// Services and the Endpoints of those without a selector, PodDisruptionBudgets, Deployments,
// StatefulSets, DaemonSets, ReplicaSets no other object controls, CronJobs, Jobs (only with
// includeOptionalResourceTypes), HorizontalPodAutoscalers and Ingresses; then every namespaced
// custom resource, whose CustomResourceDefinition is created on the destination when it is
// missing there. A CustomResourceDefinition that exists on the destination with other versions
// or another schema is never overwritten: its custom resources fail, each with the reason, and
// an Event names the definition.
//
// What it leaves out: objects annotated volsync.backube/skip-resource: "true", objects another
// object controls (unless ignoreOwnerReferencesCheck), the default namespace's kubernetes
// Service, NetworkPolicies with an ipBlock (unless includeNetworkPolicyWithCIDR), the kinds
// excludeResourceTypes names, and volsync's own kinds and VolumeSnapshots, which belong to the
// source cluster.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mig
// +kubebuilder:printcolumn:name="ClusterPair",type=string,JSONPath=`.spec.clusterPair`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.stage`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Volumes",type=string,JSONPath=`.status.summary.volumes`
// +kubebuilder:printcolumn:name="Resources",type=string,JSONPath=`.status.summary.resources`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Migration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what to migrate and where.
	Spec MigrationSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status MigrationStatus `json:"status,omitempty"`
}

// MigrationSpec is what to migrate and where.
//
// The rules on namespaceMapping keep the map from a source namespace to its destination
// namespace one-to-one: two namespaces written into one would overwrite each other's objects and
// purge each other's copies. A namespace with no entry keeps its name, so it counts as mapped to
// itself.
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) || (has(self.namespaceSelectors) && size(self.namespaceSelectors) > 0)",message="namespaces must list at least one namespace, or namespaceSelectors choose them by label",fieldPath=".namespaces"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceMapping) || (has(self.namespaces) && self.namespaceMapping.all(k, k in self.namespaces))",message="every key of namespaceMapping must be a namespace listed in namespaces",fieldPath=".namespaceMapping"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceMapping) || !has(self.namespaces) || self.namespaceMapping.all(k, self.namespaceMapping.filter(j, self.namespaceMapping[j] == self.namespaceMapping[k]).size() == 1 && (self.namespaceMapping[k] == k || !(self.namespaceMapping[k] in self.namespaces) || self.namespaceMapping[k] in self.namespaceMapping))",message="namespaceMapping must not map two namespaces to the same destination namespace (a namespace with no entry keeps its own name)",fieldPath=".namespaceMapping"
type MigrationSpec struct {
	// ClusterPair names the ClusterPair, in the same namespace, that reaches the destination.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClusterPair string `json:"clusterPair"`
	// Namespaces to migrate. At least one is needed unless namespaceSelectors choose them. The
	// bound keeps the cost of checking namespaceMapping against them within what the API server
	// allows a validation rule.
	// +optional
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`
	// Selectors limit the migrated objects to those with all these labels.
	// +optional
	Selectors map[string]string `json:"selectors,omitempty"`
	// ExcludeSelectors leave out every object that has any one of these labels (key and value),
	// as in Stork. They apply after selectors, to objects and to the PVCs whose data is moved.
	// +optional
	ExcludeSelectors map[string]string `json:"excludeSelectors,omitempty"`
	// NamespaceSelectors migrate, beside namespaces, every namespace of the source cluster that has
	// any one of these labels (key and value), in name order after those listed. The labels are
	// OR'ed, as in Stork. The namespace rule holds for them too: a
	// Migration outside the admin namespace may migrate only its own.
	// +optional
	NamespaceSelectors map[string]string `json:"namespaceSelectors,omitempty"`
	// SkipDeletedNamespaces skips a listed namespace that does not exist on the source, with a
	// NamespaceSkipped Event, instead of recording it as a failed entry. Defaults to true, as in
	// Stork.
	// +optional
	// +kubebuilder:default=true
	SkipDeletedNamespaces *bool `json:"skipDeletedNamespaces,omitempty"`
	// IgnoreOwnerReferencesCheck migrates objects that another object controls (their
	// ownerReferences name a controller), such as those an operator makes from its custom
	// resource. By default they are left out, since their controller makes them again on the
	// destination. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	IgnoreOwnerReferencesCheck *bool `json:"ignoreOwnerReferencesCheck,omitempty"`
	// IncludeResources copies the namespaces' objects. Defaults to true.
	// +optional
	// +kubebuilder:default=true
	IncludeResources *bool `json:"includeResources,omitempty"`
	// IncludeVolumes moves the data of the namespaces' PVCs. Defaults to true. When false the
	// storage is taken to be shared or replicated by its vendor: the PersistentVolumes bound to the
	// migrated PVCs are migrated too, with their reclaim policy forced to Retain (the original is
	// kept in the volsync.backube/original-reclaim-policy annotation), and the PVCs keep
	// volumeName, so the copy binds to the same backing volume.
	// +optional
	// +kubebuilder:default=true
	IncludeVolumes *bool `json:"includeVolumes,omitempty"`
	// StartApplications leaves Deployments and StatefulSets running on the destination. When false
	// they are scaled to 0 there and the source count is kept in the volsync.backube/migration-replicas
	// annotation, until `volsyncctl activate migration` (or `perform failover`) starts them.
	// Defaults to false, as in Stork: a copy for disaster recovery must not run the application on
	// both sites at once.
	// +optional
	// +kubebuilder:default=false
	StartApplications *bool `json:"startApplications,omitempty"`
	// PurgeDeletedResources deletes objects on the destination that an earlier migration copied and
	// that no longer exist on the source.
	// +optional
	// +kubebuilder:default=false
	PurgeDeletedResources *bool `json:"purgeDeletedResources,omitempty"`
	// ExcludeResourceTypes lists kinds not to copy, such as Secret or a custom resource's kind.
	// +optional
	ExcludeResourceTypes []string `json:"excludeResourceTypes,omitempty"`
	// IncludeOptionalResourceTypes adds kinds that are not copied by default. The only one is
	// Job, as in Stork: a Job is a run-once piece of work, and its copy runs it again on the
	// destination (suspended there while startApplications is false).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	IncludeOptionalResourceTypes []string `json:"includeOptionalResourceTypes,omitempty"`
	// IncludeNetworkPolicyWithCIDR copies NetworkPolicies that name an ipBlock. They are left out
	// by default, as in Stork: a CIDR is an address range of the source's network, and on the
	// destination it would allow or block the wrong peers. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	IncludeNetworkPolicyWithCIDR *bool `json:"includeNetworkPolicyWithCIDR,omitempty"`
	// SkipServiceUpdate leaves a Service that already exists on the destination as it is there,
	// so that changes made on the destination (a load balancer's annotations, another selector)
	// survive the next migration; a Service missing there is still created. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	SkipServiceUpdate *bool `json:"skipServiceUpdate,omitempty"`
	// NamespaceMapping migrates a namespace under another name: the key is a namespace listed in
	// namespaces, the value the namespace it becomes on the destination, with every object,
	// volume and purge of the migration there. A namespace with no entry keeps its name. It is
	// what lets a ClusterPair that reaches this very cluster copy a namespace next to itself
	// (app to app-dr); a migration that would write a namespace onto itself is refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=256
	NamespaceMapping map[string]NamespaceName `json:"namespaceMapping,omitempty"`
	// PreExecRule names a Rule to run before anything is copied, as in Stork: the Rule of this
	// name in each migrated namespace, in that namespace's pods. Its background actions keep
	// running while the volumes are copied and are ended afterwards, also when the migration
	// fails or is deleted. A missing Rule, or a podSelector that matches no running pod, fails
	// the migration before anything is copied.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PreExecRule string `json:"preExecRule,omitempty"`
	// PostExecRule names a Rule to run once the volumes are copied and the preExecRule's
	// background actions have ended, before the objects are copied; looked up and run as
	// preExecRule is. It may not have background actions.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PostExecRule string `json:"postExecRule,omitempty"`
}

// NamespaceName is the name of a namespace: a DNS-1123 label.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
type NamespaceName string

// MigrationStatus is how a migration went, resource by resource and volume by volume.
type MigrationStatus struct {
	// Stage is the step the migration is at.
	// +optional
	Stage MigrationStage `json:"stage,omitempty"`
	// Status is Pending, InProgress, Successful, PartialSuccess or Failed.
	// +optional
	Status RunStatus `json:"status,omitempty"`
	// StartTimestamp is when the migration started.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// FinishTimestamp is when it ended.
	// +optional
	FinishTimestamp *metav1.Time `json:"finishTimestamp,omitempty"`
	// VolumeMigrationFinishTimestamp is when the Volumes stage ended.
	// +optional
	VolumeMigrationFinishTimestamp *metav1.Time `json:"volumeMigrationFinishTimestamp,omitempty"`
	// ResourceMigrationFinishTimestamp is when the Applications stage ended.
	// +optional
	ResourceMigrationFinishTimestamp *metav1.Time `json:"resourceMigrationFinishTimestamp,omitempty"`
	// ResourceCounts counts the objects considered, by kind and outcome: the whole account of
	// the Applications stage, however many objects the namespaces hold.
	// +optional
	// +kubebuilder:validation:MaxItems=4096
	ResourceCounts []MigrationResourceCount `json:"resourceCounts,omitempty"`
	// Resources lists objects considered, with their outcome, in the order they were copied, up
	// to MaxListedResources entries so that the Migration stays far below the API server's
	// object size limit. Failed objects, and objects left as they were with a reason, are listed
	// first: one pushes out the latest successfully copied entry when the list is full. A
	// namespace of a few hundred objects is listed whole; ResourceCounts always has the totals.
	// +optional
	Resources []MigrationResourceInfo `json:"resources,omitempty"`
	// ResourcesNotListed is how many objects ResourceCounts counts that Resources does not list.
	// +optional
	ResourcesNotListed int64 `json:"resourcesNotListed,omitempty"`
	// Volumes lists every PVC considered, with its outcome.
	// +optional
	Volumes []MigrationVolumeInfo `json:"volumes,omitempty"`
	// Summary counts.
	// +optional
	Summary *MigrationSummary `json:"summary,omitempty"`
	// RuleActions are the actions of spec.preExecRule and spec.postExecRule, one entry per action
	// and pod, with how each ended. A background action stays InProgress until it is ended.
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	RuleActions []MigrationRuleAction `json:"ruleActions,omitempty"`
	// Conditions of the migration.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MigrationResourceInfo is one object and what happened to it.
type MigrationResourceInfo struct {
	// Group of the object's kind ("" for the core group).
	// +optional
	Group string `json:"group,omitempty"`
	// Version of the object's kind.
	Version string `json:"version"`
	// Kind of the object.
	Kind string `json:"kind"`
	// Namespace of the object on the source ("" for cluster-scoped).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the object on the source.
	Name string `json:"name"`
	// DestinationNamespace is where spec.namespaceMapping put the copy: the namespace it lives in
	// on the destination, or, for a Namespace, the name it has there. Empty when the namespace
	// kept its name.
	// +optional
	DestinationNamespace string `json:"destinationNamespace,omitempty"`
	// Status of its copy.
	Status RunStatus `json:"status"`
	// Reason it failed, if it did, or why a copy that exists was left as it is (skipServiceUpdate).
	// +optional
	Reason string `json:"reason,omitempty"`
}

// MaxListedResources bounds status.resources of a Migration. A listed failure is at most about
// 600 bytes (its reason is cut at 400), so the list stays under about 300 KiB.
const MaxListedResources = 500

// MigrationResourceCount is how many objects of one kind ended one way.
type MigrationResourceCount struct {
	// Group of the kind ("" for the core group).
	// +optional
	Group string `json:"group,omitempty"`
	// Kind of the objects.
	Kind string `json:"kind"`
	// Status is Successful or Failed.
	Status RunStatus `json:"status"`
	// Count of objects of the kind with that status.
	Count int64 `json:"count"`
}

// MigrationVolumeInfo is one PVC and what happened to its data.
type MigrationVolumeInfo struct {
	// PersistentVolumeClaim name.
	PersistentVolumeClaim string `json:"persistentVolumeClaim"`
	// Namespace of the PVC on the source.
	Namespace string `json:"namespace"`
	// DestinationNamespace is the namespace spec.namespaceMapping put the PVC's copy in on the
	// destination. Empty when the namespace kept its name.
	// +optional
	DestinationNamespace string `json:"destinationNamespace,omitempty"`
	// Volume is the bound PersistentVolume's name.
	// +optional
	Volume string `json:"volume,omitempty"`
	// Status of its copy.
	Status RunStatus `json:"status"`
	// Reason it failed, if it did.
	// +optional
	Reason string `json:"reason,omitempty"`
	// BytesTotal moved.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`
}

// MigrationRuleAction is one action of a Rule run in one pod.
type MigrationRuleAction struct {
	// Stage is PreExecRule or PostExecRule.
	Stage MigrationStage `json:"stage"`
	// Rule is the Rule's name; it lives in the pod's namespace.
	Rule string `json:"rule"`
	// Item is the index of the Rule's rules entry.
	Item int32 `json:"item"`
	// Action is the index of the action in that entry.
	Action int32 `json:"action"`
	// Namespace of the pod.
	Namespace string `json:"namespace"`
	// Pod the action ran in.
	Pod string `json:"pod"`
	// PodUID tells the pod apart from a later one of the same name.
	// +optional
	PodUID string `json:"podUID,omitempty"`
	// Container the action ran in.
	// +optional
	Container string `json:"container,omitempty"`
	// Background is true for an action started in the background.
	// +optional
	Background bool `json:"background,omitempty"`
	// Status is InProgress while the action runs (a background action until it is ended),
	// then Successful or Failed.
	Status RunStatus `json:"status"`
	// StartTimestamp is when a background action was started.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// ExitCode of the command, when it ended by itself.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Output is the tail of what the command wrote to stdout and stderr, when it failed.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Output string `json:"output,omitempty"`
	// Reason it failed, or why a background action's end is not known.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Ended is true once a background action has been told to end.
	// +optional
	Ended bool `json:"ended,omitempty"`
}

// MigrationSummary counts what a migration did.
type MigrationSummary struct {
	// TotalNumberOfResources considered.
	TotalNumberOfResources int64 `json:"totalNumberOfResources"`
	// NumberOfMigratedResources copied successfully.
	NumberOfMigratedResources int64 `json:"numberOfMigratedResources"`
	// TotalNumberOfVolumes considered.
	TotalNumberOfVolumes int64 `json:"totalNumberOfVolumes"`
	// NumberOfMigratedVolumes moved successfully.
	NumberOfMigratedVolumes int64 `json:"numberOfMigratedVolumes"`
	// TotalBytesMigrated across volumes.
	TotalBytesMigrated int64 `json:"totalBytesMigrated"`
	// Resources is "migrated/total", for printing.
	// +optional
	Resources string `json:"resources,omitempty"`
	// Volumes is "migrated/total", for printing.
	// +optional
	Volumes string `json:"volumes,omitempty"`
	// ElapsedTimeForVolumeMigration is how long the Volumes stage took.
	// +optional
	ElapsedTimeForVolumeMigration string `json:"elapsedTimeForVolumeMigration,omitempty"`
	// ElapsedTimeForResourceMigration is how long the Applications stage took.
	// +optional
	ElapsedTimeForResourceMigration string `json:"elapsedTimeForResourceMigration,omitempty"`
}

// +kubebuilder:object:root=true

// MigrationList is a list of Migrations.
type MigrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Migration `json:"items"`
}

// MigrationSchedule creates a dated Migration from its template each time a type of its
// SchedulePolicy comes due, and keeps per-type history up to the policy's retain.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=migsched
// +kubebuilder:printcolumn:name="PolicyName",type=string,JSONPath=`.spec.schedulePolicyName`
// +kubebuilder:printcolumn:name="ClusterPair",type=string,JSONPath=`.spec.template.spec.clusterPair`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last-Success-Time",type=string,format=date-time,JSONPath=`.status.lastSuccessTime`
// +kubebuilder:printcolumn:name="Last-Success-Duration",type=string,JSONPath=`.status.lastSuccessDuration`
// +kubebuilder:printcolumn:name="Recovery-Point",type=date,JSONPath=`.status.recoveryPoint`
// +kubebuilder:printcolumn:name="Activated",type=boolean,JSONPath=`.status.applicationActivated`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MigrationSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the Migration template and the policy.
	Spec MigrationScheduleSpec `json:"spec"`
	// Status is written by the controller.
	// +optional
	Status MigrationScheduleStatus `json:"status,omitempty"`
}

// MigrationTemplateSpec is the template of the Migrations a schedule creates.
type MigrationTemplateSpec struct {
	// Spec of every Migration created.
	Spec MigrationSpec `json:"spec"`
}

// MigrationScheduleSpec is the Migration template and the policy that drives it.
type MigrationScheduleSpec struct {
	// Template of the Migrations created.
	Template MigrationTemplateSpec `json:"template"`
	// AutoSuspend suspends the schedule (sets suspend) once its destination is activated, as
	// Stork's autoSuspend does, so that the next scheduled run never undoes a failover. Without
	// it a run into an activated namespace fails, with reason ApplicationActivated, before it
	// writes anything, and the schedule goes on trying at every trigger.
	// +optional
	AutoSuspend bool `json:"autoSuspend,omitempty"`
	// SchedulePolicyName names the cluster SchedulePolicy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SchedulePolicyName string `json:"schedulePolicyName"`
	// Suspend stops new Migrations; one already running goes on.
	// +optional
	// +kubebuilder:default=false
	Suspend *bool `json:"suspend,omitempty"`
}

// MigrationScheduleStatus is the per-type history of a schedule.
type MigrationScheduleStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Items is the history of Migrations per policy type, oldest first, trimmed to retain.
	// +optional
	Items map[SchedulePolicyType][]ScheduledRun `json:"items,omitempty"`
	// Pending lists policy types that came due while another Migration of this schedule was
	// running; each runs after it, once.
	// +optional
	Pending []PolicyTrigger `json:"pending,omitempty"`
	// NextTriggers are the next trigger times per policy type.
	// +optional
	NextTriggers []PolicyTrigger `json:"nextTriggers,omitempty"`
	// LastTriggers is the scheduled time of the newest trigger handled per type, whether it ran or
	// was skipped as too late, so a skipped trigger is counted as missed once and never again.
	// +optional
	LastTriggers map[SchedulePolicyType]metav1.Time `json:"lastTriggers,omitempty"`
	// LastSuccessTime is when the last successful Migration finished.
	// +optional
	LastSuccessTime *metav1.Time `json:"lastSuccessTime,omitempty"`
	// LastSuccessDuration is how long it took.
	// +optional
	LastSuccessDuration *metav1.Duration `json:"lastSuccessDuration,omitempty"`
	// ApplicationActivated is true while the applications are activated on the destination:
	// `volsyncctl activate migration` (or `perform failover`) sets it, a Migration refused with
	// reason ApplicationActivated sets it, and `deactivate` or a later successful Migration
	// clears it.
	// +optional
	ApplicationActivated bool `json:"applicationActivated,omitempty"`
	// RecoveryPoint is when the data of the newest successful Migration was taken (its start):
	// a failover now recovers the applications as they were then. Its age is the achieved
	// recovery point objective, also exported as volsync_recovery_point_age_seconds.
	// +optional
	RecoveryPoint *metav1.Time `json:"recoveryPoint,omitempty"`
	// Conditions: Ready says whether the policy and template can be used.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true

// MigrationScheduleList is a list of MigrationSchedules.
type MigrationScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MigrationSchedule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Migration{}, &MigrationList{}, &MigrationSchedule{}, &MigrationScheduleList{})
}
