package migrationschedule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The schedule's side of disaster recovery: history that keeps the last good copy, autoSuspend
// once the destination is activated, and the recovery point.

// runOnce waits for the dated Interval Migration of ms at at and finishes it with status s.
func runOnce(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, at time.Time, s volsyncv1alpha1.RunStatus) string {
	t.Helper()
	name := childName(ms.Name, "interval", at)
	eventually(t, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ms.Namespace, Name: name}, &volsyncv1alpha1.Migration{})
	})
	finish(t, ms.Namespace, name, s, "")
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		for _, it := range got.Status.Items[interval] {
			if it.Name == name && it.Status == s {
				return nil
			}
		}
		return fmt.Errorf("items.Interval = %v, want %s %s", historyNames(got, interval), name, s)
	})
	return name
}

func TestRetentionNeverDeletesTheLastSuccessfulMigration(t *testing.T) {
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60, Retain: ptr.To[int32](1)}})
	ms := createSchedule(t, ns, "keep", policy, false)
	created := ms.CreationTimestamp.Time
	ok, failed := volsyncv1alpha1.RunStatusSuccessful, volsyncv1alpha1.RunStatusFailed

	good := runOnce(t, ms, created, ok)
	step(t, ms, created.Add(time.Hour+time.Second))
	bad1 := runOnce(t, ms, created.Add(time.Hour), failed)
	step(t, ms, created.Add(2*time.Hour+time.Second))
	bad2 := runOnce(t, ms, created.Add(2*time.Hour), failed)

	// retain 1 keeps the newest, and the last success stays beside it: two failures in a row
	// must not erase the record (and the Migration) of the copy a failover would use.
	wantChildren(t, ns, good, bad2)
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{good: ok, bad2: failed}, good, bad2)
	wantEvent(t, ns, ms.Name, "MigrationDeleted", "Deleted migration "+bad1+": the policy keeps the newest 1 Interval migrations")

	// A new success takes over: the old one may go now.
	step(t, ms, created.Add(3*time.Hour+time.Second))
	newer := runOnce(t, ms, created.Add(3*time.Hour), ok)
	wantChildren(t, ns, newer)
}

