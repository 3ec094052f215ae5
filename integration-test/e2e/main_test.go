package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
)

// The cluster under test, set up by TestMain.
var (
	kubeconfigPath string
	k8s            client.Client
	clientset      *kubernetes.Clientset
	// hostIP is the host's address as pods see it: servers the tests start on the host (the S3
	// server) listen there.
	hostIP string
)

// moverImage is the mover image the cluster has (integration-test/cluster/images.sh tags it with
// the build's version): $VOLSYNC_E2E_MOVER_IMAGE, which make e2e sets. The tests' own pods run it.
var moverImage = os.Getenv("VOLSYNC_E2E_MOVER_IMAGE")

// Classes the cluster provides (integration-test/cluster).
const (
	storageClass  = "volsync-hostpath"
	snapshotClass = "volsync-hostpath"
	// syncTimeout bounds one replication round trip: Jobs, pods, image already on the node.
	syncTimeout = 4 * time.Minute
)

func TestMain(m *testing.M) {
	kubeconfigPath = os.Getenv("VOLSYNC_E2E_KUBECONFIG")
	if kubeconfigPath == "" {
		fmt.Println("skipping the end-to-end tests: VOLSYNC_E2E_KUBECONFIG is not set (run make e2e)")
		os.Exit(0)
	}
	hostIP = os.Getenv("VOLSYNC_E2E_HOST_IP")
	if moverImage == "" {
		fmt.Fprintln(os.Stderr, "e2e: VOLSYNC_E2E_MOVER_IMAGE is not set (run make e2e)")
		os.Exit(1)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = 50, 100
	scheme, err := volsyncscheme.New()
	if err == nil {
		k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	}
	if err == nil {
		clientset, err = kubernetes.NewForConfig(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// eventually polls cond every second until it returns nil, failing the test after timeout; on
// failure the namespace's state is in the log (see newNamespace).
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	testenv.EventuallyEvery(t, timeout, time.Second, cond)
}

// newNamespace makes a namespace for one test. When the test fails, its objects, events and pod
// logs are printed; it is deleted afterwards unless VOLSYNC_E2E_KEEP=1.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + prefix + "-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, ns.Name)
		}
		if os.Getenv("VOLSYNC_E2E_KEEP") == "1" {
			return
		}
		_ = k8s.Delete(context.Background(), ns)
	})
	// The ServiceAccount controller must have made "default" before pods can be created.
	eventually(t, time.Minute, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{})
	})
	return ns.Name
}

// dumpNamespace prints what a person debugging a failure looks at first.
func dumpNamespace(t *testing.T, ns string) {
	kubectl := func(args ...string) string {
		out, _ := exec.Command(kubectlPath(), append([]string{"--kubeconfig", kubeconfigPath, "-n", ns}, args...)...).CombinedOutput()
		return string(out)
	}
	t.Logf("--- namespace %s ---\n%s", ns, kubectl("get", "replicationsources,replicationdestinations,replicationsyncs,migrationschedules,migrations,jobs,pods,pvc,volumesnapshots", "-o", "wide"))
	t.Logf("--- volsync objects ---\n%s", kubectl("get", "replicationsources,replicationdestinations,migrations", "-o", "yaml"))
	t.Logf("--- events ---\n%s", kubectl("get", "events", "--sort-by=.lastTimestamp"))
	t.Logf("--- pod logs ---\n%s", kubectl("logs", "--all-containers", "--prefix", "--tail=40", "-l", "app.kubernetes.io/created-by=volsync"))
}

func kubectlPath() string {
	if p := os.Getenv("VOLSYNC_E2E_KUBECTL"); p != "" {
		return p
	}
	return "kubectl"
}

// newPVC makes a claim of the cluster's CSI StorageClass, optionally from a snapshot or a claim.
func newPVC(t *testing.T, ns, name string, from *corev1.TypedLocalObjectReference) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(storageClass),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
			DataSource: from,
		},
	}
	if err := k8s.Create(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	return pvc
}

