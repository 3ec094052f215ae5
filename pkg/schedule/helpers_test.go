package schedule

import (
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadTimeZone(name)
	if err != nil {
		t.Fatalf("load %q: %v", name, err)
	}
	return loc
}

// utc parses an RFC 3339 instant; tests state expected instants in UTC so that no time zone
// logic of the code under test is used to compute what it should return.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func mustCompile(t testing.TB, item v1alpha1.SchedulePolicyItem) *Policy {
	t.Helper()
	p, err := Compile("test", item)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func daily(tm string) *v1alpha1.DailyPolicy { return &v1alpha1.DailyPolicy{Time: tm} }
func weekly(day, tm string) *v1alpha1.WeeklyPolicy {
	return &v1alpha1.WeeklyPolicy{Day: day, Time: tm}
}
func monthly(date int32, tm string) *v1alpha1.MonthlyPolicy {
	return &v1alpha1.MonthlyPolicy{Date: date, Time: tm}
}
func interval(minutes int32) *v1alpha1.IntervalPolicy {
	return &v1alpha1.IntervalPolicy{IntervalMinutes: minutes}
}
