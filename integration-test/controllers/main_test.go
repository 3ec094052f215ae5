// Package controllers holds the controller suites: every reconciler runs in a real manager against a
// real kube-apiserver and etcd, with an injected clock the tests step.
package controllers

import (
	"fmt"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

var (
	env *testenv.Env
	// k8s reads straight from the API server, never from a cache, so assertions see the truth.
	k8s client.Client
	// fakeClock is what every reconciler in this suite reads as "now".
	fakeClock = clocktesting.NewFakeClock(time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC))
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client

	_, stop, err := env.StartManager(func(mgr ctrl.Manager) error {
		return (&schedulepolicy.Reconciler{
			Client:   mgr.GetClient(),
			Recorder: mgr.GetEventRecorder("volsync"),
			Clock:    fakeClock,
		}).SetupWithManager(mgr)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, cond)
}

// objectMeta is a name in the default namespace, or cluster-scoped when ns is "".
func objectMeta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns}
}
