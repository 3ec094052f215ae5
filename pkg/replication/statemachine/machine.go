package statemachine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/schedule"
)

// Event types, as the events API spells them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons.
const (
	ReasonSyncStarted    = "TransferStarted"
	ReasonSyncCompleted  = "SyncCompleted"
	ReasonSyncFailed     = "TransferFailed"
	ReasonMissedTrigger  = "MissedTrigger"
	ReasonInvalidTrigger = "InvalidTrigger"
)

// pausedDuringSync starts the Paused condition's message when a sync was running when the object
// was paused.
const pausedDuringSync = "paused during a sync"

// SafetyNet is the longest a running sync goes unlooked at. Every step asks for the requeue it
// needs and watches wake the rest; this covers a watch event that never came (a restart between a
// write and its event, an object the controller does not watch). It costs no writes: a pass that
// finds nothing new changes nothing.
const SafetyNet = 2 * time.Minute

// StartRecordDelay is how soon the pass that records a sync's start follows the pass that
// created its mover. It is a delay rather than an immediate requeue because a delayed requeue
// skips the controller's rate limiter, which would otherwise space 500 owners out over seconds.
// (Holding the start records back longer, so that a firing's Job creates have the API server to
// themselves, was measured and does not help: 1 s made 1,000 policy owners' p99 4.5 s from 2.6 s.)
const StartRecordDelay = time.Millisecond

// ReadAheadLead is how long before a scheduled trigger a machine whose mover reads ahead
// (mover.ReadAhead) is woken to read what the trigger's first pass needs. It is long enough for
// the reads of hundreds of owners on one schedule to be done before the trigger, and short enough
// that what was read still stands at it (job.ReadAheadMaxAge).
const ReadAheadLead = 5 * time.Second

// Backoff limits: the first retry after a failure waits BackoffBase, each further failure doubles
// the wait, up to BackoffMax.
const (
	BackoffBase = time.Minute
	BackoffMax  = time.Hour
)

// Machine is what Run needs of a ReplicationSource or ReplicationDestination.
type Machine interface {
	// TriggerSpec is spec.trigger; nil means "always".
	TriggerSpec() *volsyncv1alpha1.ReplicationTriggerSpec
	// Status is the status the two kinds share. Run changes it in place.
	Status() *volsyncv1alpha1.ReplicationStatus
	// Created is when the object was created: nothing is scheduled before it.
	Created() time.Time
	// Paused is spec.paused.
	Paused() bool

	// Synchronize begins or continues the sync (the mover's). A *mover.FailedError ends the sync
	// as failed.
	Synchronize(ctx context.Context) (mover.Result, error)
	// Cleanup begins or continues the removal of the sync's temporary objects (the mover's).
	Cleanup(ctx context.Context) (mover.Result, error)

	// SyncStarted is called when a sync starts for d, before the first Synchronize. It must be
	// idempotent: after an error Run calls it again on the next reconcile.
	SyncStarted(ctx context.Context, d schedule.Decision) error
	// SyncQueued is called, while a sync runs, for each trigger that came due meanwhile; it will
	// start once the running sync is done. It must be idempotent.
	SyncQueued(ctx context.Context, d schedule.Decision) error
	// SyncEnded is called when the sync ends: failure is nil for a success, and result carries the
	// image a successful sync produced. It must be idempotent.
	SyncEnded(ctx context.Context, result mover.Result, failure *mover.FailedError) error

	// Event records an Event on the object. related, when not nil, is the object the Event is
	// about besides the owner (the dated child, the Secret that is missing), so that each sync's
	// Events form their own series and a person sees which object to look at.
	Event(eventType, reason, message string, related client.Object)
	// Owner is the ReplicationSource or ReplicationDestination itself.
	Owner() client.Object
	// Related is the object that stands for the running sync in its Events, when there is one
	// (the dated ReplicationSync child of a policy's trigger).
	Related() client.Object
	// MissedTriggers counts triggers that were skipped.
	MissedTriggers(n int)
	// SyncDuration records how long a successful sync took.
	SyncDuration(d time.Duration)
	// OutOfSync says whether the data is behind: the last sync failed or a trigger was missed.
	OutOfSync(bool)
	// SyncFailed counts a sync that ended Failed: the mover ran out of its retries.
	SyncFailed()
}

