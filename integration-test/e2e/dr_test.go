package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestDisasterRecoveryDrillActivationFailbackAndFailover plays the day a disaster-recovery copy is
// needed, on one cluster with the copy in a mapped namespace (src -> dst), a one-minute policy and
// autoSuspend:
//
//  1. `perform drill` copies into a scratch namespace, starts the application there, prints the
//     recovery point and recovery time, and leaves nothing behind;
//  2. `activate migration` starts the copy; a file is written at the DR site; two intervals later
//     the DR application still runs with that file intact, and the schedule has suspended itself;
//  3. `perform failback` brings the DR site's data (with that file) back to the source, by
//     checksum, and the source application runs again, the DR copy stopped, the schedule resumed;
//  4. once a scheduled migration has run again, `perform failover` starts the copy with the
//     source's data, by checksum.
func TestDisasterRecoveryDrillActivationFailbackAndFailover(t *testing.T) {
	ctx := context.Background()
	src := newNamespace(t, "dr-src")
	dst := strings.Replace(src, "e2e-dr-src-", "e2e-dr-dst-", 1)
	migratedNamespace(t, dst)
	// The trees have files only root may read, in both directions.
	privilegedMovers(t, src)

	newPVC(t, src, "data", nil)
	want := writeTree(t, src, "data", "disaster-recovery")
	create(t, sleepingApp(src))
	waitDeploymentReady(t, src, "app", 1)
	pair := localPair(t, src, "dr")

	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: src},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1, Retain: ptr.To[int32](3)}},
	}
	create(t, policy)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), policy) })
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: objectMeta(src, "dr"),
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy.Name,
			AutoSuspend:        true,
			// startApplications is left out: as in Stork, the copy then waits at zero replicas.
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair:      pair.Name,
				Namespaces:       []string{src},
				IncludeVolumes:   ptr.To(true),
				NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{src: volsyncv1alpha1.NamespaceName(dst)},
			}},
		},
	}
	create(t, ms)
	first := waitScheduledSuccess(t, ms, time.Time{})
	t.Logf("first scheduled migration %s succeeded", first.Name)
	requireSameTree(t, "the first copy", want, treeSum(t, dst, "data", "check-first"))

	t.Run("drill", func(t *testing.T) {
		scratch := dst + "-drill"
		out := volsyncctl(t, "perform", "drill", "-m", ms.Name, "-n", src, "--timeout", "10m")
		t.Logf("perform drill:\n%s", out)
		for _, line := range []string{"recovery point: ", "recovery time: "} {
			if !strings.Contains(out, line) {
				t.Errorf("perform drill does not print %q", line)
			}
		}
		eventually(t, 3*time.Minute, func() error {
			if err := k8s.Get(ctx, client.ObjectKey{Name: scratch}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the drill's namespace %s is still there (%v)", scratch, err)
			}
			var list volsyncv1alpha1.MigrationList
			if err := k8s.List(ctx, &list, client.InNamespace(src)); err != nil {
				return err
			}
			for _, m := range list.Items {
				if strings.Contains(m.Name, "-drill-") {
					return fmt.Errorf("the drill's Migration %s is still there", m.Name)
				}
			}
			return nil
		})
		// The real DR copy is still a stopped copy, the source still runs.
		requireReplicas(t, dst, "app", 0)
		waitDeploymentReady(t, src, "app", 1)
	})

	var marker string
	t.Run("activate and two intervals later", func(t *testing.T) {
		out := volsyncctl(t, "activate", "migration", "--namespaces", dst)
		t.Logf("activate migration:\n%s", out)
		activated := time.Now()
		waitDeploymentReady(t, dst, "app", 1)
		marker = strings.TrimSpace(runPod(t, dst, "write-at-dr", "data",
			`head -c 65536 /dev/urandom > /data/written-at-dr; sha256sum /data/written-at-dr | cut -d' ' -f1`, asRoot()))
		// Two intervals pass. The activated copy must keep running all the while.
		holdsFor(t, 2*time.Minute+15*time.Second, func() error {
			var d appsv1.Deployment
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: dst, Name: "app"}, &d); err != nil {
				return err
			}
			if ptr.Deref(d.Spec.Replicas, 0) != 1 {
				return fmt.Errorf("the activated Deployment %s/app was scaled to %d", dst, ptr.Deref(d.Spec.Replicas, 0))
			}
			return nil
		})
		waitDeploymentReady(t, dst, "app", 1)
		got := strings.TrimSpace(runPod(t, dst, "read-at-dr", "data", `sha256sum /data/written-at-dr | cut -d' ' -f1`, asRoot()))
		if got != marker {
			t.Fatalf("the file written at the DR site was overwritten: sha256 %s, want %s", got, marker)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			t.Fatal(err)
		}
		c := meta.FindStatusCondition(ms.Status.Conditions, volsyncv1alpha1.ConditionApplicationActivated)
		if !ptr.Deref(ms.Spec.Suspend, false) || !ms.Status.ApplicationActivated || c == nil || c.Reason != volsyncv1alpha1.ReasonAutoSuspended {
			t.Errorf("schedule after activation: suspend %v, applicationActivated %v, condition %+v; want it suspended by autoSuspend",
				ms.Spec.Suspend, ms.Status.ApplicationActivated, c)
		}
		// No migration that started after the activation wrote anything.
		var list volsyncv1alpha1.MigrationList
		if err := k8s.List(ctx, &list, client.InNamespace(src)); err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Items {
			if m.CreationTimestamp.After(activated) && m.Status.Status == volsyncv1alpha1.RunStatusSuccessful {
				t.Errorf("migration %s, created after the activation, succeeded", m.Name)
			}
		}
	})

	t.Run("failback", func(t *testing.T) {
		localPair(t, dst, "back")
		drTree := treeSum(t, dst, "data", "check-dr-before-failback")
		if !strings.Contains(drTree, "written-at-dr") {
			t.Fatalf("the DR tree lacks the file written there:\n%s", drTree)
		}
		out := volsyncctl(t, "perform", "failback", "-m", ms.Name, "-n", src, "--reverse-clusterpair", "back", "--timeout", "10m")
		t.Logf("perform failback:\n%s", out)
		waitDeploymentReady(t, src, "app", 1)
		requireSameTree(t, "the source after failback", drTree, treeSum(t, src, "data", "check-src-after-failback"))
		requireReplicas(t, dst, "app", 0)
		var ns corev1.Namespace
		if err := k8s.Get(ctx, client.ObjectKey{Name: dst}, &ns); err != nil {
			t.Fatal(err)
		}
		if _, ok := ns.Annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]; ok {
			t.Errorf("namespace %s is still activated after failback", dst)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			t.Fatal(err)
		}
		if ptr.Deref(ms.Spec.Suspend, false) || ms.Status.ApplicationActivated {
			t.Errorf("schedule after failback: suspend %v, applicationActivated %v; want it running again", ms.Spec.Suspend, ms.Status.ApplicationActivated)
		}
		want = drTree
	})

	t.Run("failover", func(t *testing.T) {
		next := waitScheduledSuccess(t, ms, time.Now())
		t.Logf("scheduled migration %s succeeded after the failback", next.Name)
		out := volsyncctl(t, "perform", "failover", "-m", ms.Name, "-n", src, "--timeout", "10m")
		t.Logf("perform failover:\n%s", out)
		waitDeploymentReady(t, dst, "app", 1)
		requireSameTree(t, "the DR copy after failover", want, treeSum(t, dst, "data", "check-dr-after-failover"))
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			t.Fatal(err)
		}
		if !ptr.Deref(ms.Spec.Suspend, false) || !ms.Status.ApplicationActivated {
			t.Errorf("schedule after failover: suspend %v, applicationActivated %v", ms.Spec.Suspend, ms.Status.ApplicationActivated)
		}
	})
}

