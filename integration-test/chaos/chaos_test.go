package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// writeEvery is how often the chaos phase rewrites every source's tree, so that the movers the
// kills interrupt move new data and not only an unchanged tree.
const writeEvery = 3 * time.Minute

// TestChaos runs every mover and a migration on a one-minute SchedulePolicy while the leading
// volsyncd is killed (SIGKILL to its process on the node) every 5 to 30 seconds for
// CHAOS_DURATION, and then checks that:
//   - another volsyncd took the Lease over after every kill;
//   - every scheduled time of every owner has its dated child (ReplicationSync or Migration), and
//     none has two, nor a child at a time the policy does not have;
//   - no mover Job ran twice for one child;
//   - nothing is orphaned, while the workload runs and once every owner is deleted;
//   - every destination's data matches its source by checksum, after a last write.
//
// It prints the figures as a table (README.md, "Chaos").
func TestChaos(t *testing.T) {
	ctx := context.Background()
	t.Logf("chaos for %s; the kill moments repeat with CHAOS_SEED=%d", duration, seed)
	ws := make([]*workload, 0, len(movers))
	var namespaces []string
	for _, m := range movers {
		w := newWorkload(m)
		ws = append(ws, w)
		namespaces = append(namespaces, w.namespaces()...)
	}

	if err := waitManagers(ctx, 3*time.Minute); err != nil {
		t.Fatalf("volsyncd (make cluster-deploy): %v", err)
	}
	if err := removeLeftovers(ctx, namespaces); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dump(t, namespaces)
		}
		if os.Getenv("CHAOS_KEEP") == "1" {
			return
		}
		for _, ns := range namespaces {
			_ = k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		}
		_ = k8s.Delete(context.Background(), &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName}})
	})
	recCtx, stopRecorder := context.WithCancel(ctx)
	defer stopRecorder()
	rec, err := startRecorder(recCtx, namespaces)
	if err != nil {
		t.Fatal(err)
	}

	// --- The workload ---
	if err := createPolicy(ctx); err != nil {
		t.Fatal(err)
	}
	store := testenv.StartS3(t, testenv.S3Options{Host: hostIP})
	store.MakeBucket(t, "chaos")
	for _, w := range ws {
		if err := w.createNamespace(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fatalIf(t, parallel(ws, func(w *workload) error { return w.write(ctx) }))
	for _, w := range ws {
		if err := w.start(ctx, store); err != nil {
			t.Fatal(err)
		}
	}
	fatalIf(t, parallel(ws, func(w *workload) error { return w.startRestore(ctx) }))
	t.Logf("workload running: %s", strings.Join(namespaces, ", "))

	// --- Chaos ---
	chaosCtx, stop := context.WithTimeout(ctx, duration)
	defer stop()
	k := &killer{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), logf: t.Logf}
	killed := make(chan error, 1)
	go func() { killed <- k.run(chaosCtx) }()
writes:
	for {
		select {
		case <-chaosCtx.Done():
			break writes
		// Pacing of the workload.
		case <-time.After(writeEvery):
			if err := parallel(ws, func(w *workload) error { return w.write(ctx) }); err != nil {
				t.Errorf("a write during the chaos: %v", err)
			}
		}
	}
	if err := <-killed; err != nil {
		t.Errorf("the kills stopped early: %v", err)
	}
	chaosEnd := time.Now()
	t.Logf("chaos over after %d kills; checking", len(k.kills))
	if err := k.keepStandby(ctx); err != nil {
		t.Error(err)
	}

	// --- Data, after a last write ---
	fatalIf(t, parallel(ws, func(w *workload) error { return w.write(ctx) }))
	diffs := make(map[string]string, len(ws))
	var mu sync.Mutex
	if err := parallel(ws, func(w *workload) error {
		diff, err := w.checkData(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", w.mover, err)
		}
		mu.Lock()
		diffs[w.mover] = diff
		mu.Unlock()
		return nil
	}); err != nil {
		t.Errorf("checking the data: %v", err)
	}

	// --- Children and Jobs ---
	s := rec.snapshot()
	var tallies []*tally
	for _, w := range ws {
		for _, o := range w.owners {
			tallies = append(tallies, countChildren(o, s, chaosEnd))
		}
	}

	// --- Orphans, live and after deleting every owner ---
	orphanCanary(t, ctx, namespaces)
	live, err := persistentOrphans(ctx, namespaces, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := teardown(ctx, namespaces); err != nil {
		t.Error(err)
	}
	after, err := persistentOrphans(ctx, namespaces, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	_ = poll(ctx, 3*time.Minute, 5*time.Second, func() error {
		var err error
		if left, err = leftovers(ctx, namespaces); err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("%d left", len(left))
		}
		return nil
	})

	report(t, k, tallies, diffs, append(append(live, after...), left...), chaosEnd)
}

// orphanCanary plants a temporary of an owner that never existed and checks that the orphan check
// reports it, so that "orphaned 0" means the check looked.
func orphanCanary(t *testing.T, ctx context.Context, namespaces []string) {
	t.Helper()
	canary := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespaces[0], Name: "orphan-canary",
		Labels: map[string]string{volsyncv1alpha1.CleanupLabel: "00000000-0000-0000-0000-00000000dead"}}}
	if err := k8s.Create(ctx, canary); err != nil {
		t.Fatal(err)
	}
	found, err := orphans(ctx, namespaces)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := found[canary.UID]; !ok {
		t.Errorf("the orphan check does not report the planted ConfigMap %s/%s: %v", canary.Namespace, canary.Name, found)
	}
	if err := k8s.Delete(ctx, canary); err != nil {
		t.Fatal(err)
	}
}

