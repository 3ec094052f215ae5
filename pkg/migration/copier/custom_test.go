package copier

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// definition is a CustomResourceDefinition as an API server returns it, with its versions given
// as name -> served, the first one stored, each with a schema of one string field named field.
func definition(name, group, scope string, established bool, field string, versions ...string) unstructured.Unstructured {
	var vs []any
	for i, v := range versions {
		vs = append(vs, map[string]any{
			"name": v, "served": true, "storage": i == 0,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
				"spec": map[string]any{"type": "object", "properties": map[string]any{field: map[string]any{"type": "string"}}},
			}}},
		})
	}
	status := "False"
	if established {
		status = "True"
	}
	kind := strings.ToUpper(name[:1]) + strings.TrimSuffix(strings.SplitN(name, ".", 2)[0][1:], "s")
	return unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": name, "uid": "uid-" + name},
		"spec": map[string]any{
			"group": group, "scope": scope, "versions": vs,
			"names": map[string]any{"kind": kind, "plural": strings.SplitN(name, ".", 2)[0], "shortNames": []any{"w"}},
		},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Established", "status": status}}},
	}}
}

func TestCustomKinds(t *testing.T) {
	tests := []struct {
		name string
		crd  unstructured.Unstructured
		want []Kind
	}{
		{"a namespaced, established definition is a kind copied in its stored version",
			definition("widgets.example.com", "example.com", "Namespaced", true, "size", "v2", "v1"),
			[]Kind{{Group: "example.com", Version: "v2", Kind: "Widget", Resource: "widgets", ShortNames: []string{"w"}, Namespaced: true, Definition: "widgets.example.com"}}},
		{"a cluster-scoped definition is not copied", definition("globals.example.com", "example.com", "Cluster", true, "size", "v1"), nil},
		{"a definition not yet established is not copied", definition("widgets.example.com", "example.com", "Namespaced", false, "size", "v1"), nil},
		{"volsync's own kinds are not copied", definition("migrations.volsync.backube", "volsync.backube", "Namespaced", true, "x", "v1alpha1"), nil},
		{"VolumeSnapshots are not copied", definition("volumesnapshots.snapshot.storage.k8s.io", "snapshot.storage.k8s.io", "Namespaced", true, "x", "v1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CustomKinds([]unstructured.Unstructured{tt.crd}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CustomKinds = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDefinitionDifference(t *testing.T) {
	base := definition("widgets.example.com", "example.com", "Namespaced", true, "size", "v1")
	tests := []struct {
		name string
		dest unstructured.Unstructured
		want string
	}{
		{"the same definition does not differ", definition("widgets.example.com", "example.com", "Namespaced", true, "size", "v1"), ""},
		{"another schema differs", definition("widgets.example.com", "example.com", "Namespaced", true, "colour", "v1"),
			"the schema of version v1 differs"},
		{"another served version differs", definition("widgets.example.com", "example.com", "Namespaced", true, "size", "v1", "v2"),
			"version v2 is served there but not here"},
		{"a missing version differs", definition("widgets.example.com", "example.com", "Namespaced", true, "size", "v2"),
			"version v1 is served here but not there; version v2 is served there but not here"},
		{"another scope differs", definition("widgets.example.com", "example.com", "Cluster", true, "size", "v1"),
			`spec.scope is "Namespaced" here and "Cluster" there`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefinitionDifference(&base, &tt.dest); got != tt.want {
				t.Errorf("DefinitionDifference = %q, want %q", got, tt.want)
			}
		})
	}
}

func binding(name, roleKind, role string, subjects ...map[string]any) *unstructured.Unstructured {
	var s []any
	for _, sub := range subjects {
		s = append(s, sub)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"kind": roleKind, "name": role}, "subjects": s,
	}}
}

func TestBindsServiceAccountIn(t *testing.T) {
	sa := func(ns string) map[string]any {
		return map[string]any{"kind": "ServiceAccount", "name": "app", "namespace": ns}
	}
	tests := []struct {
		name string
		b    *unstructured.Unstructured
		want bool
	}{
		{"a binding of a migrated namespace's ServiceAccount is copied", binding("b", "ClusterRole", "r", sa("other"), sa("shop")), true},
		{"a binding of another namespace's ServiceAccount is not", binding("b", "ClusterRole", "r", sa("other")), false},
		{"a binding of a user is not", binding("b", "ClusterRole", "r", map[string]any{"kind": "User", "name": "shop"}), false},
		{"a binding without subjects is not", binding("b", "ClusterRole", "r"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BindsServiceAccountIn(tt.b, []string{"shop"}); got != tt.want {
				t.Errorf("BindsServiceAccountIn = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBoundClusterRoles(t *testing.T) {
	got := BoundClusterRoles([]*unstructured.Unstructured{
		binding("a", "ClusterRole", "reader"), binding("b", "ClusterRole", "admin-ish"), binding("c", "ClusterRole", "reader"),
	})
	if want := []string{"admin-ish", "reader"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BoundClusterRoles = %v, want %v (sorted, no repeats)", got, want)
	}
}

func TestEndpointsSkipReason(t *testing.T) {
	svc := func(name string, selector map[string]any) unstructured.Unstructured {
		spec := map[string]any{}
		if selector != nil {
			spec["selector"] = selector
		}
		return unstructured.Unstructured{Object: map[string]any{"kind": "Service", "metadata": map[string]any{"name": name}, "spec": spec}}
	}
	selectorless := SelectorlessServices([]unstructured.Unstructured{svc("external-db", nil), svc("web", map[string]any{"app": "web"})})
	tests := []struct {
		name, endpoints, want string
	}{
		{"the Endpoints of a Service without a selector are copied", "external-db", ""},
		{"the Endpoints of a Service with a selector are the endpoints controller's", "web", "its Service has a selector, so the destination's endpoints controller makes it"},
		{"Endpoints of no Service are not copied", "orphan", "no Service has its name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EndpointsSkipReason(tt.endpoints, selectorless); got != tt.want {
				t.Errorf("EndpointsSkipReason = %q, want %q", got, tt.want)
			}
		})
	}
}
