package migrationschedule

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// runOrder is the order in which pending types run when several wait: the rarest first. A delayed
// interval run is superseded by the next one within minutes; a delayed or skipped monthly run is
// not, and the rare types are the ones retain keeps longest.
var runOrder = []schedule.Type{schedule.TypeMonthly, schedule.TypeWeekly, schedule.TypeDaily, schedule.TypeInterval}

// rank is t's place in runOrder; unknown types go last.
func rank(t schedule.Type) int {
	if i := slices.Index(runOrder, t); i >= 0 {
		return i
	}
	return len(runOrder)
}

// enqueue puts a trigger of type t scheduled at `at` in the queue, which holds at most one entry per
// type. It returns the new queue and the entry it replaced, if any: the newer scheduled time wins,
// and the loser is a trigger that will never run (the caller counts it as missed).
func enqueue(pending []volsyncv1alpha1.PolicyTrigger, t schedule.Type, at time.Time) ([]volsyncv1alpha1.PolicyTrigger, *volsyncv1alpha1.PolicyTrigger) {
	entry := volsyncv1alpha1.PolicyTrigger{Type: t, Time: statusTime(at)}
	out := slices.Clone(pending)
	for i := range out {
		if out[i].Type != t {
			continue
		}
		if !out[i].Time.Before(&entry.Time) {
			// What is queued is as new or newer: the incoming one is the loser.
			return out, &entry
		}
		old := out[i]
		out[i] = entry
		return out, &old
	}
	out = append(out, entry)
	sortPending(out)
	return out, nil
}

// sortPending keeps the queue in run order, which is also how status shows it.
func sortPending(p []volsyncv1alpha1.PolicyTrigger) {
	slices.SortStableFunc(p, func(a, b volsyncv1alpha1.PolicyTrigger) int { return rank(a.Type) - rank(b.Type) })
}

// running returns the first item of any type whose Migration has not finished, or nil.
func running(items map[schedule.Type][]volsyncv1alpha1.ScheduledRun) *volsyncv1alpha1.ScheduledRun {
	for _, t := range volsyncv1alpha1.SchedulePolicyTypes {
		for i := range items[t] {
			if !items[t][i].Status.Finished() {
				return &items[t][i]
			}
		}
	}
	return nil
}

// trim splits one type's history, oldest first, into what retain keeps and what goes: the newest
// `retain` items stay, and so does every older one still running, since deleting a running
// Migration would cut a migration off half way, and so does the newest Successful one, as seed 004
// promises: a run of failures never leaves a type without the record of its last good copy.
func trim(items []volsyncv1alpha1.ScheduledRun, retain int) (keep, drop []volsyncv1alpha1.ScheduledRun) {
	cut := max(len(items)-max(retain, 0), 0)
	lastSuccess := -1
	for i, it := range items {
		if it.Status == volsyncv1alpha1.RunStatusSuccessful {
			lastSuccess = i
		}
	}
	for i, it := range items {
		if i < cut && it.Status.Finished() && i != lastSuccess {
			drop = append(drop, it)
			continue
		}
		keep = append(keep, it)
	}
	return keep, drop
}

// sortHistory orders one type's history oldest first by scheduled time (creation time for items
// that lack it), then by name so the order is total.
func sortHistory(items []volsyncv1alpha1.ScheduledRun) {
	at := func(r volsyncv1alpha1.ScheduledRun) time.Time {
		if r.ScheduledTime != nil {
			return r.ScheduledTime.Time
		}
		return r.CreationTimestamp.Time
	}
	slices.SortStableFunc(items, func(a, b volsyncv1alpha1.ScheduledRun) int {
		if c := at(a).Compare(at(b)); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
}

// statusTime is t as status stores it: UTC, whole seconds, no monotonic reading, so that a value
// compares equal to itself after a round trip through the API server.
func statusTime(t time.Time) metav1.Time {
	return metav1.NewTime(t.UTC().Truncate(time.Second))
}
