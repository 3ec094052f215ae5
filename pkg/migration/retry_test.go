package migration

import (
	"testing"
	"time"
)

func TestRetryPolicyAttempt(t *testing.T) {
	since := time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return since.Add(d) }
	tests := []struct {
		name      string
		policy    RetryPolicy
		now       time.Time
		attempt   int
		next      time.Time
		exhausted bool
	}{
		{"the first failure is attempt 1 and the next is due after the initial wait", DefaultRetryPolicy, since, 1, at(10 * time.Second), false},
		{"a wake-up before the next attempt is due is still attempt 1", DefaultRetryPolicy, at(9 * time.Second), 1, at(10 * time.Second), false},
		{"a failure when the next is due is attempt 2 and the wait doubles", DefaultRetryPolicy, at(10 * time.Second), 2, at(30 * time.Second), false},
		{"attempt 3 waits 40s", DefaultRetryPolicy, at(30 * time.Second), 3, at(70 * time.Second), false},
		{"attempt 4 waits 80s", DefaultRetryPolicy, at(70 * time.Second), 4, at(150 * time.Second), false},
		{"attempt 5 of 5 is the last", DefaultRetryPolicy, at(150 * time.Second), 5, at(270 * time.Second), true},
		{"a failure long after, when volsyncd was down, is the last attempt, not more", DefaultRetryPolicy, at(24 * time.Hour), 5, at(270 * time.Second), true},
		{"waits are capped at Max",
			RetryPolicy{Attempts: 10, Initial: time.Minute, Max: 3 * time.Minute}, at(7 * time.Minute), 4, at(9 * time.Minute), false},
		{"a policy of one attempt fails at once", RetryPolicy{Attempts: 1, Initial: time.Second, Max: time.Second}, since, 1, at(time.Second), true},
		{"a zero policy is the default", RetryPolicy{}, at(10 * time.Second), 2, at(30 * time.Second), false},
		{"a clock behind the start counts as the first attempt", DefaultRetryPolicy, at(-time.Minute), 1, at(10 * time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attempt, next, exhausted := tt.policy.Attempt(since, tt.now)
			if attempt != tt.attempt || !next.Equal(tt.next) || exhausted != tt.exhausted {
				t.Errorf("Attempt = %d, %s, %v; want %d, %s, %v", attempt, next.Sub(since), exhausted, tt.attempt, tt.next.Sub(since), tt.exhausted)
			}
		})
	}
}