// snapshotSource is a claim's dataSource for a VolumeSnapshot.
func snapshotSource(name string) *corev1.TypedLocalObjectReference {
	return &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: name}
}

// asRoot is the security context of the test's own pods that read and write claims: root, so
// that every file is theirs to read and every mode theirs to set.
func asRoot() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)}
}

// runPod runs script in a mover-image pod with security context sc and claim mounted at /data,
// waits for it to end and returns its output; a pod that fails fails the test.
func runPod(t *testing.T, ns, name, claim, script string, sc *corev1.PodSecurityContext) string {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: objectMeta(ns, name),
		Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: sc,
			Containers: []corev1.Container{{
				Name: "run", Image: moverImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"sh", "-ec", script},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}},
		},
	}
	return runToEnd(t, pod)
}

// runToEnd creates pod, waits for it to end and returns its output, then deletes it, so that its
// claim is free again for the next pod or mover (ReadWriteOnce); a pod that fails fails the test.
func runToEnd(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	ctx := context.Background()
	create(t, pod)
	eventually(t, 3*time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		switch pod.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return nil
		}
		return fmt.Errorf("pod %s is %s", pod.Name, pod.Status.Phase)
	})
	logs := podLogs(t, pod.Namespace, pod.Name)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s failed:\n%s", pod.Name, logs)
	}
	if err := k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return logs
}

func podLogs(t *testing.T, ns, name string) string {
	t.Helper()
	r, err := clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	return b.String()
}

// writeTree fills a claim with a tree of random files (nested directories, a hard link, an empty
// file, modes), written as root, and returns its checksum listing.
func writeTree(t *testing.T, ns, claim, seed string) string {
	t.Helper()
	return writeTreeAs(t, ns, claim, seed, asRoot())
}

// writeTreeAs is writeTree run by an application pod with security context sc (a non-root user,
// say) instead of root. The tree is the same.
func writeTreeAs(t *testing.T, ns, claim, seed string, sc *corev1.PodSecurityContext) string {
	t.Helper()
	script := fmt.Sprintf(`
mkdir -p /data/a/b/c /data/empty-dir
for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > /data/a/file-$i; done
for i in $(seq 1 10); do head -c 65536 /dev/urandom > /data/a/b/c/deep-$i; done
echo %q > /data/seed
: > /data/empty-file
chmod 0640 /data/a/file-1
ln -f /data/a/file-2 /data/a/hardlink-to-2
%s`, seed, treeSumScript)
	return strings.TrimSpace(runPod(t, ns, "write-"+sanitize(seed), claim, script, sc))
}

// treeSum returns the checksum listing of a claim's tree.
func treeSum(t *testing.T, ns, claim, pod string) string {
	t.Helper()
	return strings.TrimSpace(runPod(t, ns, pod, claim, treeSumScript, asRoot()))
}

// treeSumScript prints one line per file (content hash, mode, path) and per directory (mode, path),
// leaving out what movers keep for themselves, and the number of hard links of the linked file.
const treeSumScript = `cd /data
find . -path ./lost+found -prune -o -path './.volsync*' -prune -o -type f -printf '%m %P\n' | sort -k2 | while read -r mode path; do
  printf '%s %s %s\n' "$(sha256sum "$path" | cut -d' ' -f1)" "$mode" "$path"
done
find . -path './.volsync*' -prune -o -type d -printf 'dir %m %P\n' | sort
[ -e a/hardlink-to-2 ] && echo "links $(stat -c %h a/hardlink-to-2)"
true`

func sanitize(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, s))
}

// requireSameTree fails the test with the first differing line of two checksum listings.
func requireSameTree(t *testing.T, what, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			t.Fatalf("%s differs from the source at line %d:\n  source: %s\n  copy:   %s", what, i+1, wl, gl)
		}
	}
}

// repoRoot is the checkout's root, for tools the tests start on the host.
func repoRoot() string { return filepath.Clean(testenv.RepoRoot()) }
