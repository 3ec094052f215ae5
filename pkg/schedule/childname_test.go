package schedule

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func TestChildName(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	long := strings.Repeat("a", 240)
	tests := []struct {
		name      string
		owner     string
		typ       Type
		scheduled time.Time
		want      string // exact, or "" to check only validity
	}{
		{"the seed's daily child name", "mysqlmigrationschedule", TypeDaily,
			time.Date(2019, 2, 14, 22, 16, 51, 0, time.UTC), "mysqlmigrationschedule-daily-2019-02-14-221651"},
		{"the seed's interval child name", "mysqlmigrationschedule", TypeInterval,
			time.Date(2019, 2, 16, 0, 40, 52, 0, time.UTC), "mysqlmigrationschedule-interval-2019-02-16-004052"},
		{"the scheduled time is written in UTC whatever its zone", "db", TypeMonthly,
			time.Date(2019, 2, 14, 21, 5, 41, 0, berlin), "db-monthly-2019-02-14-200541"},
		{"fractions of a second do not change the name", "db", TypeWeekly,
			time.Date(2019, 2, 14, 22, 13, 51, 999, time.UTC), "db-weekly-2019-02-14-221351"},
		{"a cron trigger's type is part of the name", "db", TypeSchedule,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "db-schedule-2024-01-02-030405"},
		{"a name of exactly 253 characters is kept", strings.Repeat("b", 253-len("-daily-2024-01-02-030405")), TypeDaily,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), strings.Repeat("b", 253-len("-daily-2024-01-02-030405")) + "-daily-2024-01-02-030405"},
		{"a long owner is shortened with a hash to stay within 253 characters", long, TypeInterval,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{"a cut that would end on a dot or dash stays a valid name", strings.Repeat("a.", 130), TypeInterval,
			time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChildName(tt.owner, tt.typ, tt.scheduled)
			if tt.want != "" && got != tt.want {
				t.Errorf("ChildName = %q, want %q", got, tt.want)
			}
			if len(got) > 253 || !dnsSubdomain.MatchString(got) {
				t.Errorf("ChildName = %q (%d chars) is not a valid DNS subdomain name", got, len(got))
			}
			if again := ChildName(tt.owner, tt.typ, tt.scheduled); again != got {
				t.Errorf("ChildName is not stable: %q then %q", got, again)
			}
		})
	}
	t.Run("two long owners that differ only at the end get different names", func(t *testing.T) {
		at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
		a, b := ChildName(long+"x", TypeDaily, at), ChildName(long+"y", TypeDaily, at)
		if a == b {
			t.Errorf("both owners got %q", a)
		}
		if !strings.HasSuffix(a, "-daily-2024-01-02-030405") {
			t.Errorf("%q lost its type and time", a)
		}
	})
}
