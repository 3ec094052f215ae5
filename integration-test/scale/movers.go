package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/replication/statemachine"
	"github.com/volsync/volsync/pkg/schedule"
)

// The mover-start phase: how long after its trigger the mover Job of a sync exists, for the three
// ways a sync starts at scale: many sources on one cron schedule, a manual trigger set on many
// sources at once, and many sources on one SchedulePolicy. The bench plays the Job controller: it
// watches the mover Jobs, and once every Job of a firing is there it marks them all Complete, so
// that each sync runs to its end and the next firing starts from idle sources. The API server's
// request counter over a firing, less the bench's own writes, gives volsyncd's writes per sync.

// moverPrefix starts the namespaces of the mover-start phase.
const moverPrefix = "mv-"

// cronSchedule is the cron sources' schedule, the one the issue measured.
const cronSchedule = "*/2 * * * *"

// seenJob is a mover Job as the bench's watch first saw it.
type seenJob struct {
	namespace, name string
	owner           string // the ReplicationSource, from the controller reference
	seen            time.Time
}

// jobWatch records every mover Job created in the phase's namespaces, and keeps the last one seen
// of each source as volsyncd made it (for the floor).
type jobWatch struct {
	mu    sync.Mutex
	jobs  []seenJob
	byKey map[string]*batchv1.Job
}

func (w *jobWatch) add(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok || !strings.HasPrefix(j.Namespace, moverPrefix) {
		return
	}
	now := time.Now()
	owner := ""
	if ref := metav1.GetControllerOf(j); ref != nil {
		owner = ref.Name
	}
	w.mu.Lock()
	w.jobs = append(w.jobs, seenJob{namespace: j.Namespace, name: j.Name, owner: owner, seen: now})
	if owner != "" {
		w.byKey[j.Namespace+"/"+owner] = j
	}
	w.mu.Unlock()
}

// made is the last Job volsyncd made for the source key ("namespace/name").
func (w *jobWatch) made(key string) *batchv1.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byKey[key]
}

// since is every Job first seen at or after t.
func (w *jobWatch) since(t time.Time) []seenJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []seenJob
	for _, j := range w.jobs {
		if !j.seen.Before(t) {
			out = append(out, j)
		}
	}
	return out
}

// startJobWatch starts an informer on volsync's Jobs.
func (b *bench) startJobWatch(ctx context.Context) (*jobWatch, error) {
	w := &jobWatch{byKey: map[string]*batchv1.Job{}}
	f := informers.NewSharedInformerFactoryWithOptions(b.metrics, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = volsyncv1alpha1.CreatedByLabel + "=" + volsyncv1alpha1.CreatedByValue
	}))
	inf := f.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: w.add}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("the Job watch did not sync")
	}
	return w, nil
}

// firingResult is one firing: its delays and volsyncd's writes over it.
type firingResult struct {
	what    string
	sources int
	delays  []time.Duration
	// missing are sources whose Job did not come within the wait.
	missing int
	// doubled are sources with more than one Job in the firing.
	doubled int
	// floor is the bench's own creates of the same Jobs, not a firing of volsyncd's.
	floor    bool
	requests requestCounts
	// harness are the bench's own writes over the firing, taken out of requests.
	harness requestCounts
}

// writesPerSync are volsyncd's object writes per source over the firing.
func (f firingResult) writesPerSync() float64 {
	if f.sources == 0 {
		return 0
	}
	return f.volsyncd().sum(isObjectWrite) / float64(f.sources)
}

