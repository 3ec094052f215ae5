package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/mover"
	moverjob "github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/replication"
)

// withReplicationController starts a control plane of its own with the real ReplicationSource
// controller and the rsync-tls mover's Builder running against it, so that `trigger` is checked
// against what volsyncd really writes; the other tests of the package play the controller. No
// kubelet or Job controller runs: the test finishes the mover's Jobs itself.
func withReplicationController(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	env, err := testenv.Start(filepath.Join(testenv.RepoRoot(), "specs", "thirdparty", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	builders := []mover.Builder{&rsynctls.Builder{Settings: moverjob.Settings{Image: "example.com/volsync-mover:test", Clock: clock.RealClock{}}}}
	_, stop, err := testenv.StartManager(env.Config, ctrl.Options{Cache: cachepolicy.Options(), NewClient: cachepolicy.NewClient},
		func(mgr ctrl.Manager) error {
			return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"),
				Clock: clock.RealClock{}, Builders: builders}).SetupWithManager(mgr)
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	data, err := env.AdminKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return env, kubeconfig
}

// moverJob waits for the mover Job of the source (another one than notUID, when given).
func moverJob(t *testing.T, c client.Client, ns, source, notUID string) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	name := mover.ObjectName("rsync-tls-src", source)
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &job); err != nil {
			return err
		}
		if string(job.UID) == notUID {
			return fmt.Errorf("job %s is still the previous one", name)
		}
		return nil
	})
	return &job
}

// endJob plays the kubelet and the Job controller: a pod of the Job ends with exitCode and writes
// message to its termination log, and the Job is marked Complete or Failed.
func endJob(t *testing.T, c client.Client, job *batchv1.Job, exitCode int32, message string) {
	t.Helper()
	testenv.FinishJob(t, c, job, "example.com/volsync-mover:test", exitCode, message, "BackoffLimitExceeded")
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
}

func TestTriggerAgainstTheReplicationController(t *testing.T) {
	env, kubeconfig := withReplicationController(t)
	fastTriggerPolls(t)
	c := env.Client
	const ns = "trigger-real"
	createNamespace(t, c, ns)
	createAll(t, c,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "psk", Namespace: ns}, StringData: map[string]string{"psk.txt": "volsync:00"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
	)
	src := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data",
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("0 2 1 1 *")},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{Address: ptr.To("dst.example.com"), KeySecret: ptr.To("psk"),
				MoverConfig: volsyncv1alpha1.MoverConfig{MoverBackoffLimit: ptr.To[int32](0)}}},
	}
	createAll(t, c, src)
	// A cron source syncs once when it is created; let that sync end.
	first := moverJob(t, c, ns, "db", "")
	endJob(t, c, first, 0, `{"result":"Successful","message":"","bytes":0,"files":0}`)
	reason := func(want string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, func() error {
			if got := fields(func() string {
				out, _ := execute(t, false, "--kubeconfig", kubeconfig, "-n", ns, "get", "repsrc", "db")
				return out
			}()); !strings.Contains(got, want) {
				return fmt.Errorf("get repsrc db prints %q, want %s", got, want)
			}
			return nil
		})
	}
	reason("WaitingForSchedule")

	// Sync now, beside the schedule, and give the schedule back afterwards.
	r := startRunning(t, "--kubeconfig", kubeconfig, "-n", ns, "trigger", "replicationsource", "db", "--restore-schedule")
	job := moverJob(t, c, ns, "db", string(first.UID))
	waitFor(t, "stderr", r.errOut, "replicationsource/db: SyncInProgress: sync started for the manual trigger")
	endJob(t, c, job, 0, `{"result":"Successful","message":"","bytes":4096,"files":2}`)
	if errLine := r.ended(t); errLine != "" {
		t.Fatalf("trigger failed: %s\nstdout:\n%s\nstderr:\n%s", errLine, r.out.String(), r.errOut.String())
	}
	if !strings.Contains(r.out.String(), "replicationsource/db synced in ") ||
		!strings.Contains(r.out.String(), `replicationsource/db: manual trigger removed; the schedule "0 2 1 1 *" resumes`) {
		t.Fatalf("trigger printed:\n%s", r.out.String())
	}
	okOut := r.out.String()
	reason("WaitingForSchedule")

	// A sync that fails ends the wait with the mover's words; the manual value stays for the retry.
	r = startRunning(t, "--kubeconfig", kubeconfig, "-n", ns, "trigger", "repsrc", "db")
	failing := moverJob(t, c, ns, "db", string(job.UID))
	endJob(t, c, failing, 1, "rsync: connection to dst.example.com refused")
	errLine := r.ended(t)
	if !strings.HasPrefix(errLine, "error: the sync of replicationsource/db failed: ") ||
		!strings.Contains(errLine, "refused") || !strings.Contains(errLine, "volsyncd retries it from ") {
		t.Fatalf("error line %q\nstderr:\n%s", errLine, r.errOut.String())
	}
	t.Logf("stdout of the successful trigger:\n%s\nthe failed one: %s", strings.TrimSpace(okOut), errLine)
	if got := manualOf(t, c, src); got == "" {
		t.Fatal("the failed sync removed the manual trigger")
	}
}
