package admission

import (
	"strings"
	"testing"
)

// Key phrases of the SchedulePolicy messages. They are the API types' own words, repeated here so
// the suite fails when a message drifts.
const (
	timePhrase      = "time must be in 3:04PM form"
	dayPhrase       = "day must be a weekday, long or short"
	timeZonePhrase  = "timeZone must be an IANA time zone name"
	noSectionPhrase = "policy must have at least one of interval, daily, weekly, monthly"
	atLeastOne      = "should be greater than or equal to 1"
	atMost31        = "should be less than or equal to 31"
)

// schedulePolicyRefusals are the policies admission must refuse. The engine test replays them.
var schedulePolicyRefusals = []refusal{
	{name: "a daily time of 13:00PM is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "13:00PM"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a daily time of 1:2PM is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:2PM"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a daily time of 1:02 without AM or PM is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "an empty daily time is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: ""}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a 24-hour daily time of 22:14 is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "22:14"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a daily time of 0:30AM is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "0:30AM"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a daily time with a space before PM is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02 PM"}}`,
		want: []cause{{"policy.daily.time", timePhrase}}},
	{name: "a weekly time of 10:60PM is refused", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Thursday, time: "10:60PM"}}`,
		want: []cause{{"policy.weekly.time", timePhrase}}},
	{name: "a monthly time of 8:05 is refused", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: 14, time: "8:05"}}`,
		want: []cause{{"policy.monthly.time", timePhrase}}},
	{name: "a weekday of Funday is refused", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Funday, time: "10:13PM"}}`,
		want: []cause{{"policy.weekly.day", dayPhrase}}},
	{name: "a weekday of Th is refused", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Th, time: "10:13PM"}}`,
		want: []cause{{"policy.weekly.day", dayPhrase}}},
	{name: "a weekday given as the number 4 is refused", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: "4", time: "10:13PM"}}`,
		want: []cause{{"policy.weekly.day", dayPhrase}}},
	{name: "an empty weekday is refused", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: "", time: "10:13PM"}}`,
		want: []cause{{"policy.weekly.day", dayPhrase}}},
	{name: "date 0 is refused", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: 0, time: "8:05PM"}}`,
		want: []cause{{"policy.monthly.date", atLeastOne}}},
	{name: "date 32 is refused", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: 32, time: "8:05PM"}}`,
		want: []cause{{"policy.monthly.date", atMost31}}},
	{name: "a negative date is refused", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: -1, time: "8:05PM"}}`,
		want: []cause{{"policy.monthly.date", atLeastOne}}},
	{name: "intervalMinutes 0 is refused", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 0}}`,
		want: []cause{{"policy.interval.intervalMinutes", atLeastOne}}},
	{name: "an interval longer than 366 days is refused", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 527041}}`,
		want: []cause{{"policy.interval.intervalMinutes", "should be less than or equal to 527040"}}},
	{name: "a starting deadline longer than 366 days is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:00AM"}, startingDeadlineMinutes: 600000}`,
		want: []cause{{"policy.startingDeadlineMinutes", "should be less than or equal to 527040"}}},
	{name: "a negative intervalMinutes is refused", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: -5}}`,
		want: []cause{{"policy.interval.intervalMinutes", atLeastOne}}},
	{name: "a policy with no section is refused", kind: "SchedulePolicy",
		body: `policy: {}`,
		want: []cause{{"policy", noSectionPhrase}}},
	{name: "a policy with only a time zone is refused", kind: "SchedulePolicy",
		body: `policy: {timeZone: Europe/Berlin}`,
		want: []cause{{"policy", noSectionPhrase}}},
	{name: "an unknown time zone is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, timeZone: Mars/Olympus_Mons}`,
		want: []cause{{"policy.timeZone", timeZonePhrase}}},
	{name: "a fixed offset +05:00 as time zone is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, timeZone: "+05:00"}`,
		want: []cause{{"policy.timeZone", timeZonePhrase}}},
	{name: "Local as time zone is refused, since it means whichever host reads it", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, timeZone: Local}`,
		want: []cause{{"policy.timeZone", timeZonePhrase}}},
	{name: "a time zone with a space is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, timeZone: "America/New York"}`,
		want: []cause{{"policy.timeZone", timeZonePhrase}}},
	{name: "a time zone longer than 64 characters is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, timeZone: "America/` + strings.Repeat("x", 60) + `"}`,
		want: []cause{{"policy.timeZone", "Too long"}}},
	{name: "a negative daily retain is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM", retain: -1}}`,
		want: []cause{{"policy.daily.retain", "should be greater than or equal to 0"}}},
	{name: "a forceFullSnapshotDay that is no weekday is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM", forceFullSnapshotDay: Funday}}`,
		want: []cause{{"policy.daily.forceFullSnapshotDay", "forceFullSnapshotDay must be a weekday"}}},
	{name: "startingDeadlineMinutes 0 is refused", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}, startingDeadlineMinutes: 0}`,
		want: []cause{{"policy.startingDeadlineMinutes", atLeastOne}}},
	{name: "a good daily section does not carry a bad weekly one: the policy is refused whole", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "10:14PM"}, weekly: {day: Thursday, time: "25:00PM"}}`,
		want: []cause{{"policy.weekly.time", timePhrase}}},
	{name: "every bad field of a policy is named in one answer", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "13:00PM"}, weekly: {day: Funday, time: "1:2PM"}, monthly: {date: 32, time: "8:05"}, timeZone: Mars/Olympus_Mons}`,
		want: []cause{
			{"policy.daily.time", timePhrase},
			{"policy.weekly.day", dayPhrase},
			{"policy.weekly.time", timePhrase},
			{"policy.monthly.date", atMost31},
			{"policy.monthly.time", timePhrase},
			{"policy.timeZone", timeZonePhrase},
		}},
}

// schedulePolicyAcceptances are the policies admission must accept. The engine test replays them.
var schedulePolicyAcceptances = []acceptance{
	{name: "a daily time of 1:02PM is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02PM"}}`},
	{name: "a lower-case daily time of 1:02pm is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "1:02pm"}}`},
	{name: "midnight as 12:00AM is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "12:00AM"}}`},
	{name: "a mixed-case time of 11:59Pm is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "11:59Pm"}}`},
	{name: "a weekday of Sunday is accepted", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Sunday, time: "10:13PM"}}`},
	{name: "a weekday of Sun is accepted", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Sun, time: "10:13PM"}}`},
	{name: "a lower-case weekday of thursday is accepted", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: thursday, time: "10:13PM"}}`},
	{name: "a weekday of Thu is accepted", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: Thu, time: "10:13PM"}}`},
	{name: "an upper-case weekday of SATURDAY is accepted", kind: "SchedulePolicy",
		body: `policy: {weekly: {day: SATURDAY, time: "10:13pm"}}`},
	{name: "date 1 is accepted", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: 1, time: "8:05PM"}}`},
	{name: "date 31 is accepted (it rolls over in shorter months)", kind: "SchedulePolicy",
		body: `policy: {monthly: {date: 31, time: "8:05PM"}}`},
	{name: "intervalMinutes 1 is accepted", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 1}}`},
	{name: "the time zone Europe/Berlin is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "2:30AM"}, timeZone: Europe/Berlin}`},
	{name: "the time zone America/New_York is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "2:30AM"}, timeZone: America/New_York}`},
	{name: "the time zone UTC is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "2:30AM"}, timeZone: UTC}`},
	{name: "retain 0 in every section is accepted: it means the type's default, as in Stork", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 15, retain: 0}, daily: {time: "10:14PM", retain: 0},
  weekly: {day: Thursday, time: "10:13PM", retain: 0}, monthly: {date: 14, time: "8:05PM", retain: 0}}`},
	{name: "storkctl's daily forceFullSnapshotDay of MONDAY is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "12:00AM", retain: 30, forceFullSnapshotDay: MONDAY}}`},
	{name: "a short lower-case forceFullSnapshotDay of sun is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "12:00AM", forceFullSnapshotDay: sun}}`},
	{name: "an empty forceFullSnapshotDay is accepted", kind: "SchedulePolicy",
		body: `policy: {daily: {time: "12:00AM", forceFullSnapshotDay: ""}}`},
	{name: "options on every section are accepted", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 15, options: {portworx/snapshot-type: local}}, daily: {time: "10:14PM", options: {a: b}},
  weekly: {day: Thursday, time: "10:13PM", options: {a: b}}, monthly: {date: 14, time: "8:05PM", options: {a: b}}}`},
	{name: "every section with its own retain and a starting deadline is accepted", kind: "SchedulePolicy",
		body: `policy: {interval: {intervalMinutes: 15, retain: 10}, daily: {time: "10:14PM", retain: 30},
  weekly: {day: Thursday, time: "10:13PM", retain: 7}, monthly: {date: 14, time: "8:05PM", retain: 12},
  timeZone: Europe/Berlin, startingDeadlineMinutes: 60}`},
}

func TestSchedulePolicyAdmission(t *testing.T) {
	t.Run("refused", func(t *testing.T) { runRefusals(t, schedulePolicyRefusals) })
	t.Run("accepted", func(t *testing.T) { runAcceptances(t, schedulePolicyAcceptances) })
}

// TestNamespacedSchedulePolicyAdmission: a NamespacedSchedulePolicy has the SchedulePolicy's
// schema, so every SchedulePolicy row holds for it as well.
func TestNamespacedSchedulePolicyAdmission(t *testing.T) {
	as := func(rows []refusal) []refusal {
		out := make([]refusal, 0, len(rows))
		for _, r := range rows {
			r.kind = "NamespacedSchedulePolicy"
			out = append(out, r)
		}
		return out
	}
	accepted := make([]acceptance, 0, len(schedulePolicyAcceptances))
	for _, a := range schedulePolicyAcceptances {
		a.kind = "NamespacedSchedulePolicy"
		accepted = append(accepted, a)
	}
	t.Run("refused", func(t *testing.T) { runRefusals(t, as(schedulePolicyRefusals)) })
	t.Run("accepted", func(t *testing.T) { runAcceptances(t, accepted) })
}
