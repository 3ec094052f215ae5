package testenv

import (
	"context"
	"fmt"
	"maps"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// PollInterval is how often Eventually looks again.
const PollInterval = 50 * time.Millisecond

// Eventually polls cond every PollInterval until it returns nil or timeout passes, then fails the
// test with cond's last error. Tests never sleep to wait for a state.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	EventuallyEvery(t, timeout, PollInterval, cond)
}

// EventuallyEvery is Eventually looking again every interval, for states that take seconds to
// reach on a real cluster, where polling faster would only load the API server.
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// StartManager builds a manager for cfg with the volsync scheme and no metrics listener, lets each
// setup register its controllers, and starts it in the background. stop cancels it and waits until
// it has shut down.
func (e *Env) StartManager(setups ...func(ctrl.Manager) error) (mgr ctrl.Manager, stop func(), err error) {
	return StartManager(e.Config, ctrl.Options{}, setups...)
}

// StartManager is Env.StartManager for any control plane's config, such as a second cluster's,
// with manager options (a cache limited to some namespaces, say). An unset scheme is the volsync
// scheme; the metrics listener is always off, so suites can run side by side.
func StartManager(cfg *rest.Config, opts ctrl.Options, setups ...func(ctrl.Manager) error) (ctrl.Manager, func(), error) {
	if opts.Scheme == nil {
		scheme, err := NewScheme()
		if err != nil {
			return nil, nil, err
		}
		opts.Scheme = scheme
	}
	opts.Metrics = metricsserver.Options{BindAddress: "0"}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	for _, setup := range setups {
		if err := setup(mgr); err != nil {
			return nil, nil, fmt.Errorf("registering a controller: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return mgr, func() { cancel(); <-done }, nil
}

// JobPodLabels are the labels the Job controller gives job's pods: the template's (volsync's own
// and the controller-uid the API server put there) and the job-name labels. Tests that play the
// Job controller give their pods these.
func JobPodLabels(job *batchv1.Job) map[string]string {
	labels := map[string]string{"batch.kubernetes.io/job-name": job.Name, "job-name": job.Name}
	maps.Copy(labels, job.Spec.Template.Labels)
	return labels
}
