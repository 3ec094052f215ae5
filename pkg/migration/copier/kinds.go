package copier

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is one kind of object a Migration copies.
type Kind struct {
	// Group of the kind ("" for the core group).
	Group string
	// Version read from the source and applied on the destination.
	Version string
	// Kind is the kind's name, such as Deployment.
	Kind string
	// Resource is the lower-case plural the API serves the kind under; RBAC rules use it.
	Resource string
	// ShortNames are kubectl's abbreviations, also accepted in excludeResourceTypes.
	ShortNames []string
	// Namespaced is false for Namespace and for the cluster-scoped RBAC kinds (ClusterRole,
	// ClusterRoleBinding), which are copied only as far as the migrated namespaces use them.
	Namespaced bool
	// Optional kinds are copied only when spec.includeOptionalResourceTypes names them.
	Optional bool
	// Definition is, for a custom resource's kind, the name of its CustomResourceDefinition
	// ("plural.group"); "" for the built-in kinds.
	Definition string
}

// GroupVersionKind is the kind's full name.
func (k Kind) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// GroupResource is the resource as RBAC names it.
func (k Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.Group, Resource: k.Resource}
}

// String is the resource as kubectl names it: "deployments.apps", or "configmaps" in the core group.
func (k Kind) String() string {
	return k.GroupResource().String()
}

// Matches says whether name, as a person writes it in excludeResourceTypes, means this kind. Case is
// ignored, and the kind (Secret), the resource (secrets), either with its group (deployments.apps,
// Deployment.apps) and kubectl's short names (cm, deploy) are all accepted.
func (k Kind) Matches(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	kind, resource := strings.ToLower(k.Kind), k.Resource
	candidates := append([]string{kind, resource}, k.ShortNames...)
	if k.Group != "" {
		candidates = append(candidates, kind+"."+k.Group, resource+"."+k.Group)
	}
	return slices.Contains(candidates, name)
}

// Kinds copied, in the order they are applied. The order is what makes the destination usable at
// every step and what lets a workload start cleanly when it is started:
//   - the Namespace first, since everything else lives in it;
//   - ResourceQuota and LimitRange before anything they constrain, so the destination's limits
//     apply from the first object, as on the source;
//   - identities and configuration (ServiceAccount, Secret, ConfigMap) before the workloads that
//     mount them, so no Pod waits on a missing volume source;
//   - RBAC (Role, RoleBinding, and the ClusterRoles and ClusterRoleBindings that grant the
//     namespaces' ServiceAccounts) before workloads, so no Pod starts without its permissions;
//   - NetworkPolicy before workloads, so no Pod is ever reachable without the source's isolation;
//   - PersistentVolumeClaims before the workloads that claim them;
//   - Services, and the Endpoints of those without a selector, before workloads, because Pods get
//     the environment variables of the Services that exist when they are created;
//   - PodDisruptionBudgets before the Pods they protect;
//   - the workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, CronJob, Job);
//   - last what points at workloads or Services: HorizontalPodAutoscalers, Ingresses.
//
// Custom resources come after all of these (see CustomKinds): an operator's resource most often
// names the Secrets, Services and claims above, and its operator makes workloads of its own.
//
// Left out on purpose: Pods, EndpointSlices, Events and Leases are made by controllers from the
// objects above (or are runtime state), and a copy would be stale or fight the destination's
// controllers. For the same reason ReplicaSets a Deployment controls, Jobs a CronJob controls and
// the Endpoints of a Service with a selector are never copied. A Job is optional
// (includeOptionalResourceTypes): it is a run-once piece of work, and its copy runs it again on
// the destination. excludeResourceTypes removes kinds from this list.
var kinds = []Kind{
	{Version: "v1", Kind: "Namespace", Resource: "namespaces", ShortNames: []string{"ns"}},
	{Version: "v1", Kind: "ResourceQuota", Resource: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true},
	{Version: "v1", Kind: "LimitRange", Resource: "limitranges", ShortNames: []string{"limits"}, Namespaced: true},
	{Version: "v1", Kind: "ServiceAccount", Resource: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true},
	{Version: "v1", Kind: "Secret", Resource: "secrets", Namespaced: true},
	{Version: "v1", Kind: "ConfigMap", Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true},
	{Group: rbacGroup, Version: "v1", Kind: "Role", Resource: "roles", Namespaced: true},
	{Group: rbacGroup, Version: "v1", Kind: "RoleBinding", Resource: "rolebindings", Namespaced: true},
	{Group: rbacGroup, Version: "v1", Kind: "ClusterRole", Resource: "clusterroles"},
	{Group: rbacGroup, Version: "v1", Kind: "ClusterRoleBinding", Resource: "clusterrolebindings"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy", Resource: "networkpolicies", ShortNames: []string{"netpol"}, Namespaced: true},
	{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", ShortNames: []string{"pvc"}, Namespaced: true},
	{Version: "v1", Kind: "Service", Resource: "services", ShortNames: []string{"svc"}, Namespaced: true},
	{Version: "v1", Kind: "Endpoints", Resource: "endpoints", ShortNames: []string{"ep"}, Namespaced: true},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget", Resource: "poddisruptionbudgets", ShortNames: []string{"pdb"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets", ShortNames: []string{"sts"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets", ShortNames: []string{"ds"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	{Group: "batch", Version: "v1", Kind: "CronJob", Resource: "cronjobs", ShortNames: []string{"cj"}, Namespaced: true},
	{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", Namespaced: true, Optional: true},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Resource: "horizontalpodautoscalers", ShortNames: []string{"hpa"}, Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress", Resource: "ingresses", ShortNames: []string{"ing"}, Namespaced: true},
}

// rbacGroup is the API group of Kubernetes RBAC.
const rbacGroup = "rbac.authorization.k8s.io"

// Kinds returns every built-in kind a Migration can copy, optional ones included, in the order
// they are applied.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	copy(out, kinds)
	return out
}

// IsNamespace says whether k is the Namespace kind, which is copied from the migration's list of
// namespaces rather than listed in each of them.
func (k Kind) IsNamespace() bool {
	return k.Group == "" && k.Kind == "Namespace"
}

// SelectKinds is what a Migration copies: the built-in kinds, less the optional ones include does
// not name and those exclude names, then the custom kinds (found on the source by CustomKinds)
// exclude does not name, in that order. Names in exclude that match no kind are returned as
// unknown so the caller can tell the user about a typo instead of silently copying what they
// meant to leave out; UnknownOptional does the same for include.
func SelectKinds(exclude, include []string, custom []Kind) (selected []Kind, unknown []string) {
	all := append(Kinds(), custom...)
	for _, name := range exclude {
		if !slices.ContainsFunc(all, func(k Kind) bool { return k.Matches(name) }) {
			unknown = append(unknown, name)
		}
	}
	for _, k := range all {
		if k.Optional && !slices.ContainsFunc(include, k.Matches) {
			continue
		}
		if !slices.ContainsFunc(exclude, k.Matches) {
			selected = append(selected, k)
		}
	}
	return selected, unknown
}

// UnknownOptional are the names in include (spec.includeOptionalResourceTypes) that match no
// optional kind.
func UnknownOptional(include []string) []string {
	var unknown []string
	for _, name := range include {
		if !slices.ContainsFunc(kinds, func(k Kind) bool { return k.Optional && k.Matches(name) }) {
			unknown = append(unknown, name)
		}
	}
	return unknown
}
