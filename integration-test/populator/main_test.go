// Package populator holds the volume populator suite: the real populator runs in a manager that
// caches as volsyncd does (pkg/cachepolicy) against a real kube-apiserver and etcd, with the
// VolumeSnapshot CRDs installed and a fake clock the tests step. No CSI provisioner or
// PersistentVolume controller runs, so the tests play their part: they "restore" a prime claim by
// creating a PersistentVolume for it and binding the two, and, once the populator has pointed the
// volume at the user's claim, bind that claim and mark the prime claim Lost.
package populator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	eventsv1 "k8s.io/api/events/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/populator"
)

// noImageWarning is the populator's NoImageWarning in this suite.
const noImageWarning = 5 * time.Minute

// wait bounds every wait for the populator; it reacts to watches, so this is generous.
const wait = 20 * time.Second

var (
	env *testenv.Env
	// k8s reads straight from the API server, never from a cache.
	k8s       client.Client
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

	_, stop, err := testenv.StartManager(env.Config, ctrl.Options{Cache: cachepolicy.Options(), NewClient: cachepolicy.NewClient},
		func(mgr ctrl.Manager) error {
			return (&populator.Reconciler{
				Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock, NoImageWarning: noImageWarning,
			}).SetupWithManager(mgr)
		},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func eventually(t *testing.T, cond func() error) {
	t.Helper()
	testenv.Eventually(t, wait, cond)
}

// events lists "Type Reason: note" of the Events about the named object.
func events(t *testing.T, ns, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Type+" "+e.Reason+": "+e.Note)
		}
	}
	return out
}

// waitEvent waits for an Event of type and reason about name and returns it.
func waitEvent(t *testing.T, ns, name, eventType, reason string) string {
	t.Helper()
	var found string
	eventually(t, func() error {
		all := events(t, ns, name)
		for _, e := range all {
			if strings.HasPrefix(e, eventType+" "+reason+": ") {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s %s event about %s; have %q", eventType, reason, name, all)
	})
	return found
}
