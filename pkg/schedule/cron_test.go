package schedule

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestParseCron(t *testing.T) {
	tests := []struct {
		name string
		expr string
		zone string // "" = rejected
	}{
		{"five fields are read in UTC, never the host's zone", "0 3 * * *", "UTC"},
		{"six fields take leading seconds", "30 0 3 * * *", "UTC"},
		{"a descriptor is accepted", "@hourly", "UTC"},
		{"@every is accepted", "@every 90m", "UTC"},
		{"a CRON_TZ prefix sets the zone", "CRON_TZ=Europe/Berlin 0 3 * * *", "Europe/Berlin"},
		{"a TZ prefix sets the zone", "TZ=America/New_York @daily", "America/New_York"},
		{"the empty string is rejected", "", ""},
		{"three fields are rejected", "* * *", ""},
		{"minute 61 is rejected", "61 * * * *", ""},
		{"an unknown zone is rejected", "CRON_TZ=Nowhere/Land 0 3 * * *", ""},
		{"the host-dependent Local zone is rejected", "TZ=Local 0 3 * * *", ""},
		{"a zone with no schedule is rejected", "TZ=UTC", ""},
		{"a second zone prefix is rejected", "TZ=UTC CRON_TZ=Europe/Berlin 0 3 * * *", ""},
		{"an unknown descriptor is rejected", "@fortnightly", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if tt.zone == "" {
				if err == nil || !errors.Is(err, ErrInvalidCron) {
					t.Fatalf("ParseCron(%q) error = %v, want one wrapping ErrInvalidCron", tt.expr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCron(%q): %v", tt.expr, err)
			}
			if c.Location.String() != tt.zone {
				t.Errorf("zone = %s, want %s", c.Location, tt.zone)
			}
		})
	}
}

func TestCronNext(t *testing.T) {
	tests := []struct {
		name, expr, after, want string
	}{
		{"a cron 2:30AM fires once at 3:00 EDT when New York springs forward", "CRON_TZ=America/New_York 30 2 * * *",
			"2024-03-09T07:30:00Z", "2024-03-10T07:00:00Z"},
		{"a cron 1:30AM does not run twice when New York falls back", "CRON_TZ=America/New_York 30 1 * * *",
			"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"},
		{"an every-minute cron fires once for the skipped hour, at the jump", "CRON_TZ=America/New_York * * * * *",
			"2024-03-10T06:59:00Z", "2024-03-10T07:00:00Z"},
		{"an every-minute cron goes on at 3:01 after the jump", "CRON_TZ=America/New_York * * * * *",
			"2024-03-10T07:00:00Z", "2024-03-10T07:01:00Z"},
		{"an every-minute cron does not rerun the repeated hour", "CRON_TZ=America/New_York * * * * *",
			"2024-11-03T05:59:00Z", "2024-11-03T07:00:00Z"},
		{"a cron 2:30AM in Berlin fires at 3:00 CEST on the spring-forward day", "TZ=Europe/Berlin 30 2 * * *",
			"2024-03-30T01:30:00Z", "2024-03-31T01:00:00Z"},
		{"@every adds its period to the previous run", "@every 90m", "2024-05-01T10:00:00Z", "2024-05-01T11:30:00Z"},
		{"a cron that never matches has no next time", "0 0 30 2 *", "2024-05-01T10:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Next(utc(t, tt.after))
			if tt.want == "" {
				if !got.IsZero() {
					t.Errorf("Next = %s, want none", got)
				}
				return
			}
			if !got.Equal(utc(t, tt.want)) {
				t.Errorf("Next after %s = %s, want %s", tt.after, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestCronDue(t *testing.T) {
	tests := []struct {
		name     string
		expr     string
		deadline time.Duration
		h        History
		now      string
		want     []Decision
	}{
		{"an hourly cron caught up after an outage runs once and counts the misses", "0 * * * *", 0,
			History{Start: utc(t, "2024-05-01T00:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T10:00:00Z")}},
			"2024-05-01T13:30:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-01T13:00:00Z"), true, 2}}},
		{"a cron that never ran counts from Start, inclusive", "0 * * * *", 0,
			History{Start: utc(t, "2024-05-01T10:00:00Z")},
			"2024-05-01T13:30:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-01T13:00:00Z"), true, 3}}},
		{"a cron run past its deadline is skipped and counted", "0 * * * *", 10 * time.Minute,
			History{Start: utc(t, "2024-05-01T10:30:00Z")},
			"2024-05-01T13:30:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-01T13:00:00Z"), false, 3}}},
		{"a handled cron run is not replayed", "0 * * * *", 0,
			History{Start: utc(t, "2024-05-01T10:30:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T13:00:00Z")}},
			"2024-05-01T13:59:59Z", nil},
		{"an every-minute cron counts the skipped hour as one run", "CRON_TZ=America/New_York * * * * *", 0,
			History{Start: utc(t, "2024-03-01T00:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-03-10T06:58:00Z")}},
			"2024-03-10T07:00:30Z", []Decision{{TypeSchedule, utc(t, "2024-03-10T07:00:00Z"), true, 1}}},
		{"an every-minute cron is quiet during the repeated hour", "CRON_TZ=America/New_York * * * * *", 0,
			History{Start: utc(t, "2024-03-01T00:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-11-03T05:59:00Z")}},
			"2024-11-03T06:58:30Z", nil},
		{"a leap-day cron over twelve years finds the newest run and counts the rest", "0 0 29 2 *", 0,
			History{Start: utc(t, "2012-01-01T00:00:00Z")},
			"2024-03-01T00:00:00Z", []Decision{{TypeSchedule, utc(t, "2024-02-29T00:00:00Z"), true, 3}}},
		{"a new cron with no time since Start syncs once at creation, as VolSync does", "0 0 1 1 *", 0,
			History{Start: utc(t, "2024-12-02T10:00:00Z")}, "2024-12-02T10:00:03Z",
			[]Decision{{TypeSchedule, utc(t, "2024-12-02T10:00:00Z"), true, 0}}},
		{"the creation sync past its deadline is skipped and counted", "0 0 1 1 *", time.Minute,
			History{Start: utc(t, "2024-12-02T10:00:00Z")}, "2024-12-02T10:05:00Z",
			[]Decision{{TypeSchedule, utc(t, "2024-12-02T10:00:00Z"), false, 1}}},
		{"a cron that never matches syncs at creation only", "0 0 30 2 *", 0,
			History{Start: utc(t, "2012-01-01T00:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2012-01-01T00:00:00Z")}},
			"2024-03-01T00:00:00Z", nil},
		{"missed counts stop at MissedCountLimit", "* * * * * *", 0,
			History{Start: utc(t, "2024-05-01T00:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T00:00:00Z")}},
			"2024-05-03T00:00:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-03T00:00:00Z"), true, MissedCountLimit}}},
		{"@every first fires one period after Start", "@every 90m", 0,
			History{Start: utc(t, "2024-05-01T10:00:00Z")},
			"2024-05-01T11:30:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-01T11:30:00Z"), true, 0}}},
		{"@every catches up once from the last run", "@every 90m", 0,
			History{Start: utc(t, "2024-05-01T10:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T11:30:00Z")}},
			"2024-05-01T14:31:00Z", []Decision{{TypeSchedule, utc(t, "2024-05-01T14:30:00Z"), true, 1}}},
		{"@every syncs at creation", "@every 90m", 0,
			History{Start: utc(t, "2024-05-01T10:00:00Z")}, "2024-05-01T10:00:01Z",
			[]Decision{{TypeSchedule, utc(t, "2024-05-01T10:00:00Z"), true, 0}}},
		{"@every then waits a full period", "@every 90m", 0,
			History{Start: utc(t, "2024-05-01T10:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T10:00:00Z")}},
			"2024-05-01T11:29:59Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			c.StartingDeadline = tt.deadline
			got := c.Due(tt.h, utc(t, tt.now))
			if len(got) != len(tt.want) {
				t.Fatalf("Due = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Type != w.Type || !g.Scheduled.Equal(w.Scheduled) || g.Fire != w.Fire || g.Missed != w.Missed {
					t.Errorf("Due = {%s %s fire=%v missed=%d}, want {%s %s fire=%v missed=%d}",
						g.Type, g.Scheduled.UTC().Format(time.RFC3339), g.Fire, g.Missed,
						w.Type, w.Scheduled.UTC().Format(time.RFC3339), w.Fire, w.Missed)
				}
			}
		})
	}
}

