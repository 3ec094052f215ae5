package schedule

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestParseKitchen(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		hour, minute int
		ok           bool
	}{
		{"upper-case PM is accepted", "1:02PM", 13, 2, true},
		{"lower-case pm is accepted", "1:02pm", 13, 2, true},
		{"mixed-case aM is accepted", "10:14aM", 10, 14, true},
		{"a leading zero on the hour is accepted", "01:02PM", 13, 2, true},
		{"12:00AM is midnight", "12:00AM", 0, 0, true},
		{"12:00PM is noon", "12:00PM", 12, 0, true},
		{"12:59am is just before 1AM", "12:59am", 0, 59, true},
		{"11:59PM is the last minute of the day", "11:59PM", 23, 59, true},
		{"the seed's daily time is accepted", "10:14PM", 22, 14, true},
		{"hour 13 is rejected", "13:00PM", 0, 0, false},
		{"hour 0 is rejected", "0:30AM", 0, 0, false},
		{"a one-digit minute is rejected", "1:2PM", 0, 0, false},
		{"a time without AM or PM is rejected", "1:02", 0, 0, false},
		{"the empty string is rejected", "", 0, 0, false},
		{"a space before PM is rejected", "1:02 PM", 0, 0, false},
		{"minute 60 is rejected", "1:60PM", 0, 0, false},
		{"a 24-hour time is rejected", "22:14", 0, 0, false},
		{"surrounding spaces are rejected", " 1:02PM", 0, 0, false},
		{"a trailing newline is rejected", "1:02PM\n", 0, 0, false},
		{"three hour digits are rejected", "001:02PM", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, m, err := ParseKitchen(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseKitchen(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInvalidTime) || !strings.Contains(err.Error(), TimeMessage) {
					t.Errorf("error %q should wrap ErrInvalidTime and say %q", err, TimeMessage)
				}
				return
			}
			if h != tt.hour || m != tt.minute {
				t.Errorf("ParseKitchen(%q) = %d:%02d, want %d:%02d", tt.in, h, m, tt.hour, tt.minute)
			}
		})
	}
}

