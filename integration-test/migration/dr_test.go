package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migrationschedule"
	"github.com/volsync/volsync/pkg/schedule"
)

// Disaster recovery on two real API servers: an activated destination is never written again, a
// shared storage fabric gets its PersistentVolumes, and a Migration deleted in mid-run leaves
// nothing on either cluster, even across a kill of volsyncd.

// mergePatch applies a JSON merge patch to obj on c.
func mergePatch(t *testing.T, c client.Client, obj client.Object, patch string) {
	t.Helper()
	if err := c.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatalf("patching %T %s: %v", obj, obj.GetName(), err)
	}
}

func TestAMigrationIntoAnActivatedNamespaceFailsBeforeItWritesAnything(t *testing.T) {
	ctx := context.Background()
	const ns = "act-app"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}, Data: map[string]string{"v": "1"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")}},
	)
	first := newMigration("act-1", ns)
	first.Spec.StartApplications = nil // the default, as a Stork manifest that omits it
	first = migrate(t, first)
	wantStatus(t, first, volsyncv1alpha1.RunStatusSuccessful)

	// Every copy is marked as a static copy of this source.
	var dep appsv1.Deployment
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	var nsB corev1.Namespace
	if err := b.Get(ctx, client.ObjectKey{Name: ns}, &nsB); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&dep, &nsB} {
		an := obj.GetAnnotations()
		if an[volsyncv1alpha1.MigratedByAnnotation] != suiteNamespace+"/act-1" || an[volsyncv1alpha1.MigratedByKindAnnotation] != "Migration" ||
			an[volsyncv1alpha1.MigratedWithClusterPairAnnotation] != "cluster-b" || obj.GetLabels()[volsyncv1alpha1.MigratedFromLabel] == "" {
			t.Errorf("%T %s is not marked as a copy: labels %v, annotations %v", obj, obj.GetName(), obj.GetLabels(), an)
		}
	}
	// The destination namespace records when its data was taken, for a failover without the source.
	if got := nsB.Annotations[volsyncv1alpha1.RecoveryPointAnnotation]; got != first.Status.StartTimestamp.UTC().Format(time.RFC3339) ||
		nsB.Annotations[volsyncv1alpha1.RecoveryPointMigrationAnnotation] != suiteNamespace+"/act-1" {
		t.Errorf("destination namespace recovery point %q (%q), want the start of act-1", got, nsB.Annotations[volsyncv1alpha1.RecoveryPointMigrationAnnotation])
	}
	// startApplications defaults to false: the copy waits, scaled to zero.
	if ptr.Deref(dep.Spec.Replicas, -1) != 0 || dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] != "2" {
		t.Fatalf("the copy has replicas %v and annotations %v, want 0 and the source's 2", dep.Spec.Replicas, dep.Annotations)
	}

	// Activated on cluster B, and used there: the application runs and writes its own settings.
	mergePatch(t, b, &nsB, `{"metadata":{"annotations":{"`+volsyncv1alpha1.ApplicationActivatedAnnotation+`":"2024-03-09T12:05:00Z"}}}`)
	mergePatch(t, b, &dep, `{"spec":{"replicas":2}}`)
	mergePatch(t, b, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}}, `{"data":{"v":"written at the DR site"}}`)
	// The source changes too, and the next run comes.
	mergePatch(t, a, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}}, `{"data":{"v":"2"}}`)
	second := migrate(t, newMigration("act-2", ns))

	wantStatus(t, second, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(second.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Reason != volsyncv1alpha1.ReasonApplicationActivated || !strings.Contains(c.Message, "Nothing was written") ||
		!strings.Contains(c.Message, "volsyncctl deactivate migration --namespaces act-app") {
		t.Errorf("Completed condition = %+v", c)
	}
	if len(second.Status.Resources) != 0 || len(second.Status.Volumes) != 0 {
		t.Errorf("the refused run lists resources %v and volumes %v", second.Status.Resources, second.Status.Volumes)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, second.Name, corev1.EventTypeWarning, volsyncv1alpha1.ReasonApplicationActivated, "are activated"))
	if err := b.Get(ctx, client.ObjectKeyFromObject(&dep), &dep); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(dep.Spec.Replicas, -1) != 2 || cm.Data["v"] != "written at the DR site" {
		t.Errorf("the activated site was touched: replicas %v, settings %v", dep.Spec.Replicas, cm.Data)
	}

	// Deactivated, the namespace is a static copy again and the next run updates it.
	mergePatch(t, b, &nsB, `{"metadata":{"annotations":{"`+volsyncv1alpha1.ApplicationActivatedAnnotation+`":null}}}`)
	wantStatus(t, migrate(t, newMigration("act-3", ns)), volsyncv1alpha1.RunStatusSuccessful)
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["v"] != "2" {
		t.Errorf("after deactivation the copy has settings %v, want the source's", cm.Data)
	}
	if err := b.Get(ctx, client.ObjectKey{Name: ns}, &nsB); err != nil {
		t.Fatal(err)
	}
	if _, still := nsB.Annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]; still {
		t.Error("a migration put the activation back")
	}
}

