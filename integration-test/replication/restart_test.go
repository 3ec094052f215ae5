package replication

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/schedule"
)

// syncWrites is what the managers of one sync wrote, across their restarts.
type syncWrites struct {
	mu         sync.Mutex
	jobCreates []string
	starts     map[string]bool
	ends       map[string]bool
	manual     map[string]bool
}

func (s *syncWrites) observe(w write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := w.obj.(type) {
	case *batchv1.Job:
		if w.verb == "create" {
			s.jobCreates = append(s.jobCreates, o.Name+"/"+string(o.UID))
		}
	case *volsyncv1alpha1.ReplicationSource:
		if w.verb != "status" {
			return
		}
		if t := o.Status.LastSyncStartTime; t != nil {
			s.starts[t.UTC().Format(time.RFC3339Nano)] = true
		}
		if t := o.Status.LastSyncTime; t != nil {
			s.ends[t.UTC().Format(time.RFC3339Nano)] = true
		}
		if o.Status.LastManualSync != "" {
			s.manual[o.Status.LastManualSync] = true
		}
	}
}

// sourceStatus is the status a write of a ReplicationSource's status stores, or nil for any
// other write.
func sourceStatus(w write) *volsyncv1alpha1.ReplicationSourceStatus {
	rs, ok := w.obj.(*volsyncv1alpha1.ReplicationSource)
	if !ok || w.verb != "status" {
		return nil
	}
	return &rs.Status
}