func TestParseWeekday(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Weekday
		ok   bool
	}{
		{"the long form is accepted", "Sunday", time.Sunday, true},
		{"the short form is accepted", "Sun", time.Sunday, true},
		{"lower case is accepted", "sunday", time.Sunday, true},
		{"upper case is accepted", "SUN", time.Sunday, true},
		{"the seed's Thursday is accepted", "Thursday", time.Thursday, true},
		{"thu is Thursday", "thu", time.Thursday, true},
		{"thur is Thursday", "thur", time.Thursday, true},
		{"thurs is Thursday", "THURS", time.Thursday, true},
		{"tue is Tuesday", "tue", time.Tuesday, true},
		{"tues is Tuesday", "Tues", time.Tuesday, true},
		{"wed is Wednesday", "wed", time.Wednesday, true},
		{"WEDNESDAY is Wednesday", "WEDNESDAY", time.Wednesday, true},
		{"mon is Monday", "mon", time.Monday, true},
		{"fri is Friday", "Fri", time.Friday, true},
		{"sat is Saturday", "saturday", time.Saturday, true},
		{"a made-up day is rejected", "Funday", 0, false},
		{"a number is rejected", "0", 0, false},
		{"the empty string is rejected", "", 0, false},
		{"two letters are rejected", "su", 0, false},
		{"weds is not in the CRD's list and is rejected", "weds", 0, false},
		{"a trailing space is rejected", "Sun ", 0, false},
		{"a Unicode look-alike is rejected", "ſun", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWeekday(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseWeekday(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInvalidDay) {
					t.Errorf("error %q should wrap ErrInvalidDay", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("ParseWeekday(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidatePolicy(t *testing.T) {
	tests := []struct {
		name string
		item v1alpha1.SchedulePolicyItem
		want []string
	}{
		{"the seed's policy is valid", v1alpha1.SchedulePolicyItem{
			Interval: interval(1), Daily: daily("10:14PM"), Weekly: weekly("Thursday", "10:13PM"), Monthly: monthly(14, "8:05PM"),
		}, nil},
		{"a policy with a time zone and a deadline is valid", v1alpha1.SchedulePolicyItem{
			Daily: daily("1:02am"), TimeZone: "Europe/Berlin", StartingDeadlineMinutes: ptr(int32(30)),
		}, nil},
		{"an explicit UTC time zone is valid", v1alpha1.SchedulePolicyItem{Daily: daily("1:02am"), TimeZone: "UTC"}, nil},
		{"a policy without sections is rejected", v1alpha1.SchedulePolicyItem{}, []string{
			"policy: Required value: policy must have at least one of interval, daily, weekly, monthly",
		}},
		{"a bad daily time names policy.daily.time", v1alpha1.SchedulePolicyItem{Daily: daily("13:00PM")}, []string{
			`policy.daily.time: Invalid value: "13:00PM": time must be in 3:04PM form, such as 10:14PM or 1:02am`,
		}},
		{"an empty daily time is rejected", v1alpha1.SchedulePolicyItem{Daily: daily("")}, []string{
			`policy.daily.time: Invalid value: "": time must be in 3:04PM form, such as 10:14PM or 1:02am`,
		}},
		{"a bad weekday names policy.weekly.day", v1alpha1.SchedulePolicyItem{Weekly: weekly("Funday", "1:00AM")}, []string{
			`policy.weekly.day: Invalid value: "Funday": day must be a weekday, long or short, such as Sunday or Sun`,
		}},
		{"date 0 is below the minimum", v1alpha1.SchedulePolicyItem{Monthly: monthly(0, "1:00AM")}, []string{
			"policy.monthly.date: Invalid value: 0: should be greater than or equal to 1",
		}},
		{"a negative date is below the minimum", v1alpha1.SchedulePolicyItem{Monthly: monthly(-3, "1:00AM")}, []string{
			"policy.monthly.date: Invalid value: -3: should be greater than or equal to 1",
		}},
		{"date 32 is above the maximum", v1alpha1.SchedulePolicyItem{Monthly: monthly(32, "1:00AM")}, []string{
			"policy.monthly.date: Invalid value: 32: should be less than or equal to 31",
		}},
		{"interval 0 is below the minimum", v1alpha1.SchedulePolicyItem{Interval: interval(0)}, []string{
			"policy.interval.intervalMinutes: Invalid value: 0: should be greater than or equal to 1",
		}},
		{"a negative retain is below the minimum", v1alpha1.SchedulePolicyItem{
			Daily: &v1alpha1.DailyPolicy{Time: "1:00AM", Retain: ptr(int32(-1))},
		}, []string{
			"policy.daily.retain: Invalid value: -1: should be greater than or equal to 0",
		}},
		{"retain 0 is accepted: it means the default, as in Stork", v1alpha1.SchedulePolicyItem{
			Daily: &v1alpha1.DailyPolicy{Time: "1:00AM", Retain: ptr(int32(0))},
		}, nil},
		{"a forceFullSnapshotDay of monday is accepted", v1alpha1.SchedulePolicyItem{
			Daily: &v1alpha1.DailyPolicy{Time: "1:00AM", ForceFullSnapshotDay: "monday"},
		}, nil},
		{"a forceFullSnapshotDay of Funday is refused", v1alpha1.SchedulePolicyItem{
			Daily: &v1alpha1.DailyPolicy{Time: "1:00AM", ForceFullSnapshotDay: "Funday"},
		}, []string{
			`policy.daily.forceFullSnapshotDay: Invalid value: "Funday": forceFullSnapshotDay must be a weekday, long or short, such as Monday or Mon`,
		}},
		{"an unknown time zone names policy.timeZone", v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), TimeZone: "Mars/Olympus_Mons"}, []string{
			`policy.timeZone: Invalid value: "Mars/Olympus_Mons": timeZone must be an IANA time zone name such as Europe/Berlin or UTC`,
		}},
		{"the host-dependent Local zone is rejected", v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), TimeZone: "Local"}, []string{
			`policy.timeZone: Invalid value: "Local": timeZone must be an IANA time zone name such as Europe/Berlin or UTC`,
		}},
		{"a path-like time zone is rejected", v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), TimeZone: "../etc/passwd"}, []string{
			`policy.timeZone: Invalid value: "../etc/passwd": timeZone must be an IANA time zone name such as Europe/Berlin or UTC`,
		}},
		{"an over-long time zone is too long", v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), TimeZone: strings.Repeat("A", 65)}, []string{
			"policy.timeZone: Too long: may not be more than 64 bytes",
		}},
		{"a zero starting deadline is below the minimum", v1alpha1.SchedulePolicyItem{Daily: daily("1:00AM"), StartingDeadlineMinutes: ptr(int32(0))}, []string{
			"policy.startingDeadlineMinutes: Invalid value: 0: should be greater than or equal to 1",
		}},
		{"every problem is reported at once, one line each, in field order", v1alpha1.SchedulePolicyItem{
			Interval: &v1alpha1.IntervalPolicy{IntervalMinutes: -1, Retain: ptr(int32(-1))},
			Daily:    daily("1:2PM"),
			Weekly:   weekly("Someday", "1:02"),
			Monthly:  &v1alpha1.MonthlyPolicy{Date: 32, Time: "0:30AM", Retain: ptr(int32(-2))},
			TimeZone: "Nowhere/Land", StartingDeadlineMinutes: ptr(int32(-5)),
		}, []string{
			"policy.interval.intervalMinutes: Invalid value: -1: should be greater than or equal to 1",
			"policy.interval.retain: Invalid value: -1: should be greater than or equal to 0",
			`policy.daily.time: Invalid value: "1:2PM": time must be in 3:04PM form, such as 10:14PM or 1:02am`,
			`policy.weekly.day: Invalid value: "Someday": day must be a weekday, long or short, such as Sunday or Sun`,
			`policy.weekly.time: Invalid value: "1:02": time must be in 3:04PM form, such as 10:14PM or 1:02am`,
			"policy.monthly.date: Invalid value: 32: should be less than or equal to 31",
			`policy.monthly.time: Invalid value: "0:30AM": time must be in 3:04PM form, such as 10:14PM or 1:02am`,
			"policy.monthly.retain: Invalid value: -2: should be greater than or equal to 0",
			`policy.timeZone: Invalid value: "Nowhere/Land": timeZone must be an IANA time zone name such as Europe/Berlin or UTC`,
			"policy.startingDeadlineMinutes: Invalid value: -5: should be greater than or equal to 1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range ValidatePolicy(tt.item) {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ValidatePolicy:\n got  %q\n want %q", got, tt.want)
			}
			_, err := Compile("p1", tt.item)
			if (err == nil) != (len(tt.want) == 0) {
				t.Fatalf("Compile error = %v, want error: %v", err, len(tt.want) > 0)
			}
			if err != nil {
				var ipe *InvalidPolicyError
				if !errors.Is(err, ErrInvalidPolicy) || !errors.As(err, &ipe) || len(ipe.Errs) != len(tt.want) {
					t.Errorf("Compile error %v should be an *InvalidPolicyError with %d problems", err, len(tt.want))
				}
				if want := `schedule policy "p1": ` + strings.Join(tt.want, "; "); err.Error() != want {
					t.Errorf("Compile error\n got  %q\n want %q", err, want)
				}
			}
		})
	}
}

