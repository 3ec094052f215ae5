package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// Owner kinds, as the report names them.
const (
	kindSource   = "ReplicationSource"
	kindSchedule = "MigrationSchedule"
)

// wallTypes are the policy types that fire at a wall-clock time; every fourth owner has an
// interval policy instead.
var wallTypes = []schedule.Type{schedule.TypeDaily, schedule.TypeWeekly, schedule.TypeMonthly}

// intervals are the interval policies' periods in minutes, so that their second and later
// triggers fall through the run rather than together.
var intervals = []int32{2, 3, 4, 5}

// plan is the timeliness run: the minutes at which the wall-clock policies fire, and which policy
// each owner names.
type plan struct {
	// marks are the whole minutes the wall-clock policies fire at, the first one far enough
	// ahead for every owner to be created and seen first.
	marks []time.Time
}

// newPlan puts spread trigger minutes after lead.
func newPlan(start time.Time, lead time.Duration, spread int) plan {
	first := start.Add(lead).Truncate(time.Minute).Add(time.Minute)
	p := plan{}
	for k := range spread {
		p.marks = append(p.marks, first.Add(time.Duration(k)*time.Minute))
	}
	return p
}

// cutoff is the last trigger the run expects; later ones (intervals' third or fourth) are ignored.
func (p plan) cutoff() time.Time { return p.marks[len(p.marks)-1] }

// assignment is the policy of one owner.
type assignment struct {
	policy  string
	typ     schedule.Type
	mark    int   // index into marks, for wall-clock types
	minutes int32 // period, for the interval type
}

// assign gives the i-th owner of a kind its policy: daily, weekly, monthly and interval in turn,
// each spread over the trigger minutes (or the interval periods).
func (p plan) assign(i int) assignment {
	slot := i / (len(wallTypes) + 1)
	if i%(len(wallTypes)+1) == len(wallTypes) {
		n := intervals[slot%len(intervals)]
		return assignment{policy: fmt.Sprintf("time-interval-%d", n), typ: schedule.TypeInterval, minutes: n}
	}
	t := wallTypes[i%(len(wallTypes)+1)]
	k := slot % len(p.marks)
	return assignment{policy: fmt.Sprintf("time-%s-%d", strings.ToLower(string(t)), k), typ: t, mark: k}
}

// policies are every policy assign names.
func (p plan) policies() ([]*volsyncv1alpha1.SchedulePolicy, error) {
	var out []*volsyncv1alpha1.SchedulePolicy
	for _, t := range wallTypes {
		for k, at := range p.marks {
			sp, err := wallPolicy(fmt.Sprintf("time-%s-%d", strings.ToLower(string(t)), k), t, at, zones[k%len(zones)])
			if err != nil {
				return nil, err
			}
			out = append(out, sp)
		}
	}
	for _, n := range intervals {
		out = append(out, intervalPolicy(fmt.Sprintf("time-interval-%d", n), n))
	}
	return out, nil
}

// expectedTrigger is one dated child the run must see.
type expectedTrigger struct {
	kind, namespace, owner string
	typ                    schedule.Type
	scheduled              time.Time
	// atCreation marks an interval policy's first trigger, which fires at the owner's
	// creationTimestamp: the reaction to a new object, and timed from a time cut to whole seconds,
	// so it is checked (none missed, none doubled) but not counted in the delays.
	atCreation bool
}

// childName is the name the child of t must have.
func (t expectedTrigger) childName() string { return schedule.ChildName(t.owner, t.typ, t.scheduled) }

// expected lists the triggers of an owner created at created with assignment a, up to the cutoff.
func (p plan) expected(kind, namespace, owner string, a assignment, created time.Time) []expectedTrigger {
	base := expectedTrigger{kind: kind, namespace: namespace, owner: owner, typ: a.typ}
	if a.typ != schedule.TypeInterval {
		base.scheduled = p.marks[a.mark]
		return []expectedTrigger{base}
	}
	var out []expectedTrigger
	for j := 0; ; j++ {
		at := created.Add(time.Duration(j) * time.Duration(a.minutes) * time.Minute)
		if at.After(p.cutoff()) {
			return out
		}
		t := base
		t.scheduled, t.atCreation = at, j == 0
		out = append(out, t)
	}
}

// child is a dated child as found: when it was scheduled for and when volsyncd created it.
type child struct {
	kind, namespace, name string
	scheduled, createdAt  time.Time
	// created is the API server's creationTimestamp, whole seconds.
	created time.Time
}

// outcome compares the children found with those expected.
type outcome struct {
	// delays of the children expected and found, by kind and type (creation-time triggers aside).
	delays map[string][]time.Duration
	// atCreation are the delays of interval triggers at creation.
	atCreation []time.Duration
	missed     []string
	// extra are children for triggers the run did not expect at or before the cutoff: a trigger
	// run twice, or one that should not have fired.
	extra []string
	// clockSkew counts children whose created-at annotation and creationTimestamp disagree by
	// more than the second the latter is cut to.
	clockSkew int
	found     int
	// byName are the children found, by namespace/name.
	byName map[string]child
}

