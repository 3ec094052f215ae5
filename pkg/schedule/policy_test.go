package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestMonthlyRollover(t *testing.T) {
	tests := []struct {
		name  string
		date  int32
		after string
		want  string
	}{
		{"date 31 in February rolls over to March 3", 31, "2023-01-31T10:00:00Z", "2023-03-03T10:00:00Z"},
		{"date 31 in a leap February rolls over to March 2", 31, "2024-01-31T10:00:00Z", "2024-03-02T10:00:00Z"},
		{"date 30 in February rolls over to March 2", 30, "2023-01-30T10:00:00Z", "2023-03-02T10:00:00Z"},
		{"date 30 in a leap February rolls over to March 1", 30, "2024-01-30T10:00:00Z", "2024-03-01T10:00:00Z"},
		{"date 29 in February rolls over to March 1", 29, "2023-01-29T10:00:00Z", "2023-03-01T10:00:00Z"},
		{"date 29 in a leap February fires on February 29", 29, "2024-01-29T10:00:00Z", "2024-02-29T10:00:00Z"},
		{"date 31 in April rolls over to May 1", 31, "2023-03-31T10:00:00Z", "2023-05-01T10:00:00Z"},
		{"date 30 in April fires on April 30", 30, "2023-03-30T10:00:00Z", "2023-04-30T10:00:00Z"},
		{"March still fires on the 31st after February rolled over into it", 31, "2023-03-03T10:00:00Z", "2023-03-31T10:00:00Z"},
		{"March still fires on the 30th after a leap February rolled over into it", 30, "2024-03-01T10:00:00Z", "2024-03-30T10:00:00Z"},
		{"March still fires on the 29th after February rolled over into it", 29, "2023-03-01T10:00:00Z", "2023-03-29T10:00:00Z"},
		{"May still fires on the 31st after April rolled over into it", 31, "2023-05-01T10:00:00Z", "2023-05-31T10:00:00Z"},
		{"date 31 crosses the year end", 31, "2023-12-31T10:00:00Z", "2024-01-31T10:00:00Z"},
		{"a rolled-over trigger is still ahead just before it", 31, "2023-03-03T09:59:59Z", "2023-03-03T10:00:00Z"},
		{"the seed's date 14 fires on the 14th", 14, "2019-01-14T20:05:00Z", "2019-02-14T10:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, v1alpha1.SchedulePolicyItem{Monthly: monthly(tt.date, "10:00AM")})
			if got := p.Next(TypeMonthly, utc(t, tt.after)); !got.Equal(utc(t, tt.want)) {
				t.Errorf("Next after %s = %s, want %s", tt.after, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestMonthlyDate31FourteenMonths(t *testing.T) {
	p := mustCompile(t, v1alpha1.SchedulePolicyItem{Monthly: monthly(31, "12:00AM")})
	want := []string{
		"2023-01-31", "2023-03-03", "2023-03-31", "2023-05-01", "2023-05-31", "2023-07-01", "2023-07-31",
		"2023-08-31", "2023-10-01", "2023-10-31", "2023-12-01", "2023-12-31", "2024-01-31", "2024-03-02",
	}
	got := p.Preview(utc(t, "2023-01-01T00:00:00Z"), 14)
	if len(got) != len(want) {
		t.Fatalf("got %d triggers, want %d", len(got), len(want))
	}
	for i, o := range got {
		if d := o.Time.Format(time.DateOnly); d != want[i] || o.Type != TypeMonthly || o.Time.Hour() != 0 {
			t.Errorf("trigger %d = %s %s, want Monthly %s 00:00", i, o.Type, o.Time, want[i])
		}
	}
}

func TestEveryMonthFiresExactlyOnce(t *testing.T) {
	for date := int32(1); date <= 31; date++ {
		t.Run(fmt.Sprintf("date %d fires once per month for 8 years", date), func(t *testing.T) {
			p := mustCompile(t, v1alpha1.SchedulePolicyItem{Monthly: monthly(date, "11:59PM")})
			at := utc(t, "2020-01-01T00:00:00Z")
			for m := range 96 {
				y, mon, d := RolloverDate(2020+m/12, time.Month(m%12+1), int(date))
				want := time.Date(y, mon, d, 23, 59, 0, 0, time.UTC)
				at = p.Next(TypeMonthly, at)
				if !at.Equal(want) {
					t.Fatalf("month %d: got %s, want %s", m, at, want)
				}
			}
		})
	}
}

func TestDaylightSaving(t *testing.T) {
	tests := []struct {
		name  string
		zone  string
		item  v1alpha1.SchedulePolicyItem
		typ   Type
		after string
		want  string
	}{
		// America/New_York 2024: clocks jump 2:00 EST -> 3:00 EDT on March 10 (07:00Z) and fall
		// back 2:00 EDT -> 1:00 EST on November 3 (06:00Z).
		{"daily 2:30AM fires once at 3:00 EDT when New York springs forward", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-03-09T07:30:00Z", "2024-03-10T07:00:00Z"},
		{"daily 2:30AM is back at 2:30 EDT the day after the jump", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"},
		{"daily 1:30AM before the New York gap is untouched", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("1:30AM")}, TypeDaily, "2024-03-09T06:30:00Z", "2024-03-10T06:30:00Z"},
		{"daily 3:30AM after the New York gap comes 23 hours after the day before", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("3:30AM")}, TypeDaily, "2024-03-09T08:30:00Z", "2024-03-10T07:30:00Z"},
		{"daily 12:00AM keeps midnight across the New York spring change", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("12:00AM")}, TypeDaily, "2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"},
		{"daily 12:00PM keeps noon across the New York spring change", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("12:00PM")}, TypeDaily, "2024-03-09T17:00:00Z", "2024-03-10T16:00:00Z"},
		{"daily 1:30AM fires at its first occurrence (EDT) when New York falls back", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("1:30AM")}, TypeDaily, "2024-11-02T05:30:00Z", "2024-11-03T05:30:00Z"},
		{"daily 1:30AM does not fire again at 1:30 EST", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("1:30AM")}, TypeDaily, "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"},
		{"daily 1:30AM asked during the repeated hour waits for the next day", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("1:30AM")}, TypeDaily, "2024-11-03T06:15:00Z", "2024-11-04T06:30:00Z"},
		{"daily 2:30AM on the New York fall-back day comes 25 hours after the day before", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-11-02T06:30:00Z", "2024-11-03T07:30:00Z"},
		{"weekly Sunday 2:30AM fires at 3:00 EDT when New York springs forward", "America/New_York",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("Sunday", "2:30AM")}, TypeWeekly, "2024-03-03T07:30:00Z", "2024-03-10T07:00:00Z"},
		{"weekly Sunday 2:30AM is back at 2:30 EDT a week after the jump", "America/New_York",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("Sunday", "2:30AM")}, TypeWeekly, "2024-03-10T07:00:00Z", "2024-03-17T06:30:00Z"},
		{"weekly Sunday 1:30AM fires at its first occurrence when New York falls back", "America/New_York",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("sun", "1:30am")}, TypeWeekly, "2024-10-27T05:30:00Z", "2024-11-03T05:30:00Z"},
		{"weekly Sunday 1:30AM does not fire again in the repeated hour", "America/New_York",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("sun", "1:30am")}, TypeWeekly, "2024-11-03T05:30:00Z", "2024-11-10T06:30:00Z"},
		{"monthly 2:30AM on the spring-forward date fires when the clocks jump", "America/New_York",
			v1alpha1.SchedulePolicyItem{Monthly: monthly(10, "2:30AM")}, TypeMonthly, "2024-02-10T07:30:00Z", "2024-03-10T07:00:00Z"},
		// Europe/Berlin 2024: 2:00 CET -> 3:00 CEST on March 31 (01:00Z); 3:00 CEST -> 2:00 CET on
		// October 27 (01:00Z).
		{"daily 2:30AM fires once at 3:00 CEST when Berlin springs forward", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-03-30T01:30:00Z", "2024-03-31T01:00:00Z"},
		{"daily 2:30AM is back at 2:30 CEST the day after the Berlin jump", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"},
		{"daily 2:30AM fires at its first occurrence (CEST) when Berlin falls back", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-10-26T00:30:00Z", "2024-10-27T00:30:00Z"},
		{"daily 2:30AM does not fire again at 2:30 CET", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")}, TypeDaily, "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"},
		{"weekly Sunday 2:30AM fires at 3:00 CEST when Berlin springs forward", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("SUNDAY", "2:30AM")}, TypeWeekly, "2024-03-24T01:30:00Z", "2024-03-31T01:00:00Z"},
		{"weekly Sunday 2:30AM fires at its first occurrence when Berlin falls back", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("Sun", "2:30AM")}, TypeWeekly, "2024-10-20T00:30:00Z", "2024-10-27T00:30:00Z"},
		{"weekly Sunday 2:30AM does not fire again at 2:30 CET", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Weekly: weekly("Sun", "2:30AM")}, TypeWeekly, "2024-10-27T00:30:00Z", "2024-11-03T01:30:00Z"},
		{"daily 12:30AM fires at 1:00 when Sao Paulo's clocks jumped from midnight (2018)", "America/Sao_Paulo",
			v1alpha1.SchedulePolicyItem{Daily: daily("12:30AM")}, TypeDaily, "2018-11-03T03:30:00Z", "2018-11-04T03:00:00Z"},
		{"an interval counts elapsed minutes straight through the Berlin spring change", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Interval: interval(60)}, TypeInterval, "2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.item.TimeZone = tt.zone
			p := mustCompile(t, tt.item)
			got := p.Next(tt.typ, utc(t, tt.after))
			if !got.Equal(utc(t, tt.want)) {
				t.Errorf("Next(%s) after %s = %s (%s), want %s", tt.typ, tt.after, got.UTC().Format(time.RFC3339), got, tt.want)
			}
			if got.Location() != p.Location {
				t.Errorf("Next returned a time in %v, want the policy's %v", got.Location(), p.Location)
			}
		})
	}
}

