package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// spec.trigger.schedulePolicyName names a NamespacedSchedulePolicy of the owner's namespace first,
// then the SchedulePolicy of that name.
func TestTheTriggersPolicyIsLookedUpInTheOwnersNamespaceFirst(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "hourly", Generation: 1},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}},
		&volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "hourly", Namespace: "app", Generation: 1},
			Policy: volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "1:00AM", ForceFullSnapshotDay: "MONDAY"}}},
	).Build()
	b := &base{client: c}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		namespace string
		policy    string
		want      []schedule.Type
		wantErr   string
	}{
		{"an owner beside a NamespacedSchedulePolicy of that name uses it", "app", "hourly", []schedule.Type{schedule.TypeDaily}, ""},
		{"an owner of another namespace falls back to the SchedulePolicy", "web", "hourly", []schedule.Type{schedule.TypeInterval}, ""},
		{"a name neither kind has says where it looked", "web", "nope", nil,
			`schedule policy "nope" not found (neither a NamespacedSchedulePolicy in web nor a SchedulePolicy)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.policy(context.Background(), tt.namespace, &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: tt.policy}, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Types(); len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Errorf("policy types = %v, want %v", got, tt.want)
			}
		})
	}
}
