package migration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/mover"
)

// The volume path: the Migration makes a ReplicationDestination on cluster B and a
// ReplicationSource on cluster A per PVC; the replication controllers of both clusters run their
// mover Jobs, which the tests finish in place of the kubelet.

// volumePair is a pair to cluster B, in namespace ns, whose destinations listen on a ClusterIP
// Service (envtest allocates cluster IPs, while no controller would ever give a LoadBalancer an
// address).
func volumePair(t *testing.T, ns, name string) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	return withClusterIPVolumes(t, createPair(t, ns, name, kubeconfigB))
}

// withClusterIPVolumes has pair's volume movers listen on ClusterIP Services. It patches rather
// than updates: the controller may have written the pair's status since it was created, and an
// update would then conflict.
func withClusterIPVolumes(t *testing.T, pair *volsyncv1alpha1.ClusterPair) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	before := pair.DeepCopy()
	pair.Spec.Options = map[string]string{migration.OptionVolumeServiceType: string(corev1.ServiceTypeClusterIP)}
	if err := a.Patch(context.Background(), pair, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	return pair
}

// volumeApp is a namespace of cluster A with a PVC named data and a Deployment that mounts it.
func volumeApp(t *testing.T, ns string) {
	t.Helper()
	tmpl := podTemplate("app")
	tmpl.Spec.ServiceAccountName = ""
	tmpl.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeName: "pv-" + ns,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}, Template: tmpl}},
	)
}

func volumeMigration(ns, name, pair, appNS string) *volsyncv1alpha1.Migration {
	return &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.MigrationSpec{
			ClusterPair: pair, Namespaces: []string{appNS},
			IncludeVolumes: ptr.To(true), StartApplications: ptr.To(false),
		},
	}
}

// sourceOf waits for the ReplicationSource of m, saying where m's volumes are when it does not come.
func sourceOf(t *testing.T, m *volsyncv1alpha1.Migration, rs *volsyncv1alpha1.ReplicationSource) *volsyncv1alpha1.ReplicationSource {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		err := a.Get(context.Background(), client.ObjectKeyFromObject(rs), rs)
		if err == nil {
			return nil
		}
		var got volsyncv1alpha1.Migration
		_ = a.Get(context.Background(), client.ObjectKeyFromObject(m), &got)
		return fmt.Errorf("%v; migration is %s with volumes %+v, conditions %+v", err, got.Status.Status, got.Status.Volumes, got.Status.Conditions)
	})
	return rs
}

// waitFor waits until obj exists on c and returns it.
func waitFor[T client.Object](t *testing.T, c client.Client, obj T) T {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		return c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	})
	return obj
}

// gone waits until obj no longer exists on c.
func gone(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%T %s still exists (%v)", obj, obj.GetName(), err)
	})
}

// moverJob waits for the mover Job of the replication object named owner, "src" or "dst".
func moverJob(t *testing.T, c client.Client, ns, role, owner string) *batchv1.Job {
	t.Helper()
	return waitFor(t, c, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mover.ObjectName("rsync-tls-"+role, owner)}})
}

// finishJob plays the kubelet and the Job controller on c: a pod of the Job ends with exitCode and
// writes the mover's summary to its termination log, and the Job is marked Complete or Failed.
func finishJob(t *testing.T, c client.Client, job *batchv1.Job, exitCode int32, result string, bytes int64, msg string) {
	t.Helper()
	summary := fmt.Sprintf(`{"result":%q,"message":%q,"bytes":%d,"files":1}`, result, msg, bytes)
	testenv.FinishJob(t, c, job, moverImage, exitCode, summary, "BackoffLimitExceeded")
}

// replicationObjects are the ReplicationSource and key Secret on A and the ReplicationDestination
// on B of the PVC data in ns.
func replicationObjects(ns, migrationName string) (*volsyncv1alpha1.ReplicationSource, *corev1.Secret, *volsyncv1alpha1.ReplicationDestination) {
	name, key := migration.VolumeObjectName(migrationName, "data"), migration.VolumeKeyName(migrationName, "data")
	return &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key}},
		&volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestMigrationMovesAVolumeWithTheReplicationMovers(t *testing.T) {
	const ns = "vol-app"
	ctx := context.Background()
	volumeApp(t, ns)
	pair := volumePair(t, suiteNamespace, "cluster-b-volumes")
	m := volumeMigration(suiteNamespace, "vol-app-1", pair.Name, ns)
	createOn(t, a, m)

	rsObj, keyObj, rdObj := replicationObjects(ns, m.Name)
	rd := waitFor(t, b, rdObj)
	if rd.Spec.RsyncTLS == nil || ptr.Deref(rd.Spec.RsyncTLS.DestinationPVC, "") != "data" ||
		rd.Spec.RsyncTLS.CopyMethod != volsyncv1alpha1.CopyMethodDirect || ptr.Deref(rd.Spec.RsyncTLS.ServiceType, "") != corev1.ServiceTypeClusterIP || rd.Spec.Trigger != nil {
		t.Errorf("ReplicationDestination spec = %+v", rd.Spec)
	}
	finishJob(t, b, moverJob(t, b, ns, "dst", rd.Name), 0, "Successful", 4096, "received")

	rs := sourceOf(t, m, rsObj)
	if rs.Spec.SourcePVC != "data" || rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual != m.Name || rs.Spec.RsyncTLS == nil ||
		ptr.Deref(rs.Spec.RsyncTLS.KeySecret, "") != keyObj.Name || ptr.Deref(rs.Spec.RsyncTLS.Address, "") == "" {
		t.Errorf("ReplicationSource spec = %+v", rs.Spec)
	}
	key := waitFor(t, a, keyObj.DeepCopy())
	if len(key.Data["psk.txt"]) == 0 {
		t.Errorf("key Secret on A has no psk.txt: %v", key.Data)
	}
	finishJob(t, a, moverJob(t, a, ns, "src", rs.Name), 0, "Successful", 4096, "sent")

	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if len(got.Status.Volumes) != 1 {
		t.Fatalf("status.volumes = %+v", got.Status.Volumes)
	}
	if v := got.Status.Volumes[0]; v.PersistentVolumeClaim != "data" || v.Namespace != ns || v.Volume != "pv-"+ns ||
		v.Status != volsyncv1alpha1.RunStatusSuccessful || v.BytesTotal != 4096 {
		t.Errorf("volume entry = %+v", v)
	}
	if s := got.Status.Summary; s.Volumes != "1/1" || s.TotalBytesMigrated != 4096 {
		t.Errorf("summary = %+v", s)
	}
	gone(t, a, rsObj)
	gone(t, a, keyObj)
	gone(t, b, rdObj)
	var pvc corev1.PersistentVolumeClaim
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, &pvc); err != nil {
		t.Fatalf("destination PVC: %v", err)
	}
	if pvc.Spec.VolumeName != "" {
		t.Errorf("destination PVC still names the source's volume %q", pvc.Spec.VolumeName)
	}
	var dep appsv1.Deployment
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &dep); err != nil {
		t.Fatalf("destination Deployment: %v", err)
	}
	if ptr.Deref(dep.Spec.Replicas, -1) != 0 || dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "2" {
		t.Errorf("destination Deployment replicas %v, annotations %v", dep.Spec.Replicas, dep.Annotations)
	}
}

