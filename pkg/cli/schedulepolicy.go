package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// SchedulePolicyTable is the seed's `get schedulepolicy` table, NAME INTERVAL-MINUTES DAILY WEEKLY
// MONTHLY, so that a Stork policy reads exactly as storkctl shows it. A section the policy does not
// use prints as N/A. wide adds TIMEZONE (UTC when left at its default).
func SchedulePolicyTable(policies []volsyncv1alpha1.SchedulePolicy, wide bool) Table {
	t := Table{Headers: []string{"NAME", "INTERVAL-MINUTES", "DAILY", "WEEKLY", "MONTHLY"}}
	if wide {
		t.Headers = append(t.Headers, "TIMEZONE")
	}
	for _, p := range policies {
		interval, daily, weekly, monthly := NotApplicable, NotApplicable, NotApplicable, NotApplicable
		if s := p.Policy.Interval; s != nil {
			interval = strconv.Itoa(int(s.IntervalMinutes))
		}
		if s := p.Policy.Daily; s != nil {
			daily = s.Time
		}
		if s := p.Policy.Weekly; s != nil {
			weekly = s.Day + "@" + s.Time
		}
		if s := p.Policy.Monthly; s != nil {
			monthly = strconv.Itoa(int(s.Date)) + "@" + s.Time
		}
		row := []string{p.Name, interval, daily, weekly, monthly}
		if wide {
			zone := p.Policy.TimeZone
			if zone == "" {
				zone = "UTC"
			}
			row = append(row, zone)
		}
		t.AddRow(row...)
	}
	return t
}

// NotApplicable is the cell of a schedule policy section that the policy does not use, as storkctl
// prints it.
const NotApplicable = "N/A"

// SchedulePolicyFlags are the sections of `create schedulepolicy`, as the user typed them.
type SchedulePolicyFlags struct {
	// IntervalMinutes is --interval; 0 leaves the section out.
	IntervalMinutes int32
	// Daily is --daily, a time such as 10:14PM.
	Daily string
	// Weekly is --weekly, DAY@TIME such as Thursday@10:13PM.
	Weekly string
	// Monthly is --monthly, DATE@TIME such as 14@8:05PM.
	Monthly string
	// Retain is --retain TYPE=N, repeatable.
	Retain []string
	// TimeZone is --time-zone.
	TimeZone string
	// StartingDeadlineMinutes is --starting-deadline-minutes; 0 leaves it unset.
	StartingDeadlineMinutes int32
}

// Policy builds the policy the flags describe. It checks only the flags' shape (DAY@TIME,
// TYPE=N); the values are checked by schedule.ValidatePolicy, as admission would.
func (f SchedulePolicyFlags) Policy() (volsyncv1alpha1.SchedulePolicyItem, error) {
	var item volsyncv1alpha1.SchedulePolicyItem
	if f.IntervalMinutes != 0 {
		item.Interval = &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: f.IntervalMinutes}
	}
	if f.Daily != "" {
		item.Daily = &volsyncv1alpha1.DailyPolicy{Time: f.Daily}
	}
	if f.Weekly != "" {
		day, at, ok := strings.Cut(f.Weekly, "@")
		if !ok {
			return item, fmt.Errorf("--weekly %q is not DAY@TIME, such as Thursday@10:13PM", f.Weekly)
		}
		item.Weekly = &volsyncv1alpha1.WeeklyPolicy{Day: day, Time: at}
	}
	if f.Monthly != "" {
		date, at, ok := strings.Cut(f.Monthly, "@")
		n, err := strconv.ParseInt(date, 10, 32)
		if !ok || err != nil {
			return item, fmt.Errorf("--monthly %q is not DATE@TIME, such as 14@8:05PM", f.Monthly)
		}
		item.Monthly = &volsyncv1alpha1.MonthlyPolicy{Date: int32(n), Time: at}
	}
	for _, r := range f.Retain {
		if err := setRetain(&item, r); err != nil {
			return item, err
		}
	}
	item.TimeZone = f.TimeZone
	if f.StartingDeadlineMinutes != 0 {
		item.StartingDeadlineMinutes = ptr.To(f.StartingDeadlineMinutes)
	}
	return item, nil
}

func setRetain(item *volsyncv1alpha1.SchedulePolicyItem, flag string) error {
	typ, count, ok := strings.Cut(flag, "=")
	n, err := strconv.ParseInt(count, 10, 32)
	if !ok || err != nil {
		return fmt.Errorf("--retain %q is not TYPE=N, such as daily=7", flag)
	}
	retain := ptr.To(int32(n))
	var target **int32
	switch strings.ToLower(typ) {
	case "interval":
		if item.Interval != nil {
			target = &item.Interval.Retain
		}
	case "daily":
		if item.Daily != nil {
			target = &item.Daily.Retain
		}
	case "weekly":
		if item.Weekly != nil {
			target = &item.Weekly.Retain
		}
	case "monthly":
		if item.Monthly != nil {
			target = &item.Monthly.Retain
		}
	default:
		return fmt.Errorf("--retain %q: type must be interval, daily, weekly or monthly", flag)
	}
	if target == nil {
		return fmt.Errorf("--retain %q: the policy has no %s section; add --%s", flag, strings.ToLower(typ), strings.ToLower(typ))
	}
	*target = retain
	return nil
}

// PolicyUsers lists, as "Kind namespace/name", every object in any namespace that points at the
// schedule policy, sorted. A policy in use must not be deleted.
func PolicyUsers(ctx context.Context, c client.Reader, policy string) ([]string, error) {
	var users []string
	var sources volsyncv1alpha1.ReplicationSourceList
	if err := c.List(ctx, &sources); err != nil {
		return nil, err
	}
	for _, o := range sources.Items {
		if o.Spec.Trigger != nil && o.Spec.Trigger.SchedulePolicyName == policy {
			users = append(users, "ReplicationSource "+o.Namespace+"/"+o.Name)
		}
	}
	var destinations volsyncv1alpha1.ReplicationDestinationList
	if err := c.List(ctx, &destinations); err != nil {
		return nil, err
	}
	for _, o := range destinations.Items {
		if o.Spec.Trigger != nil && o.Spec.Trigger.SchedulePolicyName == policy {
			users = append(users, "ReplicationDestination "+o.Namespace+"/"+o.Name)
		}
	}
	var schedules volsyncv1alpha1.MigrationScheduleList
	if err := c.List(ctx, &schedules); err != nil {
		return nil, err
	}
	for _, o := range schedules.Items {
		if o.Spec.SchedulePolicyName == policy {
			users = append(users, "MigrationSchedule "+o.Namespace+"/"+o.Name)
		}
	}
	sort.Strings(users)
	return users, nil
}
