package migrationschedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/schedule"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

const (
	// Finalizer holds a MigrationSchedule until its Migrations are deleted.
	Finalizer = "volsync.backube/migration-schedule"

	// lastAppliedAnnotation is kubectl's copy of the schedule itself: it describes the schedule,
	// not the Migration, so it is not copied.
	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// policyNameField indexes schedules by the policy they name.
	policyNameField = ".spec.schedulePolicyName"
	// minRequeue is the shortest wait for the next trigger. The wait is otherwise exact, with no
	// margin: a requeue never fires early, so a margin would only make every trigger that late.
	minRequeue = time.Millisecond
)

// Event reasons, beside the condition reasons of the API package.
const (
	reasonSuccessful     = "Successful"
	reasonPartialSuccess = "PartialSuccess"
	reasonFailed         = "Failed"
	reasonCreated        = "MigrationCreated"
	reasonQueued         = "Queued"
	reasonMissed         = "MissedSchedule"
	reasonNameTaken      = "NameTaken"
	reasonDeleted        = "MigrationDeleted"
)

// Reconciler creates dated Migrations for MigrationSchedules and keeps their history.
type Reconciler struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads straight from the API server. It is asked only when the cache may lag
	// behind a write of this controller (a Migration just created), never on every pass.
	APIReader client.Reader
	// Recorder publishes Events on the schedules.
	Recorder events.EventRecorder
	// Clock is "now"; tests step a fake one.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=volsync.backube,resources=migrationschedules,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=migrationschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=migrationschedules/finalizers,verbs=update
// +kubebuilder:rbac:groups=volsync.backube,resources=migrations,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=namespacedschedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile runs one pass over a schedule: bring the history up to date from its Migrations,
// handle what came due, start the next queued run when none is going, trim the history to retain,
// and write the status if it changed. Every step works from what is stored, so a pass interrupted
// anywhere is finished by the next one.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ms volsyncv1alpha1.MigrationSchedule
	if err := r.Client.Get(ctx, req.NamespacedName, &ms); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ms.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &ms)
	}
	if !controllerutil.ContainsFinalizer(&ms, Finalizer) {
		controllerutil.AddFinalizer(&ms, Finalizer)
		if err := r.Client.Update(ctx, &ms); err != nil {
			return requeueOnConflict(err)
		}
	}

	p := &pass{r: r, ms: &ms, status: ms.Status.DeepCopy(), now: r.Clock.Now()}
	p.status.ObservedGeneration = ms.Generation
	if p.status.Items == nil {
		p.status.Items = map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{}
	}
	if p.status.LastTriggers == nil {
		p.status.LastTriggers = map[volsyncv1alpha1.SchedulePolicyType]metav1.Time{}
	}
	children, err := r.children(ctx, &ms)
	if err != nil {
		return ctrl.Result{}, err
	}
	p.children = children
	if err := p.refresh(ctx); err != nil {
		return ctrl.Result{}, err
	}
	p.recoveryPoint()
	if err := p.activation(ctx); err != nil {
		return requeueOnConflict(err)
	}

	policy, ready := r.policy(ctx, &ms, p.now)
	var requeue time.Duration
	if policy != nil {
		p.trigger(policy)
		if !suspended(&ms) {
			if err := p.dispatch(ctx); err != nil {
				return ctrl.Result{}, err
			}
		}
		if err := p.retain(ctx, policy); err != nil {
			return ctrl.Result{}, err
		}
		requeue = p.setNextTriggers(policy)
	} else {
		p.status.NextTriggers = nil
	}
	if len(p.status.Pending) == 0 {
		p.status.Pending = nil
	}
	if len(p.status.Items) == 0 {
		p.status.Items = nil
	}
	if len(p.status.LastTriggers) == 0 {
		p.status.LastTriggers = nil
	}
	ready.ObservedGeneration = ms.Generation
	oldReady := meta.FindStatusCondition(ms.Status.Conditions, volsyncv1alpha1.ConditionReady)
	conditions.Set(&p.status.Conditions, ready, statusTime(p.now).Time)

	if oldReady == nil || oldReady.Status != ready.Status || oldReady.Reason != ready.Reason || oldReady.Message != ready.Message {
		// Once per change, so a missing policy is one Event, not one per pass.
		if ready.Status == metav1.ConditionFalse {
			p.later(nil, "Warning", ready.Reason, "Validate", "%s", ready.Message)
		} else if oldReady != nil {
			p.later(nil, "Normal", ready.Reason, "Validate", "%s", ready.Message)
		}
	}
	if !equality.Semantic.DeepEqual(p.status, &ms.Status) {
		ms.Status = *p.status
		if err := r.Client.Status().Update(ctx, &ms); err != nil {
			return requeueOnConflict(err)
		}
		log.FromContext(ctx).V(1).Info("status updated", "ready", ready.Reason, "pending", len(ms.Status.Pending))
	}
	p.flush()
	period := time.Duration(0)
	if policy != nil {
		period = policy.ShortestPeriod()
	}
	recordRecoveryPoint(ms.Name, ms.Namespace, ms.Status.RecoveryPoint, period)
	if requeue > 0 {
		// The wait was measured from p.now, and this pass's writes have used some of it since.
		return ctrl.Result{RequeueAfter: max(requeue-r.Clock.Since(p.now), minRequeue)}, nil
	}
	return ctrl.Result{}, nil
}