func TestMigrationOfAVolumeWhoseMoverFailsSaysWhy(t *testing.T) {
	const ns = "vol-fail"
	volumeApp(t, ns)
	pair := volumePair(t, suiteNamespace, "cluster-b-volumes-fail")
	m := volumeMigration(suiteNamespace, "vol-fail-1", pair.Name, ns)
	createOn(t, a, m)

	rsObj, keyObj, rdObj := replicationObjects(ns, m.Name)
	rs := sourceOf(t, m, rsObj)
	finishJob(t, a, moverJob(t, a, ns, "src", rs.Name), 1, "Failed", 0, "rsync: connection refused by the destination")

	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusPartialSuccess)
	if len(got.Status.Volumes) != 1 {
		t.Fatalf("status.volumes = %+v", got.Status.Volumes)
	}
	if v := got.Status.Volumes[0]; v.Status != volsyncv1alpha1.RunStatusFailed || !strings.Contains(v.Reason, "connection refused") {
		t.Errorf("volume entry = %+v", v)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, "PartialSuccess", "volume vol-fail/data: the mover failed"))
	gone(t, a, rsObj)
	gone(t, a, keyObj)
	gone(t, b, rdObj)
}

func TestMigrationStoppedInTheMiddleOfAVolumeFinishesAfterARestart(t *testing.T) {
	const (
		opsNS = "dr-vol-restart"
		appNS = "vol-resume"
	)
	createOn(t, a, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opsNS}})
	volumeApp(t, appNS)
	pair := volumePair(t, opsNS, "cluster-b")
	stop, err := startManager(opsNS, opsNS, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := volumeMigration(opsNS, "resume-1", pair.Name, appNS)
	createOn(t, a, m)

	rsObj, keyObj, rdObj := replicationObjects(appNS, m.Name)
	rs := sourceOf(t, m, rsObj)
	rd := waitFor(t, b, rdObj)
	eventually(t, 30*time.Second, func() error {
		var got volsyncv1alpha1.Migration
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return err
		}
		if len(got.Status.Volumes) != 1 || got.Status.Volumes[0].Status != volsyncv1alpha1.RunStatusInProgress {
			return fmt.Errorf("volumes = %+v", got.Status.Volumes)
		}
		return nil
	})
	stop()

	stop, err = startManager(opsNS, opsNS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The run picks up the objects it made; it makes no new ones.
	time.Sleep(time.Second)
	for _, c := range []struct {
		cl  client.Client
		obj client.Object
		uid string
	}{{a, rsObj.DeepCopy(), string(rs.UID)}, {b, rdObj.DeepCopy(), string(rd.UID)}} {
		if err := c.cl.Get(context.Background(), client.ObjectKeyFromObject(c.obj), c.obj); err != nil {
			t.Fatal(err)
		}
		if string(c.obj.GetUID()) != c.uid {
			t.Errorf("%T %s was made again after the restart", c.obj, c.obj.GetName())
		}
	}
	finishJob(t, a, moverJob(t, a, appNS, "src", rs.Name), 0, "Successful", 1234, "sent")

	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	if len(got.Status.Volumes) != 1 || got.Status.Volumes[0].BytesTotal != 1234 {
		t.Errorf("status.volumes = %+v", got.Status.Volumes)
	}
	seen := map[string]bool{}
	for _, k := range resourceKeys(got) {
		if seen[k] {
			t.Errorf("%s is listed twice", k)
		}
		seen[k] = true
	}
	var list volsyncv1alpha1.MigrationList
	if err := a.List(context.Background(), &list, client.InNamespace(opsNS)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d Migrations in %s, want 1", len(list.Items), opsNS)
	}
	gone(t, a, rsObj)
	gone(t, a, keyObj)
	gone(t, b, rdObj)
}