// teardown deletes every owner and waits until they and their children are gone.
func teardown(ctx context.Context, namespaces []string) error {
	for _, ns := range namespaces {
		for _, obj := range []client.Object{&volsyncv1alpha1.MigrationSchedule{}, &volsyncv1alpha1.ReplicationSource{},
			&volsyncv1alpha1.ReplicationDestination{}, &volsyncv1alpha1.ClusterPair{}} {
			if err := k8s.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("deleting every %T in %s: %w", obj, ns, err)
			}
		}
	}
	return poll(ctx, 5*time.Minute, 2*time.Second, func() error {
		for _, ns := range namespaces {
			for _, list := range []client.ObjectList{&volsyncv1alpha1.MigrationScheduleList{}, &volsyncv1alpha1.MigrationList{},
				&volsyncv1alpha1.ReplicationSourceList{}, &volsyncv1alpha1.ReplicationDestinationList{}, &volsyncv1alpha1.ReplicationSyncList{}} {
				if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
					return err
				}
				items, err := metaItems(list)
				if err != nil {
					return err
				}
				if len(items) > 0 {
					return fmt.Errorf("%T in %s still has %s (finalizers %v)", list, ns, items[0].GetName(), items[0].GetFinalizers())
				}
			}
		}
		return nil
	})
}