// pass is the working state of one Reconcile.
type pass struct {
	r      *Reconciler
	ms     *volsyncv1alpha1.MigrationSchedule
	status *volsyncv1alpha1.MigrationScheduleStatus
	now    time.Time
	// children are the schedule's Migrations as the cache sees them, by name.
	children map[string]*volsyncv1alpha1.Migration
	// queued are the types enqueued in this pass, for the Queued event.
	queued []volsyncv1alpha1.PolicyTrigger
	// deferred Events and missed triggers are published once the status is stored.
	deferred []func()
	missed   int
}

// refresh copies each Migration's status into the history, raises the Events of those that
// finished since the last pass, drops entries whose Migration is gone, and takes back Migrations
// of this schedule that the history lacks (created just before a crash, before the status write).
func (p *pass) refresh(ctx context.Context) error {
	seen := map[string]bool{}
	for t, items := range p.status.Items {
		kept := items[:0:0]
		for _, it := range items {
			child := p.children[it.Name]
			if child == nil {
				var err error
				if child, err = p.r.liveChild(ctx, p.ms, it.Name); err != nil {
					return err
				}
				if child == nil {
					continue // deleted by someone: it is no longer history
				}
			}
			seen[it.Name] = true
			kept = append(kept, p.update(it, child))
		}
		p.status.Items[t] = kept
	}
	for name, child := range p.children {
		if seen[name] || !child.DeletionTimestamp.IsZero() {
			continue
		}
		p.adopt(child)
	}
	for t, items := range p.status.Items {
		if len(items) == 0 {
			delete(p.status.Items, t)
			continue
		}
		sortHistory(items)
	}
	return nil
}

// adopt adds to the history a Migration of this schedule that it lacks.
func (p *pass) adopt(child *volsyncv1alpha1.Migration) {
	t, ok := policyType(child.Labels[volsyncv1alpha1.PolicyTypeLabel])
	if !ok {
		return
	}
	it := volsyncv1alpha1.ScheduledRun{Name: child.Name, CreationTimestamp: child.CreationTimestamp, Status: runStatus(child)}
	if at, ok := scheduledTime(child); ok {
		mt := statusTime(at)
		it.ScheduledTime = &mt
	}
	it.FinishTimestamp = child.Status.FinishTimestamp
	p.status.Items[t] = append(p.status.Items[t], it)
}

