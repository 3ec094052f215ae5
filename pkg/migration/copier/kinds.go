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
	// Namespaced is false only for Namespace.
	Namespaced bool
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
//   - RBAC (Role, RoleBinding) before workloads, so no Pod starts without its permissions;
//   - NetworkPolicy before workloads, so no Pod is ever reachable without the source's isolation;
//   - PersistentVolumeClaims before the workloads that claim them;
//   - Services before workloads, because Pods get the environment variables of the Services that
//     exist when they are created;
//   - PodDisruptionBudgets before the Pods they protect;
//   - the workloads (Deployment, StatefulSet, CronJob);
//   - last what points at workloads or Services: HorizontalPodAutoscalers, Ingresses.
//
// Left out on purpose: Pods, ReplicaSets, Jobs, Endpoints, EndpointSlices, Events and Leases are
// made by controllers from the objects above (or are runtime state), and a copy would be stale or
// fight the destination's controllers; a Job is a run-once piece of work, and copying it would run
// it again on the destination. DaemonSets are left out because they are nearly always node agents
// of the cluster's platform, not of an application, and they cannot be held at zero replicas when
// startApplications is false. excludeResourceTypes removes kinds from this list; it never adds.
var kinds = []Kind{
	{Version: "v1", Kind: "Namespace", Resource: "namespaces", ShortNames: []string{"ns"}},
	{Version: "v1", Kind: "ResourceQuota", Resource: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true},
	{Version: "v1", Kind: "LimitRange", Resource: "limitranges", ShortNames: []string{"limits"}, Namespaced: true},
	{Version: "v1", Kind: "ServiceAccount", Resource: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true},
	{Version: "v1", Kind: "Secret", Resource: "secrets", Namespaced: true},
	{Version: "v1", Kind: "ConfigMap", Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role", Resource: "roles", Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding", Resource: "rolebindings", Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy", Resource: "networkpolicies", ShortNames: []string{"netpol"}, Namespaced: true},
	{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", ShortNames: []string{"pvc"}, Namespaced: true},
	{Version: "v1", Kind: "Service", Resource: "services", ShortNames: []string{"svc"}, Namespaced: true},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget", Resource: "poddisruptionbudgets", ShortNames: []string{"pdb"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets", ShortNames: []string{"sts"}, Namespaced: true},
	{Group: "batch", Version: "v1", Kind: "CronJob", Resource: "cronjobs", ShortNames: []string{"cj"}, Namespaced: true},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Resource: "horizontalpodautoscalers", ShortNames: []string{"hpa"}, Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress", Resource: "ingresses", ShortNames: []string{"ing"}, Namespaced: true},
}

// Kinds returns every kind a Migration copies, in the order they are applied.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	copy(out, kinds)
	return out
}

// SelectKinds is Kinds less the kinds that exclude names, in the same order. Names that match no
// kind are returned as unknown so the caller can tell the user about a typo instead of silently
// copying what they meant to leave out.
func SelectKinds(exclude []string) (selected []Kind, unknown []string) {
	for _, name := range exclude {
		if !slices.ContainsFunc(kinds, func(k Kind) bool { return k.Matches(name) }) {
			unknown = append(unknown, name)
		}
	}
	for _, k := range kinds {
		if !slices.ContainsFunc(exclude, k.Matches) {
			selected = append(selected, k)
		}
	}
	return selected, unknown
}