// sleepingApp is a Deployment app in ns that mounts the claim data and does nothing.
func sleepingApp(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "e2e-app"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers: []corev1.Container{{
						Name: "app", Image: moverImage, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:      []string{"sleep", "infinity"},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
					}},
					Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
					}}},
				},
			},
		},
	}
}

// localPair is a Ready ClusterPair named name in ns whose kubeconfig reaches this very cluster,
// with volumes over ClusterIP Services.
func localPair(t *testing.T, ns, name string) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	return readyPair(t, ns, name, kubeconfigPath)
}

// readyPair is a ClusterPair named name in ns with the kubeconfig at path, volumes over ClusterIP
// Services (routed between the clusters of this machine), once it is Ready.
func readyPair(t *testing.T, ns, name, path string) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	kubeconfig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{ObjectMeta: objectMeta(ns, name+"-kubeconfig"),
		Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}})
	pair := &volsyncv1alpha1.ClusterPair{
		ObjectMeta: objectMeta(ns, name),
		Spec: volsyncv1alpha1.ClusterPairSpec{
			KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: name + "-kubeconfig"},
			Options:             map[string]string{"volumeServiceType": string(corev1.ServiceTypeClusterIP)},
		},
	}
	create(t, pair)
	eventually(t, time.Minute, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pair), pair); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(pair.Status.Conditions, volsyncv1alpha1.ConditionReady) {
			return fmt.Errorf("ClusterPair %s/%s is not Ready: %+v", ns, name, pair.Status.Conditions)
		}
		return nil
	})
	return pair
}