// update is one history entry brought up to date from its Migration; a run that finished since the
// last pass raises its Event and, when it succeeded, becomes the last success.
func (p *pass) update(it volsyncv1alpha1.ScheduledRun, child *volsyncv1alpha1.Migration) volsyncv1alpha1.ScheduledRun {
	before := it.Status
	it.Status = runStatus(child)
	it.CreationTimestamp = child.CreationTimestamp
	if child.Status.FinishTimestamp != nil {
		it.FinishTimestamp = child.Status.FinishTimestamp
	} else if !it.Status.Finished() {
		it.FinishTimestamp = nil
	} else if it.FinishTimestamp == nil {
		// A run marked finished without a time: the first pass that sees it is the best estimate,
		// and it is kept from then on.
		ft := statusTime(p.now)
		it.FinishTimestamp = &ft
	}
	if before.Finished() || !it.Status.Finished() {
		return it
	}
	switch it.Status {
	case volsyncv1alpha1.RunStatusSuccessful:
		p.later(child, "Normal", reasonSuccessful, "Migrate", "Scheduled migration (%s) completed successfully", it.Name)
		if p.status.LastSuccessTime == nil || !it.FinishTimestamp.Before(p.status.LastSuccessTime) {
			ft := *it.FinishTimestamp
			p.status.LastSuccessTime = &ft
			start := child.CreationTimestamp.Time
			if child.Status.StartTimestamp != nil {
				start = child.Status.StartTimestamp.Time
			}
			p.status.LastSuccessDuration = &metav1.Duration{Duration: max(ft.Sub(start), 0).Round(time.Second)}
		}
		if c := meta.FindStatusCondition(p.status.Conditions, volsyncv1alpha1.ConditionApplicationActivated); p.status.ApplicationActivated &&
			c != nil && c.Status == metav1.ConditionTrue && child.Status.StartTimestamp != nil && c.LastTransitionTime.Before(child.Status.StartTimestamp) {
			// It started after the destination was found activated, and found it not activated:
			// someone deactivated it without saying so here.
			p.status.ApplicationActivated = false
		}
	case volsyncv1alpha1.RunStatusPartialSuccess:
		p.later(child, "Warning", reasonPartialSuccess, "Migrate", "Scheduled migration (%s) completed with some objects not migrated: %s", it.Name, failureReason(child))
	default:
		p.later(child, "Warning", reasonFailed, "Migrate", "Scheduled migration (%s) failed: %s", it.Name, failureReason(child))
		if c := meta.FindStatusCondition(child.Status.Conditions, volsyncv1alpha1.ConditionCompleted); c != nil && c.Reason == volsyncv1alpha1.ReasonApplicationActivated {
			p.status.ApplicationActivated = true
		}
	}
	return it
}

// trigger records what came due: every decision advances lastTriggers, so a trigger is handled
// once; one that may fire joins the queue, and everything that will never run is counted missed.
func (p *pass) trigger(policy *schedule.Policy) {
	h := schedule.History{Start: p.ms.CreationTimestamp.Time, Last: map[schedule.Type]time.Time{}}
	for t, at := range p.status.LastTriggers {
		h.Last[t] = at.Time
	}
	isSuspended := suspended(p.ms)
	missed := 0
	if isSuspended && len(p.status.Pending) > 0 {
		missed += len(p.status.Pending)
		p.status.Pending = nil
	}
	for _, d := range policy.Due(h, p.now) {
		p.status.LastTriggers[d.Type] = statusTime(d.Scheduled)
		n := d.Missed
		switch {
		case !d.Fire:
		case isSuspended:
			n++
		default:
			var lost *volsyncv1alpha1.PolicyTrigger
			p.status.Pending, lost = enqueue(p.status.Pending, d.Type, d.Scheduled)
			if lost != nil {
				n++
			}
			p.queued = append(p.queued, volsyncv1alpha1.PolicyTrigger{Type: d.Type, Time: statusTime(d.Scheduled)})
		}
		if n > 0 && !isSuspended {
			p.later(nil, "Warning", reasonMissed, "Trigger"+string(d.Type), "%d %s trigger(s) of schedule policy %q missed before %s; the latest runs once",
				n, d.Type, policy.Name, d.Scheduled.UTC().Format(time.RFC3339))
		}
		missed += n
	}
	p.missed += missed
}