// setAutoSuspend sets spec.autoSuspend by a patch, which never conflicts with the controller.
func setAutoSuspend(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, on bool) {
	t.Helper()
	patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"autoSuspend":%t}}`, on))
	if err := k8s.Patch(context.Background(), ms.DeepCopy(), patch); err != nil {
		t.Fatal(err)
	}
}

// activatedRefusal plays the Migration controller refusing a run into an activated namespace.
func activatedRefusal(t *testing.T, ns, name string) {
	t.Helper()
	var m volsyncv1alpha1.Migration
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(fakeClock.Now().Truncate(time.Second))
	m.Status = volsyncv1alpha1.MigrationStatus{
		Status: volsyncv1alpha1.RunStatusFailed, Stage: volsyncv1alpha1.MigrationStageFinal, StartTimestamp: &now, FinishTimestamp: &now,
		Conditions: []metav1.Condition{{Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionTrue,
			Reason: volsyncv1alpha1.ReasonApplicationActivated, Message: "the destination namespace(s) mysql are activated", LastTransitionTime: now}},
	}
	if err := k8s.Status().Update(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
}

// wantActivation waits until the schedule's applicationActivated, suspend and condition reason
// are these.
func wantActivation(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, activated, suspend bool, reason string) *volsyncv1alpha1.MigrationSchedule {
	t.Helper()
	var got *volsyncv1alpha1.MigrationSchedule
	eventually(t, func() error {
		var err error
		if got, err = getSchedule(ms); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionApplicationActivated)
		if got.Status.ApplicationActivated != activated || ptr.Deref(got.Spec.Suspend, false) != suspend || c == nil || c.Reason != reason {
			return fmt.Errorf("applicationActivated %v, suspend %v, condition %+v; want %v, %v, %s",
				got.Status.ApplicationActivated, ptr.Deref(got.Spec.Suspend, false), c, activated, suspend, reason)
		}
		return nil
	})
	return got
}

func TestAutoSuspendStopsTheScheduleOnceARunFindsTheDestinationActivated(t *testing.T) {
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1}})
	ms := createSchedule(t, ns, "auto", policy, false)
	setAutoSuspend(t, ms, true)
	created := ms.CreationTimestamp.Time
	wantActivation(t, ms, false, false, volsyncv1alpha1.ReasonNotActivated)

	// The destination was activated while the source was away; the next run is refused, and that
	// is how the schedule learns of it.
	first := childName(ms.Name, "interval", created)
	eventually(t, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: first}, &volsyncv1alpha1.Migration{})
	})
	activatedRefusal(t, ns, first)
	wantActivation(t, ms, true, true, volsyncv1alpha1.ReasonAutoSuspended)
	wantEvent(t, ns, ms.Name, volsyncv1alpha1.ReasonAutoSuspended,
		"the destination of this schedule is activated: suspended (autoSuspend), so no migration overwrites it")

	// Suspended: the next triggers create nothing.
	step(t, ms, created.Add(2*time.Minute+time.Second))
	stillTrue(t, func() error {
		names, err := children(ns)
		if err != nil {
			return err
		}
		if len(names) != 1 {
			return fmt.Errorf("migrations %v, want only %s", names, first)
		}
		return nil
	})
}

func TestActivationToldByTheCLISuspendsWithAutoSuspendAndOnlyReportsWithout(t *testing.T) {
	for _, auto := range []bool{true, false} {
		t.Run(fmt.Sprintf("autoSuspend=%v", auto), func(t *testing.T) {
			ns := newNamespace(t)
			startClock()
			policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "1:00AM"}})
			ms := createSchedule(t, ns, "told", policy, false)
			setAutoSuspend(t, ms, auto)
			wantActivation(t, ms, false, false, volsyncv1alpha1.ReasonNotActivated)
			// What `volsyncctl activate migration` does to the schedules that feed the namespace.
			patch := client.RawPatch("application/merge-patch+json", []byte(`{"status":{"applicationActivated":true}}`))
			if err := k8s.Status().Patch(context.Background(), ms.DeepCopy(), patch); err != nil {
				t.Fatal(err)
			}
			if auto {
				wantActivation(t, ms, true, true, volsyncv1alpha1.ReasonAutoSuspended)
			} else {
				wantActivation(t, ms, true, false, volsyncv1alpha1.ReasonApplicationActivated)
			}
			// `deactivate` clears it, and the condition follows.
			patch = client.RawPatch("application/merge-patch+json", []byte(`{"status":{"applicationActivated":false}}`))
			if err := k8s.Status().Patch(context.Background(), ms.DeepCopy(), patch); err != nil {
				t.Fatal(err)
			}
			wantActivation(t, ms, false, auto, volsyncv1alpha1.ReasonNotActivated)
		})
	}
}

// recoveryPointAge reads volsync_recovery_point_age_seconds and the period of a schedule.
func recoveryPointAge(name, ns string) (age, period float64, found bool) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, 0, false
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] != name || labels["obj_namespace"] != ns {
				continue
			}
			switch f.GetName() {
			case "volsync_recovery_point_age_seconds":
				age, found = m.GetGauge().GetValue(), true
			case "volsync_migration_schedule_period_seconds":
				period = m.GetGauge().GetValue()
			}
		}
	}
	return age, period, found
}

func TestTheRecoveryPointIsTheStartOfTheNewestSuccessAndItsAgeIsAMetric(t *testing.T) {
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 30}})
	ms := createSchedule(t, ns, "rpo", policy, false)
	created := ms.CreationTimestamp.Time
	name := runOnce(t, ms, created, volsyncv1alpha1.RunStatusSuccessful)
	var m volsyncv1alpha1.Migration
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if got.Status.RecoveryPoint == nil || !got.Status.RecoveryPoint.Equal(m.Status.StartTimestamp) {
			return fmt.Errorf("recoveryPoint %v, want the run's start %v", got.Status.RecoveryPoint, m.Status.StartTimestamp)
		}
		return nil
	})
	// The age grows with the clock, with no write: it is computed when scraped.
	fakeClock.SetTime(m.Status.StartTimestamp.Add(10 * time.Minute))
	eventually(t, func() error {
		age, period, found := recoveryPointAge(ms.Name, ns)
		if !found || age != 600 || period != 1800 {
			return fmt.Errorf("age %v (found %v), period %v; want 600 and 1800", age, found, period)
		}
		return nil
	})
}
