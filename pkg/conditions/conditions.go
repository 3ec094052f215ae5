// Package conditions sets status conditions at an instant the caller passes in, read from its
// injected clock.
//
// meta.SetStatusCondition stamps time.Now() on a condition whose LastTransitionTime is left zero,
// which makes a status depend on the wall clock behind the injected one. Set does the same job with
// the time in its signature, so forgetting it is a compile error, and never reads the clock itself.
// The wall-clock check (pkg/internal/clockcheck) forbids meta.SetStatusCondition everywhere.
package conditions

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set sets the condition of c's type in *conditions to c and reports whether *conditions changed,
// as meta.SetStatusCondition does, except that the transition time is always now, never the wall
// clock's: a new condition, or one whose status changes, gets LastTransitionTime now; one whose
// status stays keeps the time it had, so the field records when the status last changed. c's own
// LastTransitionTime is ignored. A nil conditions is left alone.
func Set(conditions *[]metav1.Condition, c metav1.Condition, now time.Time) (changed bool) {
	if conditions == nil {
		return false
	}
	c.LastTransitionTime = metav1.NewTime(now)
	for i := range *conditions {
		old := &(*conditions)[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status != c.Status {
			old.Status, old.LastTransitionTime = c.Status, c.LastTransitionTime
			changed = true
		}
		if old.Reason != c.Reason {
			old.Reason = c.Reason
			changed = true
		}
		if old.Message != c.Message {
			old.Message = c.Message
			changed = true
		}
		if old.ObservedGeneration != c.ObservedGeneration {
			old.ObservedGeneration = c.ObservedGeneration
			changed = true
		}
		return changed
	}
	*conditions = append(*conditions, c)
	return true
}