// sharedVolume is a PersistentVolume of cluster A on CSI driver driver, bound to claim ns/data-<name>,
// and that claim.
func sharedVolume(t *testing.T, ns, name, driver string) {
	t.Helper()
	claim := "data-" + name
	createOn(t, a,
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": driver}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				StorageClassName:              "fabric",
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: claim, UID: "0f1e2d3c-aaaa-bbbb-cccc-000000000001", ResourceVersion: "42"},
				PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "vol-" + name}},
			}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeName: name, StorageClassName: ptr.To("fabric"),
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}},
	)
}

func TestIncludeVolumesFalseMigratesThePersistentVolumesWithRetainAndSaysWhenStorageIsNotShared(t *testing.T) {
	ctx := context.Background()
	const ns = "fabric-app"
	createOn(t, a, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	sharedVolume(t, ns, "pv-fabric-1", "fabric.csi.example.com")
	sharedVolume(t, ns, "pv-local-1", "local.csi.example.com")
	// Cluster B has the fabric's driver, not the local one.
	createOn(t, b, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "fabric.csi.example.com"}})

	got := migrate(t, newMigration("fabric-1", ns))
	wantStatus(t, got, volsyncv1alpha1.RunStatusPartialSuccess)
	vols := map[string]volsyncv1alpha1.MigrationVolumeInfo{}
	for _, v := range got.Status.Volumes {
		vols[v.PersistentVolumeClaim] = v
	}
	if v := vols["data-pv-fabric-1"]; v.Status != volsyncv1alpha1.RunStatusSuccessful || v.Volume != "pv-fabric-1" {
		t.Errorf("shared volume entry = %+v", v)
	}
	if v := vols["data-pv-local-1"]; v.Status != volsyncv1alpha1.RunStatusFailed ||
		!strings.Contains(v.Reason, "no CSI driver local.csi.example.com") || !strings.Contains(v.Reason, "includeVolumes: true") {
		t.Errorf("unshared volume entry = %+v", v)
	}

	var pv corev1.PersistentVolume
	if err := b.Get(ctx, client.ObjectKey{Name: "pv-fabric-1"}, &pv); err != nil {
		t.Fatalf("the shared PersistentVolume is not on the destination: %v", err)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
		pv.Annotations[volsyncv1alpha1.OriginalReclaimPolicyAnnotation] != "Delete" {
		t.Errorf("destination PV reclaim %s, annotations %v; want Retain and the original Delete", pv.Spec.PersistentVolumeReclaimPolicy, pv.Annotations)
	}
	if r := pv.Spec.ClaimRef; r == nil || r.Namespace != ns || r.Name != "data-pv-fabric-1" || r.UID != "" || r.ResourceVersion != "" {
		t.Errorf("destination PV claimRef = %+v, want the claim by name only", pv.Spec.ClaimRef)
	}
	if pv.Spec.CSI == nil || pv.Spec.CSI.VolumeHandle != "vol-pv-fabric-1" {
		t.Errorf("destination PV source = %+v, want the same backing volume", pv.Spec.PersistentVolumeSource)
	}
	if err := b.Get(ctx, client.ObjectKey{Name: "pv-local-1"}, &corev1.PersistentVolume{}); err == nil {
		t.Error("a PersistentVolume whose storage the destination cannot reach was created there")
	}
	var pvc corev1.PersistentVolumeClaim
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-pv-fabric-1"}, &pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.VolumeName != "pv-fabric-1" {
		t.Errorf("destination PVC volumeName %q, want the shared volume", pvc.Spec.VolumeName)
	}
	var source corev1.PersistentVolume
	if err := a.Get(ctx, client.ObjectKey{Name: "pv-fabric-1"}, &source); err != nil {
		t.Fatal(err)
	}
	if source.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || source.Spec.ClaimRef.UID == "" {
		t.Errorf("the source's PersistentVolume was changed: %+v", source.Spec)
	}

	// A second run changes nothing: the volume stays as it was created.
	again := migrate(t, newMigration("fabric-2", ns))
	wantStatus(t, again, volsyncv1alpha1.RunStatusPartialSuccess)
	var after corev1.PersistentVolume
	if err := b.Get(ctx, client.ObjectKey{Name: "pv-fabric-1"}, &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != pv.ResourceVersion {
		t.Errorf("the second run rewrote the destination PV")
	}
}

