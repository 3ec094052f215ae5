package migrationschedule

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The API server refuses an invalid policy at admission, so the controller's own check (for
// policies stored before a rule existed) is tested here, with a client that does not validate.
func TestPolicyReadiness(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "good"},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "10:14PM"}}},
		&volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "13:00PM"}}},
		&volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "app"},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 5}}},
		&volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "app"},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Weekly: &volsyncv1alpha1.WeeklyPolicy{Day: "Sun", Time: "1:00AM"}}},
		&volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "app"},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "1:00AM", ForceFullSnapshotDay: "Funday"}}},
	).Build()
	r := &Reconciler{Client: c}
	for _, tc := range []struct {
		name        string
		namespace   string
		policy      string
		suspend     bool
		wantOK      bool
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"a missing policy is PolicyNotFound and says how to fix it", "ops", "nope", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyNotFound, `schedule policy "nope" not found (neither a NamespacedSchedulePolicy in ops nor a SchedulePolicy): create it or set spec.schedulePolicyName to an existing one`},
		{"an invalid policy is PolicyInvalid and names the field", "ops", "bad", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyInvalid, `schedule policy "bad" is invalid: policy.daily.time: Invalid value: "13:00PM"`},
		{"a valid policy is Scheduled", "ops", "good", false, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonScheduled, `migrations are created on schedule policy "good"`},
		{"a suspended schedule with a valid policy is Suspended", "ops", "good", true, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonSuspended, "suspended: no Migrations are created"},
		{"a NamespacedSchedulePolicy of the schedule's namespace wins over the SchedulePolicy of that name", "app", "good", false, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonScheduled, `migrations are created on namespaced schedule policy "app/good"`},
		{"a NamespacedSchedulePolicy with no SchedulePolicy of that name is used", "app", "mine", false, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonScheduled, `migrations are created on namespaced schedule policy "app/mine"`},
		{"a NamespacedSchedulePolicy of another namespace is not used", "ops", "mine", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyNotFound, `schedule policy "mine" not found`},
		{"an invalid NamespacedSchedulePolicy is PolicyInvalid and does not fall back to the cluster's", "app", "bad", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyInvalid, `namespaced schedule policy "app/bad" is invalid: policy.daily.forceFullSnapshotDay: Invalid value: "Funday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: tc.namespace},
				Spec: volsyncv1alpha1.MigrationScheduleSpec{SchedulePolicyName: tc.policy, Suspend: ptr.To(tc.suspend)}}
			p, cond := r.policy(context.Background(), ms, time.Now())
			if (p != nil) != tc.wantOK || cond.Status != tc.wantStatus || cond.Reason != tc.wantReason || !strings.HasPrefix(cond.Message, tc.wantMessage) {
				t.Errorf("policy %v, condition %+v; want ok=%t %s %s %q", p != nil, cond, tc.wantOK, tc.wantStatus, tc.wantReason, tc.wantMessage)
			}
		})
	}
}
