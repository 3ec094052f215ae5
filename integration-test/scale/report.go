package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Goals, from the issue that asked for this bench.
const (
	goalDelayP99 = time.Second
	goalRSS      = 256 << 20
	// goalUnrelatedRSS is how much volsyncd may grow when the cluster gains objects not its own.
	goalUnrelatedRSS = 10 << 20
	// goalCPU is what "near zero" is taken to mean: one percent of one core.
	goalCPU = 0.01
)

// results are every phase's figures.
type results struct {
	cfg        config
	firstStart startupResult
	idle       idleResult
	unrelated  unrelatedResult
	restart    startupResult
	timeliness timelinessResult
	movers     moversResult
}

// verdict says whether a figure meets its goal and, if not, by how much it misses.
func verdict(ok bool, miss string) string {
	if ok {
		return "met"
	}
	return "**missed** by " + miss
}

// table is the report: one Markdown table of figures, goals and measurements, then the details.
func (r *results) table() string {
	var b strings.Builder
	t := r.timeliness
	o := t.outcome
	all := o.all()
	p99 := percentile(all, 0.99)
	perMin := r.idle.perMinute()
	writes := r.idle.requests.sum(isObjectWrite) * perMin
	cpu := 0.0
	if r.idle.window > 0 {
		cpu = r.idle.cpu.Seconds() / r.idle.window.Seconds()
	}
	owners := r.cfg.idleSources + r.cfg.idleSchedules
	row := func(figure, goal, measured string) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", figure, goal, measured)
	}

	fmt.Fprintf(&b, "\n| figure | goal | measured |\n| --- | --- | --- |\n")
	row(fmt.Sprintf("trigger delay p50 / p99 / max: %d dated children of %d owners over %d minutes",
		len(all), t.owners, len(t.marks)), "p99 ≤ 1 s",
		fmt.Sprintf("%s (%s)", spreadOf(all), verdict(p99 <= goalDelayP99, ms(p99-goalDelayP99))))
	row("… ReplicationSources (ReplicationSyncs)", "", spreadOf(o.ofKind(kindSource)))
	row("… MigrationSchedules (Migrations)", "", spreadOf(o.ofKind(kindSchedule)))
	row("triggers missed / run twice", "0 / 0", fmt.Sprintf("%d / %d of %d (%s)", len(o.missed), len(o.extra), t.expected,
		verdict(len(o.missed) == 0 && len(o.extra) == 0, fmt.Sprintf("%d", len(o.missed)+len(o.extra)))))
	row(fmt.Sprintf("idle, %d ReplicationSources + %d suspended MigrationSchedules: API writes per minute, leader election aside",
		r.cfg.idleSources, r.cfg.idleSchedules), "0",
		fmt.Sprintf("%s (%s)", number(writes), verdict(writes == 0, number(writes)+"/min: "+r.idle.requests.bySeries(isObjectWrite, perMin))))
	row("… leader election's writes per minute (volsyncd's Lease, the API server's identity Lease)", "",
		number(r.idle.requests.sum(isLeaderElectionWrite)*perMin))
	row("… API reads per minute", "", r.idle.requests.byVerb(isRead, perMin))
	row("… volsyncd resident memory, most over the window", "≤ 256 MiB",
		fmt.Sprintf("%s (%s)", mib(r.idle.rssMax), verdict(r.idle.rssMax <= goalRSS, mib(r.idle.rssMax-goalRSS))))
	row("… volsyncd CPU", "near zero (≤ 1 % of a core)",
		fmt.Sprintf("%s (%s)", r.idle.cpuShare(), verdict(cpu <= goalCPU, fmt.Sprintf("%.2f%% of a core", 100*(cpu-goalCPU)))))
	if u := r.unrelated; u.secrets > 0 {
		row(fmt.Sprintf("… volsyncd resident memory growth when %s Secrets and %s PVCs that are not volsync's are added",
			number(float64(u.secrets)), number(float64(u.pvcs))), "≤ 10 MiB",
			fmt.Sprintf("%s, %s to %s (%s)", signedMiB(u.growth()), mib(u.rssBefore), mib(u.rssAfter),
				verdict(u.growth() <= goalUnrelatedRSS, mib(u.growth()-goalUnrelatedRSS))))
	}
	row(fmt.Sprintf("first start: time until all %d owners are reconciled", owners), "",
		r.firstStart.took.Round(100*time.Millisecond).String())
	row("… API requests", "", r.firstStart.requests.byVerb(isObjectRequest, 1))
	row("restart (status current): time until all are reconciled", "",
		r.restart.took.Round(100*time.Millisecond).String())
	row("… API requests", "no writes", fmt.Sprintf("%s (%s)", r.restart.requests.byVerb(isObjectRequest, 1),
		verdict(r.restart.requests.sum(isObjectWrite) == 0, r.restart.requests.bySeries(isObjectWrite, 1))))

	fmt.Fprintf(&b, "\nDelays by owner and policy type (p50 / p99 / max):\n")
	for _, k := range []string{kindSource, kindSchedule} {
		for _, typ := range []string{"daily", "weekly", "monthly", "interval"} {
			fmt.Fprintf(&b, "  %-18s %-9s %4d  %s\n", k, typ, len(o.delays[k+" "+typ]), spreadOf(o.delays[k+" "+typ]))
		}
	}
	fmt.Fprintf(&b, "  interval triggers at the owner's creation (timed from a whole-second creationTimestamp, not counted above): %d, %s\n",
		len(o.atCreation), spreadOf(o.atCreation))
	fmt.Fprintf(&b, "Idle window %s; API writes over it by resource: %s.\n", r.idle.window.Round(time.Second),
		r.idle.requests.bySeries(isWrite, 1))
	fmt.Fprintf(&b, "Idle reads by resource, per minute: %s.\n", r.idle.requests.bySeries(isRead, perMin))
	fmt.Fprintf(&b, "First start requests by resource: %s.\n", r.firstStart.requests.bySeries(isObjectRequest, 1))
	fmt.Fprintf(&b, "Restart requests by resource: %s; leader election's: %s.\n", r.restart.requests.bySeries(isObjectRequest, 1),
		r.restart.requests.bySeries(isLeaderElection, 1))
	fmt.Fprintf(&b, "volsync_missed_intervals_total at the end: %s; children of idle owners: %d; created-at vs creationTimestamp off by > 2 s: %d.\n",
		number(t.missedMetric), t.idleFired, o.clockSkew)
	if len(o.missed) > 0 {
		fmt.Fprintf(&b, "Missed: %s\n", strings.Join(o.missed[:min(len(o.missed), 10)], ", "))
	}
	if len(o.extra) > 0 {
		fmt.Fprintf(&b, "Unexpected: %s\n", strings.Join(o.extra[:min(len(o.extra), 10)], ", "))
	}
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s.\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return b.String()
}

