// Package replication holds the ReplicationSource and ReplicationDestination suites: the real
// reconcilers and mover Builders run in a manager against a real kube-apiserver and etcd, with the
// VolumeSnapshot CRDs installed and a fake clock the tests step. No kubelet or Job controller runs,
// so the tests play their part: they finish mover Jobs by writing the pod's termination message and
// the Job's status, and make VolumeSnapshots ready by writing theirs.
package replication

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	moverjob "github.com/volsync/volsync/pkg/mover/job"

	"github.com/volsync/volsync/pkg/cachepolicy"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/syncthing"
	"github.com/volsync/volsync/pkg/replication"
)

// moverImage is the image the Builders put in Jobs; nothing pulls it here.
const moverImage = "example.com/volsync-mover:test"

// ownManagerLabel marks the objects a test runs with a manager of its own (ownManager): the
// suite's manager does not see them.
const ownManagerLabel = "test.volsync.backube/own-manager"

var (
	env *testenv.Env
	// k8s reads straight from the API server, never from a cache.
	k8s client.Client
	// fakeClock is "now" for every reconciler and Builder in this suite. Each test starts it at the
	// real time (see namespace) and steps it from there.
	fakeClock = clocktesting.NewFakeClock(time.Now())
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start(filepath.Join(testenv.RepoRoot(), "specs", "thirdparty", "snapshot"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client
	ctrl.SetLogger(logr.Discard())

	for _, b := range registeredBuilders() {
		mover.Register(b)
	}
	notOwn, err := labels.Parse("!" + ownManagerLabel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The suite's manager caches and reads as volsyncd does (cachepolicy), so every test here also
	// proves that the controllers find users' objects the cache leaves out.
	cacheOpts := cachepolicy.Options()
	cacheOpts.DefaultLabelSelector = notOwn
	_, stop, err := testenv.StartManager(env.Config, ctrl.Options{Cache: cacheOpts, NewClient: cachepolicy.NewClient},
		func(mgr ctrl.Manager) error {
			return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock}).SetupWithManager(mgr)
		},
		func(mgr ctrl.Manager) error {
			return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock}).SetupWithManager(mgr)
		},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func registeredBuilders() []mover.Builder {
	return []mover.Builder{
		&rsync.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock}},
		&rsynctls.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock}},
		&rclone.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock}},
		&restic.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock}},
		&syncthing.Builder{Settings: moverjob.Settings{Image: moverImage, Clock: fakeClock}, APIAddress: syncthingAPIAddress},
		secondMover{},
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, cond)
}