func TestCompileAppliesDefaults(t *testing.T) {
	p := mustCompile(t, v1alpha1.SchedulePolicyItem{
		Interval: interval(5), Daily: &v1alpha1.DailyPolicy{Time: "1:00AM", Retain: ptr(int32(0))}, Weekly: weekly("Sun", "1:00AM"),
		Monthly: &v1alpha1.MonthlyPolicy{Date: 1, Time: "1:00AM", Retain: ptr(int32(3)), Options: map[string]string{"k": "v"}},
	})
	tests := []struct {
		name string
		typ  Type
		want int
	}{
		{"interval keeps 10 by default", TypeInterval, 10},
		{"daily with retain 0 keeps 30, the default, as in Stork", TypeDaily, 30},
		{"weekly keeps 7 by default", TypeWeekly, 7},
		{"an explicit retain wins", TypeMonthly, 3},
		{"a cron trigger has no policy retain", TypeSchedule, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Retain(tt.typ); got != tt.want {
				t.Errorf("Retain(%s) = %d, want %d", tt.typ, got, tt.want)
			}
		})
	}
	if p.Location != time.UTC || p.StartingDeadline != 0 {
		t.Errorf("defaults: location %v deadline %v, want UTC and 0", p.Location, p.StartingDeadline)
	}
	if !slices.Equal(p.Types(), []Type{TypeInterval, TypeDaily, TypeWeekly, TypeMonthly}) {
		t.Errorf("Types() = %v", p.Types())
	}
	if p.Options(TypeMonthly)["k"] != "v" || p.Options(TypeDaily) != nil {
		t.Errorf("Options not carried over: %v %v", p.Options(TypeMonthly), p.Options(TypeDaily))
	}
	if got := (&Policy{}).Retain(TypeDaily); got != v1alpha1.DefaultDailyRetain {
		t.Errorf("Retain of an absent section = %d, want the default %d", got, v1alpha1.DefaultDailyRetain)
	}
}