// signedMiB is a change of memory in MiB, with its sign.
func signedMiB(bytes int64) string { return fmt.Sprintf("%+.1f MiB", float64(bytes)/(1<<20)) }

// failures is errFunctional when something did not work, whatever the timings.
func (r *results) failures() error {
	t := r.timeliness
	var problems []string
	if n := len(t.outcome.missed); n > 0 {
		problems = append(problems, fmt.Sprintf("%d triggers missed", n))
	}
	if n := len(t.outcome.extra); n > 0 {
		problems = append(problems, fmt.Sprintf("%d children for triggers that were not due", n))
	}
	if t.idleFired > 0 {
		problems = append(problems, fmt.Sprintf("%d children of idle owners", t.idleFired))
	}
	if t.missedMetric > 0 {
		problems = append(problems, fmt.Sprintf("volsync_missed_intervals_total is %s", number(t.missedMetric)))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", errFunctional, strings.Join(problems, "; "))
}

// moversTable is the mover-start phase's table: scheduled time to mover Job, and volsyncd's writes
// per sync, for each firing.
func (r *results) moversTable() string {
	if len(r.movers.firings) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nScheduled time → mover Job (rsync-tls, copyMethod Direct; the bench watches Jobs and completes them):\n\n")
	fmt.Fprintf(&b, "| firing | goal | p50 / p99 / max | missing / doubled | volsyncd's writes per sync |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range r.movers.firings {
		if f.floor {
			fmt.Fprintf(&b, "| %s | — | %s | %d / — | — |\n", f.what, spreadOf(f.delays), f.missing)
			continue
		}
		p99 := percentile(f.delays, 0.99)
		fmt.Fprintf(&b, "| %s | p99 ≤ 1 s | %s (%s) | %d / %d | %s |\n", f.what, spreadOf(f.delays),
			verdict(p99 <= goalDelayP99, ms(p99-goalDelayP99)), f.missing, f.doubled, number(f.writesPerSync()))
	}
	fmt.Fprintf(&b, "\nvolsyncd's writes per sync by resource:\n")
	for _, f := range r.movers.firings {
		if f.floor {
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", f.what, f.volsyncd().bySeries(isObjectWrite, 1/float64(max(f.sources, 1))))
	}
	return b.String()
}

// moversFailures is errFunctional when a mover Job did not come or came twice.
func (r *results) moversFailures() error {
	var problems []string
	for _, f := range r.movers.firings {
		if f.missing > 0 || f.doubled > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d sources without a Job, %d with two", f.what, f.missing, f.doubled))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", errFunctional, strings.Join(problems, "; "))
}