// volsyncd is requests less the bench's own writes.
func (f firingResult) volsyncd() requestCounts {
	out := requestCounts{}
	for k, v := range f.requests {
		if d := v - f.harness[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// moversResult is the mover-start phase.
type moversResult struct {
	firings []firingResult
}

// moverSource is a ReplicationSource of the phase: rsync-tls, copyMethod Direct, with trig.
func moverSource(ns, name string, trig volsyncv1alpha1.ReplicationTriggerSpec) *volsyncv1alpha1.ReplicationSource {
	rs := source(ns, name, "")
	rs.Spec.Trigger = &trig
	return rs
}

// createSources creates n sources (with namespace, key Secret and PVC) under group.
func (b *bench) createSources(ctx context.Context, group string, n int, trig volsyncv1alpha1.ReplicationTriggerSpec) ([]*volsyncv1alpha1.ReplicationSource, error) {
	var setup []client.Object
	for _, ns := range namespaces(moverPrefix+group, n) {
		setup = append(setup, namespace(ns), psk(ns))
	}
	if err := createAll(ctx, b.c, b.cfg.workers, setup); err != nil {
		return nil, err
	}
	var objs []client.Object
	out := make([]*volsyncv1alpha1.ReplicationSource, n)
	for i := range n {
		ns, name := namespaceOf(moverPrefix+group, i), fmt.Sprintf("vol-%05d", i)
		out[i] = moverSource(ns, name, trig)
		objs = append(objs, pvc(ns, name))
	}
	if err := createAll(ctx, b.c, b.cfg.workers, objs); err != nil {
		return nil, err
	}
	objs = objs[:0]
	for _, rs := range out {
		objs = append(objs, rs)
	}
	return out, createAll(ctx, b.c, b.cfg.workers, objs)
}

// completeJobs marks the Jobs Complete, as the Job controller would once the pod succeeded, and
// returns how many writes that took.
func (b *bench) completeJobs(ctx context.Context, jobs []seenJob) (float64, error) {
	next := make(chan seenJob)
	var mu sync.Mutex
	var first error
	writes := 0.0
	var wg sync.WaitGroup
	for range b.cfg.workers {
		wg.Go(func() {
			for j := range next {
				n, err := b.completeJob(ctx, j)
				mu.Lock()
				writes += n
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return writes, first
}

func (b *bench) completeJob(ctx context.Context, j seenJob) (float64, error) {
	writes := 0.0
	for range 5 {
		var job batchv1.Job
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: j.namespace, Name: j.name}, &job); err != nil {
			if apierrors.IsNotFound(err) {
				return writes, nil
			}
			return writes, err
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		job.Status.StartTime = &now
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		writes++
		err := b.c.Status().Update(ctx, &job)
		if err == nil || apierrors.IsNotFound(err) {
			return writes, nil
		}
		if !apierrors.IsConflict(err) {
			return writes, fmt.Errorf("completing Job %s/%s: %w", j.namespace, j.name, err)
		}
	}
	return writes, fmt.Errorf("completing Job %s/%s: conflicts", j.namespace, j.name)
}

// waitJobs waits until every source has a Job seen since t0 (or the wait passes) and returns the
// Jobs, the first of each source.
func waitJobs(ctx context.Context, w *jobWatch, sources []*volsyncv1alpha1.ReplicationSource, t0 time.Time, wait time.Duration) (map[string]seenJob, int, error) {
	deadline := time.Now().Add(wait)
	for {
		first := map[string]seenJob{}
		count := map[string]int{}
		for _, j := range w.since(t0) {
			if j.owner == "" {
				continue // the floor's
			}
			key := j.namespace + "/" + j.owner
			count[key]++
			if _, ok := first[key]; !ok {
				first[key] = j
			}
		}
		if len(first) >= len(sources) || time.Now().After(deadline) {
			doubled := 0
			for _, n := range count {
				if n > 1 {
					doubled++
				}
			}
			return first, doubled, nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, 0, err
		}
	}
}

// waitIdle waits until no source has a sync running and each finished one at or after t0.
func (b *bench) waitIdle(ctx context.Context, group string, n int, t0 time.Time, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var list volsyncv1alpha1.ReplicationSourceList
		if err := b.c.List(ctx, &list); err != nil {
			return err
		}
		busy, done := 0, 0
		for _, rs := range list.Items {
			if !strings.HasPrefix(rs.Namespace, moverPrefix+group+"-") {
				continue
			}
			st := rs.Status.ReplicationStatus
			if st.ActiveSync != nil || st.LastSyncTime == nil || st.LastSyncTime.Time.Before(t0.Truncate(time.Second)) {
				busy++
				continue
			}
			done++
		}
		if busy == 0 && done == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s sources: %d still syncing %s after their trigger", group, busy, wait)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// fire runs one firing: it waits for every source's Job, measures each from scheduled (or from
// each source's own trigger time, when at names one), completes the Jobs, waits until every sync
// ended and volsyncd is quiet, and counts the API requests from before the trigger to then.
// start triggers the firing (nil when time does) and says when each source was triggered.
func (b *bench) fire(ctx context.Context, w *jobWatch, what, group string, sources []*volsyncv1alpha1.ReplicationSource,
	scheduled time.Time, start func() (map[string]time.Time, requestCounts, error)) (firingResult, error) {
	res := firingResult{what: what, sources: len(sources), harness: requestCounts{}}
	// From before the sources read ahead of a scheduled trigger, so that their reads are counted.
	mark := scheduled.Add(-statemachine.ReadAheadLead - 3*time.Second)
	if err := sleep(ctx, time.Until(mark)); err != nil {
		return res, err
	}
	before, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return res, err
	}
	if err := sleep(ctx, time.Until(scheduled)); err != nil {
		return res, err
	}
	if dir := b.cfg.profiles; dir != "" {
		// Where the API server's time goes while the firing's Jobs are made.
		go func() {
			body, err := b.metrics.RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "3").DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(what, " ", "-")+".pprof"), body, 0o644)
			}
			if err != nil {
				progress("movers: profile: %v", err)
			}
		}()
	}
	at := map[string]time.Time{}
	if start != nil {
		var writes requestCounts
		if at, writes, err = start(); err != nil {
			return res, err
		}
		for k, v := range writes {
			res.harness[k] += v
		}
	}
	jobs, doubled, err := waitJobs(ctx, w, sources, mark, 2*time.Minute)
	if err != nil {
		return res, err
	}
	res.doubled = doubled
	var list []seenJob
	for _, rs := range sources {
		key := rs.Namespace + "/" + rs.Name
		j, ok := jobs[key]
		if !ok {
			res.missing++
			continue
		}
		from := scheduled
		if t, ok := at[key]; ok {
			from = t
		}
		res.delays = append(res.delays, j.seen.Sub(from))
		list = append(list, j)
	}
	progress("movers: %s: %d Jobs; scheduled time → Job p50/p99/max %s", what, len(list), spreadOf(res.delays))
	n, err := b.completeJobs(ctx, list)
	if err != nil {
		return res, err
	}
	res.harness[requestKey{Verb: "PUT", Group: "batch", Resource: "jobs", Subresource: "status"}] += n
	if err := b.waitIdle(ctx, group, len(sources), scheduled, 3*time.Minute); err != nil {
		return res, err
	}
	if _, _, err := b.proc.waitSettled(ctx, nil, 2*time.Second, 2*time.Minute); err != nil {
		return res, err
	}
	after, err := scrapeRequests(ctx, b.metrics.RESTClient())
	if err != nil {
		return res, err
	}
	res.requests = after.since(before)
	progress("movers: %s: volsyncd's writes per sync %s (%s)", what, number(res.writesPerSync()),
		res.volsyncd().bySeries(isObjectWrite, 1/float64(len(sources))))
	// The GETs (the bench's own are one per Job, in completing it) say what a pass asks the API
	// server for rather than its cache.
	progress("movers: %s: GETs per sync (the bench's one per Job among them): %s", what,
		res.requests.bySeries(func(k requestKey) bool { return k.Verb == "GET" && isObjectRequest(k) }, 1/float64(len(sources))))
	return res, nil
}

// movers runs the mover-start phase: cron sources firing together (two firings), a manual
// trigger set on them all, and policy sources firing together.
func (b *bench) movers(ctx context.Context) (moversResult, error) {
	var res moversResult
	w, err := b.startJobWatch(ctx)
	if err != nil {
		return res, err
	}
	n := b.cfg.cronSources
	if start := nextCron(time.Now()); time.Until(start) < 50*time.Second {
		if err := sleep(ctx, time.Until(start.Add(time.Second))); err != nil {
			return res, err
		}
	}
	progress("movers: creating %d rsync-tls ReplicationSources, first synced by a manual trigger, then put on %q", n, cronSchedule)
	t0 := time.Now()
	cron, err := b.createSources(ctx, "cron", n, volsyncv1alpha1.ReplicationTriggerSpec{Manual: "init"})
	if err != nil {
		return res, err
	}
	if err := b.settle(ctx, w, "cron", cron, t0); err != nil {
		return res, err
	}
	// A cron schedule put on a source that synced counts from that sync: the sources fire at the
	// first even minute after it, at once when one passed between the sync and the schedule. The
	// sources are made and synced early in a two-minute period, so that none did, and the bench
	// has time to take its readings before the firing.
	next := nextCron(time.Now())
	if time.Until(next) < 10*time.Second {
		return res, fmt.Errorf("the first syncs ended at %s, too close to the first firing at %s", time.Now().Format("15:04:05"), next.Format("15:04:05"))
	}
	patch := []byte(`{"spec":{"trigger":{"manual":null,"schedule":"` + cronSchedule + `"}}}`)
	for _, rs := range cron {
		if err := b.c.Patch(ctx, &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: rs.Namespace, Name: rs.Name}},
			client.RawPatch(types.MergePatchType, patch)); err != nil {
			return res, err
		}
	}
	for k := range 2 {
		if k > 0 {
			next = nextCron(time.Now().Add(20 * time.Second))
		}
		progress("movers: cron firing %d at %s", k+1, next.Format("15:04:05"))
		f, err := b.fire(ctx, w, fmt.Sprintf("%d cron sources, firing %d", n, k+1), "cron", cron, next, nil)
		if err != nil {
			return res, err
		}
		res.firings = append(res.firings, f)
	}

	f, err := b.floor(ctx, w, cron)
	if err != nil {
		return res, err
	}
	res.firings = append(res.firings, f)

	// A manual trigger set on every cron source at once (it replaces the schedule).
	at := time.Now().Add(5 * time.Second)
	f, err = b.fire(ctx, w, fmt.Sprintf("%d manual triggers set at once", n), "cron", cron, at, func() (map[string]time.Time, requestCounts, error) {
		return b.setManual(ctx, cron, "bench-1")
	})
	if err != nil {
		return res, err
	}
	res.firings = append(res.firings, f)

	// Policy owners: sources on one daily SchedulePolicy whose time is the next whole minute.
	p := b.cfg.policySources
	mark := time.Now().Add(70 * time.Second).Truncate(time.Minute).Add(time.Minute)
	policy, err := wallPolicy("movers-daily", schedule.TypeDaily, mark, "UTC")
	if err != nil {
		return res, err
	}
	if err := b.c.Create(ctx, policy); err != nil {
		return res, err
	}
	progress("movers: creating %d rsync-tls ReplicationSources on a daily SchedulePolicy at %s", p, mark.Format("15:04"))
	owners, err := b.createSources(ctx, "policy", p, volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy.Name})
	if err != nil {
		return res, err
	}
	if time.Now().After(mark.Add(-10 * time.Second)) {
		return res, fmt.Errorf("creating the policy sources took until %s, too close to their trigger at %s", time.Now().Format("15:04:05"), mark.Format("15:04:05"))
	}
	f, err = b.fire(ctx, w, fmt.Sprintf("%d policy owners (first sync)", p), "policy", owners, mark, nil)
	if err != nil {
		return res, err
	}
	res.firings = append(res.firings, f)
	return res, nil
}