// Backoff is the wait before the next attempt after failures syncs in a row failed.
func Backoff(failures int32) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := BackoffBase
	for i := int32(1); i < failures; i++ {
		d *= 2
		if d >= BackoffMax {
			return BackoffMax
		}
	}
	return d
}

type phase int

const (
	phaseIdle phase = iota
	phaseSyncing
	phaseCleaning
)

// currentPhase is read from status.activeSync, the record the state machine keeps for the running
// sync; conditions are output only.
func currentPhase(st *volsyncv1alpha1.ReplicationStatus) phase {
	switch {
	case st.ActiveSync == nil:
		return phaseIdle
	case st.ActiveSync.Stage == volsyncv1alpha1.SyncStageCleaningUp:
		return phaseCleaning
	default:
		return phaseSyncing
	}
}

// Running reports whether a sync (or its cleanup) is under way, judged from the status alone.
func Running(st *volsyncv1alpha1.ReplicationStatus) bool {
	return st.ActiveSync != nil
}

func (r *run) setCondition(status metav1.ConditionStatus, reason, message string) {
	SetCondition(r.st, status, reason, message, r.now)
}

// SetCondition sets the Synchronizing condition, its transition time from now (the injected
// clock's), never the wall clock.
func SetCondition(st *volsyncv1alpha1.ReplicationStatus, status metav1.ConditionStatus, reason, message string, now time.Time) {
	conditions.Set(&st.Conditions, metav1.Condition{
		Type:    volsyncv1alpha1.ConditionSynchronizing,
		Status:  status,
		Reason:  reason,
		Message: message,
	}, now)
}

// Run takes the object one step or more through its cycle at now and says when to look again.
// trig is the object's trigger; when it could not be built (a bad cron, a missing policy), trigErr
// says why: a running sync still finishes, but no new one starts.
//
// An error a step runs into (a quota, a missing Secret, an RBAC denial) is shown in the
// Synchronizing condition, with a reason a person can search for, and as a Warning Event when it is
// new; it is also returned, so the step is retried with the controller's backoff. The condition
// clears on the first pass that gets past it.
func Run(ctx context.Context, m Machine, trig schedule.Trigger, trigErr error, now time.Time) (mover.Result, error) {
	r := run{m: m, st: m.Status(), trig: trig, trigErr: trigErr, now: now}
	prev := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if prev != nil {
		c := *prev
		prev = &c
	}
	res, err := r.step(ctx)
	if err != nil {
		r.showError(prev, err)
		return res, err
	}
	r.announceWarning(prev)
	return r.safetyNet(r.wakeForQueue(res)), nil
}

func (r *run) step(ctx context.Context) (mover.Result, error) {
	switch currentPhase(r.st) {
	case phaseSyncing:
		if err := r.queue(ctx); err != nil {
			return mover.Result{}, err
		}
		return r.synchronize(ctx)
	case phaseCleaning:
		if err := r.queue(ctx); err != nil {
			return mover.Result{}, err
		}
		return r.cleanup(ctx)
	default:
		return r.idle(ctx)
	}
}

// showError puts err in the Synchronizing condition and raises a Warning Event when the condition
// did not say so already (ShowError).
func (r *run) showError(prev *metav1.Condition, err error) {
	if _, failed := mover.AsFailed(err); failed {
		return // a failed sync is recorded by failed(); this is the error of recording it
	}
	related := r.m.Related()
	if !Running(r.st) {
		related = nil
	}
	ShowError(r.st, prev, r.m.Owner().GetNamespace(), r.m.Paused(), err, r.now,
		func(reason, msg string, errRelated client.Object) {
			if errRelated == nil {
				errRelated = related
			}
			r.m.Event(EventWarning, reason, msg, errRelated)
		})
}

