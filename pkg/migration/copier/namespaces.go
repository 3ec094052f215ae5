package copier

import (
	"fmt"
	"sort"
	"strings"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// namespaceNameLabel is the label the API server puts on every namespace with the namespace's
// own name; a renamed namespace carries its new name in it.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// NamespaceMapping is spec.namespaceMapping: a migrated namespace's name on the destination, by
// its name on the source. A namespace it does not list keeps its name.
type NamespaceMapping map[string]string

// Destination is the name namespace ns has on the destination.
func (m NamespaceMapping) Destination(ns string) string {
	if d, ok := m[ns]; ok && d != "" {
		return d
	}
	return ns
}

// Renamed says whether ns gets another name on the destination.
func (m NamespaceMapping) Renamed(ns string) bool {
	return m.Destination(ns) != ns
}

// CheckNamespaceMapping is the API's rules for spec.namespaceMapping, for callers that build a
// spec before the API server sees it (volsyncctl) and for a Migration stored before the rules
// existed: every key is one of namespaces, every value a namespace name, and no two of
// namespaces end up in the same destination namespace. The error does not name the field; the
// caller says where the mapping came from (the spec field, a flag).
func CheckNamespaceMapping(namespaces []string, mapping NamespaceMapping) error {
	listed := map[string]bool{}
	for _, ns := range namespaces {
		listed[ns] = true
	}
	keys := make([]string, 0, len(mapping))
	for k := range mapping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !listed[k] {
			return fmt.Errorf("namespace %q is mapped but not migrated; map only namespaces the migration migrates", k)
		}
		if errs := validation.IsDNS1123Label(mapping[k]); len(errs) > 0 {
			return fmt.Errorf("namespace %q is mapped to %q, which is not a namespace name: %s", k, mapping[k], strings.Join(errs, "; "))
		}
	}
	into := map[string]string{}
	for _, ns := range unique(namespaces) {
		d := mapping.Destination(ns)
		if other, taken := into[d]; taken {
			return fmt.Errorf("namespaces %q and %q would both be migrated into namespace %q; map them to different names (a namespace with no mapping keeps its own name)", other, ns, d)
		}
		into[d] = ns
	}
	return nil
}

// SelfOverwrite is a migrated namespace whose destination namespace is, on the same cluster, one
// of the migration's own source namespaces: copying it would write over the objects it is read
// from, or over another namespace the same run reads.
type SelfOverwrite struct {
	// Source is the namespace migrated.
	Source string
	// Destination is the namespace it would be written into, which is a source namespace too.
	Destination string
}

// Error says what would happen and how to avoid it.
func (o SelfOverwrite) Error() string {
	if o.Source == o.Destination {
		return fmt.Sprintf("namespace %q: source and destination are the same namespace of the same cluster; "+
			"map it to another name with spec.namespaceMapping, or use a cluster pair that reaches another cluster", o.Source)
	}
	return fmt.Sprintf("namespace %q would be migrated into namespace %q, which this migration also migrates from, on the same cluster; "+
		"map it to a namespace the migration does not read", o.Source, o.Destination)
}

// SelfOverwrites finds the namespaces a migration would write onto its own sources. sourceUIDs
// are the UIDs of the source namespaces on the source cluster, by name; destinationUIDs the UIDs
// the destination cluster gives the destination namespaces, by destination name (absent when it
// has no such namespace). UIDs are unique across clusters, so equal UIDs mean one namespace of
// one cluster: no cluster identity needs to be compared, and the check is exact however the
// ClusterPair reaches its cluster (another address, another user). The result is in the order
// of namespaces.
func SelfOverwrites(namespaces []string, mapping NamespaceMapping, sourceUIDs, destinationUIDs map[string]types.UID) []SelfOverwrite {
	var out []SelfOverwrite
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		d := mapping.Destination(ns)
		uid, ok := destinationUIDs[d]
		if !ok || uid == "" {
			continue
		}
		// The destination namespace is a source namespace exactly when it has the UID of one;
		// having the same name, it is then the source namespace of that name.
		if sourceUIDs[d] == uid {
			out = append(out, SelfOverwrite{Source: ns, Destination: d})
		}
	}
	return out
}

// renameNamespaces puts obj in its destination namespace: a Namespace gets its destination name
// (and the name label the API server keeps equal to it), a namespaced object the destination
// namespace, and a RoleBinding's or ClusterRoleBinding's ServiceAccount subjects in a mapped
// namespace follow their namespace, so the copy grants the copied accounts and not the source's. A renamed copy is
// labelled with its source namespace (volsyncv1alpha1.MigratedFromNamespaceLabel); any other copy loses a label
// of that name it brought from an earlier migration, since it now belongs to this one's
// namespace.
func renameNamespaces(obj *unstructured.Unstructured, mapping NamespaceMapping) error {
	source := obj.GetNamespace()
	if obj.GetKind() == "Namespace" {
		source = obj.GetName()
	}
	l := obj.GetLabels()
	delete(l, volsyncv1alpha1.MigratedFromNamespaceLabel)
	if mapping.Renamed(source) {
		if l == nil {
			l = map[string]string{}
		}
		l[volsyncv1alpha1.MigratedFromNamespaceLabel] = source
	}
	obj.SetLabels(l)
	if len(mapping) == 0 {
		return nil
	}
	if obj.GetKind() == "Namespace" {
		name := mapping.Destination(obj.GetName())
		obj.SetName(name)
		if l := obj.GetLabels(); l[namespaceNameLabel] != "" {
			l[namespaceNameLabel] = name
			obj.SetLabels(l)
		}
		return nil
	}
	if source != "" {
		obj.SetNamespace(mapping.Destination(source))
	}
	if obj.GetKind() != "RoleBinding" && obj.GetKind() != "ClusterRoleBinding" {
		return nil
	}
	subjects, ok, err := unstructured.NestedSlice(obj.Object, "subjects")
	if err != nil || !ok {
		return err
	}
	for _, s := range subjects {
		sm := asMap(s)
		if sm == nil || sm["kind"] != "ServiceAccount" {
			continue
		}
		if ns, _ := sm["namespace"].(string); ns != "" {
			sm["namespace"] = mapping.Destination(ns)
		}
	}
	return unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
}

// unique is s without repeats, in order.
func unique(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