func TestCronNextTriggers(t *testing.T) {
	tests := []struct {
		name, expr string
		h          History
		now, want  string
	}{
		{"a handled cron shows its next run", "0 * * * *",
			History{Start: utc(t, "2024-05-01T10:30:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T13:00:00Z")}},
			"2024-05-01T13:10:00Z", "2024-05-01T14:00:00Z"},
		{"a pending cron run shows itself", "0 * * * *",
			History{Start: utc(t, "2024-05-01T10:30:00Z")}, "2024-05-01T13:10:00Z", "2024-05-01T13:00:00Z"},
		{"@every shows one period after the last run", "@every 90m",
			History{Start: utc(t, "2024-05-01T10:00:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T11:30:00Z")}},
			"2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"},
		{"a new cron shows its sync at creation", "0 0 30 2 *", History{Start: utc(t, "2024-05-01T11:59:00Z")},
			"2024-05-01T12:00:00Z", "2024-05-01T11:59:00Z"},
		{"a cron that never matches shows nothing once it synced at creation", "0 0 30 2 *",
			History{Start: utc(t, "2024-05-01T11:59:00Z"), Last: map[Type]time.Time{TypeSchedule: utc(t, "2024-05-01T11:59:00Z")}},
			"2024-05-01T12:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := c.NextTriggers(tt.h, utc(t, tt.now))
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("NextTriggers = %v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Type != TypeSchedule || !got[0].Time.Equal(utc(t, tt.want)) {
				t.Errorf("NextTriggers = %v, want Schedule at %s", got, tt.want)
			}
		})
	}
}