// floorName starts the names of the floor's Jobs.
const floorName = "floor-"

// floor is what this machine's API server allows: the Jobs volsyncd made for the sources at their
// last firing, created again (under other names, without an owner, so volsyncd takes no part) by
// the bench alone, as many at a time as volsyncd has workers, and timed from the first create to
// the watch seeing each one. No controller can start every mover sooner than this; the firings'
// p99 is compared with it.
func (b *bench) floor(ctx context.Context, w *jobWatch, sources []*volsyncv1alpha1.ReplicationSource) (firingResult, error) {
	res := firingResult{what: fmt.Sprintf("floor: the same %d Jobs, created by the bench alone", len(sources)), sources: len(sources), floor: true}
	jobs := make([]client.Object, 0, len(sources))
	for _, rs := range sources {
		made := w.made(rs.Namespace + "/" + rs.Name)
		if made == nil {
			return res, fmt.Errorf("no Job of %s/%s was seen", rs.Namespace, rs.Name)
		}
		jobs = append(jobs, floorCopy(made))
	}
	progress("movers: floor: creating %d Jobs with %d workers", len(jobs), floorWorkers)
	t0 := time.Now()
	if err := createAll(ctx, b.c, floorWorkers, jobs); err != nil {
		return res, err
	}
	seen := map[string]time.Time{}
	deadline := time.Now().Add(time.Minute)
	for len(seen) < len(jobs) && time.Now().Before(deadline) {
		for _, j := range w.since(t0) {
			if strings.HasPrefix(j.name, floorName) {
				seen[j.namespace+"/"+j.name] = j.seen
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return res, err
		}
	}
	for _, j := range jobs {
		t, ok := seen[j.GetNamespace()+"/"+j.GetName()]
		if !ok {
			res.missing++
			continue
		}
		res.delays = append(res.delays, t.Sub(t0))
	}
	progress("movers: %s: p50/p99/max %s", res.what, spreadOf(res.delays))
	var wg sync.WaitGroup
	next := make(chan client.Object)
	for range floorWorkers {
		wg.Go(func() {
			for j := range next {
				if err := b.c.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
					progress("movers: floor: deleting Job %s/%s: %v", j.GetNamespace(), j.GetName(), err)
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return res, nil
}

// floorWorkers is volsyncd's default --max-concurrent-reconciles.
const floorWorkers = 100

// floorCopy is made as a new Job of its own: the API server's fields and the selector it generated
// are dropped, and so is the owner.
func floorCopy(made *batchv1.Job) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Namespace: made.Namespace, Name: floorName + made.Name, Labels: map[string]string{}, Annotations: made.Annotations,
	}}
	j.Spec = *made.Spec.DeepCopy()
	j.Spec.Selector = nil
	generated := func(labels map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range labels {
			if !strings.Contains(k, "controller-uid") && !strings.HasSuffix(k, "job-name") {
				out[k] = v
			}
		}
		return out
	}
	j.Labels = generated(made.Labels)
	j.Spec.Template.Labels = generated(made.Spec.Template.Labels)
	return j
}

// settle plays out the first syncs of new sources: it completes their Jobs as they come until
// every source is idle with a sync done.
func (b *bench) settle(ctx context.Context, w *jobWatch, group string, sources []*volsyncv1alpha1.ReplicationSource, t0 time.Time) error {
	done := map[string]bool{}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var todo []seenJob
		for _, j := range w.since(t0) {
			if key := j.namespace + "/" + j.name; !done[key] {
				done[key] = true
				todo = append(todo, j)
			}
		}
		if _, err := b.completeJobs(ctx, todo); err != nil {
			return err
		}
		if err := b.waitIdle(ctx, group, len(sources), t0, 0); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// setManual sets spec.trigger.manual on every source, replacing its schedule, and returns when
// each patch was sent.
func (b *bench) setManual(ctx context.Context, sources []*volsyncv1alpha1.ReplicationSource, value string) (map[string]time.Time, requestCounts, error) {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"trigger": map[string]any{"schedule": nil, "manual": value}}})
	if err != nil {
		return nil, nil, err
	}
	at := map[string]time.Time{}
	var mu sync.Mutex
	next := make(chan *volsyncv1alpha1.ReplicationSource)
	var first error
	var wg sync.WaitGroup
	for range b.cfg.workers {
		wg.Go(func() {
			for rs := range next {
				sent := time.Now()
				err := b.c.Patch(ctx, &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: rs.Namespace, Name: rs.Name}},
					client.RawPatch(types.MergePatchType, patch))
				mu.Lock()
				at[rs.Namespace+"/"+rs.Name] = sent
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, rs := range sources {
		next <- rs
	}
	close(next)
	wg.Wait()
	writes := requestCounts{{Verb: "PATCH", Group: volsyncv1alpha1.GroupVersion.Group, Resource: "replicationsources"}: float64(len(sources))}
	return at, writes, first
}

// nextCron is the first even minute at or after t, when "*/2 * * * *" fires.
func nextCron(t time.Time) time.Time {
	m := t.Truncate(time.Minute)
	if m.Before(t) {
		m = m.Add(time.Minute)
	}
	for m.Minute()%2 != 0 {
		m = m.Add(time.Minute)
	}
	return m
}

func values(m map[string]seenJob) []seenJob {
	out := make([]seenJob, 0, len(m))
	for _, j := range m {
		out = append(out, j)
	}
	return out
}