// dispatch starts the first queued type when no Migration of the schedule is running. It reads
// nothing from the API server first: the cache may not yet show a child this controller created
// just before a restart, but then Create answers AlreadyExists, create takes that child back into
// the history, and a running one stops the queue as it should. The first write at a trigger is
// the Migration itself.
func (p *pass) dispatch(ctx context.Context) error {
	// A queued trigger whose Migration is already in the history ran (or runs) already.
	p.status.Pending = slices.DeleteFunc(p.status.Pending, func(e volsyncv1alpha1.PolicyTrigger) bool {
		return p.hasItem(schedule.ChildName(p.ms.Name, e.Type, e.Time.Time))
	})
	for len(p.status.Pending) > 0 && running(p.status.Items) == nil {
		next := p.status.Pending[0]
		p.status.Pending = p.status.Pending[1:]
		if err := p.create(ctx, next.Type, next.Time.Time); err != nil {
			return err
		}
	}
	if r := running(p.status.Items); r != nil {
		for _, q := range p.queued {
			if containsTrigger(p.status.Pending, q) {
				p.later(nil, "Normal", reasonQueued, "Queue"+string(q.Type), "%s migration scheduled for %s is queued until %s finishes",
					q.Type, q.Time.UTC().Format(time.RFC3339), r.Name)
			}
		}
	}
	if len(p.status.Pending) == 0 {
		p.status.Pending = nil
	}
	return nil
}

func containsTrigger(list []volsyncv1alpha1.PolicyTrigger, t volsyncv1alpha1.PolicyTrigger) bool {
	for _, e := range list {
		if e.Type == t.Type && e.Time.Equal(&t.Time) {
			return true
		}
	}
	return false
}

func (p *pass) hasItem(name string) bool {
	for _, items := range p.status.Items {
		for _, it := range items {
			if it.Name == name {
				return true
			}
		}
	}
	return false
}

// create makes the dated Migration of one trigger and records it. AlreadyExists is success: the
// name comes from the scheduled time, so an existing child of this schedule is this very run.
func (p *pass) create(ctx context.Context, t schedule.Type, at time.Time) error {
	ms := p.ms
	name := schedule.ChildName(ms.Name, t, at)
	annotations := map[string]string{}
	maps.Copy(annotations, ms.Annotations)
	delete(annotations, lastAppliedAnnotation)
	annotations[volsyncv1alpha1.ScheduledTimeAnnotation] = at.UTC().Format(time.RFC3339)
	child := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ms.Namespace,
			Labels: map[string]string{
				volsyncv1alpha1.MigrationScheduleLabel: LabelValue(ms.Name),
				volsyncv1alpha1.PolicyTypeLabel:        strings.ToLower(string(t)),
			},
			Annotations: annotations,
		},
		Spec: *ms.Spec.Template.Spec.DeepCopy(),
	}
	if err := controllerutil.SetControllerReference(ms, child, p.r.Client.Scheme()); err != nil {
		return err
	}
	annotations[volsyncv1alpha1.CreatedAtAnnotation] = p.r.Clock.Now().UTC().Format(time.RFC3339Nano)
	err := p.r.Client.Create(ctx, child)
	switch {
	case err == nil:
		p.r.event(ms, child, "Normal", reasonCreated, "CreateMigration", "Created %s migration %s", t, name)
	case apierrors.IsAlreadyExists(err):
		existing, gerr := p.r.liveChild(ctx, ms, name)
		if gerr != nil {
			return gerr
		}
		if existing == nil {
			// A Migration of that name that is not this schedule's. Running under another name
			// would break the one-run-per-trigger rule, so the trigger is skipped, loudly.
			p.r.event(ms, nil, "Warning", reasonNameTaken, "Trigger"+string(t), "%s migration %s was not created: a Migration of that name that this schedule does not own exists; rename or delete it", t, name)
			p.missed++
			return nil
		}
		child = existing
	default:
		return fmt.Errorf("creating migration %s: %w", name, err)
	}
	scheduled := statusTime(at)
	p.status.Items[t] = append(p.status.Items[t], volsyncv1alpha1.ScheduledRun{
		Name:              name,
		ScheduledTime:     &scheduled,
		CreationTimestamp: child.CreationTimestamp,
		FinishTimestamp:   child.Status.FinishTimestamp,
		Status:            runStatus(child),
	})
	sortHistory(p.status.Items[t])
	return nil
}