// report prints the figures and fails the test on any kill not survived, run missed or doubled,
// mover that ran twice, orphan, or copy that differs from its source.
func report(t *testing.T, k *killer, tallies []*tally, diffs map[string]string, orphaned []string, chaosEnd time.Time) {
	t.Helper()
	survived, withinLease, sigkilled := 0, 0, 0
	for _, kl := range k.kills {
		if kl.exitCode == 137 {
			sigkilled++
		}
		if kl.newLeader != "" {
			survived++
			if kl.takeover <= maxTakeover {
				withinLease++
			}
		}
	}
	lo, mid, hi := takeoverFigures(k.kills)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-24s %9s %9s %6s %10s %9s %6s %7s %5s %9s\n", "owner", "scheduled", "completed", "failed", "superseded",
		"coalesced", "missed", "doubled", "jobs", "ran twice")
	var sched, done, failed, superseded, coalesced, missed, doubled, twice, jobs int
	for _, tl := range tallies {
		o := tl.owner
		fmt.Fprintf(&b, "%-24s %9d %9d %6d %10d %9d %6d %7d %5d %9d\n", o.ns+"/"+o.name, tl.scheduled, tl.completed, tl.failed,
			tl.superseded, tl.coalesced, len(tl.missed), len(tl.doubled), tl.jobs, len(tl.ranTwice))
		jobs += tl.jobs
		sched += tl.scheduled
		done += tl.completed
		failed += tl.failed
		superseded += tl.superseded
		coalesced += tl.coalesced
		missed += len(tl.missed)
		doubled += len(tl.doubled)
		twice += len(tl.ranTwice)
		for _, m := range tl.missed {
			t.Errorf("%s %s/%s: no child for the trigger of %s", o.kind, o.ns, o.name, m)
		}
		for _, d := range tl.doubled {
			t.Errorf("%s %s/%s: doubled: %s", o.kind, o.ns, o.name, d)
		}
		for _, r := range tl.ranTwice {
			t.Errorf("%s %s/%s: mover ran twice: %s", o.kind, o.ns, o.name, r)
		}
	}
	equal := 0
	for _, m := range movers {
		diff, ok := diffs[m]
		switch {
		case !ok:
			t.Errorf("%s: the copy was not compared", m)
		case diff != "":
			t.Errorf("%s: the copy differs from the source: %s", m, diff)
		default:
			equal++
		}
	}
	for _, o := range orphaned {
		t.Errorf("orphaned: %s", o)
	}
	if len(k.kills) == 0 {
		t.Errorf("no kill in %s", duration)
	}
	if late := survived - withinLease; late > 0 {
		t.Errorf("%d takeovers took longer than %s", late, maxTakeover)
	}
	if survived < len(k.kills) {
		t.Errorf("%d of %d kills left no leader", len(k.kills)-survived, len(k.kills))
	}
	fmt.Fprintf(&b, "\n| chaos for %s (ended %s), seed %d | |\n|---|---|\n", duration, chaosEnd.UTC().Format(time.RFC3339), seed)
	fmt.Fprintf(&b, "| kills of the leader (SIGKILL) | %d |\n", len(k.kills))
	fmt.Fprintf(&b, "| containers kubelet saw end with exit code 137 (SIGKILL) | %d |\n", sigkilled)
	fmt.Fprintf(&b, "| kills survived (another volsyncd took the Lease over) | %d |\n", survived)
	fmt.Fprintf(&b, "| takeover after a kill: min / median / max | %s / %s / %s |\n", lo.Round(100*time.Millisecond), mid.Round(100*time.Millisecond), hi.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| takeovers within the lease duration and two jittered retry periods (%s) | %d |\n", maxTakeover, withinLease)
	fmt.Fprintf(&b, "| volsyncd pods replaced out of crash-loop back-off | %d |\n", k.replaced)
	fmt.Fprintf(&b, "| scheduled runs (ReplicationSyncs and Migrations) | %d |\n", sched)
	fmt.Fprintf(&b, "| runs completed | %d |\n", done)
	fmt.Fprintf(&b, "| runs failed / superseded / coalesced | %d / %d / %d |\n", failed, superseded, coalesced)
	fmt.Fprintf(&b, "| missed | %d |\n", missed)
	fmt.Fprintf(&b, "| doubled | %d |\n", doubled)
	fmt.Fprintf(&b, "| mover Jobs of those runs / that ran twice for one child | %d / %d |\n", jobs, twice)
	fmt.Fprintf(&b, "| orphaned | %d |\n", len(orphaned))
	fmt.Fprintf(&b, "| checksums equal | %d of %d |\n", equal, len(movers))
	t.Log(b.String())
}

// parallel runs f for every workload at once and joins their errors.
func parallel(ws []*workload, f func(*workload) error) error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(w)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func fatalIf(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dump prints what a person debugging a failure looks at first.
func dump(t *testing.T, namespaces []string) {
	for _, ns := range namespaces {
		t.Logf("--- namespace %s ---\n%s", ns, kubectl("-n", ns, "get",
			"replicationsources,replicationdestinations,replicationsyncs,migrationschedules,migrations,jobs,pods,pvc,volumesnapshots", "-o", "wide"))
		t.Logf("--- events in %s ---\n%s", ns, kubectl("-n", ns, "get", "events", "--sort-by=.lastTimestamp"))
	}
	t.Logf("--- volsyncd ---\n%s", kubectl("-n", systemNamespace, "get", "pods,lease", "-o", "wide"))
	t.Logf("--- volsyncd logs ---\n%s", kubectl("-n", systemNamespace, "logs", "-l", managerSelector, "--prefix", "--tail=60"))
}
