package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/replication"
)

// spec.namespaceMapping: a namespace migrated under another name, to cluster B and to another
// namespace of cluster A itself (a ClusterPair that reaches its own cluster).

// selfPair is a pair, in the suite namespace, whose kubeconfig reaches cluster A, the cluster the
// migration controllers run on; its destinations listen on a ClusterIP Service.
func selfPair(t *testing.T, name string) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	kc, err := kubeconfigFor(clusterA.Config)
	if err != nil {
		t.Fatal(err)
	}
	return withClusterIPVolumes(t, createPair(t, suiteNamespace, name, kc))
}

// destinationKeys lists "Kind source-ns/name -> destination-ns" of every resource in the status.
func destinationKeys(m *volsyncv1alpha1.Migration) []string {
	var out []string
	for _, r := range m.Status.Resources {
		out = append(out, r.Kind+" "+r.Namespace+"/"+r.Name+" -> "+r.DestinationNamespace)
	}
	return out
}

func TestMigrationOfAMappedNamespaceLandsUnderItsNewName(t *testing.T) {
	ctx := context.Background()
	const (
		ns   = "mapped"
		dest = "mapped-dr"
	)
	shopApp(t, ns, "")
	m := newMigration("mapped", ns)
	m.Spec.NamespaceMapping = map[string]volsyncv1alpha1.NamespaceName{ns: dest}
	got := migrate(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)

	// The status names each object by where it was read, and says where it went.
	want := []string{
		"Namespace /mapped -> mapped-dr", "ServiceAccount mapped/shop -> mapped-dr", "Secret mapped/db-password -> mapped-dr",
		"ConfigMap mapped/settings -> mapped-dr", "Role mapped/reader -> mapped-dr", "RoleBinding mapped/reader -> mapped-dr",
		"PersistentVolumeClaim mapped/data -> mapped-dr", "Service mapped/web -> mapped-dr", "Deployment mapped/web -> mapped-dr",
		"StatefulSet mapped/db -> mapped-dr", "CronJob mapped/report -> mapped-dr",
	}
	if keys := destinationKeys(got); !slices.Equal(keys, want) {
		t.Errorf("status.resources =\n%v\nwant\n%v", keys, want)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeNormal, "InProgress", "migrating namespace(s) mapped as mapped-dr"))

	// On B the namespace has its new name and keeps the source's labels; the old name is not used.
	var nsB corev1.Namespace
	if err := b.Get(ctx, client.ObjectKey{Name: dest}, &nsB); err != nil {
		t.Fatal(err)
	}
	if nsB.Labels["team"] != "shop" || nsB.Labels["kubernetes.io/metadata.name"] != dest || nsB.Labels[volsyncv1alpha1.MigratedFromNamespaceLabel] != ns {
		t.Errorf("namespace %s on B has labels %v", dest, nsB.Labels)
	}
	if err := b.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s exists on B (err %v); everything should be in %s", ns, err, dest)
	}

	// Every object is in the new namespace, prepared as always.
	var dep appsv1.Deployment
	if err := b.Get(ctx, client.ObjectKey{Namespace: dest, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(dep.Spec.Replicas, -1) != 0 || dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "3" {
		t.Errorf("Deployment on B: replicas %v, annotations %v", dep.Spec.Replicas, dep.Annotations)
	}
	var secret corev1.Secret
	if err := b.Get(ctx, client.ObjectKey{Namespace: dest, Name: "db-password"}, &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["password"]) != "s3cret" || secret.Labels[volsyncv1alpha1.MigratedFromNamespaceLabel] != ns {
		t.Errorf("Secret on B: data %v, labels %v", secret.Data, secret.Labels)
	}
	var pvc corev1.PersistentVolumeClaim
	if err := b.Get(ctx, client.ObjectKey{Namespace: dest, Name: "data"}, &pvc); err != nil {
		t.Fatal(err)
	}
	// The RoleBinding grants the copied ServiceAccount, not the one left in the old namespace.
	var rb rbacv1.RoleBinding
	if err := b.Get(ctx, client.ObjectKey{Namespace: dest, Name: "reader"}, &rb); err != nil {
		t.Fatal(err)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Namespace != dest {
		t.Errorf("RoleBinding on B has subjects %+v; want the ServiceAccount in %s", rb.Subjects, dest)
	}
}

func TestMigrationPurgesInTheMappedNamespaceOnlyWhatCameFromTheMappedSource(t *testing.T) {
	ctx := context.Background()
	const (
		ns    = "purge-src"
		other = "purge-other"
		dest  = "purge-dst"
	)
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "drop", Namespace: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-other", Namespace: other}},
	)
	mapped := func(name, from string, purge bool) *volsyncv1alpha1.Migration {
		m := newMigration(name, from)
		m.Spec.NamespaceMapping = map[string]volsyncv1alpha1.NamespaceName{from: dest}
		m.Spec.PurgeDeletedResources = ptr.To(purge)
		return m
	}
	wantStatus(t, migrate(t, mapped("purge-mapped-1", ns, false)), volsyncv1alpha1.RunStatusSuccessful)
	// Another migration writes into the same destination namespace from another source namespace.
	wantStatus(t, migrate(t, mapped("purge-other-1", other, false)), volsyncv1alpha1.RunStatusSuccessful)

	createOn(t, b, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-only", Namespace: dest}})
	if err := a.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "drop", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	second := mapped("purge-mapped-2", ns, true)
	wantStatus(t, migrate(t, second), volsyncv1alpha1.RunStatusSuccessful)

	for name, want := range map[string]bool{"keep": true, "drop": false, "local-only": true, "from-other": true} {
		err := b.Get(ctx, client.ObjectKey{Namespace: dest, Name: name}, &corev1.ConfigMap{})
		if exists := err == nil; exists != want {
			t.Errorf("ConfigMap %s/%s on B: exists %v, want %v (err %v)", dest, name, exists, want, err)
		}
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, second.Name, corev1.EventTypeNormal, migration.ReasonPurged,
		"deleted 1 object(s) on the destination that are no longer on the source: ConfigMap purge-dst/drop"))
}

func TestMigrationThatWouldWriteANamespaceOntoItselfIsRefused(t *testing.T) {
	ctx := context.Background()
	pair := selfPair(t, "cluster-a-self")
	tests := []struct {
		name       string
		namespaces []string
		mapping    map[string]volsyncv1alpha1.NamespaceName
		says       string
	}{
		{"a namespace migrated under its own name to its own cluster is refused", []string{"selfie"}, nil,
			`namespace "selfie": source and destination are the same namespace of the same cluster; map it to another name with spec.namespaceMapping`},
		{"a namespace mapped to itself on its own cluster is refused", []string{"selfie-mapped"},
			map[string]volsyncv1alpha1.NamespaceName{"selfie-mapped": "selfie-mapped"},
			"source and destination are the same namespace of the same cluster"},
		{"two namespaces that swap names on their own cluster are refused", []string{"swap-blue", "swap-green"},
			map[string]volsyncv1alpha1.NamespaceName{"swap-blue": "swap-green", "swap-green": "swap-blue"},
			`namespace "swap-blue" would be migrated into namespace "swap-green", which this migration also migrates from, on the same cluster`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ns := range tt.namespaces {
				createOn(t, a,
					&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
					&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
						Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3),
							Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")}})
			}
			m := newMigration(fmt.Sprintf("onto-itself-%d", i), tt.namespaces...)
			m.Spec.ClusterPair = pair.Name
			m.Spec.NamespaceMapping = tt.mapping
			createOn(t, a, m)
			got := finished(t, m)
			wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
			c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
			if c == nil || c.Reason != migration.ReasonSameNamespace || !strings.Contains(c.Message, tt.says) {
				t.Errorf("Completed = %+v; want reason %s saying %q", c, migration.ReasonSameNamespace, tt.says)
			}
			eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, "Failed", tt.says))
			if len(got.Status.Resources) != 0 || len(got.Status.Volumes) != 0 {
				t.Errorf("a refused migration listed %v and volumes %+v", resourceKeys(got), got.Status.Volumes)
			}
			// Nothing was written: the source's application runs as it did, unmarked.
			for _, ns := range tt.namespaces {
				var dep appsv1.Deployment
				if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
					t.Fatal(err)
				}
				if ptr.Deref(dep.Spec.Replicas, -1) != 3 || dep.Labels[volsyncv1alpha1.MigratedFromLabel] != "" {
					t.Errorf("Deployment %s/web was touched: replicas %v, labels %v", ns, dep.Spec.Replicas, dep.Labels)
				}
			}
		})
	}
}

