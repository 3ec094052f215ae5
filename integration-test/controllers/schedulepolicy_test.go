package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestSchedulePolicyStatusShowsValidityAndNextTriggers(t *testing.T) {
	ctx := context.Background()
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: objectMeta("status-next-triggers", ""),
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 30},
			Daily:    &volsyncv1alpha1.DailyPolicy{Time: "10:14PM"},
			Weekly:   &volsyncv1alpha1.WeeklyPolicy{Day: "Thursday", Time: "10:13PM"},
			Monthly:  &volsyncv1alpha1.MonthlyPolicy{Date: 14, Time: "8:05PM"},
			TimeZone: "America/New_York",
		},
	}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, policy) })

	// The suite's clock reads 2024-03-09 12:00 UTC (07:00 EST, a Saturday). New York springs forward
	// the next night, so the daily time right after it is already in EDT.
	want := map[volsyncv1alpha1.SchedulePolicyType]time.Time{
		volsyncv1alpha1.SchedulePolicyTypeDaily:   time.Date(2024, 3, 10, 3, 14, 0, 0, time.UTC), // 2024-03-09 22:14 EST
		volsyncv1alpha1.SchedulePolicyTypeWeekly:  time.Date(2024, 3, 15, 2, 13, 0, 0, time.UTC), // Thu 2024-03-14 22:13 EDT
		volsyncv1alpha1.SchedulePolicyTypeMonthly: time.Date(2024, 3, 15, 0, 5, 0, 0, time.UTC),  // 2024-03-14 20:05 EDT
	}
	eventually(t, 20*time.Second, func() error {
		var got volsyncv1alpha1.SchedulePolicy
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), &got); err != nil {
			return err
		}
		valid := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionValid)
		if valid == nil || valid.Status != metav1.ConditionTrue || valid.Reason != volsyncv1alpha1.ReasonPolicyValid {
			return fmt.Errorf("Valid condition is %+v", valid)
		}
		if len(got.Status.NextTriggers) != 4 {
			return fmt.Errorf("nextTriggers has %d entries, want 4: %+v", len(got.Status.NextTriggers), got.Status.NextTriggers)
		}
		for _, trig := range got.Status.NextTriggers {
			if w, ok := want[trig.Type]; ok && !trig.Time.Time.Equal(w) {
				return fmt.Errorf("next %s trigger is %s, want %s", trig.Type, trig.Time.UTC(), w)
			}
			if trig.Type == volsyncv1alpha1.SchedulePolicyTypeInterval && !trig.Time.Time.After(fakeClock.Now()) {
				return fmt.Errorf("next interval trigger %s is not after now", trig.Time.UTC())
			}
		}
		if got.Status.NextTriggerTime == nil {
			return fmt.Errorf("nextTriggerTime is not set")
		}
		if got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
		}
		return nil
	})
}

func TestSchedulePolicyStatusFollowsAnEdit(t *testing.T) {
	ctx := context.Background()
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: objectMeta("status-follows-edit", ""),
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Daily: &volsyncv1alpha1.DailyPolicy{Time: "1:00PM", Retain: ptr.To[int32](3)},
		},
	}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, policy) })

	nextDaily := func(want time.Time) func() error {
		return func() error {
			var got volsyncv1alpha1.SchedulePolicy
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), &got); err != nil {
				return err
			}
			if len(got.Status.NextTriggers) != 1 || !got.Status.NextTriggers[0].Time.Time.Equal(want) {
				return fmt.Errorf("nextTriggers = %+v, want daily at %s", got.Status.NextTriggers, want)
			}
			return nil
		}
	}
	eventually(t, 20*time.Second, nextDaily(time.Date(2024, 3, 9, 13, 0, 0, 0, time.UTC)))

	if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
		t.Fatal(err)
	}
	policy.Policy.Daily.Time = "11:30am"
	if err := k8s.Update(ctx, policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, nextDaily(time.Date(2024, 3, 10, 11, 30, 0, 0, time.UTC)))
}
