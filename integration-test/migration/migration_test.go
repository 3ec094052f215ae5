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
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
)

// sharedPair is a Ready pair to cluster B that migration tests share; made on first use.
var sharedPair *volsyncv1alpha1.ClusterPair

func pairToB(t testing.TB) string {
	t.Helper()
	if sharedPair == nil {
		sharedPair = createPair(t, suiteNamespace, "cluster-b", kubeconfigB)
	}
	return sharedPair.Name
}

// createOn creates objs on c, failing the test on any error.
func createOn(t testing.TB, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// podTemplate is a minimal valid Pod template labelled app=name.
func podTemplate(name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "shop",
			Containers:         []corev1.Container{{Name: "main", Image: "registry.example/" + name + ":1"}},
		},
	}
}

// shopApp is a namespace of cluster A with one of every common kind, including what must not be
// copied (a service account token Secret, the cluster's CA ConfigMap) and what must be stripped
// (a PVC bound to a source volume, a Service with the cluster IP clusterIP if not "", last-applied
// annotations).
func shopApp(t *testing.T, ns, clusterIP string) {
	t.Helper()
	lastApplied := map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1"}`}
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": "shop"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns},
			Secrets: []corev1.ObjectReference{{Name: "shop-token-abcde"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: ns, Annotations: lastApplied},
			StringData: map[string]string{"password": "s3cret"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-token-abcde", Namespace: ns,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "shop"}},
			Type: corev1.SecretTypeServiceAccountToken},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns, Labels: map[string]string{"app": "web"}},
			Data: map[string]string{"color": "blue"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: ns}, Data: map[string]string{"ca.crt": "source CA"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "shop", Namespace: ns}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns,
			Annotations: map[string]string{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/selected-node": "node-a-7"}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				VolumeName:  "pv-on-cluster-a",
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: lastApplied},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), ServiceName: "web",
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db")}},
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns},
			Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: func() corev1.PodTemplateSpec {
					p := podTemplate("report")
					p.Spec.RestartPolicy = corev1.RestartPolicyNever
					return p
				}()}}}},
	)
}

// newMigration is a Migration in the suite namespace to the shared pair.
func newMigration(name string, namespaces ...string) *volsyncv1alpha1.Migration {
	return &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: suiteNamespace},
		Spec: volsyncv1alpha1.MigrationSpec{
			ClusterPair:       "cluster-b",
			Namespaces:        namespaces,
			IncludeVolumes:    ptr.To(false),
			StartApplications: ptr.To(false),
		},
	}
}

// finished waits until m has finished and returns it.
func finished(t testing.TB, m *volsyncv1alpha1.Migration) *volsyncv1alpha1.Migration {
	t.Helper()
	var got volsyncv1alpha1.Migration
	eventually(t, 30*time.Second, func() error {
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return err
		}
		if !got.Status.Status.Finished() {
			return fmt.Errorf("migration %s is %q at stage %q; conditions %+v", m.Name, got.Status.Status, got.Status.Stage, got.Status.Conditions)
		}
		return nil
	})
	return &got
}

// migrate creates m and waits until it has finished.
func migrate(t *testing.T, m *volsyncv1alpha1.Migration) *volsyncv1alpha1.Migration {
	t.Helper()
	pairToB(t)
	createOn(t, a, m)
	return finished(t, m)
}

func wantStatus(t *testing.T, m *volsyncv1alpha1.Migration, want volsyncv1alpha1.RunStatus) {
	t.Helper()
	if m.Status.Status != want {
		t.Fatalf("migration %s is %s, want %s; conditions %+v; resources %+v", m.Name, m.Status.Status, want, m.Status.Conditions, m.Status.Resources)
	}
}

// resourceKeys lists "Kind ns/name" of every resource in the status, in order.
func resourceKeys(m *volsyncv1alpha1.Migration) []string {
	var out []string
	for _, r := range m.Status.Resources {
		out = append(out, r.Kind+" "+r.Namespace+"/"+r.Name)
	}
	return out
}