// writerOnA is a kubeconfig for cluster A whose user may create and patch everything but read
// nothing: a destination user that cannot be asked for a namespace's UID by reading it.
func writerOnA(t *testing.T, name string) []byte {
	t.Helper()
	ctx := context.Background()
	createOn(t, a,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"create", "patch"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}},
	)
	cs, err := kubernetes.NewForConfig(clusterA.Config)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfigFor(&rest.Config{Host: clusterA.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: clusterA.Config.CAData}, BearerToken: tok.Status.Token})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestMigrationOntoItselfIsRefusedWhenThePairsUserMayNotReadNamespaces(t *testing.T) {
	const ns = "selfie-writer"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}})
	pair := createPair(t, suiteNamespace, "cluster-a-writer", writerOnA(t, "migration-writer"))
	m := newMigration("onto-itself-writer", ns)
	m.Spec.ClusterPair = pair.Name
	createOn(t, a, m)
	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Reason != migration.ReasonSameNamespace || !strings.Contains(c.Message, "source and destination are the same namespace of the same cluster") {
		t.Errorf("Completed = %+v", c)
	}
	var cm corev1.ConfigMap
	if err := a.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Labels[volsyncv1alpha1.MigratedFromLabel] != "" {
		t.Errorf("the source ConfigMap was written: labels %v", cm.Labels)
	}
}

