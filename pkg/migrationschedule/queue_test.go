package migrationschedule

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

var t0 = time.Date(2019, 2, 14, 22, 16, 51, 0, time.UTC)

func trigger(t schedule.Type, at time.Time) volsyncv1alpha1.PolicyTrigger {
	return volsyncv1alpha1.PolicyTrigger{Type: t, Time: metav1.NewTime(at)}
}

func TestEnqueue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pending  []volsyncv1alpha1.PolicyTrigger
		typ      schedule.Type
		at       time.Time
		want     []volsyncv1alpha1.PolicyTrigger
		wantLost *volsyncv1alpha1.PolicyTrigger
	}{
		{"a type joins an empty queue", nil, schedule.TypeDaily, t0,
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeDaily, t0)}, nil},
		{"the rarer type goes ahead of the interval",
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeInterval, t0)}, schedule.TypeMonthly, t0,
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeMonthly, t0), trigger(schedule.TypeInterval, t0)}, nil},
		{"a newer trigger of a queued type replaces it and the older is lost",
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeDaily, t0), trigger(schedule.TypeInterval, t0)}, schedule.TypeInterval, t0.Add(time.Hour),
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeDaily, t0), trigger(schedule.TypeInterval, t0.Add(time.Hour))},
			&volsyncv1alpha1.PolicyTrigger{Type: schedule.TypeInterval, Time: metav1.NewTime(t0)}},
		{"an older trigger of a queued type is the one lost",
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeWeekly, t0)}, schedule.TypeWeekly, t0.Add(-time.Hour),
			[]volsyncv1alpha1.PolicyTrigger{trigger(schedule.TypeWeekly, t0)},
			&volsyncv1alpha1.PolicyTrigger{Type: schedule.TypeWeekly, Time: metav1.NewTime(t0.Add(-time.Hour))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, lost := enqueue(tc.pending, tc.typ, tc.at)
			if len(got) != len(tc.want) {
				t.Fatalf("queue = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].Type != tc.want[i].Type || !got[i].Time.Equal(&tc.want[i].Time) {
					t.Errorf("queue = %+v, want %+v", got, tc.want)
				}
			}
			if (lost == nil) != (tc.wantLost == nil) || (lost != nil && (lost.Type != tc.wantLost.Type || !lost.Time.Equal(&tc.wantLost.Time))) {
				t.Errorf("lost = %+v, want %+v", lost, tc.wantLost)
			}
		})
	}
}

func run(name string, s volsyncv1alpha1.RunStatus) volsyncv1alpha1.ScheduledRun {
	return volsyncv1alpha1.ScheduledRun{Name: name, Status: s}
}

func TestTrim(t *testing.T) {
	ok, going, failed := volsyncv1alpha1.RunStatusSuccessful, volsyncv1alpha1.RunStatusInProgress, volsyncv1alpha1.RunStatusFailed
	partial := volsyncv1alpha1.RunStatusPartialSuccess
	for _, tc := range []struct {
		name     string
		items    []volsyncv1alpha1.ScheduledRun
		retain   int
		wantKeep string
		wantDrop string
	}{
		{"under retain nothing goes", []volsyncv1alpha1.ScheduledRun{run("a", ok), run("b", ok)}, 3, "ab", ""},
		{"the oldest beyond retain go", []volsyncv1alpha1.ScheduledRun{run("a", ok), run("b", ok), run("c", ok)}, 1, "c", "ab"},
		{"a running one beyond retain stays", []volsyncv1alpha1.ScheduledRun{run("a", going), run("b", ok), run("c", ok)}, 1, "ac", "b"},
		{"retain 0 keeps what runs and the last success", []volsyncv1alpha1.ScheduledRun{run("a", ok), run("b", ok), run("c", going)}, 0, "bc", "a"},
		{"failures after the last success never push it out", []volsyncv1alpha1.ScheduledRun{run("a", ok), run("b", ok), run("c", failed), run("d", failed)}, 2, "bcd", "a"},
		{"a partial success is not the last success", []volsyncv1alpha1.ScheduledRun{run("a", ok), run("b", partial), run("c", failed)}, 1, "ac", "b"},
		{"with no success the oldest failures go", []volsyncv1alpha1.ScheduledRun{run("a", failed), run("b", failed), run("c", failed)}, 1, "c", "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := trim(tc.items, tc.retain)
			names := func(rs []volsyncv1alpha1.ScheduledRun) string {
				s := ""
				for _, r := range rs {
					s += r.Name
				}
				return s
			}
			if names(keep) != tc.wantKeep || names(drop) != tc.wantDrop {
				t.Errorf("keep %q drop %q, want keep %q drop %q", names(keep), names(drop), tc.wantKeep, tc.wantDrop)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	long := "a-very-long-migration-schedule-name-that-does-not-fit-into-a-label-value-at-all"
	for _, tc := range []struct {
		name string
		in   string
		want func(string) bool
	}{
		{"a short name is its own label value", "mysqlmigrationschedule", func(s string) bool { return s == "mysqlmigrationschedule" }},
		{"a long name is cut to 63 characters with a hash", long, func(s string) bool { return len(s) <= 63 && s != long[:63] }},
		{"two long names with one prefix differ", long + "-b", func(s string) bool { return s != LabelValue(long+"-c") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LabelValue(tc.in); !tc.want(got) {
				t.Errorf("LabelValue(%q) = %q", tc.in, got)
			}
		})
	}
}
