package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/replication/statemachine"
)

// TestFailingMoverRetriesBoundedThenBacksOff gives an rsync-tls source a pre-shared key that is
// well formed but not the destination's, so every mover pod fails its TLS handshake. The Job
// retries exactly moverBackoffLimit times, then the sync is marked failed: consecutiveFailures,
// nextRetryTime, latestMoverStatus with the mover's explanation, a Synchronizing condition with
// reason Error, and a Warning TransferFailed Event. No new Job starts before nextRetryTime although the
// manual trigger is still unmet; the attempt after it fails the same way and doubles the backoff.
func TestFailingMoverRetriesBoundedThenBacksOff(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "mover-failure")
	newPVC(t, ns, "source", nil)
	rd := newRsyncTLSDestination(t, ns, "backup", volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodDirect, Capacity: ptrQuantity("1Gi"), StorageClassName: ptr.To(storageClass),
	}, volsyncv1alpha1.MoverConfig{})
	create(t, &corev1.Secret{
		ObjectMeta: objectMeta(ns, "not-the-destinations-key"),
		StringData: map[string]string{"psk.txt": "volsync:" + strings.Repeat("0123456789abcdef", 4)},
	})

	const backoffLimit = 1
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "app"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				Address:     rd.Status.RsyncTLS.Address,
				KeySecret:   ptr.To("not-the-destinations-key"),
				MoverConfig: volsyncv1alpha1.MoverConfig{MoverBackoffLimit: ptr.To[int32](backoffLimit)},
			},
		},
	}
	create(t, rs)
	jobName := mover.ObjectName("rsync-tls-src", rs.Name)

	// The Job carries the bound.
	var job batchv1.Job
	eventually(t, syncTimeout, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: jobName}, &job)
	})
	if got := ptr.Deref(job.Spec.BackoffLimit, -1); got != backoffLimit {
		t.Errorf("mover Job %s has backoffLimit %d, want %d", jobName, got, backoffLimit)
	}
	firstJob := job.UID

	failed1 := waitFailures(t, rs, 1)
	if got := rs.Status.LatestMoverStatus; got == nil || got.Result != volsyncv1alpha1.MoverResultFailed || !strings.Contains(got.Logs, "pre-shared key") {
		t.Errorf("latestMoverStatus is %+v, want Failed with the mover's word on the pre-shared key", got)
	}
	if d := rs.Status.NextRetryTime.Sub(failed1); d < statemachine.Backoff(1)-5*time.Second || d > statemachine.Backoff(1)+time.Second {
		t.Errorf("nextRetryTime is %s after the failure, want about %s", d, statemachine.Backoff(1))
	}
	// The Job ran its first pod and backoffLimit retries, no more.
	if pods := jobPodsCreated(t, ns, jobName); pods != backoffLimit+1 {
		t.Errorf("mover Job %s created %d pods, want %d (one and %d retries)", jobName, pods, backoffLimit+1, backoffLimit)
	}
	requireWarningEvent(t, ns, "ReplicationSource", rs.Name, statemachine.ReasonSyncFailed, "pre-shared key")

	// Until nextRetryTime nothing runs, although spec.trigger.manual is still unmet; the status
	// says why.
	retryAt := rs.Status.NextRetryTime.Time
	sawBackoff := false
	for time.Until(retryAt) > 2*time.Second {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: jobName}, &job); err == nil && job.UID != firstJob {
			t.Fatalf("a new mover Job started at %s, before nextRetryTime %s", job.CreationTimestamp.UTC().Format(time.RFC3339), retryAt.UTC().Format(time.RFC3339))
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
			t.Fatal(err)
		}
		if rs.Status.ConsecutiveFailures != 1 {
			t.Fatalf("consecutiveFailures became %d before nextRetryTime", rs.Status.ConsecutiveFailures)
		}
		if c := meta.FindStatusCondition(rs.Status.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil && c.Reason == volsyncv1alpha1.ReasonError {
			sawBackoff = true
			if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "pre-shared key") || !strings.Contains(c.Message, retryAt.UTC().Format(time.RFC3339)) {
				t.Errorf("condition Synchronizing while backing off is %+v, want False, saying why the sync failed and when it retries", c)
			}
		} else if c == nil || c.Reason != volsyncv1alpha1.ReasonCleaningUp {
			t.Errorf("condition Synchronizing while backing off is %+v, want reason Error (or CleaningUp just after the failure)", c)
		}
		time.Sleep(time.Second)
	}
	if !sawBackoff {
		t.Errorf("the Synchronizing condition never showed reason Error while the sync backed off")
	}

	// The next attempt, after nextRetryTime, fails the same way and waits twice as long.
	failed2 := waitFailures(t, rs, 2)
	if !rs.Status.LastSyncStartTime.Time.After(retryAt.Add(-time.Second)) {
		t.Errorf("the second attempt started at %s, before nextRetryTime %s", rs.Status.LastSyncStartTime.UTC().Format(time.RFC3339), retryAt.UTC().Format(time.RFC3339))
	}
	if d := rs.Status.NextRetryTime.Sub(failed2); d < statemachine.Backoff(2)-5*time.Second || d > statemachine.Backoff(2)+time.Second {
		t.Errorf("nextRetryTime is %s after the second failure, want about %s", d, statemachine.Backoff(2))
	}
	if rs.Status.LastManualSync == "first" || rs.Status.LastSyncTime != nil {
		t.Errorf("a failed sync was recorded as done: lastManualSync %q, lastSyncTime %v", rs.Status.LastManualSync, rs.Status.LastSyncTime)
	}
}

// waitFailures waits until rs has failed n syncs in a row and returns about when the last failure
// was recorded (when it was first seen, which is at most a poll later).
func waitFailures(t *testing.T, rs *volsyncv1alpha1.ReplicationSource, n int32) time.Time {
	t.Helper()
	timeout := syncTimeout
	if rs.Status.NextRetryTime != nil {
		timeout += time.Until(rs.Status.NextRetryTime.Time)
	}
	eventually(t, timeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rs), rs); err != nil {
			return err
		}
		if rs.Status.ConsecutiveFailures != n || rs.Status.NextRetryTime == nil {
			c := meta.FindStatusCondition(rs.Status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
			return fmt.Errorf("source %s: consecutiveFailures %d, nextRetryTime %v, want %d failures (condition %+v)",
				rs.Name, rs.Status.ConsecutiveFailures, rs.Status.NextRetryTime, n, c)
		}
		return nil
	})
	return time.Now()
}

// jobPodsCreated counts the pods the Job controller created for the Job named job (from its
// SuccessfulCreate Events, which outlive the Job and its pods).
func jobPodsCreated(t *testing.T, ns, job string) int {
	t.Helper()
	var events corev1.EventList
	if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	pods := map[string]bool{}
	for _, e := range events.Items {
		if e.InvolvedObject.Kind == "Job" && e.InvolvedObject.Name == job && e.Reason == "SuccessfulCreate" {
			pods[e.Message] = true
		}
	}
	return len(pods)
}

// requireWarningEvent fails the test unless the object has a Warning Event with reason whose
// message contains text.
func requireWarningEvent(t *testing.T, ns, kind, name, reason, text string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		var events corev1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name {
				continue
			}
			if e.Type == corev1.EventTypeWarning && e.Reason == reason && strings.Contains(e.Message, text) {
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, e.Message))
		}
		return fmt.Errorf("no Warning %s Event mentioning %q on %s %s; it has %q", reason, text, kind, name, seen)
	})
}
