package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/schedule"
)

func tlsSource(ns, name, pvc string, trigger *volsyncv1alpha1.ReplicationTriggerSpec) *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: pvc,
			Trigger:   trigger,
			RsyncTLS:  &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{Address: ptr.To("dst.example.com"), KeySecret: ptr.To("psk")},
		},
	}
}

func tlsSourceJob(rs string) string { return mover.ObjectName("rsync-tls-src", rs) }

func TestWithoutATriggerTheSourceSyncsBackToBack(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "always", "data", nil)
	create(t, rs)

	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	if dataClaim(job) != "data" {
		t.Errorf("copyMethod Direct mounts %q, want the source PVC itself", dataClaim(job))
	}
	if addr, _ := envOf(job, "DESTINATION_ADDRESS"); addr != "dst.example.com" {
		t.Errorf("DESTINATION_ADDRESS %q", addr)
	}
	if port, _ := envOf(job, "DESTINATION_PORT"); port != "8000" {
		t.Errorf("DESTINATION_PORT %q, want the rsync-tls default 8000", port)
	}
	if got := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); got != "volsync-mover rsync-tls source" {
		t.Errorf("command %q", got)
	}
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
	if rs.Status.NextSyncTime != nil {
		t.Errorf("nextSyncTime %v is set for the always trigger", rs.Status.NextSyncTime)
	}

	finishJob(t, job, 0, summary("Successful", 4096, 3, "sent 3 files"), "")
	// The finished Job is cleaned up and a new one starts at once.
	next := waitJob(t, ns, tlsSourceJob(rs.Name), string(job.UID))
	eventually(t, wait, func() error {
		get(t, rs)
		st := rs.Status
		if st.LastSyncTime == nil || st.LatestMoverStatus == nil || st.LatestMoverStatus.Result != volsyncv1alpha1.MoverResultSuccessful {
			return fmt.Errorf("status after the first sync: %+v", st.ReplicationStatus)
		}
		if st.LatestMoverStatus.Logs != "sent 3 files" {
			return fmt.Errorf("latestMoverStatus.logs %q", st.LatestMoverStatus.Logs)
		}
		if st.LastSyncDuration == nil || st.LastSyncStartTime == nil {
			return fmt.Errorf("duration %v start %v", st.LastSyncDuration, st.LastSyncStartTime)
		}
		return nil
	})
	if next.UID == job.UID {
		t.Fatal("the second sync reused the first Job")
	}
	waitEvent(t, ns, rs.Name, "SyncCompleted")
}

func TestACronScheduleSyncsAtItsTimesAndRequeuesForTheNext(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "cron", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *")})
	create(t, rs)

	// As in VolSync, a new object on a schedule syncs at once, then at the schedule's times.
	get(t, rs)
	created := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	finishJob(t, created, 0, summary("Successful", 1, 1, "synced"), "")
	eventually(t, wait, func() error {
		get(t, rs)
		if got := rs.Status.LastTriggers[schedule.TypeSchedule]; got.IsZero() || got.Sub(rs.CreationTimestamp.Time).Abs() > time.Second || rs.Status.LastSyncTime == nil {
			return fmt.Errorf("lastTriggers[Schedule] %v, want the creation %s", got, rs.CreationTimestamp)
		}
		return nil
	})
	first := rs.CreationTimestamp.Time.Truncate(10 * time.Minute).Add(10 * time.Minute)
	eventually(t, wait, func() error {
		get(t, rs)
		c := synchronizing(&rs.Status.ReplicationStatus)
		if c == nil || c.Reason != volsyncv1alpha1.ReasonWaitingForSchedule {
			return fmt.Errorf("condition %+v", c)
		}
		if rs.Status.NextSyncTime == nil || !rs.Status.NextSyncTime.Time.Equal(first) {
			return fmt.Errorf("nextSyncTime %v, want %s", rs.Status.NextSyncTime, first)
		}
		return nil
	})
	noJob(t, ns, tlsSourceJob(rs.Name))

	fakeClock.SetTime(first)
	poke(t, rs)
	job := waitJob(t, ns, tlsSourceJob(rs.Name), string(created.UID))
	eventually(t, wait, func() error {
		get(t, rs)
		if got := rs.Status.LastTriggers[schedule.TypeSchedule]; !got.Time.Equal(first) {
			return fmt.Errorf("lastTriggers[Schedule] %v, want %s", got, first)
		}
		return nil
	})
	fakeClock.Step(time.Minute)
	finishJob(t, job, 0, summary("Successful", 2048, 7, "synced"), "")
	eventually(t, wait, func() error {
		get(t, rs)
		c := synchronizing(&rs.Status.ReplicationStatus)
		if c == nil || c.Reason != volsyncv1alpha1.ReasonWaitingForSchedule || rs.Status.LastSyncTime == nil {
			return fmt.Errorf("condition %+v lastSyncTime %v", c, rs.Status.LastSyncTime)
		}
		if want := first.Add(10 * time.Minute); rs.Status.NextSyncTime == nil || !rs.Status.NextSyncTime.Time.Equal(want) {
			return fmt.Errorf("nextSyncTime %v, want %s", rs.Status.NextSyncTime, want)
		}
		if rs.Status.LastSyncDuration.Duration != time.Minute {
			return fmt.Errorf("lastSyncDuration %s, want 1m", rs.Status.LastSyncDuration.Duration)
		}
		if p := rs.Status.Progress; p == nil || p.BytesDone != 2048 || p.FilesDone != 7 {
			return fmt.Errorf("progress %+v, want the mover's 2048 bytes and 7 files", p)
		}
		return nil
	})
	noJob(t, ns, tlsSourceJob(rs.Name))

	// Down for three periods: the newest is caught up once, the two before it are counted missed.
	fakeClock.SetTime(first.Add(35 * time.Minute))
	poke(t, rs)
	waitJob(t, ns, tlsSourceJob(rs.Name), string(job.UID))
	waitEvent(t, ns, rs.Name, "MissedTrigger")
	if got := missedCount(t, ns, rs.Name); got != 2 {
		t.Errorf("volsync_missed_intervals_total %v, want 2", got)
	}
}