func TestMigrationCopiesANamespaceWithItsApplicationsStopped(t *testing.T) {
	ctx := context.Background()
	const ns = "shop"
	// An address of the service range's static band (the first 16 of a /24), which the API server
	// hands out to a Service without one only when the rest is full: another test's Service
	// given a random address took 10.0.0.200 once in CI.
	const fixedIP = "10.0.0.14"
	shopApp(t, ns, fixedIP)
	// Cluster B already uses the source Service's cluster IP: copying the IP would be refused.
	createOn(t, b,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "occupied"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "holder", Namespace: "occupied"},
			Spec: corev1.ServiceSpec{ClusterIP: fixedIP, Ports: []corev1.ServicePort{{Port: 80}}}})

	m := newMigration("shop-once", ns)
	m.Labels = map[string]string{migration.ScheduleLabel: "shop-nightly"}
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)

	// Everything the user owns is listed, in the copier's order; nothing the cluster made is.
	want := []string{
		"Namespace /shop", "ServiceAccount shop/shop", "Secret shop/db-password", "ConfigMap shop/settings",
		"Role shop/reader", "RoleBinding shop/reader", "PersistentVolumeClaim shop/data", "Service shop/web",
		"Deployment shop/web", "StatefulSet shop/db", "CronJob shop/report",
	}
	if keys := resourceKeys(got); !slices.Equal(keys, want) {
		t.Errorf("status.resources =\n%v\nwant\n%v", keys, want)
	}
	s := got.Status.Summary
	if s == nil || s.Resources != "11/11" || s.Volumes != "0/0" || s.NumberOfMigratedResources != 11 {
		t.Errorf("summary = %+v, want 11/11 resources", s)
	}
	if got.Status.Stage != volsyncv1alpha1.MigrationStageFinal || got.Status.StartTimestamp == nil || got.Status.FinishTimestamp == nil ||
		got.Status.ResourceMigrationFinishTimestamp == nil || got.Status.VolumeMigrationFinishTimestamp == nil {
		t.Errorf("stage %s and timestamps %+v", got.Status.Stage, got.Status)
	}
	completed := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if completed == nil || completed.Status != metav1.ConditionTrue || completed.Reason != "Successful" || !strings.Contains(completed.Message, "migrated 11/11 resources") {
		t.Errorf("Completed condition = %+v", completed)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, migration.ConditionDestinationReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || !strings.Contains(ready.Message, versionB) {
		t.Errorf("DestinationReady condition = %+v", ready)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeNormal, "Successful", "migrated 11/11 resources"))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeNormal, "InProgress", "to cluster pair \"cluster-b\""))

	// On cluster B: workloads stopped, with the source counts kept.
	var dep appsv1.Deployment
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 0 || dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "3" {
		t.Errorf("Deployment on B has replicas %d and annotation %q; want 0 and \"3\"", *dep.Spec.Replicas, dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation])
	}
	if _, ok := dep.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Error("the Deployment on B kept the source's last-applied-configuration")
	}
	var sts appsv1.StatefulSet
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &sts); err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 0 || sts.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "2" {
		t.Errorf("StatefulSet on B has replicas %d and annotation %q; want 0 and \"2\"", *sts.Spec.Replicas, sts.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation])
	}
	var cj batchv1.CronJob
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "report"}, &cj); err != nil {
		t.Fatal(err)
	}
	if cj.Spec.Suspend == nil || !*cj.Spec.Suspend || cj.Annotations[volsyncv1alpha1.MigrationSuspendAnnotation] != "false" {
		t.Errorf("CronJob on B: suspend %v, annotation %q; want suspended and \"false\"", cj.Spec.Suspend, cj.Annotations[volsyncv1alpha1.MigrationSuspendAnnotation])
	}

	// The Service got its cluster IP from B.
	var svc corev1.Service
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == fixedIP {
		t.Errorf("Service on B has cluster IP %q; want one B allocated", svc.Spec.ClusterIP)
	}

	// includeVolumes is false, so the storage is taken as shared: the PVC keeps its volume by
	// name, and loses how the source's controllers bound it.
	var pvc corev1.PersistentVolumeClaim
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, &pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.VolumeName != "pv-on-cluster-a" || pvc.Annotations["pv.kubernetes.io/bind-completed"] != "" || pvc.Annotations["volume.kubernetes.io/selected-node"] != "" {
		t.Errorf("PVC on B: volumeName %q, annotations %v", pvc.Spec.VolumeName, pvc.Annotations)
	}

	// Data and identity.
	var secret corev1.Secret
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-password"}, &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["password"]) != "s3cret" {
		t.Errorf("Secret on B has password %q", secret.Data["password"])
	}
	var srcSecret corev1.Secret
	if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-password"}, &srcSecret); err != nil {
		t.Fatal(err)
	}
	if secret.UID == srcSecret.UID {
		t.Error("the Secret on B has the source's UID")
	}
	var sa corev1.ServiceAccount
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, &sa); err != nil {
		t.Fatal(err)
	}
	if len(sa.Secrets) != 0 {
		t.Errorf("ServiceAccount on B lists %v; its token Secret is not copied", sa.Secrets)
	}
	for _, notCopied := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-token-abcde", Namespace: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: ns}},
	} {
		if err := b.Get(ctx, client.ObjectKeyFromObject(notCopied), notCopied); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s reached B (err %v)", notCopied, notCopied.GetName(), err)
		}
	}
	var nsB corev1.Namespace
	if err := b.Get(ctx, client.ObjectKey{Name: ns}, &nsB); err != nil {
		t.Fatal(err)
	}
	if nsB.Labels["team"] != "shop" {
		t.Errorf("namespace on B has labels %v", nsB.Labels)
	}

	// Every copy is marked with the source and what copied it, and written by volsync with apply.
	var cm corev1.ConfigMap
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	var kubeSystem corev1.Namespace
	if err := a.Get(ctx, client.ObjectKey{Name: "kube-system"}, &kubeSystem); err != nil {
		t.Fatal(err)
	}
	if cm.Labels[volsyncv1alpha1.MigratedFromLabel] != string(kubeSystem.UID) || cm.Annotations[volsyncv1alpha1.MigratedByAnnotation] != "dr/shop-nightly" {
		t.Errorf("ConfigMap on B is marked %v / %v; want source %s by dr/shop-nightly", cm.Labels, cm.Annotations, kubeSystem.UID)
	}
	if len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != migration.FieldOwner || cm.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("ConfigMap on B is managed by %+v; want only volsync's apply", cm.ManagedFields)
	}

	// The run is counted in the metrics under its schedule.
	if n := counterValue(t, "volsync_migration_objects_total", "shop-nightly"); n != 11 {
		t.Errorf("volsync_migration_objects_total{migration_schedule=shop-nightly} = %v, want 11", n)
	}
	if n := outcomeCount(t, "shop-nightly", volsyncv1alpha1.RunStatusSuccessful); n != 1 {
		t.Errorf("volsync_migrations_finished_total{status=Successful,migration_schedule=shop-nightly} = %v, want 1", n)
	}
	if n := outcomeCount(t, "shop-nightly", volsyncv1alpha1.RunStatusPartialSuccess); n != 0 {
		t.Errorf("volsync_migrations_finished_total{status=PartialSuccess,migration_schedule=shop-nightly} = %v, want 0 (there from the first run)", n)
	}
}