func TestDue(t *testing.T) {
	seed := v1alpha1.SchedulePolicyItem{
		Interval: interval(60), Daily: daily("10:00PM"), Weekly: weekly("Thursday", "10:13PM"), Monthly: monthly(14, "8:05PM"),
	}
	withDeadline := seed
	withDeadline.StartingDeadlineMinutes = ptr(int32(60))
	// The controller is down from 2019-02-12T12:30Z to 2019-02-15T12:30Z; before that, every type
	// had run on time.
	beforeOutage := map[Type]time.Time{
		TypeInterval: utc(t, "2019-02-12T12:00:00Z"),
		TypeDaily:    utc(t, "2019-02-11T22:00:00Z"),
		TypeWeekly:   utc(t, "2019-02-07T22:13:00Z"),
		TypeMonthly:  utc(t, "2019-01-14T20:05:00Z"),
	}
	afterCatchUp := map[Type]time.Time{
		TypeInterval: utc(t, "2019-02-15T12:00:00Z"),
		TypeDaily:    utc(t, "2019-02-14T22:00:00Z"),
		TypeWeekly:   utc(t, "2019-02-14T22:13:00Z"),
		TypeMonthly:  utc(t, "2019-02-14T20:05:00Z"),
	}
	start := utc(t, "2019-02-01T00:00:00Z")
	type d = Decision
	tests := []struct {
		name string
		zone string
		item v1alpha1.SchedulePolicyItem
		h    History
		now  string
		want []Decision
	}{
		{"the interval's first run fires at Start", "", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2024-05-01T10:00:00Z")}, "2024-05-01T10:00:00Z",
			[]d{{TypeInterval, utc(t, "2024-05-01T10:00:00Z"), true, 0}}},
		{"nothing fires before Start", "", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2024-05-01T10:00:00Z")}, "2024-05-01T09:59:59Z", nil},
		{"a first interval run noticed late still runs for Start", "", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2024-05-01T10:00:00Z")}, "2024-05-01T10:59:00Z",
			[]d{{TypeInterval, utc(t, "2024-05-01T10:00:00Z"), true, 0}}},
		{"the interval waits a full period after the last run", "", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2024-05-01T10:00:00Z"), Last: map[Type]time.Time{TypeInterval: utc(t, "2024-05-01T10:00:00Z")}},
			"2024-05-01T10:59:59Z", nil},
		{"the interval's second run is one period after the first", "", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2024-05-01T10:00:00Z"), Last: map[Type]time.Time{TypeInterval: utc(t, "2024-05-01T10:00:00Z")}},
			"2024-05-01T11:00:00Z", []d{{TypeInterval, utc(t, "2024-05-01T11:00:00Z"), true, 0}}},
		{"a daily time after Start on the first day fires", "", v1alpha1.SchedulePolicyItem{Daily: daily("10:00AM")},
			History{Start: utc(t, "2024-05-01T09:00:00Z")}, "2024-05-01T10:05:00Z",
			[]d{{TypeDaily, utc(t, "2024-05-01T10:00:00Z"), true, 0}}},
		{"a daily time before Start on the first day does not fire", "", v1alpha1.SchedulePolicyItem{Daily: daily("10:00AM")},
			History{Start: utc(t, "2024-05-01T10:00:01Z")}, "2024-05-01T23:00:00Z", nil},
		{"a daily time exactly at Start fires", "", v1alpha1.SchedulePolicyItem{Daily: daily("10:00AM")},
			History{Start: utc(t, "2024-05-01T10:00:00Z")}, "2024-05-01T10:00:00Z",
			[]d{{TypeDaily, utc(t, "2024-05-01T10:00:00Z"), true, 0}}},
		{"a three-day outage is caught up once per type with the right Missed counts", "", seed,
			History{Start: start, Last: beforeOutage}, "2019-02-15T12:30:00Z",
			[]d{
				{TypeInterval, utc(t, "2019-02-15T12:00:00Z"), true, 71},
				{TypeDaily, utc(t, "2019-02-14T22:00:00Z"), true, 2},
				{TypeWeekly, utc(t, "2019-02-14T22:13:00Z"), true, 0},
				{TypeMonthly, utc(t, "2019-02-14T20:05:00Z"), true, 0},
			}},
		{"after the catch-up is recorded nothing is replayed", "", seed,
			History{Start: start, Last: afterCatchUp}, "2019-02-15T12:30:00Z", nil},
		{"past the starting deadline a trigger is skipped and counted", "", withDeadline,
			History{Start: start, Last: beforeOutage}, "2019-02-15T12:30:00Z",
			[]d{
				{TypeInterval, utc(t, "2019-02-15T12:00:00Z"), true, 71},
				{TypeDaily, utc(t, "2019-02-14T22:00:00Z"), false, 3},
				{TypeWeekly, utc(t, "2019-02-14T22:13:00Z"), false, 1},
				{TypeMonthly, utc(t, "2019-02-14T20:05:00Z"), false, 1},
			}},
		{"exactly at the starting deadline a trigger still fires", "", v1alpha1.SchedulePolicyItem{
			Daily: daily("10:00PM"), StartingDeadlineMinutes: ptr(int32(30))},
			History{Start: start}, "2019-02-01T22:30:00Z",
			[]d{{TypeDaily, utc(t, "2019-02-01T22:00:00Z"), true, 0}}},
		{"a fall-back repeated hour does not fire a daily run twice", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("1:30AM")},
			History{Start: start, Last: map[Type]time.Time{TypeDaily: utc(t, "2024-11-03T05:30:00Z")}}, "2024-11-03T06:45:00Z", nil},
		{"a spring-forward gap fires a daily run once at the jump", "America/New_York",
			v1alpha1.SchedulePolicyItem{Daily: daily("2:30AM")},
			History{Start: start, Last: map[Type]time.Time{TypeDaily: utc(t, "2024-03-09T07:30:00Z")}}, "2024-03-10T07:00:00Z",
			[]d{{TypeDaily, utc(t, "2024-03-10T07:00:00Z"), true, 0}}},
		{"a year of missed monthly runs is counted without stepping through it", "Europe/Berlin",
			v1alpha1.SchedulePolicyItem{Monthly: monthly(31, "2:30AM")},
			History{Start: start, Last: map[Type]time.Time{TypeMonthly: utc(t, "2023-01-31T01:30:00Z")}}, "2024-01-31T02:00:00Z",
			[]d{{TypeMonthly, utc(t, "2024-01-31T01:30:00Z"), true, 11}}},
		{"a zero Start is read as now, so nothing is caught up", "", v1alpha1.SchedulePolicyItem{Daily: daily("10:00AM"), Interval: interval(5)},
			History{}, "2024-05-01T12:00:00.5Z", []d{{TypeInterval, utc(t, "2024-05-01T12:00:00Z"), true, 0}}},
		{"a clock that went backwards fires nothing", "", v1alpha1.SchedulePolicyItem{Daily: daily("10:00AM"), Interval: interval(5)},
			History{Start: start, Last: map[Type]time.Time{TypeInterval: utc(t, "2024-05-01T12:00:00Z"), TypeDaily: utc(t, "2024-05-01T10:00:00Z")}},
			"2024-05-01T09:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.item.TimeZone = tt.zone
			p := mustCompile(t, tt.item)
			got := p.Due(tt.h, utc(t, tt.now))
			if len(got) != len(tt.want) {
				t.Fatalf("Due = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Type != w.Type || !g.Scheduled.Equal(w.Scheduled) || g.Fire != w.Fire || g.Missed != w.Missed {
					t.Errorf("decision %d = {%s %s fire=%v missed=%d}, want {%s %s fire=%v missed=%d}", i,
						g.Type, g.Scheduled.UTC().Format(time.RFC3339), g.Fire, g.Missed,
						w.Type, w.Scheduled.UTC().Format(time.RFC3339), w.Fire, w.Missed)
				}
			}
		})
	}
}

