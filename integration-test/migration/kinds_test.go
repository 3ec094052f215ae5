package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
)

const kindsGroup = "kinds.example.com"

// crd is a namespaced CustomResourceDefinition of kindsGroup, served in v1, whose spec has one
// string field named field.
func crd(kind, plural, field string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + kindsGroup},
		"spec": map[string]any{
			"group": kindsGroup, "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
					"spec": map[string]any{"type": "object", "properties": map[string]any{field: map[string]any{"type": "string"}}},
				}}},
			}},
		},
	}}
}

// createServed creates a CustomResourceDefinition on c and waits until c serves its kind.
func createServed(t *testing.T, c client.Client, def *unstructured.Unstructured, kind string) {
	t.Helper()
	createOn(t, c, def)
	eventually(t, 30*time.Second, func() error {
		_, err := c.RESTMapper().RESTMapping(schema.GroupKind{Group: kindsGroup, Kind: kind}, "v1")
		return err
	})
}

// custom is a custom resource of kindsGroup/v1.
func custom(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: kindsGroup, Version: "v1", Kind: kind})
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// entry is the status entry of one object, or nil.
func entry(m *volsyncv1alpha1.Migration, kind, ns, name string) *volsyncv1alpha1.MigrationResourceInfo {
	for i, r := range m.Status.Resources {
		if r.Kind == kind && r.Namespace == ns && r.Name == name {
			return &m.Status.Resources[i]
		}
	}
	return nil
}

// onB says whether cluster B has the object; a read error other than NotFound fails the test.
func onB(t *testing.T, obj client.Object, ns, name string) bool {
	t.Helper()
	err := b.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("reading %T %s/%s on B: %v", obj, ns, name, err)
	}
	return err == nil
}