// outcomeCount reads volsync_migrations_finished_total for a schedule and an outcome in the suite
// namespace; -1 when there is no such series.
func outcomeCount(t *testing.T, schedule string, status volsyncv1alpha1.RunStatus) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "volsync_migrations_finished_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["migration_schedule"] == schedule && labels["obj_namespace"] == suiteNamespace && labels["status"] == string(status) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// counterValue reads a volsync counter for a schedule in the suite namespace.
func counterValue(t *testing.T, name, schedule string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["migration_schedule"] == schedule && labels["obj_namespace"] == suiteNamespace {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestMigrationSelectorsLimitWhatIsCopied(t *testing.T) {
	ctx := context.Background()
	const ns = "selected"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "front", Namespace: ns, Labels: map[string]string{"tier": "front"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "back", Namespace: ns, Labels: map[string]string{"tier": "back"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "front-tls", Namespace: ns, Labels: map[string]string{"tier": "front"}}},
	)
	m := newMigration("selected", ns)
	m.Spec.Selectors = map[string]string{"tier": "front"}
	m.Spec.ExcludeResourceTypes = []string{"secrets", "Secrte"}
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, migration.ReasonUnknownResourceType,
		`spec.excludeResourceTypes names "Secrte", which no migrated kind matches`))
	if keys := resourceKeys(got); !slices.Equal(keys, []string{"Namespace /selected", "ConfigMap selected/front"}) {
		t.Errorf("status.resources = %v; want the namespace and the front ConfigMap only", keys)
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "back"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the unselected ConfigMap reached B (err %v)", err)
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "front-tls"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("an excluded Secret reached B (err %v)", err)
	}
}

func TestMigrationPurgesOnlyItsOwnCopiesThatAreGoneFromTheSource(t *testing.T) {
	ctx := context.Background()
	const ns = "purge"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "drop", Namespace: ns}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "old-app", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "old"}}, Template: podTemplate("old")}},
	)
	first := newMigration("purge-1", ns)
	first.Labels = map[string]string{migration.ScheduleLabel: "purger"}
	wantStatus(t, migrate(t, first), volsyncv1alpha1.RunStatusSuccessful)

	// On B, someone adds an object of their own; on A, two objects go away.
	createOn(t, b, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-only", Namespace: ns}})
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "drop", Namespace: ns}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "old-app", Namespace: ns}},
	} {
		if err := a.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	second := newMigration("purge-2", ns)
	second.Labels = map[string]string{migration.ScheduleLabel: "purger"}
	second.Spec.PurgeDeletedResources = ptr.To(true)
	wantStatus(t, migrate(t, second), volsyncv1alpha1.RunStatusSuccessful)

	for name, want := range map[string]bool{"keep": true, "drop": false, "local-only": true} {
		err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{})
		if exists := err == nil; exists != want {
			t.Errorf("ConfigMap %s on B: exists %v, want %v (err %v)", name, exists, want, err)
		}
	}
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "old-app"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment deleted on A is still on B (err %v)", err)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, second.Name, corev1.EventTypeNormal, migration.ReasonPurged,
		"deleted 2 object(s) on the destination that are no longer on the source: ConfigMap purge/drop, Deployment purge/old-app"))
}