func TestNextTriggers(t *testing.T) {
	seed := v1alpha1.SchedulePolicyItem{
		Interval: interval(60), Daily: daily("10:00PM"), Weekly: weekly("Thursday", "10:13PM"), Monthly: monthly(14, "8:05PM"),
	}
	type o = Occurrence
	tests := []struct {
		name string
		item v1alpha1.SchedulePolicyItem
		h    History
		now  string
		want []Occurrence
	}{
		{"a new owner sees its first run of each type, soonest first", seed,
			History{Start: utc(t, "2019-02-14T12:00:00Z")}, "2019-02-14T12:00:00Z",
			[]o{
				{TypeInterval, utc(t, "2019-02-14T12:00:00Z")},
				{TypeMonthly, utc(t, "2019-02-14T20:05:00Z")},
				{TypeDaily, utc(t, "2019-02-14T22:00:00Z")},
				{TypeWeekly, utc(t, "2019-02-14T22:13:00Z")},
			}},
		{"after handling its runs an owner sees the following ones", seed,
			History{Start: utc(t, "2019-02-01T00:00:00Z"), Last: map[Type]time.Time{
				TypeInterval: utc(t, "2019-02-15T12:00:00Z"), TypeDaily: utc(t, "2019-02-14T22:00:00Z"),
				TypeWeekly: utc(t, "2019-02-14T22:13:00Z"), TypeMonthly: utc(t, "2019-02-14T20:05:00Z"),
			}}, "2019-02-15T12:30:00Z",
			[]o{
				{TypeInterval, utc(t, "2019-02-15T13:00:00Z")},
				{TypeDaily, utc(t, "2019-02-15T22:00:00Z")},
				{TypeWeekly, utc(t, "2019-02-21T22:13:00Z")},
				{TypeMonthly, utc(t, "2019-03-14T20:05:00Z")},
			}},
		{"a pending catch-up is what the owner sees next", v1alpha1.SchedulePolicyItem{Daily: daily("10:00PM")},
			History{Start: utc(t, "2019-02-01T00:00:00Z"), Last: map[Type]time.Time{TypeDaily: utc(t, "2019-02-11T22:00:00Z")}},
			"2019-02-15T12:30:00Z", []o{{TypeDaily, utc(t, "2019-02-14T22:00:00Z")}}},
		{"a trigger past its deadline is not shown; the following one is", v1alpha1.SchedulePolicyItem{
			Daily: daily("10:00PM"), StartingDeadlineMinutes: ptr(int32(5))},
			History{Start: utc(t, "2019-02-01T00:00:00Z"), Last: map[Type]time.Time{TypeDaily: utc(t, "2019-02-11T22:00:00Z")}},
			"2019-02-15T12:30:00Z", []o{{TypeDaily, utc(t, "2019-02-15T22:00:00Z")}}},
		{"an owner not yet started sees its Start for the interval", v1alpha1.SchedulePolicyItem{Interval: interval(60)},
			History{Start: utc(t, "2019-02-15T13:00:00Z")}, "2019-02-15T12:30:00Z",
			[]o{{TypeInterval, utc(t, "2019-02-15T13:00:00Z")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, tt.item)
			got := p.NextTriggers(tt.h, utc(t, tt.now))
			if len(got) != len(tt.want) {
				t.Fatalf("NextTriggers = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || !got[i].Time.Equal(tt.want[i].Time) {
					t.Errorf("entry %d = %s %s, want %s %s", i, got[i].Type, got[i].Time, tt.want[i].Type, tt.want[i].Time)
				}
			}
		})
	}
}

