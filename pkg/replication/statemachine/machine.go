package statemachine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
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
	ReasonSyncStarted    = "SyncStarted"
	ReasonSyncCompleted  = "SyncCompleted"
	ReasonSyncFailed     = "SyncFailed"
	ReasonMissedTrigger  = "MissedTrigger"
	ReasonInvalidTrigger = "InvalidTrigger"
)

// pausedDuringSync starts the Paused condition's message when a sync was running when the object
// was paused; it is how Run knows, after the pause, that the sync is still to be finished.
const pausedDuringSync = "paused during a sync"

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

	// Event records an Event on the object.
	Event(eventType, reason, message string)
	// MissedTriggers counts triggers that were skipped.
	MissedTriggers(n int)
	// SyncDuration records how long a successful sync took.
	SyncDuration(d time.Duration)
	// OutOfSync says whether the data is behind: the last sync failed or a trigger was missed.
	OutOfSync(bool)
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

func currentPhase(st *volsyncv1alpha1.ReplicationStatus) phase {
	c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
	if c == nil {
		return phaseIdle
	}
	switch c.Reason {
	case volsyncv1alpha1.ReasonSyncInProgress:
		return phaseSyncing
	case volsyncv1alpha1.ReasonCleaningUp:
		return phaseCleaning
	case volsyncv1alpha1.ReasonPaused:
		if strings.HasPrefix(c.Message, pausedDuringSync) {
			return phaseSyncing
		}
	}
	return phaseIdle
}

// Running reports whether a sync (or its cleanup) is under way, judged from the status alone.
func Running(st *volsyncv1alpha1.ReplicationStatus) bool {
	return currentPhase(st) != phaseIdle
}

func setCondition(st *volsyncv1alpha1.ReplicationStatus, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type:    volsyncv1alpha1.ConditionSynchronizing,
		Status:  status,
		Reason:  reason,
		Message: message,
	})
}

// Run takes the object one step or more through its cycle at now and says when to look again.
// trig is the object's trigger; when it could not be built (a bad cron, a missing policy), trigErr
// says why: a running sync still finishes, but no new one starts.
func Run(ctx context.Context, m Machine, trig schedule.Trigger, trigErr error, now time.Time) (mover.Result, error) {
	r := run{m: m, st: m.Status(), trig: trig, trigErr: trigErr, now: now}
	switch currentPhase(r.st) {
	case phaseSyncing:
		if err := r.queue(ctx); err != nil {
			return mover.Result{}, err
		}
		res, err := r.synchronize(ctx)
		return r.wakeForQueue(res), err
	case phaseCleaning:
		if err := r.queue(ctx); err != nil {
			return mover.Result{}, err
		}
		res, err := r.cleanup(ctx)
		return r.wakeForQueue(res), err
	default:
		res, err := r.idle(ctx)
		return r.wakeForQueue(res), err
	}
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
// nextSyncTime shown.
func (r *run) scheduled() bool {
	s := r.m.TriggerSpec()
	return s != nil && (s.Schedule != nil || s.SchedulePolicyName != "")
}

func (r *run) policy() bool {
	s := r.m.TriggerSpec()
	return s != nil && s.SchedulePolicyName != ""
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
		setCondition(r.st, metav1.ConditionFalse, volsyncv1alpha1.ReasonPaused, "paused: no sync starts until spec.paused is cleared")
		return mover.InProgress(), nil
	}
	if r.trigErr != nil || r.trig == nil {
		msg := "the trigger cannot be used"
		if r.trigErr != nil {
			msg = r.trigErr.Error()
		}
		prev := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
		if prev == nil || prev.Reason != volsyncv1alpha1.ReasonError || prev.Message != msg {
			r.m.Event(EventWarning, ReasonInvalidTrigger, msg)
		}
		r.st.NextSyncTime = nil
		setCondition(r.st, metav1.ConditionFalse, volsyncv1alpha1.ReasonError, msg)
		return mover.InProgress(), nil
	}

	if r.st.ConsecutiveFailures > 0 && r.st.NextRetryTime != nil && r.now.Before(r.st.NextRetryTime.Time) {
		next := r.updateNextSync()
		setCondition(r.st, metav1.ConditionFalse, volsyncv1alpha1.ReasonError, fmt.Sprintf(
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
			setCondition(r.st, metav1.ConditionFalse, reason, msg)
			return mover.RetryAfter(0), nil
		}
		setCondition(r.st, metav1.ConditionFalse, reason, msg)
		if next == nil {
			return mover.InProgress(), nil
		}
		return r.retryAt(*next), nil
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
		d.Missed, d.Type, d.Scheduled.UTC().Format(time.RFC3339)))
}

