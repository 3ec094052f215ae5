package schedulepolicy

import (
	"context"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/conditions"
	"github.com/volsync/volsync/pkg/schedule"
)

// requeueMargin is added to the next trigger time so the status is rewritten just after the
// trigger passes, not just before it.
const requeueMargin = time.Second

// Reconciler keeps SchedulePolicy status current.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile validates one policy and writes its status. It is level-based: it reads the policy as
// it is now and writes status only when something changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var policy volsyncv1alpha1.SchedulePolicy
	if err := r.Client.Get(ctx, req.NamespacedName, &policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	status := policy.Status.DeepCopy()
	status.ObservedGeneration = policy.Generation

	compiled, err := schedule.Compile(policy.Name, policy.Policy)
	var requeue time.Duration
	if err != nil {
		// One line per problem, each naming its field, as the CLI's validate prints them.
		problems := schedule.ValidatePolicy(policy.Policy)
		msgs := make([]string, 0, len(problems))
		for _, p := range problems {
			msgs = append(msgs, p.Error())
		}
		if len(msgs) == 0 {
			msgs = append(msgs, err.Error())
		}
		conditions.Set(&status.Conditions, metav1.Condition{
			Type:               volsyncv1alpha1.ConditionValid,
			Status:             metav1.ConditionFalse,
			Reason:             volsyncv1alpha1.ReasonPolicyInvalid,
			Message:            strings.Join(msgs, "; "),
			ObservedGeneration: policy.Generation,
		}, now)
		status.NextTriggers = nil
		status.NextTriggerTime = nil
	} else {
		conditions.Set(&status.Conditions, metav1.Condition{
			Type:               volsyncv1alpha1.ConditionValid,
			Status:             metav1.ConditionTrue,
			Reason:             volsyncv1alpha1.ReasonPolicyValid,
			Message:            "policy is valid",
			ObservedGeneration: policy.Generation,
		}, now)
		status.NextTriggers, status.NextTriggerTime = nextTriggers(compiled, policy.CreationTimestamp.Time, now)
		if status.NextTriggerTime != nil {
			requeue = status.NextTriggerTime.Sub(now) + requeueMargin
		}
	}

	if !equality.Semantic.DeepEqual(status, &policy.Status) {
		wasValid := meta.FindStatusCondition(policy.Status.Conditions, volsyncv1alpha1.ConditionValid)
		nowValid := meta.FindStatusCondition(status.Conditions, volsyncv1alpha1.ConditionValid)
		policy.Status = *status
		if err := r.Client.Status().Update(ctx, &policy); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, err
		}
		if wasValid == nil || wasValid.Status != nowValid.Status || wasValid.Message != nowValid.Message {
			r.recordValidity(&policy, nowValid)
		}
		logger.V(1).Info("status updated", "valid", nowValid.Status, "next", status.NextTriggerTime)
	}
	if requeue > 0 {
		return ctrl.Result{RequeueAfter: requeue}, nil
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) recordValidity(policy *volsyncv1alpha1.SchedulePolicy, c *metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	if c.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(policy, nil, "Normal", c.Reason, "Validate", "schedule policy %q is valid", policy.Name)
		return
	}
	r.Recorder.Eventf(policy, nil, "Warning", c.Reason, "Validate", "schedule policy %q is invalid: %s", policy.Name, c.Message)
}

// nextTriggers is the next trigger of each type after now, for an owner that started when the
// policy was created: the interval grid is anchored at the policy's creation so the answer is
// stable between reconciles and the status is not rewritten for nothing.
func nextTriggers(p *schedule.Policy, created, now time.Time) ([]volsyncv1alpha1.PolicyTrigger, *metav1.Time) {
	if created.IsZero() || created.After(now) {
		created = now
	}
	var out []volsyncv1alpha1.PolicyTrigger
	var earliest *metav1.Time
	for _, t := range p.Types() {
		var next time.Time
		if t == volsyncv1alpha1.SchedulePolicyTypeInterval {
			next = nextOnGrid(created, p.Interval.Minutes, now)
		} else {
			next = p.Next(t, now)
		}
		mt := metav1.NewTime(next.Truncate(time.Second))
		out = append(out, volsyncv1alpha1.PolicyTrigger{Type: t, Time: mt})
		if earliest == nil || mt.Before(earliest) {
			e := mt
			earliest = &e
		}
	}
	return out, earliest
}

// nextOnGrid is the first instant strictly after now on the grid start + k*minutes. Admission caps
// minutes at 366 days, so the period fits a time.Duration.
func nextOnGrid(start time.Time, minutes int64, now time.Time) time.Time {
	if minutes <= 0 {
		return now
	}
	every := time.Duration(minutes) * time.Minute
	k := now.Sub(start)/every + 1
	return start.Add(k * every)
}

// SetupWithManager registers the controller. Status-only updates do not trigger a reconcile.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.SchedulePolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("schedulepolicy").
		Complete(r)
}
