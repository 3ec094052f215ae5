package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
)

// The cluster under test and how to reach its node, set up by TestMain from what `make chaos`
// passes (integration-test/cluster/lib.sh knows each value).
var (
	kubeconfigPath string
	restConfig     *rest.Config
	k8s            client.Client
	clientset      *kubernetes.Clientset
	// hostIP is the host's address as pods see it: the S3 server listens there.
	hostIP string
	// node says how to run ctr in the node's namespaces, to find volsyncd's process.
	node nodeAccess
	// duration is how long volsyncd is killed for (CHAOS_DURATION).
	duration time.Duration
	// seed makes the kill moments of a run reproducible (CHAOS_SEED; printed either way).
	seed uint64
)

// Classes the cluster provides (integration-test/cluster), as in the e2e tests.
const (
	storageClass  = "volsync-hostpath"
	snapshotClass = "volsync-hostpath"
)

// moverImage runs the test's own pods that write and read volumes: the mover image deployed
// beside volsyncd (VOLSYNC_CHAOS_MOVER_IMAGE, which `make chaos` takes from lib.sh), for its
// shell and tools.
var moverImage = "volsync-mover:latest"

func TestMain(m *testing.M) {
	if os.Getenv("CHAOS") != "1" {
		fmt.Println("skipping the chaos test: CHAOS=1 is not set (run make chaos)")
		os.Exit(0)
	}
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	// The recorder's informers log through controller-runtime; the test reports what it saw.
	ctrllog.SetLogger(logr.Discard())
	kubeconfigPath = os.Getenv("VOLSYNC_CHAOS_KUBECONFIG")
	hostIP = os.Getenv("VOLSYNC_CHAOS_HOST_IP")
	node = nodeAccess{
		netns:  os.Getenv("VOLSYNC_CHAOS_NODE_NETNS"),
		mntns:  os.Getenv("VOLSYNC_CHAOS_NODE_MNTNS"),
		socket: os.Getenv("VOLSYNC_CHAOS_CONTAINERD_SOCK"),
	}
	for name, v := range map[string]string{
		"VOLSYNC_CHAOS_KUBECONFIG": kubeconfigPath, "VOLSYNC_CHAOS_HOST_IP": hostIP,
		"VOLSYNC_CHAOS_NODE_NETNS": node.netns, "VOLSYNC_CHAOS_NODE_MNTNS": node.mntns,
		"VOLSYNC_CHAOS_CONTAINERD_SOCK": node.socket,
	} {
		if v == "" {
			return fmt.Errorf("%s is not set (run make chaos)", name)
		}
	}
	if v := os.Getenv("VOLSYNC_CHAOS_MOVER_IMAGE"); v != "" {
		moverImage = v
	}
	duration = 10 * time.Minute
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("CHAOS_DURATION=%q is not a positive duration such as 10m", v)
		}
		duration = d
	}
	seed = uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("CHAOS_SEED=%q is not a number", v)
		}
		seed = s
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return err
	}
	// The recorder's watches and the polls of six namespaces at once.
	cfg.QPS, cfg.Burst = 50, 100
	restConfig = cfg
	scheme, err := volsyncscheme.New()
	if err != nil {
		return err
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	clientset, err = kubernetes.NewForConfig(cfg)
	return err
}

// poll calls cond every interval until it returns nil, and returns its last error once timeout
// has passed. Goroutines other than the test's use it, so it never fails the test itself.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// eventually is poll for the test's own goroutine: it fails the test.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := poll(context.Background(), timeout, time.Second, cond); err != nil {
		t.Fatal(err)
	}
}

// kubectl runs the cluster's kubectl, for what a person debugging a failure looks at first.
func kubectl(args ...string) string {
	bin := os.Getenv("VOLSYNC_CHAOS_KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	out, _ := exec.Command(bin, append([]string{"--kubeconfig", kubeconfigPath}, args...)...).CombinedOutput()
	return string(out)
}
