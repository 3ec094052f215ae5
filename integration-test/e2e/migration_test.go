package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// migrationTimeout bounds one Migration of a small namespace with one volume: the clone, the
// rsync-tls movers on both sides, and the objects.
const migrationTimeout = 5 * time.Minute

// TestMigrationScheduleMovesANamespaceNextToItself migrates a namespace with a Deployment, its
// PVC and a Service to another namespace of the same cluster, as a disaster-recovery copy: a
// ClusterPair whose kubeconfig reaches this very cluster (volumes over a ClusterIP Service),
// spec.namespaceMapping {src: dst}, and a daily SchedulePolicy due a minute from now. The dated
// Migration must succeed; on the destination the Deployment waits at 0 replicas with the
// source's count in its annotation, the Service is there, and the PVC holds the source's data
// (checked by checksum from a pod, which the stopped Deployment leaves room for). `volsyncctl
// activate migration` then starts the copy, and deleting the schedule deletes its Migrations.
func TestMigrationScheduleMovesANamespaceNextToItself(t *testing.T) {
	ctx := context.Background()
	src := newNamespace(t, "mig-src")
	dst := strings.Replace(src, "e2e-mig-src-", "e2e-mig-dst-", 1)
	migratedNamespace(t, dst)
	// The source's mover reads a file only root may read (mode 0640).
	privilegedMovers(t, src)

	newPVC(t, src, "data", nil)
	want := writeTree(t, src, "data", "migration")
	labels := map[string]string{"app": "e2e-app"}
	create(t, sleepingApp(src))
	sourceService := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "app", Labels: labels},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	create(t, sourceService)
	// The application runs while its volume is copied, as it would in production: the mover reads
	// a clone, never the volume the running pod holds.
	waitDeploymentReady(t, src, "app", 1)

	pair := localPair(t, src, "dr")

	// A daily time 20 to 80 seconds ahead (the policy reads it in UTC): the first Migration comes
	// soon, and the next not before tomorrow, so nothing rewrites the destination while it is
	// checked.
	due := time.Now().UTC().Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: src},
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Daily: &volsyncv1alpha1.DailyPolicy{Time: due.Format("3:04PM"), Retain: ptr.To[int32](2)},
		},
	}
	create(t, policy)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), policy) })
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: objectMeta(src, "dr"),
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy.Name,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair:       pair.Name,
				Namespaces:        []string{src},
				IncludeResources:  ptr.To(true),
				IncludeVolumes:    ptr.To(true),
				StartApplications: ptr.To(false),
				NamespaceMapping:  map[string]volsyncv1alpha1.NamespaceName{src: volsyncv1alpha1.NamespaceName(dst)},
			}},
		},
	}
	create(t, ms)

	// The child is named for the time it was scheduled for, not the time it was made.
	m := &volsyncv1alpha1.Migration{ObjectMeta: objectMeta(src, schedule.ChildName(ms.Name, volsyncv1alpha1.SchedulePolicyTypeDaily, due))}
	eventually(t, time.Until(due)+time.Minute, func() error {
		return k8s.Get(ctx, client.ObjectKeyFromObject(m), m)
	})
	eventually(t, migrationTimeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return err
		}
		if !m.Status.Status.Finished() {
			return fmt.Errorf("Migration %s is %s at stage %s (%+v)", m.Name, m.Status.Status, m.Status.Stage, m.Status.Conditions)
		}
		return nil
	})
	if m.Status.Status != volsyncv1alpha1.RunStatusSuccessful {
		t.Fatalf("Migration %s ended %s: volumes %+v, conditions %+v", m.Name, m.Status.Status, m.Status.Volumes, m.Status.Conditions)
	}
	if m.Status.Summary != nil {
		t.Logf("Migration %s: %s, resources %s, volumes %s (%d bytes) in %s", m.Name, m.Status.Status,
			m.Status.Summary.Resources, m.Status.Summary.Volumes, m.Status.Summary.TotalBytesMigrated, m.Status.Summary.ElapsedTimeForVolumeMigration)
	}
	if len(m.Status.Volumes) != 1 || m.Status.Volumes[0].PersistentVolumeClaim != "data" ||
		m.Status.Volumes[0].DestinationNamespace != dst || m.Status.Volumes[0].Status != volsyncv1alpha1.RunStatusSuccessful {
		t.Errorf("Migration %s lists volumes %+v, want data moved to %s", m.Name, m.Status.Volumes, dst)
	}

	var dep appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: dst, Name: "app"}, &dep); err != nil {
		t.Fatalf("the migrated Deployment: %v", err)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 0 {
		t.Errorf("the migrated Deployment has replicas %v, want 0 (startApplications false)", dep.Spec.Replicas)
	}
	if got := dep.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation]; got != "1" {
		t.Errorf("the migrated Deployment's %s is %q, want the source's 1", volsyncv1alpha1.MigrationReplicasAnnotation, got)
	}
	var svc corev1.Service
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: dst, Name: "app"}, &svc); err != nil {
		t.Fatalf("the migrated Service: %v", err)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == sourceService.Spec.ClusterIP {
		t.Errorf("the migrated Service is %s with clusterIP %q; want a ClusterIP Service with an address of its own (the source's is %q)",
			svc.Spec.Type, svc.Spec.ClusterIP, sourceService.Spec.ClusterIP)
	}
	requireSameTree(t, "the migrated volume", want, treeSum(t, dst, "data", "check-migrated"))

	activateMigration(t, dst)
	waitDeploymentReady(t, dst, "app", 1)

	// The schedule's history shows the run.
	eventually(t, time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			return err
		}
		for _, run := range ms.Status.Items[volsyncv1alpha1.SchedulePolicyTypeDaily] {
			if run.Name == m.Name && run.Status == volsyncv1alpha1.RunStatusSuccessful {
				return nil
			}
		}
		return fmt.Errorf("MigrationSchedule %s history %+v does not show %s Successful", ms.Name, ms.Status.Items, m.Name)
	})

	if err := k8s.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		var list volsyncv1alpha1.MigrationList
		if err := k8s.List(ctx, &list, client.InNamespace(src)); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d Migration(s) left after the schedule was deleted, such as %s", len(list.Items), list.Items[0].Name)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MigrationSchedule %s is still there (finalizers %v): %v", ms.Name, ms.Finalizers, err)
		}
		return nil
	})
}