func TestPreview(t *testing.T) {
	type o = Occurrence
	tests := []struct {
		name  string
		item  v1alpha1.SchedulePolicyItem
		from  string
		count int
		want  []Occurrence
	}{
		{"equal times are listed in check order", v1alpha1.SchedulePolicyItem{
			Interval: interval(720), Daily: daily("12:00AM"), Weekly: weekly("Mon", "12:00AM"), Monthly: monthly(1, "12:00AM"),
		}, "2024-01-01T00:00:00Z", 2, []o{
			{TypeInterval, utc(t, "2024-01-01T00:00:00Z")},
			{TypeDaily, utc(t, "2024-01-01T00:00:00Z")},
			{TypeWeekly, utc(t, "2024-01-01T00:00:00Z")},
			{TypeMonthly, utc(t, "2024-01-01T00:00:00Z")},
			{TypeInterval, utc(t, "2024-01-01T12:00:00Z")},
			{TypeDaily, utc(t, "2024-01-02T00:00:00Z")},
			{TypeWeekly, utc(t, "2024-01-08T00:00:00Z")},
			{TypeMonthly, utc(t, "2024-02-01T00:00:00Z")},
		}},
		{"the interval starts at from and the others at their first time after it", v1alpha1.SchedulePolicyItem{
			Interval: interval(90), Daily: daily("10:14PM"),
		}, "2024-01-01T21:00:00Z", 2, []o{
			{TypeInterval, utc(t, "2024-01-01T21:00:00Z")},
			{TypeDaily, utc(t, "2024-01-01T22:14:00Z")},
			{TypeInterval, utc(t, "2024-01-01T22:30:00Z")},
			{TypeDaily, utc(t, "2024-01-02T22:14:00Z")},
		}},
		{"a count of zero previews nothing", v1alpha1.SchedulePolicyItem{Daily: daily("10:14PM")}, "2024-01-01T21:00:00Z", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, tt.item)
			got := p.Preview(utc(t, tt.from), tt.count)
			if len(got) != len(tt.want) {
				t.Fatalf("Preview = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || !got[i].Time.Equal(tt.want[i].Time) {
					t.Errorf("entry %d = %s %s, want %s %s", i, got[i].Type, got[i].Time, tt.want[i].Type, tt.want[i].Time)
				}
			}
		})
	}
	t.Run("preview times are in the policy's time zone", func(t *testing.T) {
		p := mustCompile(t, v1alpha1.SchedulePolicyItem{Interval: interval(5), Daily: daily("10:14PM"), TimeZone: "Asia/Kolkata"})
		for _, o := range p.Preview(utc(t, "2024-01-01T00:00:00Z"), 3) {
			if o.Time.Location().String() != "Asia/Kolkata" {
				t.Errorf("%s at %s is not in Asia/Kolkata", o.Type, o.Time)
			}
			if o.Type == TypeDaily && (o.Time.Hour() != 22 || o.Time.Minute() != 14) {
				t.Errorf("daily at %s, want 10:14PM local", o.Time)
			}
		}
	})
}

