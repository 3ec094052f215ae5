package testenv

import (
	"context"
	"fmt"
	"maps"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batchv1 "k8s.io/api/batch/v1"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

// FinishJob plays the kubelet and the Job controller on c, as no envtest runs them: a pod of job
// ends with exitCode and message in its termination log (image is its container's image), and the
// Job is marked Complete, or Failed with failReason.
func FinishJob(t testing.TB, c client.Client, job *batchv1.Job, image string, exitCode int32, message, failReason string) {
	t.Helper()
	ctx := context.Background()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", job.Name, time.Now().UnixNano()%100000), Namespace: job.Namespace,
			Labels: JobPodLabels(job)},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	phase := corev1.PodSucceeded
	if exitCode != 0 {
		phase = corev1.PodFailed
	}
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "mover", Image: image, ImageID: "sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: message, StartedAt: now, FinishedAt: now}},
	}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	latest := job.DeepCopy()
	if err := c.Get(ctx, client.ObjectKeyFromObject(job), latest); err != nil {
		t.Fatal(err)
	}
	latest.Status.StartTime = &now
	if exitCode == 0 {
		latest.Status.Succeeded = 1
		latest.Status.CompletionTime = &now
		latest.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	} else {
		latest.Status.Failed = 1
		latest.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: failReason, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: failReason, Message: "the mover pod failed", LastTransitionTime: now},
		}
	}
	if err := c.Status().Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
}

// JobPodLabels are the labels the Job controller gives job's pods: the template's (volsync's own
// and the controller-uid the API server put there) and the job-name labels. Tests that play the
// Job controller give their pods these.
func JobPodLabels(job *batchv1.Job) map[string]string {
	labels := map[string]string{"batch.kubernetes.io/job-name": job.Name, "job-name": job.Name}
	maps.Copy(labels, job.Spec.Template.Labels)
	return labels
}