// TestASyncCrashedAtEachOfItsStepsRunsOneJobAndEndsOnce: one manual sync of an rsync-tls source
// whose volsyncd is killed at every step of the sync, a fresh one started each time, still runs
// its mover Job once (never again once it completed), records its start and its end once each,
// and ends idle with nothing of the sync left behind.
func TestASyncCrashedAtEachOfItsStepsRunsOneJobAndEndsOnce(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "restart", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "once"})
	rs.Labels = map[string]string{ownManagerLabel: "true"}
	create(t, rs)
	jobName := tlsSourceJob(rs.Name)
	writes := &syncWrites{starts: map[string]bool{}, ends: map[string]bool{}, manual: map[string]bool{}}

	started := func(w write) bool {
		st := sourceStatus(w)
		return st != nil && st.ActiveSync != nil && st.LastSyncTime == nil
	}
	ended := func(w write) bool {
		st := sourceStatus(w)
		return st != nil && st.ActiveSync != nil && st.LastSyncTime != nil
	}
	cleared := func(w write) bool {
		st := sourceStatus(w)
		return st != nil && st.ActiveSync == nil && st.LastSyncTime != nil
	}
	is := func(verb string, obj client.Object) func(write) bool {
		return func(w write) bool { return w.verb == verb && fmt.Sprintf("%T", w.obj) == fmt.Sprintf("%T", obj) }
	}
	steps := []struct {
		name  string
		match func(write) bool
		at    crashPoint
		then  func()
	}{
		// The mover comes first: its ServiceAccount (made once, for every sync), then its Job,
		// and only then the start in status.
		{name: "after the mover's ServiceAccount is created, before its Job", match: is("create", &corev1.ServiceAccount{}), at: crashAfter},
		{name: "after the Job is created, before the start is written", match: is("create", &batchv1.Job{}), at: crashAfter},
		{name: "before activeSync is written, the Job there", match: started, at: crashBefore},
		{name: "after activeSync is written", match: started, at: crashAfter, then: func() {
			// The Job runs to completion while no volsyncd runs.
			finishJob(t, waitJob(t, ns, jobName, ""), 0, summary("Successful", 10, 2, ""), "")
		}},
		{name: "after the Job completed, before the end of the sync is written", match: ended, at: crashBefore},
		{name: "after the end is written, before the Job is deleted", match: ended, at: crashAfter},
		{name: "after the Job is deleted, during cleanup", match: is("delete", &batchv1.Job{}), at: crashAfter},
		{name: "before activeSync is cleared", match: cleared, at: crashBefore},
	}
	for _, s := range steps {
		m := ownManager(t, ns, env.Config, func(w write) crashPoint {
			if s.match(w) {
				return s.at
			}
			return noCrash
		}, writes.observe)
		m.waitCrash(t, s.name)
		// Each volsyncd has its own now: a step taken twice would show as two different times.
		fakeClock.Step(time.Second)
		if s.then != nil {
			s.then()
		}
	}

	last := ownManager(t, ns, env.Config, nil, writes.observe)
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	last.stop()

	st := get(t, rs).Status
	if st.ActiveSync != nil || st.LastSyncTime == nil || st.LastManualSync != "once" || st.ConsecutiveFailures != 0 {
		t.Errorf("activeSync %+v, lastSyncTime %v, lastManualSync %q, consecutiveFailures %d: want the one sync ended and recorded",
			st.ActiveSync, st.LastSyncTime, st.LastManualSync, st.ConsecutiveFailures)
	}
	if ms := st.LatestMoverStatus; ms == nil || ms.Result != volsyncv1alpha1.MoverResultSuccessful {
		t.Errorf("latestMoverStatus %+v, want Successful", ms)
	}
	writes.mu.Lock()
	defer writes.mu.Unlock()
	if len(writes.jobCreates) != 1 {
		t.Errorf("mover Jobs created: %v, want exactly one", writes.jobCreates)
	}
	if len(writes.starts) != 1 || len(writes.ends) != 1 || len(writes.manual) != 1 {
		t.Errorf("lastSyncStartTime written as %v, lastSyncTime as %v, lastManualSync as %v: want each once", writes.starts, writes.ends, writes.manual)
	}
	if want := st.LastSyncTime.UTC().Format(time.RFC3339Nano); !writes.ends[want] {
		t.Errorf("lastSyncTime %s is none of the written %v", want, writes.ends)
	}

	// Nothing of the sync is left: no Job, and no PVC or VolumeSnapshot of the source's.
	ctx := context.Background()
	var jobs batchv1.JobList
	if err := k8s.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		t.Errorf("Job %s is left (deleting: %v)", j.Name, j.DeletionTimestamp != nil)
	}
	var pvcs corev1.PersistentVolumeClaimList
	var snaps snapv1.VolumeSnapshotList
	if err := k8s.List(ctx, &pvcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(ctx, &snaps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pvcs.Items {
		if metav1.IsControlledBy(&p, rs) {
			t.Errorf("PVC %s of the sync is left", p.Name)
		}
	}
	for _, s := range snaps.Items {
		if metav1.IsControlledBy(&s, rs) {
			t.Errorf("VolumeSnapshot %s of the sync is left", s.Name)
		}
	}
}

// TestAJobThatFinishedForAnEarlierTriggerIsNotTakenAsALaterOnes: volsyncd creates the mover Job
// at a scheduled time and stops before it records the start; the Job runs to its end, and the next
// volsyncd starts only after the following scheduled time. That Job was made for the earlier
// trigger (its sync annotation says so), so it is not taken as the later one's result, which would
// date the data ten minutes late: it is deleted, a StaleJob Warning says why, and the mover runs
// again for the later trigger.
func TestAJobThatFinishedForAnEarlierTriggerIsNotTakenAsALaterOnes(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "stale", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *")})
	rs.Labels = map[string]string{ownManagerLabel: "true"}
	create(t, rs)
	jobName := tlsSourceJob(rs.Name)
	writes := &syncWrites{starts: map[string]bool{}, ends: map[string]bool{}, manual: map[string]bool{}}

	// The sync a new source makes at once, to its end.
	m := ownManager(t, ns, env.Config, nil, writes.observe)
	created(t, rs)
	finishJob(t, waitJob(t, ns, jobName, ""), 0, summary("Successful", 1, 1, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForSchedule)
	m.stop()
	get(t, rs)
	first := rs.Status.NextSyncTime.Time

	// At the first scheduled time the Job is created, and volsyncd stops before the start.
	fakeClock.SetTime(first)
	m = ownManager(t, ns, env.Config, func(w write) crashPoint {
		if _, ok := w.obj.(*batchv1.Job); ok && w.verb == "create" {
			return crashAfter
		}
		return noCrash
	}, writes.observe)
	poke(t, rs)
	m.waitCrash(t, "after the Job of the first scheduled time is created")
	early := waitJob(t, ns, jobName, "")
	if got := early.Annotations[volsyncv1alpha1.SyncAnnotation]; !strings.Contains(got, "scheduled "+first.UTC().Format(time.RFC3339)) {
		t.Fatalf("the Job's %s is %q, want it to name the trigger scheduled at %s", volsyncv1alpha1.SyncAnnotation, got, first)
	}
	finishJob(t, early, 0, summary("Successful", 1, 1, ""), "")

	// The next volsyncd comes after the second scheduled time.
	second := first.Add(10 * time.Minute)
	fakeClock.SetTime(second.Add(time.Minute))
	m = ownManager(t, ns, env.Config, nil, writes.observe)
	poke(t, rs)
	if note := waitEvent(t, ns, rs.Name, mover.ReasonStaleJob); !strings.Contains(note, "earlier sync") {
		t.Errorf("the StaleJob Event says %q", note)
	}
	later := waitJob(t, ns, jobName, string(early.UID))
	if got := later.Annotations[volsyncv1alpha1.SyncAnnotation]; !strings.Contains(got, "scheduled "+second.UTC().Format(time.RFC3339)) {
		t.Errorf("the new Job's %s is %q, want the trigger scheduled at %s", volsyncv1alpha1.SyncAnnotation, got, second)
	}
	finishJob(t, later, 0, summary("Successful", 1, 1, ""), "")
	eventually(t, wait, func() error {
		get(t, rs)
		st := rs.Status.ReplicationStatus
		if st.ActiveSync != nil || st.LastSyncStartTime == nil || st.LastSyncStartTime.Time.Before(second) {
			return fmt.Errorf("activeSync %+v, lastSyncStartTime %v: want the sync of %s ended", st.ActiveSync, st.LastSyncStartTime, second)
		}
		if got := st.LastTriggers[schedule.TypeSchedule]; !got.Time.Equal(second) {
			return fmt.Errorf("lastTriggers[Schedule] %v, want %s", got, second)
		}
		return nil
	})
	m.stop()
	writes.mu.Lock()
	defer writes.mu.Unlock()
	if len(writes.jobCreates) != 3 {
		t.Errorf("mover Jobs created: %v, want the first sync's, the stale one and the later trigger's", writes.jobCreates)
	}
}
