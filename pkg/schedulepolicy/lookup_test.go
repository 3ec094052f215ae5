package schedulepolicy

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestChangedAt(t *testing.T) {
	created := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	changed := metav1.NewTime(created.Add(48 * time.Hour))
	now := created.Add(72 * time.Hour)
	tests := []struct {
		name       string
		generation int64
		status     volsyncv1alpha1.SchedulePolicyStatus
		want       time.Time
	}{
		{"a policy never edited took its form when it was created, whatever its status says", 1,
			volsyncv1alpha1.SchedulePolicyStatus{}, created},
		{"an edited policy whose status describes it took its form at policyChangedTime", 3,
			volsyncv1alpha1.SchedulePolicyStatus{ObservedGeneration: 3, PolicyChangedTime: &changed}, changed.Time},
		{"an edit the policy controller has not seen yet is that recent: now", 4,
			volsyncv1alpha1.SchedulePolicyStatus{ObservedGeneration: 3, PolicyChangedTime: &changed}, now},
		{"an edited policy whose status predates policyChangedTime is unknown: every trigger counts", 2,
			volsyncv1alpha1.SchedulePolicyStatus{ObservedGeneration: 2}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChangedAt(tt.generation, created, tt.status, now); !got.Equal(tt.want) {
				t.Errorf("ChangedAt = %v, want %v", got, tt.want)
			}
		})
	}
}

// The policy controller records when it first saw each generation, for both kinds, and a pass that
// sees nothing new leaves the time alone.
func TestThePolicyControllerRecordsWhenThePolicyChanged(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	item := volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}
	sp := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1, CreationTimestamp: metav1.NewTime(created)}, Policy: item}
	nsp := &volsyncv1alpha1.NamespacedSchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app", Generation: 1, CreationTimestamp: metav1.NewTime(created)}, Policy: item}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(sp, nsp).
		WithStatusSubresource(&volsyncv1alpha1.SchedulePolicy{}, &volsyncv1alpha1.NamespacedSchedulePolicy{}).Build()
	clk := clocktesting.NewFakeClock(created.Add(time.Hour))
	for _, namespaced := range []bool{false, true} {
		r := &Reconciler{Client: c, Clock: clk, namespaced: namespaced}
		key := types.NamespacedName{Name: "p"}
		var get func() (int64, *metav1.Time)
		if namespaced {
			key.Namespace = "app"
			get = func() (int64, *metav1.Time) {
				var o volsyncv1alpha1.NamespacedSchedulePolicy
				if err := c.Get(context.Background(), key, &o); err != nil {
					t.Fatal(err)
				}
				return o.Status.ObservedGeneration, o.Status.PolicyChangedTime
			}
		} else {
			get = func() (int64, *metav1.Time) {
				var o volsyncv1alpha1.SchedulePolicy
				if err := c.Get(context.Background(), key, &o); err != nil {
					t.Fatal(err)
				}
				return o.Status.ObservedGeneration, o.Status.PolicyChangedTime
			}
		}
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}
		if g, at := get(); g != 1 || at == nil || !at.Time.Equal(created) {
			t.Errorf("namespaced=%v: a new policy: generation %d changed %v, want 1 and its creation %v", namespaced, g, at, created)
		}
	}
}
