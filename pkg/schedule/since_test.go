package schedule

import (
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestDueCountsMissedOnlyAfterThePolicyChanged: a trigger is missed only if the policy as it stood
// at that moment called for it. Policy.Since (the policy's status.policyChangedTime) bounds the
// count; what fires does not change.
func TestDueCountsMissedOnlyAfterThePolicyChanged(t *testing.T) {
	const start = "2024-05-01T00:00:00Z"
	tests := []struct {
		name      string
		item      v1alpha1.SchedulePolicyItem
		last      string // History.Last of the row's type; "" is never
		since     string // Policy.Since; "" is zero
		now       string
		typ       Type
		scheduled string
		fire      bool
		missed    int
	}{
		{name: "60 to 1 minute edited 30 minutes after the last run misses nothing and fires the newest once",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T10:30:00Z", now: "2024-05-01T10:30:00Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:30:00Z", fire: true, missed: 0},
		{name: "the same edit seen 10 seconds late still misses nothing",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T10:30:00Z", now: "2024-05-01T10:30:10Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:30:00Z", fire: true, missed: 0},
		{name: "without Since the same window counts 29 missed, as before",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			last: "2024-05-01T10:00:00Z", now: "2024-05-01T10:30:00Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:30:00Z", fire: true, missed: 29},
		{name: "triggers the edited policy called for after the edit and that passed unhandled are missed",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T10:30:00Z", now: "2024-05-01T10:35:00Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:35:00Z", fire: true, missed: 4},
		{name: "a change older than the last run changes nothing",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T09:00:00Z", now: "2024-05-01T10:05:00Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:05:00Z", fire: true, missed: 4},
		{name: "an owner that never ran counts from the change, not from its start",
			item:  v1alpha1.SchedulePolicyItem{Interval: interval(1)},
			since: "2024-05-01T00:10:30Z", now: "2024-05-01T00:12:00Z",
			typ: TypeInterval, scheduled: "2024-05-01T00:12:00Z", fire: true, missed: 1},
		{name: "of the backlog only the triggers after the change count",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1), StartingDeadlineMinutes: ptr(int32(1))},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T10:30:30Z", now: "2024-05-01T10:32:30Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:32:00Z", fire: true, missed: 1},
		{name: "a backlog ending at the very instant of the change counts nothing",
			item: v1alpha1.SchedulePolicyItem{Interval: interval(1), StartingDeadlineMinutes: ptr(int32(1))},
			last: "2024-05-01T10:00:00Z", since: "2024-05-01T10:40:00Z", now: "2024-05-01T10:40:30Z",
			typ: TypeInterval, scheduled: "2024-05-01T10:40:00Z", fire: true, missed: 0},
		{name: "a daily time moved earlier does not count yesterday's and today's new times as missed",
			item: v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM")},
			last: "2024-05-03T22:00:00Z", since: "2024-05-05T00:30:00Z", now: "2024-05-05T00:30:00Z",
			typ: TypeDaily, scheduled: "2024-05-04T01:00:00Z", fire: true, missed: 0},
		{name: "daily times after the change that passed unhandled are missed",
			item: v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM")},
			last: "2024-05-01T22:00:00Z", since: "2024-05-02T12:00:00Z", now: "2024-05-05T02:00:00Z",
			typ: TypeDaily, scheduled: "2024-05-05T01:00:00Z", fire: true, missed: 2},
		{name: "a daily trigger past the deadline that came after the change is missed",
			item: v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), StartingDeadlineMinutes: ptr(int32(10))},
			last: "2024-05-03T01:00:00Z", since: "2024-05-03T12:00:00Z", now: "2024-05-04T02:00:00Z",
			typ: TypeDaily, scheduled: "2024-05-04T01:00:00Z", fire: false, missed: 1},
		{name: "a daily trigger past the deadline from before the change is skipped but not missed",
			item: v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), StartingDeadlineMinutes: ptr(int32(10))},
			last: "2024-05-03T01:00:00Z", since: "2024-05-04T01:30:00Z", now: "2024-05-04T02:00:00Z",
			typ: TypeDaily, scheduled: "2024-05-04T01:00:00Z", fire: false, missed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, tt.item)
			if tt.since != "" {
				p.Since = utc(t, tt.since)
			}
			h := History{Start: utc(t, start), Last: map[Type]time.Time{}}
			if tt.last != "" {
				h.Last[tt.typ] = utc(t, tt.last)
			}
			ds := p.Due(h, utc(t, tt.now))
			if len(ds) != 1 {
				t.Fatalf("Due = %+v, want one decision", ds)
			}
			d := ds[0]
			if d.Type != tt.typ || !d.Scheduled.Equal(utc(t, tt.scheduled)) || d.Fire != tt.fire || d.Missed != tt.missed {
				t.Errorf("Due = {%s %s fire=%v missed=%d}, want {%s %s fire=%v missed=%d}",
					d.Type, d.Scheduled.UTC().Format("15:04:05 Jan 2"), d.Fire, d.Missed, tt.typ, tt.scheduled, tt.fire, tt.missed)
			}
		})
	}
}