// writeDelays keeps every expected trigger and when its child came, for a closer look.
func writeDelays(path string, want []expectedTrigger, o outcome) error {
	var b strings.Builder
	b.WriteString("kind,namespace,owner,type,scheduled,created_at,delay_ms\n")
	for _, t := range want {
		c, ok := o.byName[t.namespace+"/"+t.childName()]
		created, delay := "", ""
		if ok {
			created = c.createdAt.Format(time.RFC3339Nano)
			delay = fmt.Sprintf("%.1f", float64(c.createdAt.Sub(t.scheduled).Microseconds())/1000)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", t.kind, t.namespace, t.owner, strings.ToLower(string(t.typ)),
			t.scheduled.UTC().Format(time.RFC3339), created, delay)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// compare matches children against want. Children scheduled after the cutoff are not looked at.
func compare(want []expectedTrigger, got []child, cutoff time.Time) outcome {
	byName := map[string]child{}
	o := outcome{delays: map[string][]time.Duration{}, byName: byName}
	for _, c := range got {
		byName[c.namespace+"/"+c.name] = c
	}
	seen := map[string]bool{}
	for _, t := range want {
		key := t.namespace + "/" + t.childName()
		c, ok := byName[key]
		if !ok {
			o.missed = append(o.missed, key)
			continue
		}
		seen[key] = true
		o.found++
		d := c.createdAt.Sub(t.scheduled)
		if t.atCreation {
			o.atCreation = append(o.atCreation, d)
			continue
		}
		o.delays[t.kind+" "+strings.ToLower(string(t.typ))] = append(o.delays[t.kind+" "+strings.ToLower(string(t.typ))], d)
	}
	for _, c := range got {
		key := c.namespace + "/" + c.name
		if !seen[key] && !c.scheduled.After(cutoff) {
			o.extra = append(o.extra, key)
		}
		if !c.created.IsZero() && math.Abs(c.createdAt.Sub(c.created).Seconds()) > 2 {
			o.clockSkew++
		}
	}
	slices.Sort(o.missed)
	slices.Sort(o.extra)
	return o
}

// all is every delay counted.
func (o outcome) all() []time.Duration {
	var out []time.Duration
	for _, d := range o.delays {
		out = append(out, d...)
	}
	return out
}

// ofKind is every delay of one owner kind.
func (o outcome) ofKind(kind string) []time.Duration {
	var out []time.Duration
	for k, d := range o.delays {
		if strings.HasPrefix(k, kind+" ") {
			out = append(out, d...)
		}
	}
	return out
}

// percentile is the nearest-rank percentile p (0 < p <= 1) of ds; zero for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(min(i, len(s)-1), 0)]
}

// spreadOf is "p50 / p99 / max" of ds in milliseconds.
func spreadOf(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s / %s / %s", ms(percentile(ds, 0.5)), ms(percentile(ds, 0.99)), ms(percentile(ds, 1)))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// timelinessResult is the timeliness run.
type timelinessResult struct {
	owners   int
	expected int
	outcome  outcome
	// idleFired are children of the idle owners, none of which should have fired.
	idleFired int
	// missedMetric is volsync_missed_intervals_total at the end.
	missedMetric float64
	marks        []time.Time
}

// timeliness creates the timed owners, waits past the last trigger until every expected child
// exists (or a deadline passes), and compares the children with the triggers.
func (b *bench) timeliness(ctx context.Context) (timelinessResult, error) {
	start := time.Now()
	p := newPlan(start, 75*time.Second, b.cfg.spread)
	policies, err := p.policies()
	if err != nil {
		return timelinessResult{}, err
	}
	nSources := b.cfg.owners / 2
	nSchedules := b.cfg.owners - nSources
	var setup []client.Object
	for _, sp := range policies {
		setup = append(setup, sp)
	}
	for _, ns := range namespaces("time-rs", nSources) {
		setup = append(setup, namespace(ns), psk(ns))
	}
	for _, ns := range namespaces("time-ms", nSchedules) {
		setup = append(setup, namespace(ns))
		setup = append(setup, loopbackPair(ns, b.kubeconfig)...)
	}
	if err := createAll(ctx, b.c, b.cfg.workers, setup); err != nil {
		return timelinessResult{}, err
	}
	var pvcs []client.Object
	sources := make([]*volsyncv1alpha1.ReplicationSource, nSources)
	for i := range sources {
		ns, name := namespaceOf("time-rs", i), fmt.Sprintf("vol-%05d", i)
		pvcs = append(pvcs, pvc(ns, name))
		sources[i] = source(ns, name, p.assign(i).policy)
	}
	if err := createAll(ctx, b.c, b.cfg.workers, pvcs); err != nil {
		return timelinessResult{}, err
	}
	schedules := make([]*volsyncv1alpha1.MigrationSchedule, nSchedules)
	for i := range schedules {
		schedules[i] = migrationSchedule(namespaceOf("time-ms", i), fmt.Sprintf("app-%05d", i), p.assign(i).policy, false)
	}
	var owners []client.Object
	for i := range max(nSources, nSchedules) {
		if i < nSources {
			owners = append(owners, sources[i])
		}
		if i < nSchedules {
			owners = append(owners, schedules[i])
		}
	}
	progress("timeliness: creating %d ReplicationSources and %d MigrationSchedules; triggers at %s to %s",
		nSources, nSchedules, p.marks[0].Format("15:04:05"), p.cutoff().Format("15:04:05"))
	if err := createAll(ctx, b.c, b.cfg.workers, owners); err != nil {
		return timelinessResult{}, err
	}
	if time.Now().After(p.marks[0].Add(-15 * time.Second)) {
		return timelinessResult{}, fmt.Errorf("creating the timed owners took %s, too close to the first trigger at %s",
			time.Since(start).Round(time.Second), p.marks[0].Format("15:04:05"))
	}

	var want []expectedTrigger
	for i, s := range sources {
		want = append(want, p.expected(kindSource, s.Namespace, s.Name, p.assign(i), s.CreationTimestamp.Time)...)
	}
	for i, s := range schedules {
		want = append(want, p.expected(kindSchedule, s.Namespace, s.Name, p.assign(i), s.CreationTimestamp.Time)...)
	}
	res := timelinessResult{owners: len(owners), expected: len(want), marks: p.marks}

	// Wait until the last trigger, then until every expected child is there, for at most three
	// minutes more: a child later than that is as good as missed.
	for _, m := range p.marks {
		if err := sleep(ctx, time.Until(m.Add(2*time.Second))); err != nil {
			return res, err
		}
		if err := b.proc.exited(); err != nil {
			return res, err
		}
		progress("timeliness: trigger minute %s passed", m.Format("15:04"))
	}
	deadline := p.cutoff().Add(3 * time.Minute)
	for {
		got, err := b.children(ctx, "time-")
		if err != nil {
			return res, err
		}
		res.outcome = compare(want, got, p.cutoff())
		if len(res.outcome.missed) == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 5*time.Second); err != nil {
			return res, err
		}
	}
	if err := writeDelays(filepath.Join(b.dir, "delays.csv"), want, res.outcome); err != nil {
		return res, err
	}
	idle, err := b.children(ctx, "idle-")
	if err != nil {
		return res, err
	}
	res.idleFired = len(idle)
	m, err := b.proc.scrape(ctx)
	if err != nil {
		return res, err
	}
	res.missedMetric = m.missed
	// Kept with volsyncd's log for a closer look (queue and reconcile time histograms).
	if raw, err := b.proc.rawMetrics(ctx); err == nil {
		_ = os.WriteFile(filepath.Join(b.dir, "volsyncd-metrics.txt"), raw, 0o644)
	}
	progress("timeliness: %d of %d children found; delays p50/p99/max %s", res.outcome.found, res.expected, spreadOf(res.outcome.all()))
	return res, nil
}

// children lists the dated children (ReplicationSyncs and Migrations) in the namespaces whose
// names start with prefix.
func (b *bench) children(ctx context.Context, prefix string) ([]child, error) {
	var out []child
	var syncs volsyncv1alpha1.ReplicationSyncList
	if err := b.c.List(ctx, &syncs); err != nil {
		return nil, err
	}
	for _, s := range syncs.Items {
		if !strings.HasPrefix(s.Namespace, prefix) {
			continue
		}
		c, err := found(kindSource, s.Namespace, s.Name, s.Annotations, s.CreationTimestamp.Time)
		if err != nil {
			return nil, err
		}
		c.scheduled = s.Spec.ScheduledTime.Time
		out = append(out, c)
	}
	var migrations volsyncv1alpha1.MigrationList
	if err := b.c.List(ctx, &migrations); err != nil {
		return nil, err
	}
	for _, m := range migrations.Items {
		if !strings.HasPrefix(m.Namespace, prefix) {
			continue
		}
		c, err := found(kindSchedule, m.Namespace, m.Name, m.Annotations, m.CreationTimestamp.Time)
		if err != nil {
			return nil, err
		}
		if c.scheduled, err = time.Parse(time.RFC3339, m.Annotations[volsyncv1alpha1.ScheduledTimeAnnotation]); err != nil {
			return nil, fmt.Errorf("migration %s/%s: scheduled time: %w", m.Namespace, m.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func found(kind, ns, name string, annotations map[string]string, created time.Time) (child, error) {
	at, err := time.Parse(time.RFC3339Nano, annotations[volsyncv1alpha1.CreatedAtAnnotation])
	if err != nil {
		return child{}, fmt.Errorf("%s child %s/%s: %s: %w", kind, ns, name, volsyncv1alpha1.CreatedAtAnnotation, err)
	}
	return child{kind: kind, namespace: ns, name: name, createdAt: at, created: created}, nil
}