// retain keeps, per type, the newest policy.Retain(type) entries and deletes the Migrations of the
// older ones, never one that is still running.
func (p *pass) retain(ctx context.Context, policy *schedule.Policy) error {
	for t, items := range p.status.Items {
		keep, drop := trim(items, policy.Retain(t))
		for _, it := range drop {
			deleted, err := p.r.deleteChild(ctx, p.ms, it.Name, p.children[it.Name])
			if err != nil {
				return err
			}
			if !deleted {
				continue
			}
			gone := p.children[it.Name]
			if gone == nil {
				gone = &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: it.Name, Namespace: p.ms.Namespace}}
			}
			p.r.event(p.ms, gone, "Normal", reasonDeleted, "DeleteMigration", "Deleted migration %s: the policy keeps the newest %d %s migrations", it.Name, policy.Retain(t), t)
		}
		if len(keep) == 0 {
			delete(p.status.Items, t)
			continue
		}
		p.status.Items[t] = keep
	}
	return nil
}

// setNextTriggers publishes the next trigger of each type and returns how long to wait for the
// earliest.
func (p *pass) setNextTriggers(policy *schedule.Policy) time.Duration {
	h := schedule.History{Start: p.ms.CreationTimestamp.Time, Last: map[schedule.Type]time.Time{}}
	for t, at := range p.status.LastTriggers {
		h.Last[t] = at.Time
	}
	next := policy.NextTriggers(h, p.now)
	p.status.NextTriggers = nil
	for _, o := range next {
		p.status.NextTriggers = append(p.status.NextTriggers, volsyncv1alpha1.PolicyTrigger{Type: o.Type, Time: statusTime(o.Time)})
	}
	if len(next) == 0 {
		return 0
	}
	return max(next[0].Time.Sub(p.now), minRequeue)
}

// policy fetches and compiles the schedule's policy. It returns nil and a False Ready condition
// that says why when the policy cannot be used.
func (r *Reconciler) policy(ctx context.Context, ms *volsyncv1alpha1.MigrationSchedule, now time.Time) (*schedule.Policy, metav1.Condition) {
	name := ms.Spec.SchedulePolicyName
	found, err := schedulepolicy.Lookup(ctx, r.Client, ms.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
				Reason: volsyncv1alpha1.ReasonPolicyNotFound,
				Message: fmt.Sprintf("schedule policy %q not found (neither a NamespacedSchedulePolicy in %s nor a SchedulePolicy): create it or set spec.schedulePolicyName to an existing one",
					name, ms.Namespace)}
		}
		return nil, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: volsyncv1alpha1.ReasonError, Message: err.Error()}
	}
	compiled, err := found.Compile(now)
	if err != nil {
		msg := err.Error()
		if problems := schedule.ValidatePolicy(found.Policy); len(problems) > 0 {
			parts := make([]string, 0, len(problems))
			for _, pr := range problems {
				parts = append(parts, pr.Error())
			}
			msg = strings.Join(parts, "; ")
		}
		return nil, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason:  volsyncv1alpha1.ReasonPolicyInvalid,
			Message: fmt.Sprintf("%s is invalid: %s", found.Describe(), msg)}
	}
	if suspended(ms) {
		return compiled, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason:  volsyncv1alpha1.ReasonSuspended,
			Message: "suspended: no Migrations are created, and triggers that pass are skipped, not caught up on resume"}
	}
	return compiled, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason:  volsyncv1alpha1.ReasonScheduled,
		Message: fmt.Sprintf("migrations are created on %s", found.Describe())}
}

// children lists the schedule's Migrations from the cache: those with its label whose controller
// is this very schedule (not an earlier one of the same name).
func (r *Reconciler) children(ctx context.Context, ms *volsyncv1alpha1.MigrationSchedule) (map[string]*volsyncv1alpha1.Migration, error) {
	var list volsyncv1alpha1.MigrationList
	if err := r.Client.List(ctx, &list, client.InNamespace(ms.Namespace), client.MatchingLabels{volsyncv1alpha1.MigrationScheduleLabel: LabelValue(ms.Name)}); err != nil {
		return nil, fmt.Errorf("listing the migrations of schedule %s: %w", ms.Name, err)
	}
	out := make(map[string]*volsyncv1alpha1.Migration, len(list.Items))
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], ms) {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out, nil
}

// liveChild reads one Migration from the API server. It returns nil when there is none, or when
// the one there is not controlled by this schedule.
func (r *Reconciler) liveChild(ctx context.Context, ms *volsyncv1alpha1.MigrationSchedule, name string) (*volsyncv1alpha1.Migration, error) {
	var m volsyncv1alpha1.Migration
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ms.Namespace, Name: name}, &m); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading migration %s: %w", name, err)
	}
	if !metav1.IsControlledBy(&m, ms) {
		return nil, nil
	}
	return &m, nil
}

