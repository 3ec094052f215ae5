package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	// The tz database is embedded so that a zone name means the same on every node and in the CLI.
	_ "time/tzdata"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Messages of the CRD's CEL rules in schedulepolicy_types.go. The controller and the CLI report the
// very same text as admission does, so a user sees one message for one mistake wherever it is
// caught; a test checks that each string still appears in the API types.
const (
	// NoSectionMessage is the policy-level rule's message.
	NoSectionMessage = "policy must have at least one of interval, daily, weekly, monthly"
	// TimeMessage is the message of the rule on daily.time, weekly.time and monthly.time.
	TimeMessage = "time must be in 3:04PM form, such as 10:14PM or 1:02am"
	// DayMessage is the message of the rule on weekly.day.
	DayMessage = "day must be a weekday, long or short, such as Sunday or Sun"
	// ForceFullSnapshotDayMessage is the message of the rule on daily.forceFullSnapshotDay.
	ForceFullSnapshotDayMessage = "forceFullSnapshotDay must be a weekday, long or short, such as Monday or Mon"
	// TimeZoneMessage is the message of the rule on timeZone.
	TimeZoneMessage = "timeZone must be an IANA time zone name such as Europe/Berlin or UTC"
)

// TimePattern is the regular expression of the CRD's time rule. ParseKitchen accepts exactly what it
// matches, so admission and the engine agree on every string.
const TimePattern = `^(1[0-2]|0?[1-9]):[0-5][0-9][AaPp][Mm]$`

// TimeZonePattern is the shape the CRD's timeZone rule asks of a zone name before it loads it.
const TimeZonePattern = `^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`

// Limits from the CRD's OpenAPI schema. They are repeated here, not imported, because the API
// package keeps them in markers; a test checks them against the types.
const (
	// MinDate and MaxDate bound monthly.date.
	MinDate = 1
	MaxDate = 31
	// MaxTimeZoneLength is timeZone's maxLength.
	MaxTimeZoneLength = 64
)

var (
	timeRE     = regexp.MustCompile(TimePattern)
	timeZoneRE = regexp.MustCompile(TimeZonePattern)
)

// Sentinel errors, so callers can tell a bad value from other failures with errors.Is.
var (
	// ErrInvalidTime is wrapped by ParseKitchen's errors.
	ErrInvalidTime = errors.New(TimeMessage)
	// ErrInvalidDay is wrapped by ParseWeekday's errors.
	ErrInvalidDay = errors.New(DayMessage)
	// ErrInvalidDate is wrapped by CheckDate's errors.
	ErrInvalidDate = errors.New("date must be a day of the month from 1 to 31")
	// ErrInvalidTimeZone is wrapped by LoadTimeZone's errors.
	ErrInvalidTimeZone = errors.New(TimeZoneMessage)
	// ErrInvalidPolicy is matched (errors.Is) by every error Compile returns for a policy that
	// fails validation.
	ErrInvalidPolicy = errors.New("invalid schedule policy")
)

// weekdays holds exactly the names the CRD's day rule lists (lower case), so that the engine
// accepts nothing admission rejects and the other way round.
var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "sun": time.Sunday,
	"monday": time.Monday, "mon": time.Monday,
	"tuesday": time.Tuesday, "tue": time.Tuesday, "tues": time.Tuesday,
	"wednesday": time.Wednesday, "wed": time.Wednesday,
	"thursday": time.Thursday, "thu": time.Thursday, "thur": time.Thursday, "thurs": time.Thursday,
	"friday": time.Friday, "fri": time.Friday,
	"saturday": time.Saturday, "sat": time.Saturday,
}

// ParseKitchen reads a wall-clock time in time.Kitchen form ("3:04PM"), in any case and with an
// optional leading zero on the hour, and returns it on the 24-hour clock. It is stricter than
// time.Parse(time.Kitchen, ...) in the same ways the CRD is: no space before AM/PM, two minute
// digits, hours 1 to 12.
func ParseKitchen(s string) (hour, minute int, err error) {
	if !timeRE.MatchString(s) {
		return 0, 0, fmt.Errorf("%w, not %q", ErrInvalidTime, s)
	}
	colon := strings.IndexByte(s, ':')
	for _, c := range s[:colon] {
		hour = hour*10 + int(c-'0')
	}
	minute = int(s[colon+1]-'0')*10 + int(s[colon+2]-'0')
	pm := s[colon+3] == 'P' || s[colon+3] == 'p'
	// 12:xxAM is just after midnight and 12:xxPM just after noon.
	hour %= 12
	if pm {
		hour += 12
	}
	return hour, minute, nil
}

// FormatKitchen writes a 24-hour wall-clock time back in the seed's 3:04PM form, for display.
func FormatKitchen(hour, minute int) string {
	return time.Date(2000, time.January, 1, hour, minute, 0, 0, time.UTC).Format(time.Kitchen)
}

