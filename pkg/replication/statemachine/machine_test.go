package statemachine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/schedule"
)

// fake is a Machine whose mover completes when told to.
type fake struct {
	spec    *volsyncv1alpha1.ReplicationTriggerSpec
	status  volsyncv1alpha1.ReplicationStatus
	created time.Time
	paused  bool

	syncDone bool
	syncFail *mover.FailedError
	// createsWork makes the first Synchronize report that it created the mover's work.
	createsWork bool
	cleanupDone bool

	syncCalls, cleanupCalls int
	started                 []schedule.Decision
	queued                  []schedule.Decision
	ended                   []*mover.FailedError
	events                  []string
	missed                  int
	durations               []time.Duration
	outOfSync               bool
}

func (f *fake) TriggerSpec() *volsyncv1alpha1.ReplicationTriggerSpec { return f.spec }
func (f *fake) Status() *volsyncv1alpha1.ReplicationStatus           { return &f.status }
func (f *fake) Created() time.Time                                   { return f.created }
func (f *fake) Paused() bool                                         { return f.paused }
func (f *fake) Synchronize(context.Context) (mover.Result, error) {
	f.syncCalls++
	if f.syncFail != nil {
		return mover.Result{}, f.syncFail
	}
	if f.syncDone {
		return mover.Complete(), nil
	}
	if f.createsWork {
		f.createsWork = false
		return mover.Result{Started: true}, nil
	}
	return mover.InProgress(), nil
}
func (f *fake) Cleanup(context.Context) (mover.Result, error) {
	f.cleanupCalls++
	if f.cleanupDone {
		return mover.Complete(), nil
	}
	return mover.InProgress(), nil
}
func (f *fake) SyncStarted(_ context.Context, d schedule.Decision) error {
	f.started = append(f.started, d)
	return nil
}
func (f *fake) SyncQueued(_ context.Context, d schedule.Decision) error {
	f.queued = append(f.queued, d)
	return nil
}
func (f *fake) SyncEnded(_ context.Context, _ mover.Result, failure *mover.FailedError) error {
	f.ended = append(f.ended, failure)
	return nil
}
func (f *fake) Event(_, reason, _ string, _ client.Object) { f.events = append(f.events, reason) }
func (f *fake) Owner() client.Object                       { return &volsyncv1alpha1.ReplicationSource{} }
func (f *fake) Related() client.Object                     { return nil }
func (f *fake) MissedTriggers(n int)                       { f.missed += n }
func (f *fake) SyncDuration(d time.Duration)               { f.durations = append(f.durations, d) }
func (f *fake) OutOfSync(b bool)                           { f.outOfSync = b }
func (f *fake) SyncFailed()                                {}

func (f *fake) reason() string {
	c := meta.FindStatusCondition(f.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c == nil {
		return ""
	}
	return c.Reason
}

var t0 = time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)

func trigger(t *testing.T, f *fake) schedule.Trigger {
	t.Helper()
	trig, err := schedule.ReplicationTrigger(f.spec, f.status.LastManualSync, nil)
	if err != nil {
		t.Fatal(err)
	}
	return trig
}

