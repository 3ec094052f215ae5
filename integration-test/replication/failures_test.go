package replication

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/replication/statemachine"
)

func resticSource(ns, name, pvc string, trigger *volsyncv1alpha1.ReplicationTriggerSpec) *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: pvc,
			Trigger:   trigger,
			Restic:    &volsyncv1alpha1.ReplicationSourceResticSpec{Repository: "restic-repo"},
		},
	}
}

func resticSourceJob(rs string) string { return mover.ObjectName("restic-src", rs) }

func TestAFailedJobFailsTheSyncAndTheRetryWaitsForTheBackoff(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := resticSource(ns, "fails", "data", nil)
	rs.Spec.Restic.MoverBackoffLimit = ptr.To[int32](1)
	create(t, rs)

	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	if *job.Spec.BackoffLimit != 1 {
		t.Errorf("backoffLimit %d, want moverBackoffLimit 1", *job.Spec.BackoffLimit)
	}
	failedAt := fakeClock.Now()
	finishJob(t, job, 1, "Fatal: unable to open config file: s3 bucket does not exist", "BackoffLimitExceeded")
	waitReason(t, rs, volsyncv1alpha1.ReasonError)
	st := rs.Status.ReplicationStatus
	if st.ConsecutiveFailures != 1 || st.LatestMoverStatus == nil || st.LatestMoverStatus.Result != volsyncv1alpha1.MoverResultFailed {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(st.LatestMoverStatus.Logs, "bucket does not exist") {
		t.Errorf("latestMoverStatus.logs %q lacks the log tail", st.LatestMoverStatus.Logs)
	}
	if st.NextRetryTime == nil || st.NextRetryTime.Time.Before(failedAt.Add(time.Minute-time.Second)) {
		t.Errorf("nextRetryTime %v, want a minute after the failure", st.NextRetryTime)
	}
	waitEvent(t, ns, rs.Name, statemachine.ReasonSyncFailed)
	if v, _ := metricValue(t, "volsync_volume_out_of_sync", ns, rs.Name); v != 1 {
		t.Errorf("volsync_volume_out_of_sync %v after a failure, want 1", v)
	}
	if v, ok := metricValue(t, "volsync_sync_failures_total", ns, rs.Name); !ok || v != 1 {
		t.Errorf("volsync_sync_failures_total %v (present %v) after the first failure, want 1", v, ok)
	}
	// The failed Job is removed and not recreated before the backoff passes: no endless loop.
	noJob(t, ns, resticSourceJob(rs.Name))
	poke(t, rs)
	noJob(t, ns, resticSourceJob(rs.Name))

	fakeClock.SetTime(st.NextRetryTime.Time)
	poke(t, rs)
	second := waitJob(t, ns, resticSourceJob(rs.Name), string(job.UID))
	finishJob(t, second, 1, "still failing", "BackoffLimitExceeded")
	eventually(t, wait, func() error {
		get(t, rs)
		if rs.Status.ConsecutiveFailures != 2 || rs.Status.NextRetryTime == nil {
			return fmt.Errorf("failures %d", rs.Status.ConsecutiveFailures)
		}
		if d := rs.Status.NextRetryTime.Time.Sub(st.NextRetryTime.Time); d < 2*time.Minute-time.Second || d > 2*time.Minute+time.Second {
			return fmt.Errorf("second backoff %s, want 2m", d)
		}
		return nil
	})

	fakeClock.SetTime(rs.Status.NextRetryTime.Time)
	poke(t, rs)
	third := waitJob(t, ns, resticSourceJob(rs.Name), string(second.UID))
	finishJob(t, third, 0, summary("Successful", 1, 1, ""), "")
	eventually(t, wait, func() error {
		get(t, rs)
		if rs.Status.ConsecutiveFailures != 0 || rs.Status.NextRetryTime != nil || rs.Status.LastSyncTime == nil {
			return fmt.Errorf("after a success: %+v", rs.Status.ReplicationStatus)
		}
		return nil
	})
	if v, _ := metricValue(t, "volsync_volume_out_of_sync", ns, rs.Name); v != 0 {
		t.Errorf("volsync_volume_out_of_sync %v after a success, want 0", v)
	}
	if v, _ := metricValue(t, "volsync_sync_failures_total", ns, rs.Name); v != 2 {
		t.Errorf("volsync_sync_failures_total %v after two failures and a success, want 2 (a success does not reset it)", v)
	}
	if n, ok := metricValue(t, "volsync_sync_duration_seconds", ns, rs.Name); !ok || n < 1 {
		t.Errorf("volsync_sync_duration_seconds has %v samples, want the successful sync", n)
	}
}

func TestALockedResticRepositoryFailsFastWithAClearMessage(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := resticSource(ns, "locked", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "once"})
	create(t, rs)

	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	rule := job.Spec.PodFailurePolicy
	if rule == nil || len(rule.Rules) != 1 || rule.Rules[0].OnExitCodes == nil || rule.Rules[0].OnExitCodes.Values[0] != 11 {
		t.Fatalf("podFailurePolicy %+v, want FailJob on exit code 11", rule)
	}
	finishJob(t, job, 11, "unable to create lock in backend: repository is already locked", "PodFailurePolicy")
	waitReason(t, rs, volsyncv1alpha1.ReasonError)
	note := waitEvent(t, ns, rs.Name, statemachine.ReasonSyncFailed)
	if !strings.Contains(note, restic.ReasonRepositoryLocked) || !strings.Contains(note, "spec.restic.unlock") {
		t.Errorf("event %q does not say the repository is locked and how to unlock it", note)
	}
	if rs.Status.LastManualSync != "" {
		t.Errorf("lastManualSync %q after a failed sync", rs.Status.LastManualSync)
	}
}

func TestResticJobsCarryTheRepositoryRetainPruneAndUnlock(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := resticSource(ns, "settings", "data", nil)
	rs.Spec.Restic.Retain = &volsyncv1alpha1.ResticRetainPolicy{Daily: ptr.To[int32](7), Weekly: ptr.To[int32](4)}
	rs.Spec.Restic.Unlock = "u1"
	rs.Spec.Restic.Exclude = []string{"*.tmp", "cache/"}
	create(t, rs)
	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	for name, want := range map[string]string{
		"FORGET_OPTIONS":  "--keep-daily 7 --keep-weekly 4",
		"UNLOCK":          "1",
		"PRUNE":           "0",
		"RESTIC_EXCLUDES": "*.tmp\ncache/",
	} {
		if got, _ := envOf(job, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	c := job.Spec.Template.Spec.Containers[0]
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "restic-repo" {
		t.Errorf("envFrom %+v, want the repository Secret", c.EnvFrom)
	}
	var cache string
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == "cache" {
			cache = v.PersistentVolumeClaim.ClaimName
		}
	}
	if cache != restic.CacheName("src", rs.Name) {
		t.Errorf("cache volume %q", cache)
	}
	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	eventually(t, wait, func() error {
		get(t, rs)
		if rs.Status.Restic == nil || rs.Status.Restic.LastUnlocked != "u1" {
			return fmt.Errorf("status.restic %+v, want lastUnlocked u1", rs.Status.Restic)
		}
		return nil
	})
	next := waitJob(t, ns, resticSourceJob(rs.Name), string(job.UID))
	if got, _ := envOf(next, "UNLOCK"); got != "0" {
		t.Errorf("UNLOCK %q on the next sync, want 0 once acted on", got)
	}
}
