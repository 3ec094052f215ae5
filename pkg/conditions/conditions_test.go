package conditions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSet(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	ready := func(status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: "m", ObservedGeneration: 1}
	}

	var conds []metav1.Condition
	if !Set(&conds, ready(metav1.ConditionFalse, "Waiting"), t0) {
		t.Fatal("adding a condition: changed = false")
	}
	if len(conds) != 1 || !conds[0].LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("after adding: %+v, want one condition at %v", conds, t0)
	}

	// The same condition again, later: nothing changes, not even the time.
	if Set(&conds, ready(metav1.ConditionFalse, "Waiting"), t1) {
		t.Error("setting the same condition: changed = true")
	}
	// A new reason with the same status keeps the time of the last status change.
	if !Set(&conds, ready(metav1.ConditionFalse, "Retrying"), t1) {
		t.Error("new reason: changed = false")
	}
	if got := conds[0]; got.Reason != "Retrying" || !got.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("new reason: %+v, want reason Retrying at %v", got, t0)
	}

	// A status change takes now, whatever time the condition carried.
	c := ready(metav1.ConditionTrue, "Done")
	c.LastTransitionTime = metav1.NewTime(t0.Add(-time.Hour))
	c.ObservedGeneration = 2
	if !Set(&conds, c, t1) {
		t.Error("new status: changed = false")
	}
	got := conds[0]
	if got.Status != metav1.ConditionTrue || got.Reason != "Done" || got.ObservedGeneration != 2 || !got.LastTransitionTime.Time.Equal(t1) {
		t.Errorf("new status: %+v, want True/Done, generation 2, at %v", got, t1)
	}

	// Other types are independent; a zero now stays zero (the wall clock is never read).
	Set(&conds, metav1.Condition{Type: "Valid", Status: metav1.ConditionTrue, Reason: "OK"}, time.Time{})
	if len(conds) != 2 || conds[0].Type != "Ready" || !conds[1].LastTransitionTime.IsZero() {
		t.Errorf("second type: %+v", conds)
	}

	if Set(nil, c, t1) {
		t.Error("nil conditions: changed = true")
	}
}