// waitScheduledSuccess waits for a Migration of ms created after since to succeed, and returns it.
func waitScheduledSuccess(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, since time.Time) *volsyncv1alpha1.Migration {
	t.Helper()
	var found *volsyncv1alpha1.Migration
	eventually(t, migrationTimeout+time.Minute, func() error {
		var list volsyncv1alpha1.MigrationList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ms.Namespace),
			client.MatchingLabels{volsyncv1alpha1.MigrationScheduleLabel: ms.Name}); err != nil {
			return err
		}
		var seen []string
		for i, m := range list.Items {
			if !m.CreationTimestamp.Time.Before(since.Truncate(time.Second)) && m.Status.Status == volsyncv1alpha1.RunStatusSuccessful {
				found = &list.Items[i]
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s=%s/%s", m.Name, m.Status.Stage, m.Status.Status))
		}
		return fmt.Errorf("no scheduled migration of %s since %s has succeeded: %v", ms.Name, since.Format(time.RFC3339), seen)
	})
	return found
}

// requireReplicas fails unless Deployment ns/name asks for replicas.
func requireReplicas(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	var d appsv1.Deployment
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(d.Spec.Replicas, 1); got != replicas {
		t.Errorf("Deployment %s/%s has replicas %d, want %d", ns, name, got, replicas)
	}
}

// holdsFor checks cond every few seconds for d and fails the test the first time it does not
// hold: what must stay true while time passes (two intervals of a policy).
func holdsFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
}

var (
	volsyncctlOnce sync.Once
	volsyncctlBin  string
	volsyncctlErr  error
)

// volsyncctl runs the CLI of this checkout against the cluster, as a person would, and returns
// what it printed; a non-zero exit fails the test.
func volsyncctl(t *testing.T, args ...string) string {
	t.Helper()
	return volsyncctlWith(t, kubeconfigPath, args...)
}

// volsyncctlWith is volsyncctl with another kubeconfig.
func volsyncctlWith(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	volsyncctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "volsyncctl-e2e-")
		if err != nil {
			volsyncctlErr = err
			return
		}
		volsyncctlBin = filepath.Join(dir, "volsyncctl")
		build := exec.Command("go", "build", "-o", volsyncctlBin, "./cmd/volsyncctl")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			volsyncctlErr = fmt.Errorf("building volsyncctl: %v\n%s", err, out)
		}
	})
	if volsyncctlErr != nil {
		t.Fatal(volsyncctlErr)
	}
	out, err := exec.Command(volsyncctlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("volsyncctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