func TestAManualTriggerRunsOnceAndIsNotInterruptedByAChange(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "manual", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"})
	create(t, rs)

	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	get(t, rs)
	rs.Spec.Trigger.Manual = "second"
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
	if again := get(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: job.Name, Namespace: ns}}); again.UID != job.UID {
		t.Fatal("changing spec.trigger.manual replaced the running Job")
	}
	finishJob(t, job, 0, summary("Successful", 0, 0, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	if rs.Status.LastManualSync != "second" {
		t.Fatalf("lastManualSync %q, want the value in spec when the sync completed", rs.Status.LastManualSync)
	}
	noJob(t, ns, tlsSourceJob(rs.Name))
	if rs.Status.NextSyncTime != nil {
		t.Errorf("nextSyncTime %v is set for a manual trigger", rs.Status.NextSyncTime)
	}

	get(t, rs)
	rs.Spec.Trigger.Manual = "third"
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	waitJob(t, ns, tlsSourceJob(rs.Name), string(job.UID))
}

func TestPausedStartsNoSyncAndSuspendsARunningJob(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "paused", "data", nil)
	rs.Spec.Paused = true
	create(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonPaused)
	noJob(t, ns, tlsSourceJob(rs.Name))

	get(t, rs)
	rs.Spec.Paused = false
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	if *job.Spec.Parallelism != 1 {
		t.Fatalf("parallelism %d", *job.Spec.Parallelism)
	}
	get(t, rs)
	rs.Spec.Paused = true
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		j := get(t, job.DeepCopy())
		if *j.Spec.Parallelism != 0 {
			return fmt.Errorf("parallelism %d, want 0 while paused", *j.Spec.Parallelism)
		}
		return nil
	})
	waitReason(t, rs, volsyncv1alpha1.ReasonPaused)
	get(t, rs)
	rs.Spec.Paused = false
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		j := get(t, job.DeepCopy())
		if j.UID != job.UID || *j.Spec.Parallelism != 1 {
			return fmt.Errorf("job %s parallelism %d, want the same Job resumed", j.UID, *j.Spec.Parallelism)
		}
		return nil
	})
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
}

func TestAScheduleWithAMissingPolicyShowsAnErrorUntilThePolicyExists(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	policyName := "repl-late-policy"
	rs := tlsSource(ns, "late-policy", "data", &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policyName})
	create(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonError)
	if c := synchronizing(&rs.Status.ReplicationStatus); !strings.Contains(c.Message, policyName) {
		t.Errorf("message %q does not name the policy", c.Message)
	}
	waitEvent(t, ns, rs.Name, "InvalidTrigger")
	noJob(t, ns, tlsSourceJob(rs.Name))

	fakeClock.Step(time.Second)
	create(t, &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}},
	})
	// The SchedulePolicy watch brings the owner back; the interval fires at once.
	waitJob(t, ns, tlsSourceJob(rs.Name), "")
}