func TestADeletedMigrationLeavesNothingOnEitherClusterAfterAKill(t *testing.T) {
	ctx := context.Background()
	const (
		opsNS = "dr-vol-delete"
		appNS = "vol-delete"
	)
	createOn(t, a, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opsNS}})
	volumeApp(t, appNS)
	pair := volumePair(t, opsNS, "cluster-b")
	stop, err := startManager(opsNS, opsNS, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := volumeMigration(opsNS, "delete-1", pair.Name, appNS)
	createOn(t, a, m)
	rsObj, keyObj, rdObj := replicationObjects(appNS, m.Name)
	sourceOf(t, m, rsObj)
	waitFor(t, a, keyObj)
	waitFor(t, b, rdObj)
	if err := a.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
		t.Fatal(err)
	}
	if !controllerutil.ContainsFinalizer(m, volsyncv1alpha1.MigrationFinalizer) {
		t.Fatalf("a running migration with volumes has finalizers %v", m.Finalizers)
	}

	// volsyncd is killed in mid-run; the Migration is deleted while it is down.
	stop()
	// What an earlier version named volsync-mig-<pvc> for this very run, in flight across an
	// upgrade, goes too.
	legacy := map[string]string{volsyncv1alpha1.MigrationAnnotation: opsNS + "/" + m.Name}
	createOn(t, a,
		&volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Name: "volsync-mig-data", Namespace: appNS, Annotations: legacy},
			Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: m.Name},
				RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{Address: ptr.To("10.0.0.1"), KeySecret: ptr.To("volsync-mig-data-key")}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "volsync-mig-data-key", Namespace: appNS, Annotations: legacy}})
	createOn(t, b, &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Name: "volsync-mig-data", Namespace: appNS, Annotations: legacy},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{
			ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodDirect, DestinationPVC: ptr.To("data")}}}})
	if err := a.Delete(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := a.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil || m.DeletionTimestamp == nil {
		t.Fatalf("the finalizer does not hold the migration while volsyncd is down: %v", err)
	}
	stop, err = startManager(opsNS, opsNS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	gone(t, a, m)
	gone(t, a, rsObj)
	gone(t, a, keyObj)
	gone(t, b, rdObj)
	// Nothing else of the run is left either: no ReplicationSource or key Secret of any name on A,
	// no ReplicationDestination on B.
	var sources volsyncv1alpha1.ReplicationSourceList
	if err := a.List(ctx, &sources, client.InNamespace(appNS)); err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	if err := a.List(ctx, &secrets, client.InNamespace(appNS)); err != nil {
		t.Fatal(err)
	}
	var dests volsyncv1alpha1.ReplicationDestinationList
	if err := b.List(ctx, &dests, client.InNamespace(appNS)); err != nil {
		t.Fatal(err)
	}
	if len(sources.Items)+len(secrets.Items)+len(dests.Items) != 0 {
		t.Errorf("left behind: %d ReplicationSources and %d Secrets on A, %d ReplicationDestinations on B",
			len(sources.Items), len(secrets.Items), len(dests.Items))
	}
	// The destination PVC is migrated data; it stays.
	if err := b.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "data"}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("the destination PVC: %v", err)
	}
}