// TestMessagesMatchTheCRD keeps the engine's messages and patterns from drifting away from the
// CEL and OpenAPI rules in the API types: the same mistake must read the same at admission and
// in the controller.
func TestMessagesMatchTheCRD(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../apis/volsync/v1alpha1/" + name)
		if err != nil {
			t.Fatalf("read API types: %v", err)
		}
		return string(b)
	}
	policyTypes := read("schedulepolicy_types.go")
	commonTypes := read("replication_common_types.go")
	tests := []struct {
		name, src, want string
	}{
		{"the no-section message is the CRD's", policyTypes, `message="` + NoSectionMessage + `"`},
		{"the time message is the CRD's", policyTypes, `message="` + TimeMessage + `"`},
		{"the day message is the CRD's", policyTypes, `message="` + DayMessage + `"`},
		{"the time zone message is the CRD's", policyTypes, `message="` + TimeZoneMessage + `"`},
		{"the time pattern is the CRD's", policyTypes, `self.matches('` + TimePattern + `')`},
		{"the time zone pattern is the CRD's", policyTypes, `self.matches('` + TimeZonePattern + `')`},
		{"the time zone length limit is the CRD's", policyTypes, "MaxLength=64\n"},
		{"the date maximum is the CRD's", policyTypes, "Maximum=31\n"},
		{"the cron message is the CRD's", commonTypes, `message="` + ErrInvalidCron.Error() + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.src, tt.want) {
				t.Errorf("API types no longer contain %q", tt.want)
			}
		})
	}
	t.Run("the weekday names are the CRD's", func(t *testing.T) {
		m := regexp.MustCompile(`self\.lowerAscii\(\) in \[([^\]]*)\]`).FindStringSubmatch(policyTypes)
		if m == nil {
			t.Fatal("weekday rule not found in the API types")
		}
		var crd []string
		for _, s := range strings.Split(m[1], ",") {
			crd = append(crd, strings.Trim(s, "' "))
		}
		var ours []string
		for k := range weekdays {
			ours = append(ours, k)
		}
		slices.Sort(crd)
		slices.Sort(ours)
		if !slices.Equal(crd, ours) {
			t.Errorf("weekday names: CRD %v, engine %v", crd, ours)
		}
	})
}
