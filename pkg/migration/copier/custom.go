package copier

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefinitionKind is the kind of a CustomResourceDefinition, under which a run records the
// definitions it created or found different on the destination.
var DefinitionKind = Kind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Resource: "customresourcedefinitions"}

// uncopiedGroups are API groups whose custom resources are never copied, with the reason.
var uncopiedGroups = map[string]string{
	// A copied MigrationSchedule, ClusterPair or ReplicationSource would start migrating or
	// replicating from the destination, back over the source it is a copy of.
	"volsync.backube": "volsync's own objects drive migrations and replications from the cluster they are on",
	// A VolumeSnapshot names snapshot contents of the source's storage; the volume stage moves data.
	"snapshot.storage.k8s.io": "snapshots name the source's storage; volumes move with the volume stage",
}

// CustomKinds are the kinds of custom resources a Migration copies, from the source's
// CustomResourceDefinitions: every namespaced one that is established, except those of
// uncopiedGroups, sorted by group and kind. Each is read and applied in the version the source
// stores it in (when served, else its first served version), so nothing is lost to a
// conversion.
func CustomKinds(definitions []unstructured.Unstructured) []Kind {
	var out []Kind
	for i := range definitions {
		crd := &definitions[i]
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
		if scope != "Namespaced" || uncopiedGroups[group] != "" || !Established(crd) {
			continue
		}
		version := copiedVersion(crd)
		if version == "" {
			continue
		}
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		short, _, _ := unstructured.NestedStringSlice(crd.Object, "spec", "names", "shortNames")
		out = append(out, Kind{
			Group: group, Version: version, Kind: kind, Resource: plural, ShortNames: short,
			Namespaced: true, Definition: crd.GetName(),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Established says whether a CustomResourceDefinition's API server serves its resources.
func Established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cm := asMap(c)
		if cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

// copiedVersion is the storage version when it is served, else the first served one.
func copiedVersion(crd *unstructured.Unstructured) string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	first := ""
	for _, v := range versions {
		vm := asMap(v)
		name, _ := vm["name"].(string)
		served, _ := vm["served"].(bool)
		if !served {
			continue
		}
		if storage, _ := vm["storage"].(bool); storage {
			return name
		}
		if first == "" {
			first = name
		}
	}
	return first
}

// DefinitionDifference says how the destination's CustomResourceDefinition of a name differs
// from the source's in what custom resources depend on: the group, scope and names, which
// versions are served, and each served version's schema and subresources. "" when they agree.
// Printer columns, the storage version and conversion settings may differ: they change how the
// resources are shown or stored there, not what they may hold.
func DefinitionDifference(source, destination *unstructured.Unstructured) string {
	var diffs []string
	for _, path := range [][]string{{"spec", "group"}, {"spec", "scope"}, {"spec", "names", "kind"}, {"spec", "names", "plural"}} {
		s, _, _ := unstructured.NestedString(source.Object, path...)
		d, _, _ := unstructured.NestedString(destination.Object, path...)
		if s != d {
			diffs = append(diffs, fmt.Sprintf("%s is %q here and %q there", strings.Join(path, "."), s, d))
		}
	}
	sv, dv := servedVersions(source), servedVersions(destination)
	names := make([]string, 0, len(sv))
	for n := range sv {
		names = append(names, n)
	}
	for n := range dv {
		if _, ok := sv[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		s, inSource := sv[n]
		d, inDest := dv[n]
		switch {
		case !inDest:
			diffs = append(diffs, fmt.Sprintf("version %s is served here but not there", n))
		case !inSource:
			diffs = append(diffs, fmt.Sprintf("version %s is served there but not here", n))
		default:
			if !reflect.DeepEqual(s["schema"], d["schema"]) {
				diffs = append(diffs, fmt.Sprintf("the schema of version %s differs", n))
			}
			if !reflect.DeepEqual(s["subresources"], d["subresources"]) {
				diffs = append(diffs, fmt.Sprintf("the subresources of version %s differ", n))
			}
		}
	}
	return strings.Join(diffs, "; ")
}

// servedVersions are a definition's served versions by name.
func servedVersions(crd *unstructured.Unstructured) map[string]map[string]any {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	out := map[string]map[string]any{}
	for _, v := range versions {
		vm := asMap(v)
		if served, _ := vm["served"].(bool); !served {
			continue
		}
		if name, _ := vm["name"].(string); name != "" {
			out[name] = vm
		}
	}
	return out
}

// BindsServiceAccountIn says whether a ClusterRoleBinding has a subject that is a ServiceAccount
// of one of namespaces: such a binding is part of what those namespaces' applications are
// allowed, and is copied with them.
func BindsServiceAccountIn(binding *unstructured.Unstructured, namespaces []string) bool {
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	for _, s := range subjects {
		sm := asMap(s)
		ns, _ := sm["namespace"].(string)
		if sm["kind"] == "ServiceAccount" && slices.Contains(namespaces, ns) {
			return true
		}
	}
	return false
}

// BoundClusterRoles are the names of the ClusterRoles that bindings reference, sorted, without
// repeats.
func BoundClusterRoles(bindings []*unstructured.Unstructured) []string {
	var out []string
	for _, b := range bindings {
		kind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		if kind == "ClusterRole" && name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// bootstrapLabel marks the RBAC objects the API server makes on every cluster.
const bootstrapLabel = "kubernetes.io/bootstrapping"

// builtInRBAC says whether a ClusterRole or ClusterRoleBinding is one every cluster has: made by
// the API server's bootstrap (cluster-admin, admin, edit, view, system:*), or named system:,
// which Kubernetes reserves for itself. The destination keeps its own; a binding copied to one
// of them still grants it there.
func builtInRBAC(obj *unstructured.Unstructured) bool {
	return obj.GetLabels()[bootstrapLabel] == "rbac-defaults" || strings.HasPrefix(obj.GetName(), "system:")
}

// SelectorlessServices are, of a namespace's Services, which have no selector: their Endpoints
// are written by hand (or by a tool), not by the endpoints controller, and are copied with them.
// The map holds every Service's name, true for those without a selector.
func SelectorlessServices(services []unstructured.Unstructured) map[string]bool {
	out := make(map[string]bool, len(services))
	for i := range services {
		sel, _, _ := unstructured.NestedMap(services[i].Object, "spec", "selector")
		out[services[i].GetName()] = len(sel) == 0
	}
	return out
}

// EndpointsSkipReason says why an Endpoints object is not copied, given SelectorlessServices of
// its namespace, or "" when it is.
func EndpointsSkipReason(name string, selectorless map[string]bool) string {
	without, ok := selectorless[name]
	switch {
	case !ok:
		return "no Service has its name"
	case !without:
		return "its Service has a selector, so the destination's endpoints controller makes it"
	}
	return ""
}