func TestAFinishedMigrationWithVolumesLetsItsFinalizerGo(t *testing.T) {
	const ns = "vol-release"
	volumeApp(t, ns)
	pair := volumePair(t, suiteNamespace, "cluster-b-volumes-release")
	m := volumeMigration(suiteNamespace, "vol-release-1", pair.Name, ns)
	createOn(t, a, m)
	rsObj, _, rdObj := replicationObjects(ns, m.Name)
	rd := waitFor(t, b, rdObj)
	finishJob(t, b, moverJob(t, b, ns, "dst", rd.Name), 0, "Successful", 10, "received")
	rs := sourceOf(t, m, rsObj)
	finishJob(t, a, moverJob(t, a, ns, "src", rs.Name), 0, "Successful", 10, "sent")
	wantStatus(t, finished(t, m), volsyncv1alpha1.RunStatusSuccessful)
	eventually(t, 30*time.Second, func() error {
		var got volsyncv1alpha1.Migration
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return err
		}
		if len(got.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v remain on a finished migration", got.Finalizers)
		}
		return nil
	})
	// Deleting it now (retention does) is immediate.
	if err := a.Delete(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	gone(t, a, m)
}

// startScheduleController runs the MigrationSchedule controller on cluster A, beside the suite's
// Migration controller, in the suite namespace, on clock c; the returned func stops it.
func startScheduleController(t *testing.T, c clock.PassiveClock) func() {
	t.Helper()
	_, stop, err := testenv.StartManager(clusterA.Config, ctrl.Options{
		Scheme:     clusterA.Scheme,
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{suiteNamespace: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}, func(mgr ctrl.Manager) error {
		return (&migrationschedule.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: c}).SetupWithManager(mgr)
	})
	if err != nil {
		t.Fatal(err)
	}
	return stop
}

func TestAScheduleWithAutoSuspendStopsWhenItsDestinationIsActivatedOnTheOtherCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "auto-app"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}, Data: map[string]string{"v": "source"}},
	)
	// Cluster B runs the application already: it was failed over to while the source was away.
	createOn(t, b,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: map[string]string{
			volsyncv1alpha1.ApplicationActivatedAnnotation: "2024-03-09T11:00:00Z"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}, Data: map[string]string{"v": "written at the DR site"}},
	)
	// The schedule controller beside the suite's Migration controller, on the real clock: the
	// first interval trigger is the schedule's creation.
	defer startScheduleController(t, clock.RealClock{})()
	policy := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "auto-every-hour"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}}
	createOn(t, a, policy)
	defer func() { _ = a.Delete(ctx, policy) }()
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "auto", Namespace: suiteNamespace},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy.Name, AutoSuspend: true,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: newMigration("", ns).Spec},
		},
	}
	pairToB(t)
	createOn(t, a, ms)

	eventually(t, 30*time.Second, func() error {
		if err := a.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ms.Status.Conditions, volsyncv1alpha1.ConditionApplicationActivated)
		if !ptr.Deref(ms.Spec.Suspend, false) || !ms.Status.ApplicationActivated || c == nil || c.Reason != volsyncv1alpha1.ReasonAutoSuspended {
			return fmt.Errorf("schedule suspend %v, applicationActivated %v, condition %+v; items %+v",
				ms.Spec.Suspend, ms.Status.ApplicationActivated, c, ms.Status.Items)
		}
		return nil
	})
	// Its one Migration was refused, and cluster B is as the DR site left it.
	items := ms.Status.Items[volsyncv1alpha1.SchedulePolicyTypeInterval]
	if len(items) != 1 || items[0].Status != volsyncv1alpha1.RunStatusFailed {
		t.Errorf("history %+v, want one failed run", items)
	}
	var cm corev1.ConfigMap
	if err := b.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["v"] != "written at the DR site" {
		t.Errorf("the activated site was overwritten: %v", cm.Data)
	}
	_ = a.Delete(ctx, ms)
}