// deleteChild deletes a Migration of the schedule and says whether this call deleted it; one
// already gone is fine.
func (r *Reconciler) deleteChild(ctx context.Context, ms *volsyncv1alpha1.MigrationSchedule, name string, cached *volsyncv1alpha1.Migration) (bool, error) {
	m := cached
	if m == nil {
		m = &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ms.Namespace}}
	}
	opts := []client.DeleteOption{client.PropagationPolicy(metav1.DeletePropagationBackground)}
	if m.UID != "" {
		opts = append(opts, client.Preconditions{UID: &m.UID})
	}
	if err := r.Client.Delete(ctx, m, opts...); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return false, nil
		}
		return false, fmt.Errorf("deleting migration %s: %w", name, err)
	}
	return true, nil
}

// finalize deletes the schedule's Migrations, then lets the schedule go.
func (r *Reconciler) finalize(ctx context.Context, ms *volsyncv1alpha1.MigrationSchedule) error {
	if !controllerutil.ContainsFinalizer(ms, Finalizer) {
		return nil
	}
	children, err := r.children(ctx, ms)
	if err != nil {
		return err
	}
	names := map[string]*volsyncv1alpha1.Migration{}
	maps.Copy(names, children)
	for _, items := range ms.Status.Items {
		for _, it := range items {
			if _, ok := names[it.Name]; !ok {
				names[it.Name] = nil
			}
		}
	}
	for name, m := range names {
		if m == nil {
			// Known only from the history: delete it only if it is really this schedule's.
			if m, err = r.liveChild(ctx, ms, name); err != nil {
				return err
			}
			if m == nil {
				continue
			}
		}
		if _, err := r.deleteChild(ctx, ms, name, m); err != nil {
			return err
		}
	}
	controllerutil.RemoveFinalizer(ms, Finalizer)
	if err := r.Client.Update(ctx, ms); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	forgetMissed(ms.Name, ms.Namespace)
	forgetRecoveryPoint(ms.Name, ms.Namespace)
	return nil
}

// event publishes an Event on the schedule now. related is the Migration it is about, if any: the
// events API folds Events of the same regarding, related, reason and action into one series that
// keeps only the first note, so naming the Migration (or a per-type action) keeps every note.
func (r *Reconciler) event(ms *volsyncv1alpha1.MigrationSchedule, related runtime.Object, kind, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	if m, ok := related.(*volsyncv1alpha1.Migration); ok && m == nil {
		related = nil
	}
	r.Recorder.Eventf(ms, related, kind, reason, action, note, args...)
}

// later queues an Event that reports what this pass saw, to be published once its status is
// stored: a pass whose write conflicts runs again, and would otherwise report it twice.
func (p *pass) later(related runtime.Object, kind, reason, action, note string, args ...any) {
	p.deferred = append(p.deferred, func() { p.r.event(p.ms, related, kind, reason, action, note, args...) })
}

// flush publishes what the pass saw, after its status was stored.
func (p *pass) flush() {
	for _, f := range p.deferred {
		f()
	}
	countMissed(p.ms.Name, p.ms.Namespace, p.missed)
}

// suspended reads spec.suspend.
func suspended(ms *volsyncv1alpha1.MigrationSchedule) bool {
	return ms.Spec.Suspend != nil && *ms.Spec.Suspend
}

// runStatus is a Migration's status, with "not started yet" shown as Pending.
func runStatus(m *volsyncv1alpha1.Migration) volsyncv1alpha1.RunStatus {
	if m.Status.Status == "" {
		return volsyncv1alpha1.RunStatusPending
	}
	return m.Status.Status
}

