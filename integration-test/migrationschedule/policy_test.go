package migrationschedule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// wantReady waits until the schedule's Ready condition has this message and its next triggers are
// of exactly these types.
func wantReady(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, message string, types ...volsyncv1alpha1.SchedulePolicyType) {
	t.Helper()
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.Message != message {
			return fmt.Errorf("Ready is %+v, want True %q", ready, message)
		}
		var have []volsyncv1alpha1.SchedulePolicyType
		for _, n := range got.Status.NextTriggers {
			have = append(have, n.Type)
		}
		if fmt.Sprint(have) != fmt.Sprint(types) {
			return fmt.Errorf("next triggers are of %v, want %v", have, types)
		}
		return nil
	})
}

// A NamespacedSchedulePolicy of the schedule's namespace is used before the SchedulePolicy of that
// name; editing or deleting it wakes the schedule through the watch (no poke), and once it is gone
// the schedule falls back to the cluster's policy.
func TestANamespacedSchedulePolicyWinsOverTheClusterPolicyAndItsChangesWakeTheSchedule(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	far := fakeClock.Now().Add(6 * time.Hour)
	name := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: kitchen(far)}})
	nsp := &volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60, Retain: ptr32(0)}}}
	if err := k8s.Create(ctx, nsp); err != nil {
		t.Fatal(err)
	}
	ms := createSchedule(t, ns, "local", name, false)
	wantChildren(t, ns, childName(ms.Name, "interval", ms.CreationTimestamp.Time))
	wantReady(t, ms, fmt.Sprintf("migrations are created on namespaced schedule policy %q", ns+"/"+name), interval)

	// An edit reaches the schedule through the watch.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(nsp), nsp); err != nil {
		t.Fatal(err)
	}
	nsp.Policy.Weekly = &volsyncv1alpha1.WeeklyPolicy{Day: "Sun", Time: "1:00AM"}
	if err := k8s.Update(ctx, nsp); err != nil {
		t.Fatal(err)
	}
	wantReady(t, ms, fmt.Sprintf("migrations are created on namespaced schedule policy %q", ns+"/"+name), interval, weekly)

	// So does its deletion: the cluster's policy of that name takes over.
	if err := k8s.Delete(ctx, nsp); err != nil {
		t.Fatal(err)
	}
	wantReady(t, ms, fmt.Sprintf("migrations are created on schedule policy %q", name), daily)
}

// Editing a policy from 60 minutes to 1 minute, 30 minutes after the last run, does not report the
// 29 one-minute triggers the new grid seems to have passed as missed: the policy as it stood then
// did not call for them. The newest runs at once; triggers the edited policy calls for and that
// then pass unhandled are missed as before.
func TestEditingAPolicyToAShorterIntervalDoesNotReportTheBacklogAsMissed(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}})
	ms := createSchedule(t, ns, "shorter", policy, false)
	created := ms.CreationTimestamp.Time
	first := childName(ms.Name, "interval", created)
	wantChildren(t, ns, first)
	finish(t, ns, first, volsyncv1alpha1.RunStatusSuccessful, "")
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{first: volsyncv1alpha1.RunStatusSuccessful}, first)
	before := missed(ms.Name, ns)

	// 30 minutes after the last run the policy is edited to 1 minute; the edit alone wakes the
	// schedule.
	fakeClock.SetTime(created.Add(30*time.Minute + 10*time.Second))
	var sp volsyncv1alpha1.SchedulePolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: policy}, &sp); err != nil {
		t.Fatal(err)
	}
	sp.Policy.Interval.IntervalMinutes = 1
	if err := k8s.Update(ctx, &sp); err != nil {
		t.Fatal(err)
	}
	second := childName(ms.Name, "interval", created.Add(30*time.Minute))
	wantChildren(t, ns, first, second)
	eventually(t, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: policy}, &sp); err != nil {
			return err
		}
		if sp.Status.ObservedGeneration != sp.Generation || sp.Status.PolicyChangedTime == nil ||
			!sp.Status.PolicyChangedTime.Time.Equal(created.Add(30*time.Minute+10*time.Second)) {
			return fmt.Errorf("policy status: generation %d observed %d changed %v, want the edit's time recorded",
				sp.Generation, sp.Status.ObservedGeneration, sp.Status.PolicyChangedTime)
		}
		return nil
	})
	poke(t, ms) // a pass that reads the recorded change time must not count the backlog either
	stillTrue(t, func() error {
		if m := missed(ms.Name, ns); m != before {
			return fmt.Errorf("volsync_missed_intervals_total went from %v to %v after the edit, want no change", before, m)
		}
		notes, err := events(ns, ms.Name, "MissedSchedule")
		if err != nil {
			return err
		}
		if len(notes) != 0 {
			return fmt.Errorf("MissedSchedule events after the edit: %q", notes)
		}
		return nil
	})

	// Five minutes on, with the controller seeing nothing in between, the edited policy's own
	// triggers that passed are missed: 4 older ones, the newest runs.
	finish(t, ns, second, volsyncv1alpha1.RunStatusSuccessful, "")
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{first: volsyncv1alpha1.RunStatusSuccessful, second: volsyncv1alpha1.RunStatusSuccessful}, first, second)
	back := created.Add(35 * time.Minute)
	step(t, ms, back.Add(10*time.Second))
	wantChildren(t, ns, first, second, childName(ms.Name, "interval", back))
	eventually(t, func() error {
		if m := missed(ms.Name, ns); m != before+4 {
			return fmt.Errorf("missed went from %v to %v, want +4", before, m)
		}
		return nil
	})
	wantEvent(t, ns, ms.Name, "MissedSchedule", fmt.Sprintf("4 Interval trigger(s) of schedule policy %q missed before %s; the latest runs once",
		policy, back.UTC().Format(time.RFC3339)))
}

func ptr32(v int32) *int32 { return &v }