func TestRetentionKeepsTheLastSuccessWhileRunsIntoAnActivatedSiteFail(t *testing.T) {
	ctx := context.Background()
	const ns = "keep-app"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}, Data: map[string]string{"v": "source"}},
	)
	// The schedule controller on a clock of its own that the test steps, from the real time (the
	// schedule's creationTimestamp is the API server's).
	scheduleClock := clocktesting.NewFakeClock(time.Now().Add(2 * time.Second).Truncate(time.Second))
	defer startScheduleController(t, scheduleClock)()
	policy := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "keep-hourly"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60, Retain: ptr.To[int32](1)}}}
	createOn(t, a, policy)
	defer func() { _ = a.Delete(ctx, policy) }()
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: suiteNamespace},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{SchedulePolicyName: policy.Name,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: newMigration("", ns).Spec}},
	}
	pairToB(t)
	createOn(t, a, ms)
	defer func() { _ = a.Delete(ctx, ms) }()
	created := ms.CreationTimestamp.Time

	// history waits until the schedule's history holds exactly these statuses, oldest first, and
	// the newest is named newest (any name when ""); it returns the names.
	history := func(newest string, want ...volsyncv1alpha1.RunStatus) []string {
		var names []string
		eventually(t, 30*time.Second, func() error {
			if err := a.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
				return err
			}
			names = nil
			var got []volsyncv1alpha1.RunStatus
			for _, it := range ms.Status.Items[volsyncv1alpha1.SchedulePolicyTypeInterval] {
				names = append(names, it.Name)
				got = append(got, it.Status)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || (newest != "" && names[len(names)-1] != newest) {
				return fmt.Errorf("history %v %v, want %v ending with %q", names, got, want, newest)
			}
			return nil
		})
		return names
	}
	ok, failed := volsyncv1alpha1.RunStatusSuccessful, volsyncv1alpha1.RunStatusFailed
	first := history("", ok)[0]

	// The DR site is activated: every later run is refused, and none pushes the good copy out.
	var nsB corev1.Namespace
	if err := b.Get(ctx, client.ObjectKey{Name: ns}, &nsB); err != nil {
		t.Fatal(err)
	}
	mergePatch(t, b, &nsB, `{"metadata":{"annotations":{"`+volsyncv1alpha1.ApplicationActivatedAnnotation+`":"2024-03-09T12:30:00Z"}}}`)
	for i := range 2 {
		at := created.Add(time.Duration(i+1) * time.Hour)
		scheduleClock.SetTime(at.Add(time.Second))
		mergePatch(t, a, ms.DeepCopy(), fmt.Sprintf(`{"metadata":{"annotations":{"test.volsync.backube/poke":"%d"}}}`, i))
		// The history of this step: the last success, and the run just refused.
		newest := schedule.ChildName(ms.Name, volsyncv1alpha1.SchedulePolicyTypeInterval, at)
		if names := history(newest, ok, failed); names[0] != first {
			t.Fatalf("the last success %s was dropped from the history: %v", first, names)
		}
	}
	var list volsyncv1alpha1.MigrationList
	if err := a.List(ctx, &list, client.InNamespace(suiteNamespace), client.MatchingLabels{volsyncv1alpha1.MigrationScheduleLabel: ms.Name}); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, m := range list.Items {
		if m.DeletionTimestamp == nil {
			kept = append(kept, m.Name)
		}
	}
	if len(kept) != 2 || !slices.Contains(kept, first) {
		t.Errorf("Migrations left %v, want the last success %s and the newest", kept, first)
	}
}