// startDestinationReplicationOnA runs the ReplicationDestination controller on cluster A, as
// volsyncd does on any cluster, for the tests whose destination is cluster A itself.
func startDestinationReplicationOnA(t *testing.T) func() {
	t.Helper()
	_, stop, err := testenv.StartManager(clusterA.Config, ctrl.Options{
		Scheme:     clusterA.Scheme,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}, func(mgr ctrl.Manager) error {
		return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	})
	if err != nil {
		t.Fatal(err)
	}
	return stop
}

func TestMigrationMovesAVolumeIntoAMappedNamespaceOfTheSameCluster(t *testing.T) {
	ctx := context.Background()
	const (
		ns   = "app-same"
		dest = "app-same-dr"
	)
	defer startDestinationReplicationOnA(t)()
	volumeApp(t, ns)
	createOn(t, a, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "app"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	pair := selfPair(t, "cluster-a-volumes")
	m := volumeMigration(suiteNamespace, "app-same-1", pair.Name, ns)
	m.Spec.NamespaceMapping = map[string]volsyncv1alpha1.NamespaceName{ns: dest}
	createOn(t, a, m)

	// The destination's objects are in the destination namespace, the source's in the source
	// namespace: same names, different namespaces, one cluster.
	rsObj, keyObj, _ := replicationObjects(ns, m.Name)
	_, _, rdObj := replicationObjects(dest, m.Name)
	rd := waitFor(t, a, rdObj)
	if rd.Spec.RsyncTLS == nil || ptr.Deref(rd.Spec.RsyncTLS.DestinationPVC, "") != "data" {
		t.Errorf("ReplicationDestination spec = %+v", rd.Spec)
	}
	waitFor(t, a, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: dest, Name: "data"}})
	finishJob(t, a, moverJob(t, a, dest, "dst", rd.Name), 0, "Successful", 2048, "received")

	rs := sourceOf(t, m, rsObj)
	if rs.Spec.SourcePVC != "data" || rs.Spec.RsyncTLS == nil || ptr.Deref(rs.Spec.RsyncTLS.KeySecret, "") != keyObj.Name {
		t.Errorf("ReplicationSource spec = %+v", rs.Spec)
	}
	// The key exists on both sides: the destination's own in its namespace, the copy here.
	key := waitFor(t, a, keyObj.DeepCopy())
	eventually(t, 30*time.Second, func() error {
		if err := a.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		if rd.Status.RsyncTLS == nil || ptr.Deref(rd.Status.RsyncTLS.KeySecret, "") == "" {
			return fmt.Errorf("ReplicationDestination status = %+v", rd.Status)
		}
		return nil
	})
	var destKey corev1.Secret
	if err := a.Get(ctx, client.ObjectKey{Namespace: dest, Name: *rd.Status.RsyncTLS.KeySecret}, &destKey); err != nil {
		t.Fatalf("the destination's key Secret: %v", err)
	}
	if string(destKey.Data["psk.txt"]) != string(key.Data["psk.txt"]) || len(key.Data["psk.txt"]) == 0 {
		t.Error("the key copied to the source namespace is not the destination's")
	}
	finishJob(t, a, moverJob(t, a, ns, "src", rs.Name), 0, "Successful", 2048, "sent")

	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if len(got.Status.Volumes) != 1 {
		t.Fatalf("status.volumes = %+v", got.Status.Volumes)
	}
	if v := got.Status.Volumes[0]; v.Namespace != ns || v.DestinationNamespace != dest || v.Status != volsyncv1alpha1.RunStatusSuccessful || v.BytesTotal != 2048 {
		t.Errorf("volume entry = %+v", v)
	}
	want := []string{
		"Namespace /app-same -> app-same-dr", "PersistentVolumeClaim app-same/data -> app-same-dr",
		"Service app-same/app -> app-same-dr", "Deployment app-same/app -> app-same-dr",
	}
	if keys := destinationKeys(got); !slices.Equal(keys, want) {
		t.Errorf("status.resources =\n%v\nwant\n%v", keys, want)
	}
	gone(t, a, rsObj)
	gone(t, a, keyObj)
	gone(t, a, rdObj)

	// The copy is stopped; the source runs on, untouched.
	var copyDep, sourceDep appsv1.Deployment
	if err := a.Get(ctx, client.ObjectKey{Namespace: dest, Name: "app"}, &copyDep); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(copyDep.Spec.Replicas, -1) != 0 || copyDep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "2" {
		t.Errorf("Deployment %s/app: replicas %v, annotations %v", dest, copyDep.Spec.Replicas, copyDep.Annotations)
	}
	if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &sourceDep); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(sourceDep.Spec.Replicas, -1) != 2 || sourceDep.Labels[volsyncv1alpha1.MigratedFromLabel] != "" {
		t.Errorf("the source Deployment was touched: replicas %v, labels %v", sourceDep.Spec.Replicas, sourceDep.Labels)
	}
	var copyPVC, sourcePVC corev1.PersistentVolumeClaim
	if err := a.Get(ctx, client.ObjectKey{Namespace: dest, Name: "data"}, &copyPVC); err != nil {
		t.Fatal(err)
	}
	if err := a.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, &sourcePVC); err != nil {
		t.Fatal(err)
	}
	if copyPVC.Spec.VolumeName != "" || sourcePVC.Spec.VolumeName != "pv-"+ns {
		t.Errorf("PVC volume names: copy %q, source %q", copyPVC.Spec.VolumeName, sourcePVC.Spec.VolumeName)
	}
	var svc corev1.Service
	if err := a.Get(ctx, client.ObjectKey{Namespace: dest, Name: "app"}, &svc); err != nil {
		t.Fatal(err)
	}
}