// TestResolveWallIsTheEarliestInstant checks the DST rule against its definition in zones whose
// transitions are unusual (midnight changes, 30-minute DST, a skipped calendar day), for every
// quarter hour of several years: the resolved instant shows the wall time or later, and one
// second earlier the clock had never reached it.
func TestResolveWallIsTheEarliestInstant(t *testing.T) {
	zones := []string{"America/New_York", "Europe/Berlin", "America/Sao_Paulo", "America/Havana",
		"Australia/Lord_Howe", "Pacific/Apia", "Asia/Gaza", "Europe/Dublin", "Africa/Casablanca"}
	for _, zone := range zones {
		t.Run(zone+" resolves every wall time to its earliest instant", func(t *testing.T) {
			loc := mustLoc(t, zone)
			from := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
			to := time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
			for w := from; w < to; w += 15 * 60 {
				r := resolveWall(loc, w)
				if got := wallOf(loc, r); got < w {
					t.Fatalf("wall %s resolved to %s, whose clock reads earlier", time.Unix(w, 0).UTC(), r)
				}
				if before := wallCeiling(loc, r.Add(-time.Second)); before >= w {
					t.Fatalf("wall %s resolved to %s, but the clock had reached it already", time.Unix(w, 0).UTC(), r)
				}
			}
		})
	}
}
