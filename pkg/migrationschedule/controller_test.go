package migrationschedule

import (
	"context"
	"strings"
	"testing"

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
	).Build()
	r := &Reconciler{Client: c}
	for _, tc := range []struct {
		name        string
		policy      string
		suspend     bool
		wantOK      bool
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"a missing policy is PolicyNotFound and says how to fix it", "nope", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyNotFound, `schedule policy "nope" not found: create it or set spec.schedulePolicyName to an existing one`},
		{"an invalid policy is PolicyInvalid and names the field", "bad", false, false, metav1.ConditionFalse,
			volsyncv1alpha1.ReasonPolicyInvalid, `schedule policy "bad" is invalid: policy.daily.time: Invalid value: "13:00PM"`},
		{"a valid policy is Scheduled", "good", false, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonScheduled, `migrations are created on schedule policy "good"`},
		{"a suspended schedule with a valid policy is Suspended", "good", true, true, metav1.ConditionTrue,
			volsyncv1alpha1.ReasonSuspended, "suspended: no Migrations are created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := &volsyncv1alpha1.MigrationSchedule{Spec: volsyncv1alpha1.MigrationScheduleSpec{SchedulePolicyName: tc.policy, Suspend: ptr.To(tc.suspend)}}
			p, cond := r.policy(context.Background(), ms)
			if (p != nil) != tc.wantOK || cond.Status != tc.wantStatus || cond.Reason != tc.wantReason || !strings.HasPrefix(cond.Message, tc.wantMessage) {
				t.Errorf("policy %v, condition %+v; want ok=%t %s %s %q", p != nil, cond, tc.wantOK, tc.wantStatus, tc.wantReason, tc.wantMessage)
			}
		})
	}
}
