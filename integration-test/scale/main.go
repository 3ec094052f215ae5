package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/go-logr/logr"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// config is what a run measures; every field has a flag, and the sizes and times an environment
// variable, so `make bench-scale SCALE_IDLE=1m` works.
type config struct {
	owners        int
	idleSources   int
	idleSchedules int
	unrelated     int
	spread        int
	cronSources   int
	policySources int
	only          string
	idle          time.Duration
	settle        time.Duration
	workers       int
	volsyncd      string
	out           string
	profiles      string
	keep          bool
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func parseFlags() config {
	c := config{}
	flag.IntVar(&c.owners, "owners", envInt("SCALE_OWNERS", 1000), "owners whose triggers are timed, half ReplicationSources and half MigrationSchedules ($SCALE_OWNERS)")
	flag.IntVar(&c.idleSources, "idle-sources", envInt("SCALE_IDLE_SOURCES", 5000), "idle ReplicationSources ($SCALE_IDLE_SOURCES)")
	flag.IntVar(&c.idleSchedules, "idle-schedules", envInt("SCALE_IDLE_SCHEDULES", 1000), "idle, suspended MigrationSchedules ($SCALE_IDLE_SCHEDULES)")
	flag.IntVar(&c.unrelated, "unrelated", envInt("SCALE_UNRELATED", 10000), "Secrets, and as many PVCs, that are not volsync's, added after the idle window ($SCALE_UNRELATED)")
	flag.IntVar(&c.cronSources, "cron-sources", envInt("SCALE_CRON_SOURCES", 500), "ReplicationSources on one cron schedule whose mover Jobs are timed; 0 leaves the mover-start phase out ($SCALE_CRON_SOURCES)")
	flag.IntVar(&c.policySources, "policy-sources", envInt("SCALE_POLICY_SOURCES", 1000), "ReplicationSources on one SchedulePolicy whose mover Jobs are timed ($SCALE_POLICY_SOURCES)")
	flag.StringVar(&c.only, "only", os.Getenv("SCALE_ONLY"), "\"movers\" runs the mover-start phase alone ($SCALE_ONLY)")
	flag.IntVar(&c.spread, "spread", envInt("SCALE_SPREAD", 5), "minutes the wall-clock triggers are spread over ($SCALE_SPREAD)")
	flag.DurationVar(&c.idle, "idle", envDuration("SCALE_IDLE", 5*time.Minute), "how long idle requests, memory and CPU are measured ($SCALE_IDLE)")
	flag.DurationVar(&c.settle, "settle", 30*time.Second, "wait after start-up before the idle measurement")
	flag.IntVar(&c.workers, "workers", 16, "goroutines that create the objects")
	flag.StringVar(&c.volsyncd, "volsyncd", "", "volsyncd binary; built from ./cmd/volsyncd when empty")
	flag.StringVar(&c.out, "out", os.Getenv("SCALE_OUT"), "also write the table to this file ($SCALE_OUT)")
	flag.StringVar(&c.profiles, "profiles", os.Getenv("SCALE_PROFILES"), "save the API server's CPU profile of each mover-start firing's first 3 s in this directory ($SCALE_PROFILES)")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory (volsyncd's log, kubeconfig)")
	flag.Parse()
	return c
}

func main() {
	cfg := parseFlags()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := run(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

// progress prints one timestamped line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// bench is the running test bed.
type bench struct {
	cfg        config
	env        *testenv.Env
	c          client.Client
	metrics    *kubernetes.Clientset
	dir        string
	kubeconfig []byte
	binary     string
	proc       *volsyncd
}

func run(ctx context.Context, cfg config) (err error) {
	if cfg.owners < 2 || cfg.spread < 1 || cfg.idle <= 0 {
		return fmt.Errorf("need at least 2 owners, 1 minute of spread and some idle time")
	}
	ctrl.SetLogger(logr.Discard())
	b := &bench{cfg: cfg}
	if b.dir, err = os.MkdirTemp("", "volsync-bench-scale-"); err != nil {
		return err
	}
	defer func() {
		if cfg.keep || err != nil {
			progress("working directory kept: %s (volsyncd.log)", b.dir)
			return
		}
		_ = os.RemoveAll(b.dir)
	}()

	b.binary = cfg.volsyncd
	if b.binary == "" {
		progress("building volsyncd")
		if b.binary, err = buildVolsyncd(ctx, b.dir); err != nil {
			return err
		}
	}
	progress("starting etcd and kube-apiserver")
	b.env, err = testenv.Start(filepath.Join(testenv.RepoRoot(), "specs", "thirdparty", "snapshot"))
	if err != nil {
		return err
	}
	defer func() { _ = b.env.Stop() }()
	b.c = b.env.Client
	if b.metrics, err = kubernetes.NewForConfig(b.env.Config); err != nil {
		return err
	}
	if b.kubeconfig, err = b.env.AdminKubeconfig(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "kubeconfig"), b.kubeconfig, 0o600); err != nil {
		return err
	}
	defer func() {
		if b.proc != nil {
			_ = b.proc.stop()
		}
	}()

	r := &results{cfg: cfg}
	if cfg.only == "movers" {
		if err := b.createIdle(ctx, true); err != nil {
			return err
		}
		if b.proc, err = startVolsyncd(b.binary, filepath.Join(b.dir, "kubeconfig"), filepath.Join(b.dir, "volsyncd.log")); err != nil {
			return err
		}
		if _, _, err := b.proc.waitSettled(ctx, nil, 3*time.Second, 2*time.Minute); err != nil {
			return err
		}
		if r.movers, err = b.movers(ctx); err != nil {
			return err
		}
		table := r.moversTable()
		fmt.Print(table)
		if cfg.out != "" {
			if err := os.WriteFile(cfg.out, []byte(table), 0o644); err != nil {
				return err
			}
		}
		return r.moversFailures()
	}
	if err := b.createIdle(ctx, false); err != nil {
		return err
	}
	if r.firstStart, err = b.startup(ctx, "first start"); err != nil {
		return err
	}
	if err := b.checkIdleReconciled(ctx); err != nil {
		return err
	}
	if r.idle, err = b.measureIdle(ctx); err != nil {
		return err
	}
	if r.unrelated, err = b.unrelated(ctx); err != nil {
		return err
	}
	progress("restarting volsyncd")
	if err := b.proc.stop(); err != nil {
		return err
	}
	b.proc = nil
	if r.restart, err = b.startup(ctx, "restart"); err != nil {
		return err
	}
	if r.timeliness, err = b.timeliness(ctx); err != nil {
		return err
	}
	if cfg.cronSources > 0 {
		if r.movers, err = b.movers(ctx); err != nil {
			return err
		}
	}

	table := r.table() + r.moversTable()
	fmt.Print(table)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(table), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(r.failures(), r.moversFailures())
}

// createIdle creates the idle set: policies hours away, idleSources ReplicationSources with their
// PVCs, idleSchedules suspended MigrationSchedules.
func (b *bench) createIdle(ctx context.Context, systemOnly bool) error {
	start := time.Now()
	if systemOnly {
		return createAll(ctx, b.c, 1, []client.Object{namespace(systemNamespace)})
	}
	policies, err := idlePolicies(start)
	if err != nil {
		return err
	}
	var setup []client.Object
	setup = append(setup, namespace(systemNamespace))
	for _, p := range policies {
		setup = append(setup, p)
	}
	for _, ns := range namespaces("idle-rs", b.cfg.idleSources) {
		setup = append(setup, namespace(ns), psk(ns))
	}
	for _, ns := range namespaces("idle-ms", b.cfg.idleSchedules) {
		setup = append(setup, namespace(ns))
	}
	if err := createAll(ctx, b.c, 1, setup); err != nil {
		return err
	}
	var objs []client.Object
	for i := range b.cfg.idleSources {
		ns, name := namespaceOf("idle-rs", i), fmt.Sprintf("vol-%05d", i)
		objs = append(objs, pvc(ns, name), source(ns, name, policies[i%len(policies)].Name))
	}
	for i := range b.cfg.idleSchedules {
		objs = append(objs, migrationSchedule(namespaceOf("idle-ms", i), fmt.Sprintf("app-%05d", i), policies[i%len(policies)].Name, true))
	}
	progress("creating %d idle ReplicationSources (and their PVCs) and %d suspended MigrationSchedules", b.cfg.idleSources, b.cfg.idleSchedules)
	if err := createAll(ctx, b.c, b.cfg.workers, objs); err != nil {
		return err
	}
	progress("created %d objects in %s", len(setup)+len(objs), time.Since(start).Round(time.Second))
	return nil
}

// startupResult is one start of volsyncd.
type startupResult struct {
	objects  int
	took     time.Duration
	requests requestCounts
}

// startup starts volsyncd and waits until it has reconciled every idle owner and gone quiet.
func (b *bench) startup(ctx context.Context, what string) (startupResult, error) {
	want := map[string]int{"replicationsource": b.cfg.idleSources, "migrationschedule": b.cfg.idleSchedules}
	before, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return startupResult{}, err
	}
	progress("%s: starting volsyncd over %d objects", what, b.cfg.idleSources+b.cfg.idleSchedules)
	t0 := time.Now()
	if b.proc, err = startVolsyncd(b.binary, filepath.Join(b.dir, "kubeconfig"), filepath.Join(b.dir, "volsyncd.log")); err != nil {
		return startupResult{}, err
	}
	at, _, err := b.proc.waitSettled(ctx, want, 3*time.Second, 10*time.Minute)
	if err != nil {
		return startupResult{}, err
	}
	after, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return startupResult{}, err
	}
	res := startupResult{objects: b.cfg.idleSources + b.cfg.idleSchedules, took: at.Sub(t0), requests: after.since(before)}
	progress("%s: settled after %s; requests %s", what, res.took.Round(10*time.Millisecond), res.requests.byVerb(isObjectRequest, 1))
	return res, nil
}

// checkIdleReconciled checks that every idle owner has a status for its current generation.
func (b *bench) checkIdleReconciled(ctx context.Context) error {
	var sources volsyncv1alpha1.ReplicationSourceList
	if err := b.c.List(ctx, &sources); err != nil {
		return err
	}
	var schedules volsyncv1alpha1.MigrationScheduleList
	if err := b.c.List(ctx, &schedules); err != nil {
		return err
	}
	var stale []string
	for _, s := range sources.Items {
		if s.Status.ObservedGeneration != s.Generation || s.Status.NextSyncTime == nil {
			stale = append(stale, s.Namespace+"/"+s.Name)
		}
	}
	for _, s := range schedules.Items {
		if s.Status.ObservedGeneration != s.Generation || len(s.Status.NextTriggers) == 0 {
			stale = append(stale, s.Namespace+"/"+s.Name)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%d owners have no status for their generation after start-up, such as %v", len(stale), stale[:min(len(stale), 5)])
	}
	return nil
}

// idleResult is the idle window.
type idleResult struct {
	window   time.Duration
	requests requestCounts
	rssMax   int64
	rssEnd   int64
	cpu      time.Duration
}

// measureIdle waits for the controller to settle, then counts API requests and samples volsyncd's
// memory and CPU over the idle window.
func (b *bench) measureIdle(ctx context.Context) (idleResult, error) {
	progress("idle: settling for %s, then measuring for %s", b.cfg.settle, b.cfg.idle)
	if err := sleep(ctx, b.cfg.settle); err != nil {
		return idleResult{}, err
	}
	pid := b.proc.cmd.Process.Pid
	before, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return idleResult{}, err
	}
	first, err := sample(pid)
	if err != nil {
		return idleResult{}, err
	}
	res := idleResult{rssMax: first.rss}
	last := first
	end := first.at.Add(b.cfg.idle)
	for time.Now().Before(end) {
		if err := sleep(ctx, min(5*time.Second, time.Until(end))); err != nil {
			return res, err
		}
		if err := b.proc.exited(); err != nil {
			return res, err
		}
		if last, err = sample(pid); err != nil {
			return res, err
		}
		res.rssMax = max(res.rssMax, last.rss)
	}
	after, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return res, err
	}
	res.window = last.at.Sub(first.at)
	res.requests = after.since(before)
	res.rssEnd = last.rss
	res.cpu = last.cpu - first.cpu
	progress("idle: writes %s; RSS %s; CPU %s", res.requests.bySeries(isWrite, 1), mib(res.rssMax), res.cpuShare())
	return res, nil
}

// cpuShare is the idle CPU as a share of one core.
func (r idleResult) cpuShare() string {
	if r.window <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%% of one core", 100*r.cpu.Seconds()/r.window.Seconds())
}

func (r idleResult) perMinute() float64 { return 1 / r.window.Minutes() }

func mib(bytes int64) string { return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20)) }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// errFunctional is a run in which something did not work.
var errFunctional = errors.New("functional failure")