func TestManualAndAlwaysTriggers(t *testing.T) {
	now := utc(t, "2024-05-01T12:00:00Z")
	tests := []struct {
		name string
		trig Trigger
		want []Type
	}{
		{"a new manual value fires", ManualTrigger{Requested: "run-2", Completed: "run-1"}, []Type{TypeManual}},
		{"a manual value already completed does not fire", ManualTrigger{Requested: "run-2", Completed: "run-2"}, nil},
		{"an empty manual value never fires", ManualTrigger{Completed: "run-2"}, nil},
		{"always is always due", AlwaysTrigger{}, []Type{TypeAlways}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := tt.trig.Due(History{}, now)
			next := tt.trig.NextTriggers(History{}, now)
			if len(due) != len(tt.want) || len(next) != len(tt.want) {
				t.Fatalf("Due = %v, NextTriggers = %v, want types %v", due, next, tt.want)
			}
			for i := range due {
				if due[i].Type != tt.want[i] || !due[i].Scheduled.Equal(now) || !due[i].Fire || !next[i].Time.Equal(now) {
					t.Errorf("got %+v / %+v, want %s at now", due[i], next[i], tt.want[i])
				}
			}
		})
	}
}

func TestReplicationTrigger(t *testing.T) {
	policy := mustCompile(t, v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM")})
	policy.Name = "nightly"
	tests := []struct {
		name   string
		spec   *v1alpha1.ReplicationTriggerSpec
		policy *Policy
		want   string // %T of the trigger, "" = error
	}{
		{"no trigger means always", nil, nil, "schedule.AlwaysTrigger"},
		{"an empty trigger means always", &v1alpha1.ReplicationTriggerSpec{}, nil, "schedule.AlwaysTrigger"},
		{"a schedule is a cron trigger", &v1alpha1.ReplicationTriggerSpec{Schedule: ptr("*/5 * * * *")}, nil, "*schedule.CronTrigger"},
		{"a manual value is a manual trigger", &v1alpha1.ReplicationTriggerSpec{Manual: "once"}, nil, "schedule.ManualTrigger"},
		{"a policy name uses the supplied policy", &v1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "nightly"}, policy, "*schedule.Policy"},
		{"a policy name without its policy is an error", &v1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "nightly"}, nil, ""},
		{"a policy name with another policy is an error", &v1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "weekly"}, policy, ""},
		{"a bad schedule is an error", &v1alpha1.ReplicationTriggerSpec{Schedule: ptr("every day")}, nil, ""},
		{"manual beside a schedule wins, as in VolSync", &v1alpha1.ReplicationTriggerSpec{Schedule: ptr("@daily"), Manual: "x"}, nil, "schedule.ManualTrigger"},
		{"manual beside a policy wins", &v1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "nightly", Manual: "x"}, policy, "schedule.ManualTrigger"},
		{"a schedule and a policy at once are an error", &v1alpha1.ReplicationTriggerSpec{Schedule: ptr("@daily"), SchedulePolicyName: "nightly"}, policy, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig, err := ReplicationTrigger(tt.spec, "", tt.policy)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %T, want an error", trig)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", trig); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