// failureReason is the most specific reason a Migration gives for how it ended.
func failureReason(m *volsyncv1alpha1.Migration) string {
	if c := meta.FindStatusCondition(m.Status.Conditions, volsyncv1alpha1.ConditionCompleted); c != nil && c.Message != "" {
		return c.Message
	}
	for _, c := range m.Status.Conditions {
		if c.Status == metav1.ConditionFalse && c.Message != "" {
			return c.Message
		}
	}
	for _, res := range m.Status.Resources {
		if res.Reason != "" {
			return fmt.Sprintf("%s %s/%s: %s", res.Kind, res.Namespace, res.Name, res.Reason)
		}
	}
	return "no reason given; see 'kubectl describe migration " + m.Name + "'"
}

// scheduledTime is the time a Migration of a schedule was created for: its annotation, else the
// time at the end of its name.
func scheduledTime(m *volsyncv1alpha1.Migration) (time.Time, bool) {
	if at, err := time.Parse(time.RFC3339, m.Annotations[volsyncv1alpha1.ScheduledTimeAnnotation]); err == nil {
		return at, true
	}
	const layout = "2006-01-02-150405"
	if len(m.Name) > len(layout) {
		if at, err := time.Parse(layout, m.Name[len(m.Name)-len(layout):]); err == nil {
			return at, true
		}
	}
	return time.Time{}, false
}

// policyType reads the volsyncv1alpha1.PolicyTypeLabel.
func policyType(label string) (schedule.Type, bool) {
	for _, t := range volsyncv1alpha1.SchedulePolicyTypes {
		if strings.ToLower(string(t)) == label {
			return t, true
		}
	}
	return "", false
}

// LabelValue is the value of volsyncv1alpha1.MigrationScheduleLabel for a schedule name: the name itself when it is a valid
// label value (63 characters at most), else its first characters and a hash of the whole.
func LabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:10]
	prefix := strings.TrimRight(name[:min(len(name), validation.LabelValueMaxLength-len(hash)-1)], "-._")
	return prefix + "-" + hash
}

func requeueOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}

// activatedChanged says whether status.applicationActivated changed: `volsyncctl activate`
// sets it from outside, and a schedule with autoSuspend must act on it at once.
func activatedChanged(old, new client.Object) bool {
	o, ok1 := old.(*volsyncv1alpha1.MigrationSchedule)
	n, ok2 := new.(*volsyncv1alpha1.MigrationSchedule)
	return ok1 && ok2 && o.Status.ApplicationActivated != n.Status.ApplicationActivated
}

// scheduleChanged lets through what a pass must see: spec edits (generation), annotations (copied
// to children, and how a person or a test nudges a pass) and deletion. Status writes, including
// this controller's own, do not wake it.
var scheduleChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return true
		}
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			activatedChanged(e.ObjectOld, e.ObjectNew)
	},
}

// SetupWithManager registers the controller, and an index of schedules by policy name so that a
// policy created or fixed reaches the schedules waiting for it at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	useClock(r.Clock)
	registerMetrics()
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &volsyncv1alpha1.MigrationSchedule{}, policyNameField,
		func(o client.Object) []string {
			ms, ok := o.(*volsyncv1alpha1.MigrationSchedule)
			if !ok || ms.Spec.SchedulePolicyName == "" {
				return nil
			}
			return []string{ms.Spec.SchedulePolicyName}
		})
	if err != nil {
		return fmt.Errorf("indexing migration schedules by policy: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.MigrationSchedule{}, builder.WithPredicates(scheduleChanged)).
		Owns(&volsyncv1alpha1.Migration{}).
		Watches(&volsyncv1alpha1.SchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(r.schedulesOfPolicy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&volsyncv1alpha1.NamespacedSchedulePolicy{}, handler.EnqueueRequestsFromMapFunc(r.schedulesOfPolicy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("migrationschedule").
		Complete(r)
}

// schedulesOfPolicy maps a policy to the schedules that name it: a SchedulePolicy to those of
// every namespace, a NamespacedSchedulePolicy to those of its own namespace.
func (r *Reconciler) schedulesOfPolicy(ctx context.Context, o client.Object) []reconcile.Request {
	var list volsyncv1alpha1.MigrationScheduleList
	opts := []client.ListOption{client.MatchingFields{policyNameField: o.GetName()}}
	if o.GetNamespace() != "" {
		opts = append(opts, client.InNamespace(o.GetNamespace()))
	}
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		log.FromContext(ctx).Error(err, "listing the migration schedules of a policy", "policy", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, ms := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ms)})
	}
	return out
}
