package schedulepolicy

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// A policy stored before a rule existed never passed today's admission, so only a fake client can
// hold it; the controller must still report it, naming every bad field.
func TestAPolicyStoredBeforeARuleExistedIsReportedInvalid(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy", Generation: 1},
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Daily:   &volsyncv1alpha1.DailyPolicy{Time: "25:00"},
			Monthly: &volsyncv1alpha1.MonthlyPolicy{Date: 40, Time: "1:00AM"},
		},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(policy).
		WithStatusSubresource(&volsyncv1alpha1.SchedulePolicy{}).Build()
	r := &Reconciler{Client: c, Clock: clocktesting.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}

	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "legacy"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("an invalid policy is requeued after %s; it should wait for an edit", res.RequeueAfter)
	}
	var got volsyncv1alpha1.SchedulePolicy
	if err := c.Get(context.Background(), types.NamespacedName{Name: "legacy"}, &got); err != nil {
		t.Fatal(err)
	}
	valid := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionValid)
	if valid == nil || valid.Status != metav1.ConditionFalse || valid.Reason != volsyncv1alpha1.ReasonPolicyInvalid {
		t.Fatalf("Valid condition is %+v", valid)
	}
	for _, field := range []string{"policy.daily.time", "policy.monthly.date"} {
		if !strings.Contains(valid.Message, field) {
			t.Errorf("message %q does not name %s", valid.Message, field)
		}
	}
	if len(got.Status.NextTriggers) != 0 || got.Status.NextTriggerTime != nil {
		t.Errorf("an invalid policy shows next triggers %+v", got.Status.NextTriggers)
	}
}

func TestNextOnGrid(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		minutes int64
		now     time.Time
		want    time.Time
	}{
		{"right after the start the next point is one period on", 30, start.Add(time.Minute), start.Add(30 * time.Minute)},
		{"on a grid point the next one is a period later", 30, start.Add(60 * time.Minute), start.Add(90 * time.Minute)},
		{"a day-long interval lands on the next day", 1440, start.Add(25 * time.Hour), start.Add(48 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextOnGrid(start, tc.minutes, tc.now); !got.Equal(tc.want) {
				t.Errorf("nextOnGrid = %s, want %s", got, tc.want)
			}
		})
	}
}
