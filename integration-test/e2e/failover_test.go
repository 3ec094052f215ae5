package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestFailoverWhenTheSourceClusterIsGone needs the second single-node cluster (make cluster-up
// CLUSTER=dr, with volsyncd deployed there): a MigrationSchedule on this cluster copies an
// application to the dr cluster; then this cluster's API server is frozen (SIGSTOP: it accepts
// nothing and answers nothing, as a lost site), `perform failover` runs with only the dr cluster
// reachable, and the application runs there with the data of the last migration, by checksum.
// When the source comes back, its schedule's next run is refused (ApplicationActivated) and
// autoSuspend suspends it: the failover is never undone.
func TestFailoverWhenTheSourceClusterIsGone(t *testing.T) {
	drKubeconfig := os.Getenv("VOLSYNC_E2E_DR_KUBECONFIG")
	pidFile := os.Getenv("VOLSYNC_E2E_SOURCE_APISERVER_PIDFILE")
	if drKubeconfig == "" || pidFile == "" {
		t.Skip("the dr cluster is not up (make cluster-up CLUSTER=dr, then make e2e)")
	}
	ctx := context.Background()
	dr := drClient(t, drKubeconfig)

	src := newNamespace(t, "fo-src")
	privilegedMovers(t, src)
	newPVC(t, src, "data", nil)
	want := writeTree(t, src, "data", "failover")
	create(t, sleepingApp(src))
	waitDeploymentReady(t, src, "app", 1)

	// The pair reaches the dr cluster with its admin kubeconfig; the dr cluster's Services are
	// routed from this cluster's pods, so the volumes go over a ClusterIP Service.
	pair := readyPair(t, src, "dr", drKubeconfig)
	t.Cleanup(func() {
		if os.Getenv("VOLSYNC_E2E_KEEP") != "1" {
			_ = dr.Delete(context.Background(), &corev1.Namespace{ObjectMeta: objectMeta("", src)})
		}
	})

	policy := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: objectMeta("", src),
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1, Retain: ptr.To[int32](2)}}}
	create(t, policy)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), policy) })
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: objectMeta(src, "dr"),
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy.Name, AutoSuspend: true,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair: pair.Name, Namespaces: []string{src}, IncludeVolumes: ptr.To(true),
			}},
		},
	}
	create(t, ms)
	last := waitScheduledSuccess(t, ms, time.Time{})
	t.Logf("scheduled migration %s to the dr cluster succeeded", last.Name)

	// The source site is lost.
	kubeconfig := twoClusterKubeconfig(t, kubeconfigPath, drKubeconfig)
	freeze(t, pidFile)
	started := time.Now()
	out := volsyncctlWith(t, kubeconfig, "--context", "source", "perform", "failover", "-m", ms.Name, "-n", src,
		"--destination-context", "dr", "--source-timeout", "10s", "--timeout", "5m")
	t.Logf("perform failover with the source gone (%s):\n%s", time.Since(started).Round(time.Second), out)
	// The source comes back as soon as the failover is done: a node whose API server stays away
	// for minutes has its pods evicted, which is not what is tested here.
	thaw(t, pidFile)
	if !strings.Contains(out, "recovery point: ") || strings.Contains(out, "recovery point: unknown") {
		t.Errorf("perform failover does not say how old the data is")
	}
	if !strings.Contains(out, "the source cluster cannot be reached") {
		t.Errorf("perform failover does not say the source was unreachable")
	}
	waitDeploymentReadyOn(t, dr, src, "app", 1)
	requireSameTree(t, "the dr copy after failover", want, treeSumOn(t, dr, src, "data", "check-failover"))

	// The source is back: its schedule learns of the activation from the next run, and stops.
	eventually(t, 3*time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ms), ms); err != nil {
			return err
		}
		if !ptr.Deref(ms.Spec.Suspend, false) || !ms.Status.ApplicationActivated {
			return fmt.Errorf("schedule suspend %v, applicationActivated %v; want it suspended by autoSuspend", ms.Spec.Suspend, ms.Status.ApplicationActivated)
		}
		return nil
	})
	waitDeploymentReadyOn(t, dr, src, "app", 1)
}

// drClient is a client of the dr cluster.
func drClient(t *testing.T, path string) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// twoClusterKubeconfig writes one kubeconfig with the contexts "source" and "dr", as a person who
// manages both sites has.
func twoClusterKubeconfig(t *testing.T, source, dr string) string {
	t.Helper()
	out := clientcmdapi.NewConfig()
	for name, path := range map[string]string{"source": source, "dr": dr} {
		c, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := c.Contexts[c.CurrentContext]
		if ctx == nil {
			t.Fatalf("%s has no current context", path)
		}
		out.Clusters[name], out.AuthInfos[name] = c.Clusters[ctx.Cluster], c.AuthInfos[ctx.AuthInfo]
		out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	out.CurrentContext = "source"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*out, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeze stops the source cluster's API server (SIGSTOP) until thaw, or the end of the test:
// connections to it hang and time out, as to a site that is gone.
func freeze(t *testing.T, pidFile string) {
	t.Helper()
	pid := apiserverPID(t, pidFile)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
}

func thaw(t *testing.T, pidFile string) {
	t.Helper()
	if err := syscall.Kill(apiserverPID(t, pidFile), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Name: "default"}, &corev1.Namespace{})
	})
}

func apiserverPID(t *testing.T, pidFile string) int {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", pidFile, err)
	}
	return pid
}

// waitDeploymentReadyOn is waitDeploymentReady on cluster c.
func waitDeploymentReadyOn(t *testing.T, c client.Client, ns, name string, replicas int32) {
	t.Helper()
	restore := k8s
	k8s = c
	defer func() { k8s = restore }()
	waitDeploymentReady(t, ns, name, replicas)
}

// treeSumOn is treeSum on cluster c (its pods' logs read through a clientset of c).
func treeSumOn(t *testing.T, c client.Client, ns, claim, pod string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(drConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	restoreClient, restoreSet := k8s, clientset
	k8s, clientset = c, cs
	defer func() { k8s, clientset = restoreClient, restoreSet }()
	return treeSum(t, ns, claim, pod)
}

func drConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("VOLSYNC_E2E_DR_KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