// migratedNamespace arranges for a namespace that a Migration creates to be shown when the test
// fails and deleted afterwards (unless VOLSYNC_E2E_KEEP=1), as newNamespace does for its own.
func migratedNamespace(t *testing.T, ns string) {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, &corev1.Namespace{})
	if err == nil {
		t.Fatalf("namespace %s exists already: a Migration would write into someone else's namespace", ns)
	}
	if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, ns)
		}
		if os.Getenv("VOLSYNC_E2E_KEEP") == "1" {
			return
		}
		_ = k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
}

// waitDeploymentReady waits until a Deployment has replicas ready pods of its current spec.
func waitDeploymentReady(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	eventually(t, 3*time.Minute, func() error {
		var d appsv1.Deployment
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return err
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.ReadyReplicas != replicas || d.Status.UpdatedReplicas != replicas {
			return fmt.Errorf("Deployment %s/%s: %d of %d pods ready (observed generation %d of %d)",
				ns, name, d.Status.ReadyReplicas, replicas, d.Status.ObservedGeneration, d.Generation)
		}
		return nil
	})
}

// activateMigration runs `volsyncctl activate migration` against the destination, as a person
// failing over would.
func activateMigration(t *testing.T, ns string) {
	t.Helper()
	out := volsyncctl(t, "activate", "migration", "--namespaces", ns)
	if !strings.Contains(out, "deployment.apps/app scaled to 1") {
		t.Errorf("volsyncctl activate migration says %q; want it to scale deployment.apps/app to 1", out)
	}
}