func step(t *testing.T, f *fake, now time.Time) mover.Result {
	t.Helper()
	res, err := Run(context.Background(), f, trigger(t, f), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWithoutATriggerASyncStartsAtOnceAndAgainAfterCleanup(t *testing.T) {
	f := &fake{created: t0}
	step(t, f, t0)
	if f.reason() != volsyncv1alpha1.ReasonSyncInProgress || len(f.started) != 1 {
		t.Fatalf("reason %q, %d starts; want SyncInProgress, 1", f.reason(), len(f.started))
	}
	if f.status.NextSyncTime != nil {
		t.Errorf("nextSyncTime %v is set for the always trigger", f.status.NextSyncTime)
	}
	f.syncDone = true
	step(t, f, t0.Add(5*time.Second))
	if f.reason() != volsyncv1alpha1.ReasonCleaningUp {
		t.Fatalf("reason %q after the mover completed, want CleaningUp", f.reason())
	}
	if f.status.LastSyncTime == nil || f.status.LastSyncDuration.Duration != 5*time.Second {
		t.Errorf("lastSyncTime %v duration %v, want set and 5s", f.status.LastSyncTime, f.status.LastSyncDuration)
	}
	f.cleanupDone, f.syncDone = true, false
	step(t, f, t0.Add(6*time.Second))
	if len(f.started) != 2 || f.reason() != volsyncv1alpha1.ReasonSyncInProgress {
		t.Fatalf("%d starts, reason %q; want a second sync started after cleanup", len(f.started), f.reason())
	}
}

func TestThePassThatStartsASyncRunsTheMoverFirstAndRecordsTheStartAfter(t *testing.T) {
	f := &fake{created: t0}
	res := step(t, f, t0)
	if f.syncCalls != 1 || len(f.started) != 1 || f.reason() != volsyncv1alpha1.ReasonSyncInProgress || f.status.LastSyncStartTime == nil {
		t.Fatalf("%d mover calls, %d starts, reason %q, lastSyncStartTime %v; want the mover's first step and the start in one pass",
			f.syncCalls, len(f.started), f.reason(), f.status.LastSyncStartTime)
	}
	if res.RetryAfter == nil || *res.RetryAfter != SafetyNet {
		t.Fatalf("retry after %v; want the running sync's safety net (the Job's events wake the rest)", res.RetryAfter)
	}
	if strings.Join(f.events, ",") != ReasonSyncStarted {
		t.Fatalf("events %v, want %s", f.events, ReasonSyncStarted)
	}
	f2 := &fake{created: t0, syncDone: true}
	step(t, f2, t0)
	if f2.syncCalls != 1 || f2.reason() != volsyncv1alpha1.ReasonCleaningUp || strings.Join(f2.events, ",") != ReasonSyncStarted+","+ReasonSyncCompleted {
		t.Fatalf("%d mover calls, reason %q, events %v; want a mover done at once (an adopted Job) recorded as started, then completed", f2.syncCalls, f2.reason(), f2.events)
	}
}

func TestAStartThatCannotBeRecordedLeavesTheStatusAsItWas(t *testing.T) {
	f := &failingStart{fake: fake{created: t0}}
	_, err := Run(context.Background(), f, trigger(t, &f.fake), nil, t0)
	if err == nil {
		t.Fatal("no error from a start whose child could not be created")
	}
	if f.syncCalls != 1 || f.status.ActiveSync != nil || f.status.LastSyncStartTime != nil || len(f.status.LastTriggers) != 0 {
		t.Fatalf("%d mover calls, activeSync %+v, lastSyncStartTime %v, lastTriggers %v; want the mover's step taken and nothing recorded, so the next pass starts the same sync",
			f.syncCalls, f.status.ActiveSync, f.status.LastSyncStartTime, f.status.LastTriggers)
	}
}

// failingStart cannot record its start.
type failingStart struct{ fake }

func (f *failingStart) SyncStarted(context.Context, schedule.Decision) error {
	return errors.New("creating ReplicationSync x: the API server is unavailable")
}

func TestANewCronScheduleSyncsAtOnceThenWaitsForItsTime(t *testing.T) {
	f := &fake{created: t0.Add(30 * time.Second), spec: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("0 0 1 1 *")}, syncDone: true, cleanupDone: true}
	step(t, f, t0.Add(31*time.Second))
	if len(f.started) != 1 || !f.started[0].Scheduled.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("started %+v; want one sync at creation", f.started)
	}
	step(t, f, t0.Add(32*time.Second)) // the mover completes
	step(t, f, t0.Add(33*time.Second)) // cleanup completes
	step(t, f, t0.Add(34*time.Second))
	if len(f.started) != 1 || f.reason() != volsyncv1alpha1.ReasonWaitingForSchedule {
		t.Fatalf("started %d, reason %q; want waiting for 1 January", len(f.started), f.reason())
	}
}