// ShowError puts err, which a pass ran into, in the Synchronizing condition: True while a sync
// runs (it goes on once the error heals), False otherwise, with a reason a person can search for
// (mover.Explain). warn raises the Warning Event, only when the condition said something else
// before the pass (prev). A conflict is not shown: it only means "read again".
func ShowError(st *volsyncv1alpha1.ReplicationStatus, prev *metav1.Condition, namespace string, paused bool, err error,
	now time.Time, warn func(reason, msg string, related client.Object)) {
	e := mover.Explain(err, namespace)
	if e.Quiet {
		return
	}
	status := metav1.ConditionFalse
	if Running(st) && !paused {
		status = metav1.ConditionTrue
	}
	msg := e.Message + "; retrying"
	SetCondition(st, status, e.Reason, msg, now)
	if prev == nil || prev.Reason != e.Reason || prev.Message != msg {
		warn(e.Reason, msg, e.Related)
	}
}

// announceWarning raises the Warning Event for a warning a mover put in the condition in this pass
// (see Warn), once: only when the condition did not say so before the pass.
func (r *run) announceWarning(prev *metav1.Condition) {
	c := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c == nil || !isWarning(c.Reason) || !Running(r.st) {
		return
	}
	if prev != nil && prev.Reason == c.Reason && prev.Message == c.Message {
		return
	}
	r.m.Event(EventWarning, c.Reason, c.Message, r.m.Related())
}

// isWarning says whether a Synchronizing reason is a mover's warning rather than one of the state
// machine's own reasons.
func isWarning(reason string) bool {
	switch reason {
	case volsyncv1alpha1.ReasonSyncInProgress, volsyncv1alpha1.ReasonCleaningUp, volsyncv1alpha1.ReasonPaused,
		volsyncv1alpha1.ReasonWaitingForSchedule, volsyncv1alpha1.ReasonWaitingForManual, volsyncv1alpha1.ReasonError:
		return false
	}
	return true
}

// safetyNet caps the wait of a running sync at SafetyNet.
func (r *run) safetyNet(res mover.Result) mover.Result {
	if res.Completed || !Running(r.st) {
		return res
	}
	if res.RetryAfter == nil || *res.RetryAfter > SafetyNet {
		return mover.RetryAfter(SafetyNet)
	}
	return res
}

// wakeForQueue shortens the wait of a sync that is still going to the policy's next trigger, so
// that a trigger coming due meanwhile is queued (its dated child created, Pending) when it comes,
// not whenever the sync happens to end.
func (r *run) wakeForQueue(res mover.Result) mover.Result {
	if res.Completed || !r.policy() || r.trig == nil || r.trigErr != nil || !Running(r.st) {
		return res
	}
	next, ok := r.nextAfterDue()
	if !ok {
		return res
	}
	wait := next.Sub(r.now)
	if res.RetryAfter == nil || *res.RetryAfter > wait {
		return mover.RetryAfter(wait)
	}
	return res
}

// nextAfterDue is the earliest trigger strictly after now, counting the ones due now as handled
// (they are queued already).
func (r *run) nextAfterDue() (time.Time, bool) {
	h := r.history()
	for _, d := range r.trig.Due(h, r.now) {
		h.Last[d.Type] = d.Scheduled
	}
	var next time.Time
	for _, o := range r.trig.NextTriggers(h, r.now) {
		if o.Time.After(r.now) && (next.IsZero() || o.Time.Before(next)) {
			next = o.Time
		}
	}
	return next, !next.IsZero()
}