func TestAPolicyCreatesDatedSyncChildrenAndKeepsItsRetain(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "repl-hourly-keep-2"},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60, Retain: ptr.To[int32](2)}},
	}
	create(t, policy)
	rs := tlsSource(ns, "hourly", "data", &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy.Name})
	create(t, rs)
	created(t, rs)

	var names []string
	var lastJob string
	for i := range 3 {
		job := waitJob(t, ns, tlsSourceJob(rs.Name), lastJob)
		lastJob = string(job.UID)
		get(t, rs)
		scheduled := rs.CreationTimestamp.Time.Add(time.Duration(i) * time.Hour)
		name := schedule.ChildName(rs.Name, schedule.TypeInterval, scheduled)
		names = append(names, name)
		child := &volsyncv1alpha1.ReplicationSync{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		eventually(t, wait, func() error {
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(child), child); err != nil {
				return err
			}
			if child.Status.Status != volsyncv1alpha1.RunStatusInProgress || child.Status.StartTime == nil {
				return fmt.Errorf("child %s status %+v, want InProgress", name, child.Status)
			}
			return nil
		})
		if child.Spec.Replication.Name != rs.Name || child.Spec.Replication.Kind != "ReplicationSource" ||
			child.Spec.PolicyType != schedule.TypeInterval || !child.Spec.ScheduledTime.Time.Equal(scheduled) {
			t.Errorf("child spec %+v", child.Spec)
		}
		if ref := metav1.GetControllerOf(child); ref == nil || ref.UID != rs.UID {
			t.Errorf("child %s is not controlled by its owner: %+v", name, child.OwnerReferences)
		}
		finishJob(t, job, 0, summary("Successful", 10, 1, "done"), "")
		eventually(t, wait, func() error {
			get(t, child)
			if child.Status.Status != volsyncv1alpha1.RunStatusSuccessful || child.Status.FinishTime == nil ||
				child.Status.MoverStatus == nil || child.Status.MoverStatus.Logs != "done" {
				return fmt.Errorf("child %s status %+v, want Successful with the mover's status", name, child.Status)
			}
			return nil
		})
		waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForSchedule)
		if want := scheduled.Add(time.Hour); rs.Status.NextSyncTime == nil || !rs.Status.NextSyncTime.Time.Equal(want) {
			t.Fatalf("nextSyncTime %v, want %s", rs.Status.NextSyncTime, want)
		}
		fakeClock.SetTime(scheduled.Add(time.Hour))
		poke(t, rs)
	}
	// Three runs, retain 2: the oldest child is gone and history lists the newest two.
	eventually(t, wait, func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: names[0]}, &volsyncv1alpha1.ReplicationSync{})
		if err == nil {
			return fmt.Errorf("child %s beyond retain still exists", names[0])
		}
		get(t, rs)
		runs := rs.Status.ScheduledSyncs[schedule.TypeInterval]
		if len(runs) != 2 || runs[0].Name != names[1] || runs[1].Name != names[2] {
			return fmt.Errorf("scheduledSyncs %+v, want %v", runs, names[1:])
		}
		return nil
	})
	// The age of the data and what the policy promises, side by side for an alert.
	if v, _ := metricValue(t, "volsync_sync_interval_seconds", ns, rs.Name); v != 3600 {
		t.Errorf("volsync_sync_interval_seconds %v, want the policy's 60 minutes", v)
	}
	if v, _ := metricValue(t, "volsync_last_sync_timestamp_seconds", ns, rs.Name); rs.Status.LastSyncTime == nil || v != float64(rs.Status.LastSyncTime.Unix()) {
		t.Errorf("volsync_last_sync_timestamp_seconds %v, want status.lastSyncTime %v", v, rs.Status.LastSyncTime)
	}
}

func TestAPolicyTriggerDueDuringASyncIsQueuedAsPendingThenRuns(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "repl-hourly-queue"},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}},
	}
	create(t, policy)
	rs := tlsSource(ns, "queue", "data", &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy.Name})
	create(t, rs)
	created(t, rs)
	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	get(t, rs)
	second := rs.CreationTimestamp.Time.Add(time.Hour)
	fakeClock.SetTime(second.Add(time.Minute)) // the first sync is still running an hour later
	poke(t, rs)

	name := schedule.ChildName(rs.Name, schedule.TypeInterval, second)
	child := &volsyncv1alpha1.ReplicationSync{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	eventually(t, wait, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(child), child); err != nil {
			return err
		}
		if child.Status.Status != volsyncv1alpha1.RunStatusPending {
			return fmt.Errorf("queued child status %q, want Pending", child.Status.Status)
		}
		get(t, rs)
		runs := rs.Status.ScheduledSyncs[schedule.TypeInterval]
		if len(runs) != 2 || runs[0].Status != volsyncv1alpha1.RunStatusInProgress || runs[1].Status != volsyncv1alpha1.RunStatusPending {
			return fmt.Errorf("scheduledSyncs %+v, want the running one and the queued one", runs)
		}
		return nil
	})
	if again := get(t, job.DeepCopy()); again.UID != job.UID {
		t.Fatal("the queued trigger disturbed the running sync")
	}

	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	waitJob(t, ns, tlsSourceJob(rs.Name), string(job.UID))
	eventually(t, wait, func() error {
		get(t, child)
		if child.Status.Status != volsyncv1alpha1.RunStatusInProgress {
			return fmt.Errorf("queued child status %q, want InProgress once the first sync ended", child.Status.Status)
		}
		get(t, rs)
		if runs := rs.Status.ScheduledSyncs[schedule.TypeInterval]; runs[0].Status != volsyncv1alpha1.RunStatusSuccessful {
			return fmt.Errorf("scheduledSyncs %+v", runs)
		}
		return nil
	})
}