func TestACronScheduleWaitsForItsTimeAndShowsNextSyncTime(t *testing.T) {
	f := &fake{created: t0.Add(30 * time.Second), spec: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *")}, syncDone: true, cleanupDone: true}
	// It synced under another trigger before: the schedule counts from that sync.
	f.status.LastSyncTime = &metav1.Time{Time: t0.Add(40 * time.Second)}
	res := step(t, f, t0.Add(time.Minute))
	if len(f.started) != 0 || f.reason() != volsyncv1alpha1.ReasonWaitingForSchedule {
		t.Fatalf("started %d, reason %q; want waiting", len(f.started), f.reason())
	}
	want := t0.Add(10 * time.Minute)
	if f.status.NextSyncTime == nil || !f.status.NextSyncTime.Time.Equal(want) {
		t.Fatalf("nextSyncTime %v, want %s", f.status.NextSyncTime, want)
	}
	if res.RetryAfter == nil || *res.RetryAfter != 9*time.Minute {
		t.Errorf("requeue %v, want exactly at nextSyncTime (9m)", res.RetryAfter)
	}
	step(t, f, want) // starts the sync
	step(t, f, want) // the mover completes
	step(t, f, want) // cleanup completes
	if len(f.started) != 1 || !f.started[0].Scheduled.Equal(want) {
		t.Fatalf("starts %+v, want one for %s", f.started, want)
	}
	if got := f.status.LastTriggers[schedule.TypeSchedule]; !got.Time.Equal(want) {
		t.Errorf("lastTriggers[Schedule] %v, want %s", got, want)
	}
	if f.reason() != volsyncv1alpha1.ReasonWaitingForSchedule {
		t.Errorf("reason %q after sync and cleanup completed, want WaitingForSchedule", f.reason())
	}
}

func TestMissedCronTimesAreCountedOnceAndCaughtUpOnce(t *testing.T) {
	f := &fake{created: t0.Add(30 * time.Second), spec: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *")}, syncDone: true, cleanupDone: true}
	// Down for 35 minutes: 12:10, 12:20, 12:30 passed; 12:30 runs, two are missed.
	step(t, f, t0.Add(35*time.Minute))
	if len(f.started) != 1 || f.missed != 2 {
		t.Fatalf("%d starts, %d missed; want 1 start and 2 missed", len(f.started), f.missed)
	}
	step(t, f, t0.Add(36*time.Minute))
	if len(f.started) != 1 || f.missed != 2 {
		t.Fatalf("after the catch-up: %d starts, %d missed; want no more", len(f.started), f.missed)
	}
}

func TestAManualTriggerRunsOnceAndAChangeDuringTheSyncIsWhatItCompletes(t *testing.T) {
	f := &fake{created: t0, spec: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"}}
	step(t, f, t0)
	if len(f.started) != 1 {
		t.Fatalf("%d starts, want 1", len(f.started))
	}
	f.spec.Manual = "second"
	step(t, f, t0.Add(time.Second))
	if len(f.started) != 1 || f.reason() != volsyncv1alpha1.ReasonSyncInProgress {
		t.Fatalf("the change interrupted the sync: %d starts, reason %q", len(f.started), f.reason())
	}
	f.syncDone, f.cleanupDone = true, true
	step(t, f, t0.Add(2*time.Second))
	if f.status.LastManualSync != "second" {
		t.Fatalf("lastManualSync %q, want the value in spec when the sync completed", f.status.LastManualSync)
	}
	step(t, f, t0.Add(3*time.Second))
	if f.reason() != volsyncv1alpha1.ReasonWaitingForManual || len(f.started) != 1 {
		t.Fatalf("reason %q, %d starts; want WaitingForManual and no new sync", f.reason(), len(f.started))
	}
	step(t, f, t0.Add(time.Hour))
	if len(f.started) != 1 {
		t.Fatalf("a settled manual trigger started a sync")
	}
}

func TestPausedStartsNothingAndSuspendsARunningSync(t *testing.T) {
	f := &fake{created: t0, paused: true}
	step(t, f, t0)
	if len(f.started) != 0 || f.reason() != volsyncv1alpha1.ReasonPaused {
		t.Fatalf("%d starts, reason %q; want none and Paused", len(f.started), f.reason())
	}
	f.paused = false
	step(t, f, t0)
	f.paused = true
	step(t, f, t0.Add(time.Second))
	if f.reason() != volsyncv1alpha1.ReasonPaused || !Running(&f.status) {
		t.Fatalf("reason %q running %v; want Paused with the sync still to finish", f.reason(), Running(&f.status))
	}
	f.paused = false
	step(t, f, t0.Add(2*time.Second))
	if f.reason() != volsyncv1alpha1.ReasonSyncInProgress || len(f.started) != 1 {
		t.Fatalf("reason %q, %d starts; want the same sync resumed", f.reason(), len(f.started))
	}
}

func TestAFailedSyncBacksOffBeforeTheNextAttemptAndASuccessResets(t *testing.T) {
	f := &fake{created: t0, cleanupDone: true}
	f.syncFail = &mover.FailedError{Reason: "BackoffLimitExceeded", Message: "the mover failed 3 times"}
	step(t, f, t0) // starts the sync, and the mover fails
	if f.status.ConsecutiveFailures != 1 || f.status.LatestMoverStatus.Result != volsyncv1alpha1.MoverResultFailed {
		t.Fatalf("failures %d, mover status %+v", f.status.ConsecutiveFailures, f.status.LatestMoverStatus)
	}
	if f.reason() != volsyncv1alpha1.ReasonCleaningUp {
		t.Fatalf("reason %q right after the failure, want CleaningUp", f.reason())
	}
	step(t, f, t0)
	if f.reason() != volsyncv1alpha1.ReasonError || !f.outOfSync {
		t.Fatalf("reason %q outOfSync %v, want Error and out of sync", f.reason(), f.outOfSync)
	}
	step(t, f, t0.Add(59*time.Second))
	if len(f.started) != 1 {
		t.Fatalf("retried before the 1m backoff")
	}
	step(t, f, t0.Add(time.Minute))
	step(t, f, t0.Add(time.Minute))
	if len(f.started) != 2 || f.status.ConsecutiveFailures != 2 {
		t.Fatalf("%d starts, %d failures; want a retry after 1m that failed again", len(f.started), f.status.ConsecutiveFailures)
	}
	if want := t0.Add(3 * time.Minute); !f.status.NextRetryTime.Time.Equal(want) {
		t.Fatalf("nextRetryTime %v, want %s (2m after the second failure)", f.status.NextRetryTime, want)
	}
	f.syncFail, f.syncDone = nil, true
	step(t, f, t0.Add(3*time.Minute))
	step(t, f, t0.Add(3*time.Minute))
	if f.status.ConsecutiveFailures != 0 || f.status.NextRetryTime != nil || f.outOfSync {
		t.Fatalf("after a success: failures %d retry %v outOfSync %v", f.status.ConsecutiveFailures, f.status.NextRetryTime, f.outOfSync)
	}
}

func TestBackoffDoublesUpToAnHour(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int32
		want     time.Duration
	}{
		{"no failure waits nothing", 0, 0},
		{"the first failure waits a minute", 1, time.Minute},
		{"the second waits two", 2, 2 * time.Minute},
		{"the third waits four", 3, 4 * time.Minute},
		{"the seventh is capped at an hour", 7, time.Hour},
		{"the hundredth is still an hour", 100, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Backoff(tc.failures); got != tc.want {
				t.Errorf("Backoff(%d) = %s, want %s", tc.failures, got, tc.want)
			}
		})
	}
}

func TestABadTriggerStartsNothingButARunningSyncFinishes(t *testing.T) {
	f := &fake{created: t0}
	bad := schedule.ErrInvalidCron
	if _, err := Run(context.Background(), f, nil, bad, t0); err != nil {
		t.Fatal(err)
	}
	if f.reason() != volsyncv1alpha1.ReasonError || len(f.started) != 0 || len(f.events) != 1 {
		t.Fatalf("reason %q, %d starts, events %v", f.reason(), len(f.started), f.events)
	}
	if _, err := Run(context.Background(), f, nil, bad, t0); err != nil {
		t.Fatal(err)
	}
	if len(f.events) != 1 {
		t.Errorf("the same problem raised another event: %v", f.events)
	}

	g := &fake{created: t0}
	step(t, g, t0)
	g.syncDone, g.cleanupDone = true, true
	for range 2 {
		if _, err := Run(context.Background(), g, nil, bad, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if g.status.LastSyncTime == nil || g.reason() != volsyncv1alpha1.ReasonError {
		t.Fatalf("lastSyncTime %v reason %q; want the running sync finished, then Error", g.status.LastSyncTime, g.reason())
	}
}

func TestPolicyTypesDueTogetherRunOneAtATimeAndNoneIsLost(t *testing.T) {
	policy, err := schedule.Compile("p", volsyncv1alpha1.SchedulePolicyItem{
		Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60},
		Daily:    &volsyncv1alpha1.DailyPolicy{Time: "12:00PM"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{created: t0, spec: &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "p"}}
	run := func(now time.Time) {
		if _, err := Run(context.Background(), f, policy, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	run(t0) // interval fires at creation, daily at 12:00: both due
	if len(f.started) != 1 || f.started[0].Type != schedule.TypeInterval {
		t.Fatalf("starts %+v, want the interval first", f.started)
	}
	if len(f.queued) != 1 || f.queued[0].Type != schedule.TypeDaily {
		t.Fatalf("queued %+v, want the daily trigger reported as waiting at once", f.queued)
	}
	run(t0.Add(time.Minute))
	if len(f.started) != 1 {
		t.Fatalf("a second sync started while one runs")
	}
	if len(f.queued) != 2 || f.queued[1].Type != schedule.TypeDaily {
		t.Fatalf("queued %+v, want the daily trigger still reported as waiting", f.queued)
	}
	f.syncDone, f.cleanupDone = true, true
	run(t0.Add(2 * time.Minute))
	run(t0.Add(2 * time.Minute))
	if len(f.started) != 2 || f.started[1].Type != schedule.TypeDaily || !f.started[1].Scheduled.Equal(t0) {
		t.Fatalf("starts %+v, want the queued daily trigger of %s next", f.started, t0)
	}
	if len(f.status.NextTriggers) != 2 {
		t.Errorf("nextTriggers %+v, want one per type", f.status.NextTriggers)
	}
}

func TestASyncStillGoingWakesAtThePolicysNextTriggerToQueueIt(t *testing.T) {
	policy, err := schedule.Compile("p", volsyncv1alpha1.SchedulePolicyItem{
		Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 30},
		Daily:    &volsyncv1alpha1.DailyPolicy{Time: "12:45PM"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{created: t0, spec: &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "p"}}
	run := func(now time.Time) mover.Result {
		t.Helper()
		res, err := Run(context.Background(), f, policy, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tests := []struct {
		name      string
		now       time.Time
		wantWait  time.Duration
		wantQueue int
	}{
		{"the interval's first sync starts at creation and waits no longer than the safety net", t0, SafetyNet, 0},
		{"a pass in between waits no longer than the safety net", t0.Add(10 * time.Minute), SafetyNet, 0},
		{"a pass just before the interval trigger wakes for it", t0.Add(29 * time.Minute), time.Minute, 0},
		{"at the interval trigger it is queued, and the wait runs to the daily trigger", t0.Add(30 * time.Minute), SafetyNet, 1},
		{"a pass just before the daily trigger wakes for it", t0.Add(44*time.Minute + 30*time.Second), 30 * time.Second, 2},
		{"the daily trigger is queued too, and the wait runs to the next interval trigger", t0.Add(45 * time.Minute), SafetyNet, 4},
	}
	for _, tt := range tests {
		res := run(tt.now)
		if res.RetryAfter == nil || *res.RetryAfter != tt.wantWait {
			t.Errorf("%s: retry after %v, want %s", tt.name, res.RetryAfter, tt.wantWait)
		}
		if len(f.queued) != tt.wantQueue {
			t.Errorf("%s: %d queue calls %+v, want %d", tt.name, len(f.queued), f.queued, tt.wantQueue)
		}
	}
	if len(f.started) != 1 {
		t.Errorf("%d syncs started, want only the first while it runs", len(f.started))
	}
}

func TestThePassThatCreatesTheMoverRecordsNothingAndTheNextRecordsTheStart(t *testing.T) {
	f := &fake{created: t0, spec: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/5 * * * *")}, createsWork: true}
	f.status.LastSyncTime = &metav1.Time{Time: t0}
	at := t0.Add(5 * time.Minute)
	before := *f.status.DeepCopy()
	res := step(t, f, at)
	if f.syncCalls != 1 || f.status.ActiveSync != nil || len(f.started) != 0 || len(f.events) != 0 {
		t.Fatalf("after the mover was created: %d Synchronize calls, activeSync %+v, starts %d, events %v; want 1 and nothing recorded",
			f.syncCalls, f.status.ActiveSync, len(f.started), f.events)
	}
	if f.status.LastSyncStartTime != nil || len(f.status.LastTriggers) != len(before.LastTriggers) || len(f.status.Conditions) != len(before.Conditions) {
		t.Errorf("the status changed in the pass that created the mover: %+v", f.status)
	}
	if res.RetryAfter == nil || *res.RetryAfter != StartRecordDelay {
		t.Errorf("result %+v, want a requeue after %s", res, StartRecordDelay)
	}
	step(t, f, at.Add(time.Second))
	if f.syncCalls != 2 || f.status.ActiveSync == nil || len(f.started) != 1 || f.reason() != volsyncv1alpha1.ReasonSyncInProgress {
		t.Fatalf("the next pass: %d Synchronize calls, activeSync %+v, %d starts, reason %q; want the start recorded once",
			f.syncCalls, f.status.ActiveSync, len(f.started), f.reason())
	}
	if got := f.status.ActiveSync.ScheduledTime; got == nil || !got.Time.Equal(at) {
		t.Errorf("scheduled time %v, want %v: the trigger the mover was created for", got, at)
	}
	if len(f.events) != 1 || f.events[0] != ReasonSyncStarted {
		t.Errorf("events %v, want one %s", f.events, ReasonSyncStarted)
	}
}

// readingAhead is a fake whose mover reads ahead of its triggers.
type readingAhead struct {
	fake
	reads []time.Time
	now   *time.Time
}

func (f *readingAhead) ReadsAhead() bool { return true }
func (f *readingAhead) ReadAhead(context.Context) error {
	f.reads = append(f.reads, *f.now)
	return nil
}

// TestAMoverThatReadsAheadIsWokenBeforeItsTriggerAndReadsThen: the wait for a cron trigger ends
// ReadAheadLead early for a mover that reads ahead; that pass reads, changes nothing else, and waits
// for the trigger itself, which then starts the sync as before.
func TestAMoverThatReadsAheadIsWokenBeforeItsTriggerAndReadsThen(t *testing.T) {
	var now time.Time
	f := &readingAhead{fake: fake{created: t0.Add(30 * time.Second), spec: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *")}, syncDone: true, cleanupDone: true}, now: &now}
	f.status.LastSyncTime = &metav1.Time{Time: t0.Add(40 * time.Second)}
	due := t0.Add(10 * time.Minute)
	pass := func(at time.Time) mover.Result {
		t.Helper()
		now = at
		res, err := Run(context.Background(), f, trigger(t, &f.fake), nil, at)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := pass(t0.Add(time.Minute))
	if want := 9*time.Minute - ReadAheadLead; res.RetryAfter == nil || *res.RetryAfter != want || len(f.reads) != 0 {
		t.Fatalf("9 minutes before: requeue %v and %d read(s); want %s and none", res.RetryAfter, len(f.reads), want)
	}
	before := f.status.DeepCopy()
	res = pass(due.Add(-ReadAheadLead))
	if res.RetryAfter == nil || *res.RetryAfter != ReadAheadLead || len(f.reads) != 1 {
		t.Fatalf("at the lead: requeue %v and %d read(s); want %s and one", res.RetryAfter, len(f.reads), ReadAheadLead)
	}
	if len(f.started) != 0 || !equality.Semantic.DeepEqual(before, &f.status) {
		t.Fatalf("reading ahead started %d sync(s) or changed the status", len(f.started))
	}
	pass(due)
	if len(f.started) != 1 || !f.started[0].Scheduled.Equal(due) || f.syncCalls != 1 {
		t.Fatalf("at the trigger: starts %+v and %d Synchronize call(s); want one sync for %s", f.started, f.syncCalls, due)
	}
}