// queue tells the machine about triggers that came due while a sync runs. They are not handled
// (lastTriggers does not move), so they are due again, and start, when the sync is done.
func (r *run) queue(ctx context.Context) error {
	if r.trig == nil || r.trigErr != nil || r.manual() {
		return nil
	}
	for _, d := range r.trig.Due(r.history(), r.now) {
		if d.Fire && d.Type != schedule.TypeAlways {
			if err := r.m.SyncQueued(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

type run struct {
	m       Machine
	st      *volsyncv1alpha1.ReplicationStatus
	trig    schedule.Trigger
	trigErr error
	now     time.Time
	started bool
}

func (r *run) history() schedule.History {
	h := schedule.History{Start: r.m.Created(), Last: make(map[schedule.Type]time.Time, len(r.st.LastTriggers))}
	for t, at := range r.st.LastTriggers {
		h.Last[t] = at.Time
	}
	if s := r.m.TriggerSpec(); s != nil && s.Manual == "" && s.Schedule != nil && h.Last[schedule.TypeSchedule].IsZero() && r.st.LastSyncTime != nil {
		// A cron schedule put on an object that synced before (under another trigger) counts
		// from that sync: only a never-synced object syncs at once (see CronTrigger.Due).
		h.Last[schedule.TypeSchedule] = r.st.LastSyncTime.Time
	}
	return h
}

func (r *run) handled(t schedule.Type, at time.Time) {
	if t == schedule.TypeAlways || t == schedule.TypeManual {
		return // their identity is not a time; nothing to remember
	}
	if r.st.LastTriggers == nil {
		r.st.LastTriggers = map[volsyncv1alpha1.SchedulePolicyType]metav1.Time{}
	}
	r.st.LastTriggers[t] = metav1.NewTime(at)
}

// scheduled says whether the trigger has times of its own (cron or policy); only then is
// nextSyncTime shown. A manual trigger beside a schedule wins, so then it has none.
func (r *run) scheduled() bool {
	s := r.m.TriggerSpec()
	return s != nil && s.Manual == "" && (s.Schedule != nil || s.SchedulePolicyName != "")
}

func (r *run) policy() bool {
	s := r.m.TriggerSpec()
	return s != nil && s.Manual == "" && s.SchedulePolicyName != ""
}

func (r *run) manual() bool {
	s := r.m.TriggerSpec()
	return s != nil && s.Manual != ""
}

// updateNextSync writes nextSyncTime (and the per-type list for policies) and returns it.
func (r *run) updateNextSync() *time.Time {
	if !r.scheduled() || r.trig == nil {
		r.st.NextSyncTime = nil
		r.st.NextTriggers = nil
		return nil
	}
	next := r.trig.NextTriggers(r.history(), r.now)
	var earliest *time.Time
	var list []volsyncv1alpha1.PolicyTrigger
	for _, o := range next {
		if earliest == nil || o.Time.Before(*earliest) {
			t := o.Time
			earliest = &t
		}
		list = append(list, volsyncv1alpha1.PolicyTrigger{Type: o.Type, Time: metav1.NewTime(o.Time.Truncate(time.Second))})
	}
	if r.policy() {
		r.st.NextTriggers = list
	} else {
		r.st.NextTriggers = nil
	}
	if r.st.NextRetryTime != nil && r.st.ConsecutiveFailures > 0 && (earliest == nil || r.st.NextRetryTime.After(*earliest)) {
		t := r.st.NextRetryTime.Time
		earliest = &t
	}
	if earliest == nil {
		r.st.NextSyncTime = nil
		return nil
	}
	mt := metav1.NewTime(earliest.Truncate(time.Second))
	r.st.NextSyncTime = &mt
	return earliest
}

func (r *run) retryAt(at time.Time) mover.Result {
	d := at.Sub(r.now)
	if d <= 0 {
		d = 0
	}
	return mover.RetryAfter(d)
}

func (r *run) idle(ctx context.Context) (mover.Result, error) {
	if r.m.Paused() {
		r.st.NextSyncTime = nil
		r.setCondition(metav1.ConditionFalse, volsyncv1alpha1.ReasonPaused, "paused: no sync starts until spec.paused is cleared")
		return mover.InProgress(), nil
	}
	if r.trigErr != nil || r.trig == nil {
		msg := "the trigger cannot be used"
		if r.trigErr != nil {
			msg = r.trigErr.Error()
		}
		prev := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
		if prev == nil || prev.Reason != volsyncv1alpha1.ReasonError || prev.Message != msg {
			r.m.Event(EventWarning, ReasonInvalidTrigger, msg, nil)
		}
		r.st.NextSyncTime = nil
		r.setCondition(metav1.ConditionFalse, volsyncv1alpha1.ReasonError, msg)
		return mover.InProgress(), nil
	}

	if r.st.ConsecutiveFailures > 0 && r.st.NextRetryTime != nil && r.now.Before(r.st.NextRetryTime.Time) {
		next := r.updateNextSync()
		r.setCondition(metav1.ConditionFalse, volsyncv1alpha1.ReasonError, fmt.Sprintf(
			"%d sync(s) in a row failed%s; the next attempt starts at the next trigger, not before %s",
			r.st.ConsecutiveFailures, lastFailure(r.st.LatestMoverStatus), r.st.NextRetryTime.UTC().Format(time.RFC3339)))
		if next == nil {
			return r.retryAt(r.st.NextRetryTime.Time), nil
		}
		return r.retryAt(*next), nil
	}

	if r.manual() {
		// The trigger was built before this pass; a sync that just completed has moved
		// lastManualSync since.
		r.trig = schedule.ManualTrigger{Requested: r.m.TriggerSpec().Manual, Completed: r.st.LastManualSync}
	}
	var fire *schedule.Decision
	var queued []schedule.Decision
	for _, d := range r.trig.Due(r.history(), r.now) {
		if !d.Fire {
			// Past its starting deadline: counted once as missed and never looked at again.
			r.handled(d.Type, d.Scheduled)
			r.missed(d)
			continue
		}
		if fire == nil {
			d := d
			fire = &d
			continue
		}
		// Other due types stay unhandled, so they are due again once this sync ends: queued, not
		// lost.
		queued = append(queued, d)
	}
	if fire == nil || r.started {
		next := r.updateNextSync()
		reason, msg := volsyncv1alpha1.ReasonWaitingForSchedule, "waiting for the next scheduled sync"
		if r.manual() {
			reason, msg = volsyncv1alpha1.ReasonWaitingForManual, "waiting for spec.trigger.manual to change"
		} else if next != nil {
			msg = fmt.Sprintf("waiting for the next scheduled sync at %s", next.UTC().Format(time.RFC3339))
		}
		if fire != nil {
			// Started one in this pass already: the next starts on the next reconcile.
			r.setCondition(metav1.ConditionFalse, reason, msg)
			return mover.RetryAfter(0), nil
		}
		r.setCondition(metav1.ConditionFalse, reason, msg)
		if next == nil {
			return mover.InProgress(), nil
		}
		return r.readAhead(ctx, *next), nil
	}
	res, err := r.start(ctx, *fire)
	if err != nil || !r.started {
		return res, err
	}
	for _, d := range queued {
		if d.Type == schedule.TypeAlways {
			continue
		}
		if err := r.m.SyncQueued(ctx, d); err != nil {
			return res, err
		}
	}
	return res, nil
}

// readAhead is the wait for the trigger at next. A mover that reads ahead is woken ReadAheadLead
// before it, and reads then: at the trigger, the first request is the mover's start. What the read
// runs into is not shown: the trigger's own pass reads again when it has nothing to go on, and
// reports what it finds.
func (r *run) readAhead(ctx context.Context, next time.Time) mover.Result {
	ra, ok := r.m.(mover.ReadAhead)
	if !ok || !ra.ReadsAhead() {
		return r.retryAt(next)
	}
	if next.Sub(r.now) > ReadAheadLead {
		return r.retryAt(next.Add(-ReadAheadLead))
	}
	if err := ra.ReadAhead(ctx); err != nil {
		log.FromContext(ctx).V(1).Info("reading ahead of the next trigger", "trigger", next, "error", err.Error())
	}
	return r.retryAt(next)
}

// lastFailure is ", the last one with: <why>" from the failed mover's status (its last log line),
// so that the condition a person reads while the sync backs off says why it failed, not only that
// it did; empty when the mover left nothing to say.
func lastFailure(ms *volsyncv1alpha1.MoverStatus) string {
	if ms == nil || ms.Result != volsyncv1alpha1.MoverResultFailed {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(ms.Logs), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	return ", the last one with: " + last
}

func (r *run) missed(d schedule.Decision) {
	if d.Missed <= 0 {
		return
	}
	r.m.MissedTriggers(d.Missed)
	r.m.OutOfSync(true)
	r.m.Event(EventWarning, ReasonMissedTrigger, fmt.Sprintf("%d %s trigger(s) were missed before %s",
		d.Missed, d.Type, d.Scheduled.UTC().Format(time.RFC3339)), nil)
}

func (r *run) start(ctx context.Context, d schedule.Decision) (mover.Result, error) {
	// The mover's first step comes first: for a Job mover on a Direct volume, the Job is the
	// first write of the trigger, and the start is recorded (status, the dated child, the Event)
	// after it, in a pass of its own. A pass that stops between the two (a crash, a lost status
	// write) finds the same trigger due again on the next one, and the Job, named for the owner's
	// sync, is adopted rather than created twice.
	saved := r.st.DeepCopy()
	start := metav1.NewTime(r.now)
	r.st.LastSyncStartTime = &start
	r.st.ActiveSync = &volsyncv1alpha1.ActiveSync{
		Trigger: string(d.Type), StartTime: start, Stage: volsyncv1alpha1.SyncStageSynchronizing,
		Attempt: r.st.ConsecutiveFailures + 1,
	}
	if d.Type != schedule.TypeAlways && d.Type != schedule.TypeManual {
		scheduled := metav1.NewTime(d.Scheduled.Truncate(time.Second))
		r.st.ActiveSync.ScheduledTime = &scheduled
	}
	msg := runningMessage(r.st.ActiveSync)
	r.setRunning()
	res, syncErr := r.m.Synchronize(ctx)
	if syncErr == nil && res.Started {
		// The mover's work went out in this pass: the start is recorded in the next one, which
		// finds the trigger due again and the work there by its name. Owners that fire together
		// thus create every mover before any of them writes its status, instead of each one's
		// status write delaying the next one's mover.
		*r.st = *saved
		return mover.RetryAfter(StartRecordDelay), nil
	}
	if err := r.m.SyncStarted(ctx, d); err != nil {
		// Not recorded: the next pass starts it again, and finds the mover's work by its name.
		*r.st = *saved
		return mover.Result{}, err
	}
	r.started = true
	r.handled(d.Type, d.Scheduled)
	r.missed(d)
	r.updateNextSync()
	r.m.Event(EventNormal, ReasonSyncStarted, msg, r.m.Related())
	return r.afterSynchronize(ctx, res, syncErr)
}

// runningMessage is the Synchronizing condition's message while the mover works.
func runningMessage(a *volsyncv1alpha1.ActiveSync) string {
	msg := fmt.Sprintf("sync started for the %s trigger", strings.ToLower(string(a.Trigger)))
	if a.ScheduledTime != nil {
		msg = fmt.Sprintf("sync started for the %s trigger scheduled at %s", strings.ToLower(string(a.Trigger)), a.ScheduledTime.UTC().Format(time.RFC3339))
	}
	if a.Attempt > 1 {
		msg += fmt.Sprintf(" (attempt %d)", a.Attempt)
	}
	return msg
}

func (r *run) synchronize(ctx context.Context) (mover.Result, error) {
	// The condition shows this pass's state: a warning a mover raised in an earlier pass and no
	// longer raises is gone, one it raises again is set again (Warn) with no change to write.
	r.setRunning()
	res, err := r.m.Synchronize(ctx)
	return r.afterSynchronize(ctx, res, err)
}

// afterSynchronize takes what a Synchronize step returned: a failure ends the sync as failed, a
// completion as successful; anything else leaves it running.
func (r *run) afterSynchronize(ctx context.Context, res mover.Result, err error) (mover.Result, error) {
	if failure, ok := mover.AsFailed(err); ok {
		return r.failed(ctx, failure)
	}
	if err != nil {
		return res, err
	}
	if !res.Completed {
		return res, nil
	}
	if err := r.m.SyncEnded(ctx, res, nil); err != nil {
		return mover.Result{}, err
	}
	end := metav1.NewTime(r.now)
	r.st.LastSyncTime = &end
	if r.st.LastSyncStartTime != nil {
		d := r.now.Sub(r.st.LastSyncStartTime.Time).Truncate(time.Millisecond)
		r.st.LastSyncDuration = &metav1.Duration{Duration: d}
		r.m.SyncDuration(d)
	}
	r.st.ConsecutiveFailures = 0
	r.st.NextRetryTime = nil
	if r.manual() {
		// The value in spec now, not the one that started the sync: a change during the sync does
		// not interrupt it and is what it completes (seed 000).
		r.st.LastManualSync = r.m.TriggerSpec().Manual
	}
	r.m.OutOfSync(false)
	msg := "sync completed"
	if r.st.LastSyncDuration != nil {
		msg = fmt.Sprintf("sync completed in %s", r.st.LastSyncDuration.Duration)
	}
	r.m.Event(EventNormal, ReasonSyncCompleted, msg, r.m.Related())
	r.st.ActiveSync.Stage = volsyncv1alpha1.SyncStageCleaningUp
	r.setCondition(metav1.ConditionTrue, volsyncv1alpha1.ReasonCleaningUp, msg+"; cleaning up")
	return r.persistBeforeCleanup()
}

// setRunning sets the condition a running sync shows when nothing is wrong: in progress, or
// paused.
func (r *run) setRunning() {
	if r.m.Paused() {
		r.setCondition(metav1.ConditionFalse, volsyncv1alpha1.ReasonPaused,
			pausedDuringSync+": the mover is suspended until spec.paused is cleared")
		return
	}
	r.setCondition(metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, runningMessage(r.st.ActiveSync))
}

// persistBeforeCleanup ends the pass so that the end of the sync is written to status before
// Cleanup destroys the evidence (the Job): were the write lost, the next reconcile would otherwise
// find neither a finished sync in status nor its Job, and sync again. The next pass is asked for
// explicitly.
func (r *run) persistBeforeCleanup() (mover.Result, error) {
	return mover.RetryAfter(0), nil
}

func (r *run) failed(ctx context.Context, f *mover.FailedError) (mover.Result, error) {
	if err := r.m.SyncEnded(ctx, mover.Result{}, f); err != nil {
		return mover.Result{}, err
	}
	r.st.ConsecutiveFailures++
	retry := metav1.NewTime(r.now.Add(Backoff(r.st.ConsecutiveFailures)).Truncate(time.Second))
	r.st.NextRetryTime = &retry
	if r.st.LatestMoverStatus == nil {
		r.st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{}
	}
	r.st.LatestMoverStatus.Result = volsyncv1alpha1.MoverResultFailed
	if r.st.LatestMoverStatus.Logs == "" {
		r.st.LatestMoverStatus.Logs = f.Message
	}
	r.m.SyncFailed()
	r.m.OutOfSync(true)
	msg := fmt.Sprintf("%s; retrying at the next trigger, not before %s", f.Error(), retry.UTC().Format(time.RFC3339))
	r.m.Event(EventWarning, ReasonSyncFailed, msg, r.m.Related())
	r.st.ActiveSync.Stage = volsyncv1alpha1.SyncStageCleaningUp
	r.setCondition(metav1.ConditionFalse, volsyncv1alpha1.ReasonCleaningUp, msg+"; cleaning up")
	return r.persistBeforeCleanup()
}

func (r *run) cleanup(ctx context.Context) (mover.Result, error) {
	if c := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil && c.Reason != volsyncv1alpha1.ReasonCleaningUp {
		// An error of an earlier cleanup pass was shown; this pass starts from the cleanup's own
		// state again.
		r.setCondition(c.Status, volsyncv1alpha1.ReasonCleaningUp, "cleaning up after the sync")
	}
	res, err := r.m.Cleanup(ctx)
	if err != nil || !res.Completed {
		return res, err
	}
	r.st.ActiveSync = nil
	return r.idle(ctx)
}