// Two migrations of one namespace between the two API servers: the first with the defaults, the
// second with every optional kind and field on. Between them the application's CRDs, cluster
// RBAC, workloads, Endpoints, Jobs, Services and NetworkPolicies show what is copied and what is
// not.
func TestMigrationCopiesCustomResourcesClusterRBACAndEveryWorkloadKind(t *testing.T) {
	ctx := context.Background()
	const ns = "kinds"
	// Widgets are new to B; gadgets are there already, with another schema.
	createServed(t, a, crd("Widget", "widgets", "size"), "Widget")
	createServed(t, a, crd("Gadget", "gadgets", "size"), "Gadget")
	createServed(t, b, crd("Gadget", "gadgets", "colour"), "Gadget")

	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")}}
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kinds-elsewhere"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}},
		custom("Widget", ns, "w1", map[string]any{"size": "large"}),
		custom("Gadget", ns, "g1", map[string]any{"size": "small"}),
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kinds-node-reader"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kinds-reads-nodes"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kinds-node-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "app", Namespace: ns}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kinds-unrelated"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kinds-unrelated"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kinds-unrelated"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "app", Namespace: "kinds-elsewhere"}}},
		// A binding of the namespace's account to a built-in role: the binding goes, the role stays B's.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kinds-views"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "app", Namespace: ns}}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent")}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "local-agent", Namespace: ns,
			Annotations: map[string]string{volsyncv1alpha1.SkipResourceAnnotation: "true"}}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "local-agent"}}, Template: podTemplate("local-agent")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: ns}, Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "legacy"}}, Template: podTemplate("legacy")}},
		deployment,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: ns}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Port: 5432}}}},
		&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: ns}, Subsets: []corev1.EndpointSubset{{ //nolint:staticcheck // what a selector-less Service is served by
			Addresses: []corev1.EndpointAddress{{IP: "192.0.2.7"}}, Ports: []corev1.EndpointPort{{Port: 5432}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Subsets: []corev1.EndpointSubset{{ //nolint:staticcheck // as the source's endpoints controller writes it
			Addresses: []corev1.EndpointAddress{{IP: "10.1.0.5"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: ns}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "192.0.2.10", //nolint:staticcheck // Stork users still set it
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 443}}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: ns}, Spec: batchv1.JobSpec{Template: func() corev1.PodTemplateSpec {
			p := podTemplate("once")
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			return p
		}()}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "office", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.20.0.0/16"}}}}}}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "same-app", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}}},
	)
	createOn(t, a, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: deployment.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")}})

	// The defaults, with the default namespace too, which holds the cluster's kubernetes Service.
	got := migrate(t, newMigration("kinds-defaults", ns, "default"))
	wantStatus(t, got, volsyncv1alpha1.RunStatusPartialSuccess)

	for _, want := range []struct{ kind, ns, name string }{
		{"CustomResourceDefinition", "", "widgets." + kindsGroup},
		{"Widget", ns, "w1"},
		{"ClusterRole", "", "kinds-node-reader"},
		{"ClusterRoleBinding", "", "kinds-reads-nodes"},
		{"ClusterRoleBinding", "", "kinds-views"},
		{"DaemonSet", ns, "agent"},
		{"ReplicaSet", ns, "legacy"},
		{"Endpoints", ns, "external-db"},
		{"Service", ns, "lb"},
		{"NetworkPolicy", ns, "same-app"},
	} {
		if e := entry(got, want.kind, want.ns, want.name); e == nil || e.Status != volsyncv1alpha1.RunStatusSuccessful {
			t.Errorf("%s %s/%s: entry %+v, want Successful", want.kind, want.ns, want.name, e)
		}
	}
	for _, gone := range []struct{ kind, ns, name string }{
		{"ClusterRole", "", "kinds-unrelated"}, {"ClusterRoleBinding", "", "kinds-unrelated"}, {"ClusterRole", "", "view"},
		{"DaemonSet", ns, "local-agent"}, {"ReplicaSet", ns, "web-5d8f"}, {"Endpoints", ns, "web"},
		{"Job", ns, "once"}, {"NetworkPolicy", ns, "office"},
		{"Service", "default", "kubernetes"}, {"Endpoints", "default", "kubernetes"},
	} {
		if e := entry(got, gone.kind, gone.ns, gone.name); e != nil {
			t.Errorf("%s %s/%s was migrated: %+v", gone.kind, gone.ns, gone.name, e)
		}
	}

	// The differing definition: failed, said so, and B's left as it was.
	g := entry(got, "Gadget", ns, "g1")
	if g == nil || g.Status != volsyncv1alpha1.RunStatusFailed || !strings.Contains(g.Reason, "gadgets."+kindsGroup+" differs on the destination") {
		t.Errorf("Gadget %s/g1: entry %+v, want Failed because its definition differs", ns, g)
	}
	if d := entry(got, "CustomResourceDefinition", "", "gadgets."+kindsGroup); d == nil || d.Status != volsyncv1alpha1.RunStatusFailed ||
		!strings.Contains(d.Reason, "the schema of version v1 differs") {
		t.Errorf("the differing CustomResourceDefinition's entry is %+v, want Failed saying the schema differs", d)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, got.Name, corev1.EventTypeWarning, migration.ReasonDefinitionDiffers,
		"CustomResourceDefinition gadgets."+kindsGroup+" differs on the destination"))
	gadgets := crd("Gadget", "gadgets", "")
	if !onB(t, gadgets, "", "gadgets."+kindsGroup) {
		t.Fatal("B's gadgets definition is gone")
	}
	if _, found, _ := unstructured.NestedMap(gadgets.Object, "spec", "versions"); found || !strings.Contains(fmt.Sprint(gadgets.Object["spec"]), "colour") {
		t.Errorf("B's gadgets definition was overwritten: %v", gadgets.Object["spec"])
	}
	if onB(t, custom("Gadget", ns, "g1", nil), ns, "g1") {
		t.Error("a Gadget reached B under B's own, different definition")
	}

	// What arrived, as it should be there.
	w := custom("Widget", ns, "w1", nil)
	if !onB(t, w, ns, "w1") {
		t.Error("the Widget did not reach B")
	} else if size, _, _ := unstructured.NestedString(w.Object, "spec", "size"); size != "large" {
		t.Errorf("the Widget on B has spec.size %q, want large", size)
	}
	var crb rbacv1.ClusterRoleBinding
	if !onB(t, &crb, "", "kinds-reads-nodes") || len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != ns {
		t.Errorf("ClusterRoleBinding on B = %+v", crb)
	}
	if !onB(t, &rbacv1.ClusterRole{}, "", "kinds-node-reader") {
		t.Error("the bound ClusterRole did not reach B")
	}
	if onB(t, &rbacv1.ClusterRoleBinding{}, "", "kinds-unrelated") || onB(t, &rbacv1.ClusterRole{}, "", "kinds-unrelated") {
		t.Error("RBAC of another namespace's account reached B")
	}
	var view rbacv1.ClusterRole
	if onB(t, &view, "", "view"); view.Labels[volsyncv1alpha1.MigratedFromLabel] != "" {
		t.Errorf("B's built-in view role was written over: labels %v", view.Labels)
	}
	var ds appsv1.DaemonSet
	if !onB(t, &ds, ns, "agent") || ds.Spec.Template.Spec.NodeSelector[volsyncv1alpha1.MigrationStoppedNodeLabel] != "true" {
		t.Errorf("DaemonSet on B has node selector %v, want it kept off every node", ds.Spec.Template.Spec.NodeSelector)
	}
	var rs appsv1.ReplicaSet
	if !onB(t, &rs, ns, "legacy") || rs.Spec.Replicas == nil || *rs.Spec.Replicas != 0 || rs.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "2" {
		t.Errorf("ReplicaSet on B: replicas %v, annotations %v; want 0 and 2 kept", rs.Spec.Replicas, rs.Annotations)
	}
	if onB(t, &appsv1.ReplicaSet{}, ns, "web-5d8f") {
		t.Error("the ReplicaSet the Deployment owns reached B")
	}
	var ep corev1.Endpoints //nolint:staticcheck // the kind copied
	if !onB(t, &ep, ns, "external-db") || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "192.0.2.7" {
		t.Errorf("Endpoints on B = %+v", ep.Subsets)
	}
	if onB(t, &corev1.Endpoints{}, ns, "web") { //nolint:staticcheck // the kind not copied
		t.Error("the Endpoints of a Service with a selector reached B")
	}
	var lb corev1.Service
	if !onB(t, &lb, ns, "lb") || lb.Spec.LoadBalancerIP != "" { //nolint:staticcheck // what is stripped
		t.Errorf("Service lb on B has loadBalancerIP %q, want none", lb.Spec.LoadBalancerIP) //nolint:staticcheck // what is stripped
	}
	if onB(t, &batchv1.Job{}, ns, "once") || onB(t, &networkingv1.NetworkPolicy{}, ns, "office") || onB(t, &appsv1.DaemonSet{}, ns, "local-agent") {
		t.Error("a Job, a NetworkPolicy with an ipBlock or a skip-annotated DaemonSet reached B by default")
	}
	var kubernetes corev1.Service
	if onB(t, &kubernetes, "default", "kubernetes"); kubernetes.Labels[volsyncv1alpha1.MigratedFromLabel] != "" {
		t.Errorf("B's own kubernetes Service was written over: labels %v", kubernetes.Labels)
	}

	// Changed on both sides; the second run keeps B's Service and copies the optional kinds.
	mergePatch(t, b, &lb, `{"metadata":{"annotations":{"changed-on-b":"yes"}}}`)
	var lbA corev1.Service
	if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lb"}, &lbA); err != nil {
		t.Fatal(err)
	}
	mergePatch(t, a, &lbA, `{"metadata":{"annotations":{"changed-on-a":"yes"}}}`)
	m := newMigration("kinds-optional", ns)
	m.Spec.IncludeOptionalResourceTypes = []string{"Job"}
	m.Spec.IncludeNetworkPolicyWithCIDR = ptr.To(true)
	m.Spec.SkipServiceUpdate = ptr.To(true)
	got = migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusPartialSuccess)
	if e := entry(got, "Service", ns, "lb"); e == nil || e.Status != volsyncv1alpha1.RunStatusSuccessful || !strings.Contains(e.Reason, "spec.skipServiceUpdate") {
		t.Errorf("Service lb: entry %+v, want Successful and left alone", e)
	}
	if onB(t, &lb, ns, "lb"); lb.Annotations["changed-on-b"] != "yes" || lb.Annotations["changed-on-a"] != "" {
		t.Errorf("Service lb on B has annotations %v; want B's change kept and A's not applied", lb.Annotations)
	}
	var job batchv1.Job
	if !onB(t, &job, ns, "once") || job.Spec.Suspend == nil || !*job.Spec.Suspend {
		t.Errorf("Job on B: %+v, want it there and suspended", job.Spec)
	} else if uid := job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]; uid != string(job.UID) {
		t.Errorf("Job on B selects controller-uid %q, want its own UID %s", uid, job.UID)
	}
	if !onB(t, &networkingv1.NetworkPolicy{}, ns, "office") {
		t.Error("the NetworkPolicy with an ipBlock did not reach B with includeNetworkPolicyWithCIDR")
	}
	if keys := resourceKeys(got); !slices.Contains(keys, "Job "+ns+"/once") {
		t.Errorf("status.resources = %v, want the Job", keys)
	}
}