func (r *run) start(ctx context.Context, d schedule.Decision) (mover.Result, error) {
	if err := r.m.SyncStarted(ctx, d); err != nil {
		return mover.Result{}, err
	}
	r.started = true
	r.handled(d.Type, d.Scheduled)
	r.missed(d)
	start := metav1.NewTime(r.now)
	r.st.LastSyncStartTime = &start
	r.updateNextSync()
	msg := fmt.Sprintf("sync started for the %s trigger", strings.ToLower(string(d.Type)))
	if d.Type != schedule.TypeAlways && d.Type != schedule.TypeManual {
		msg = fmt.Sprintf("sync started for the %s trigger scheduled at %s", strings.ToLower(string(d.Type)), d.Scheduled.UTC().Format(time.RFC3339))
	}
	setCondition(r.st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, msg)
	r.m.Event(EventNormal, ReasonSyncStarted, msg)
	return r.persistBeforeSync()
}

// persistBeforeSync ends the pass that starts a sync once the trigger is recorded (the dated child
// and the status), before the mover's first step. Triggers that come due together (a policy shared
// by a thousand owners) are then all recorded first, each in one short pass, instead of each
// waiting behind the mover work of the ones before it; and the mover never works for a start that
// was not stored. The status change itself brings the next reconcile, which starts the mover.
func (r *run) persistBeforeSync() (mover.Result, error) {
	return mover.InProgress(), nil
}

func (r *run) synchronize(ctx context.Context) (mover.Result, error) {
	res, err := r.m.Synchronize(ctx)
	if failure, ok := mover.AsFailed(err); ok {
		return r.failed(ctx, failure)
	}
	if err != nil {
		return res, err
	}
	if !res.Completed {
		if r.m.Paused() {
			setCondition(r.st, metav1.ConditionFalse, volsyncv1alpha1.ReasonPaused,
				pausedDuringSync+": the mover is suspended until spec.paused is cleared")
		} else if c := meta.FindStatusCondition(r.st.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil && c.Reason == volsyncv1alpha1.ReasonPaused {
			setCondition(r.st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, "sync resumed")
		}
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
	r.m.Event(EventNormal, ReasonSyncCompleted, msg)
	setCondition(r.st, metav1.ConditionTrue, volsyncv1alpha1.ReasonCleaningUp, msg+"; cleaning up")
	return r.persistBeforeCleanup()
}

// persistBeforeCleanup ends the pass so that the end of the sync is written to status before
// Cleanup destroys the evidence (the Job): were the write lost, the next reconcile would otherwise
// find neither a finished sync in status nor its Job, and sync again. The status change itself
// brings the next reconcile.
func (r *run) persistBeforeCleanup() (mover.Result, error) {
	return mover.InProgress(), nil
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
	r.m.OutOfSync(true)
	msg := fmt.Sprintf("%s; retrying at the next trigger, not before %s", f.Error(), retry.UTC().Format(time.RFC3339))
	r.m.Event(EventWarning, ReasonSyncFailed, msg)
	setCondition(r.st, metav1.ConditionFalse, volsyncv1alpha1.ReasonCleaningUp, msg+"; cleaning up")
	return r.persistBeforeCleanup()
}

func (r *run) cleanup(ctx context.Context) (mover.Result, error) {
	res, err := r.m.Cleanup(ctx)
	if err != nil || !res.Completed {
		return res, err
	}
	return r.idle(ctx)
}