// ParseWeekday reads a weekday in the long or short forms the CRD accepts ("Sunday", "Sun",
// "thurs", ...), in any case.
func ParseWeekday(s string) (time.Weekday, error) {
	// ASCII-only lowering, as CEL's lowerAscii does: a Unicode case fold would accept strings
	// that admission rejects.
	if len(s) <= len("wednesday") {
		var b [9]byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if d, ok := weekdays[string(b[:len(s)])]; ok {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w, not %q", ErrInvalidDay, s)
}

// CheckDate says whether date is a day of the month a monthly policy may name. Dates 29 to 31 are
// valid even though some months lack them: those months roll over (see MonthlyRule).
func CheckDate(date int32) error {
	if date < MinDate || date > MaxDate {
		return fmt.Errorf("%w, not %d", ErrInvalidDate, date)
	}
	return nil
}

// LoadTimeZone resolves a policy's timeZone. Empty means UTC. "Local" is refused even though the
// Go runtime knows it: it means the zone of whichever host evaluates the policy, so the controller
// and the CLI could disagree.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if len(name) > MaxTimeZoneLength || name == "Local" || !timeZoneRE.MatchString(name) {
		return nil, fmt.Errorf("%w, not %q", ErrInvalidTimeZone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w, not %q: %w", ErrInvalidTimeZone, name, err)
	}
	return loc, nil
}

// Messages the API server gives for OpenAPI minimum and maximum, reused so that an out-of-range
// number reads the same from admission, the controller and the CLI.
// MaxMinutes bounds intervalMinutes and startingDeadlineMinutes to 366 days, as the CRD does:
// longer periods are no schedule anyone means, and every duration then fits a time.Duration.
const MaxMinutes = 366 * 24 * 60

func minMessage(minimum int) string {
	return fmt.Sprintf("should be greater than or equal to %d", minimum)
}
func maxMessage(maximum int) string {
	return fmt.Sprintf("should be less than or equal to %d", maximum)
}

// ValidatePolicy returns every problem of a policy, each with its field path under "policy" and the
// message admission would give, so that a person can fix them all in one go. An empty list means
// Compile will accept the policy.
func ValidatePolicy(item v1alpha1.SchedulePolicyItem) field.ErrorList {
	var errs field.ErrorList
	root := field.NewPath("policy")
	if item.Interval == nil && item.Daily == nil && item.Weekly == nil && item.Monthly == nil {
		errs = append(errs, field.Required(root, NoSectionMessage))
	}
	checkTime := func(p *field.Path, s string) {
		if _, _, err := ParseKitchen(s); err != nil {
			errs = append(errs, field.Invalid(p, s, TimeMessage))
		}
	}
	checkRetain := func(p *field.Path, r *int32) {
		// 0 is Stork's "not set": the type's default.
		if r != nil && *r < 0 {
			errs = append(errs, field.Invalid(p.Child("retain"), *r, minMessage(0)))
		}
	}
	if s := item.Interval; s != nil {
		p := root.Child("interval")
		switch {
		case s.IntervalMinutes < 1:
			errs = append(errs, field.Invalid(p.Child("intervalMinutes"), s.IntervalMinutes, minMessage(1)))
		case s.IntervalMinutes > MaxMinutes:
			errs = append(errs, field.Invalid(p.Child("intervalMinutes"), s.IntervalMinutes, maxMessage(MaxMinutes)))
		}
		checkRetain(p, s.Retain)
	}
	if s := item.Daily; s != nil {
		p := root.Child("daily")
		checkTime(p.Child("time"), s.Time)
		if d := s.ForceFullSnapshotDay; d != "" {
			if _, err := ParseWeekday(d); err != nil {
				errs = append(errs, field.Invalid(p.Child("forceFullSnapshotDay"), d, ForceFullSnapshotDayMessage))
			}
		}
		checkRetain(p, s.Retain)
	}
	if s := item.Weekly; s != nil {
		p := root.Child("weekly")
		if _, err := ParseWeekday(s.Day); err != nil {
			errs = append(errs, field.Invalid(p.Child("day"), s.Day, DayMessage))
		}
		checkTime(p.Child("time"), s.Time)
		checkRetain(p, s.Retain)
	}
	if s := item.Monthly; s != nil {
		p := root.Child("monthly")
		switch {
		case s.Date < MinDate:
			errs = append(errs, field.Invalid(p.Child("date"), s.Date, minMessage(MinDate)))
		case s.Date > MaxDate:
			errs = append(errs, field.Invalid(p.Child("date"), s.Date, maxMessage(MaxDate)))
		}
		checkTime(p.Child("time"), s.Time)
		checkRetain(p, s.Retain)
	}
	if tz := item.TimeZone; tz != "" {
		p := root.Child("timeZone")
		if len(tz) > MaxTimeZoneLength {
			// No IANA name is anywhere near this long, so the length is the whole story.
			errs = append(errs, field.TooLong(p, tz, MaxTimeZoneLength))
		} else if _, err := LoadTimeZone(tz); err != nil {
			errs = append(errs, field.Invalid(p, tz, TimeZoneMessage))
		}
	}
	if d := item.StartingDeadlineMinutes; d != nil {
		switch {
		case *d < 1:
			errs = append(errs, field.Invalid(root.Child("startingDeadlineMinutes"), *d, minMessage(1)))
		case *d > MaxMinutes:
			errs = append(errs, field.Invalid(root.Child("startingDeadlineMinutes"), *d, maxMessage(MaxMinutes)))
		}
	}
	return errs
}

// InvalidPolicyError is what Compile returns for a policy that fails validation. It keeps the
// field errors so a controller can put them in a condition and the CLI can print one line each.
type InvalidPolicyError struct {
	// Name of the policy.
	Name string
	// Errs are ValidatePolicy's findings, in order.
	Errs field.ErrorList
}

// Error reads `schedule policy "NAME": <problem>; <problem>`: one line a person can act on.
func (e *InvalidPolicyError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = fe.Error()
	}
	return fmt.Sprintf("schedule policy %q: %s", e.Name, strings.Join(msgs, "; "))
}

// Unwrap exposes each field error to errors.As.
func (e *InvalidPolicyError) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, fe := range e.Errs {
		out[i] = fe
	}
	return out
}

// Is makes errors.Is(err, ErrInvalidPolicy) true, so callers need not know the concrete type.
func (e *InvalidPolicyError) Is(target error) bool { return target == ErrInvalidPolicy }