func TestMigrationRunAgainChangesNothingOnTheDestination(t *testing.T) {
	ctx := context.Background()
	const ns = "again"
	shopApp(t, ns, "")

	// snapshot maps every object of the namespace on B to its UID and resourceVersion.
	type version struct{ uid, rv string }
	snapshot := func() map[string]version {
		out := map[string]version{}
		lists := []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{},
			&corev1.PersistentVolumeClaimList{}, &appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &batchv1.CronJobList{},
			&rbacv1.RoleList{}, &rbacv1.RoleBindingList{}}
		for _, l := range lists {
			if err := b.List(ctx, l, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			items, err := meta.ExtractList(l)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				o := it.(client.Object)
				out[fmt.Sprintf("%T/%s", o, o.GetName())] = version{string(o.GetUID()), o.GetResourceVersion()}
			}
		}
		return out
	}
	run := func(name string) (*volsyncv1alpha1.Migration, map[string]version) {
		m := newMigration(name, ns)
		m.Labels = map[string]string{migration.ScheduleLabel: "again"}
		done := migrate(t, m)
		wantStatus(t, done, volsyncv1alpha1.RunStatusSuccessful)
		return done, snapshot()
	}
	first, afterFirst := run("again-1")
	second, afterSecond := run("again-2")
	_, afterThird := run("again-3")

	if !slices.Equal(resourceKeys(second), resourceKeys(first)) {
		t.Errorf("the second run listed %v, the first %v", resourceKeys(second), resourceKeys(first))
	}
	// Running again recreates nothing and adds nothing.
	if len(afterSecond) != len(afterFirst) {
		t.Errorf("B has %d objects after the second run, %d after the first", len(afterSecond), len(afterFirst))
	}
	for k, v := range afterFirst {
		if afterSecond[k].uid != v.uid {
			t.Errorf("%s was recreated by the second run", k)
		}
	}
	// And writes nothing. (The API server settles a PersistentVolumeClaim once, on the first
	// update after its creation, with no visible change; so write-freedom is checked between the
	// second and third runs.)
	for k, v := range afterSecond {
		if afterThird[k] != v {
			t.Errorf("%s was rewritten by a run that changed nothing (resourceVersion %s -> %s)", k, v.rv, afterThird[k].rv)
		}
	}
}

func TestMigrationOfAMissingNamespaceSaysSo(t *testing.T) {
	m := newMigration("typo", "no-such-namespace")
	m.Spec.SkipDeletedNamespaces = ptr.To(false)
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
	if len(got.Status.Resources) != 1 || got.Status.Resources[0].Reason != "the namespace does not exist on the source cluster" {
		t.Errorf("status.resources = %+v", got.Status.Resources)
	}
}

func TestMigrationWithAnInvalidSelectorFailsAtOnce(t *testing.T) {
	m := newMigration("bad-selector", "shop")
	m.Spec.Selectors = map[string]string{"app": "not a label value"}
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Reason != migration.ReasonInvalidSpec || !strings.Contains(c.Message, "spec.selectors") {
		t.Errorf("Completed condition = %+v", c)
	}
}

func TestMigrationOutsideTheAdminNamespaceMayMigrateOnlyItsOwnNamespace(t *testing.T) {
	const tenant = "tenant"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: tenant}})
	stop, err := startManager(tenant, suiteNamespace, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pair := createPair(t, tenant, "cluster-b", kubeconfigB)

	// Another namespace's Secrets are not the tenant's to copy to a cluster of its choosing.
	steal := newMigration("steal", tenant, "shop")
	steal.Namespace = tenant
	steal.Spec.ClusterPair = pair.Name
	createOn(t, a, steal)
	got := finished(t, steal)
	wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Reason != migration.ReasonInvalidSpec ||
		!strings.Contains(c.Message, `a Migration in namespace "tenant" may migrate only "tenant", not "shop"; create it in the admin namespace "dr"`) {
		t.Errorf("Completed = %+v", c)
	}
	if len(got.Status.Resources) != 0 {
		t.Errorf("a refused Migration copied %v", resourceKeys(got))
	}

	own := newMigration("own", tenant)
	own.Namespace = tenant
	own.Spec.ClusterPair = pair.Name
	createOn(t, a, own)
	wantStatus(t, finished(t, own), volsyncv1alpha1.RunStatusSuccessful)
}
