package schedulepolicy

import (
	"context"
	"fmt"
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

// Reconciler keeps the status of SchedulePolicies and NamespacedSchedulePolicies current.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// namespaced says this one serves NamespacedSchedulePolicies; SetupWithManager registers one
	// of each.
	namespaced bool
}

// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=volsync.backube,resources=namespacedschedulepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=volsync.backube,resources=namespacedschedulepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile validates one policy and writes its status. It is level-based: it reads the policy as
// it is now and writes status only when something changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var policy policyObject
	if r.namespaced {
		var nsp volsyncv1alpha1.NamespacedSchedulePolicy
		if err := r.Client.Get(ctx, req.NamespacedName, &nsp); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		policy = policyObject{Object: &nsp, item: &nsp.Policy, status: &nsp.Status}
	} else {
		var sp volsyncv1alpha1.SchedulePolicy
		if err := r.Client.Get(ctx, req.NamespacedName, &sp); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		policy = policyObject{Object: &sp, item: &sp.Policy, status: &sp.Status}
	}
	now := r.Clock.Now()
	status := policy.status.DeepCopy()
	if status.ObservedGeneration != policy.GetGeneration() || status.PolicyChangedTime == nil {
		// The first sight of this generation: owners count missed triggers only from here. A
		// policy never edited took its form when it was created.
		changed := metav1.NewTime(now.Truncate(time.Second))
		if policy.GetGeneration() <= 1 {
			changed = policy.GetCreationTimestamp()
		}
		status.PolicyChangedTime = &changed
	}
	status.ObservedGeneration = policy.GetGeneration()

	compiled, err := schedule.Compile(policy.GetName(), *policy.item)
	var requeue time.Duration
	if err != nil {
		// One line per problem, each naming its field, as the CLI's validate prints them.
		problems := schedule.ValidatePolicy(*policy.item)
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
			ObservedGeneration: policy.GetGeneration(),
		}, now)
		status.NextTriggers = nil
		status.NextTriggerTime = nil
	} else {
		conditions.Set(&status.Conditions, metav1.Condition{
			Type:               volsyncv1alpha1.ConditionValid,
			Status:             metav1.ConditionTrue,
			Reason:             volsyncv1alpha1.ReasonPolicyValid,
			Message:            "policy is valid",
			ObservedGeneration: policy.GetGeneration(),
		}, now)
		status.NextTriggers, status.NextTriggerTime = nextTriggers(compiled, policy.GetCreationTimestamp().Time, now)
		if status.NextTriggerTime != nil {
			requeue = status.NextTriggerTime.Sub(now) + requeueMargin
		}
	}

	if !equality.Semantic.DeepEqual(status, policy.status) {
		wasValid := meta.FindStatusCondition(policy.status.Conditions, volsyncv1alpha1.ConditionValid)
		nowValid := meta.FindStatusCondition(status.Conditions, volsyncv1alpha1.ConditionValid)
		*policy.status = *status
		if err := r.Client.Status().Update(ctx, policy.Object); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, err
		}
		if wasValid == nil || wasValid.Status != nowValid.Status || wasValid.Message != nowValid.Message {
			r.recordValidity(policy, nowValid)
		}
		logger.V(1).Info("status updated", "valid", nowValid.Status, "next", status.NextTriggerTime)
	}
	if requeue > 0 {
		return ctrl.Result{RequeueAfter: requeue}, nil
	}
	return ctrl.Result{}, nil
}

// policyObject is either kind of policy, with its policy section and status.
type policyObject struct {
	client.Object
	item   *volsyncv1alpha1.SchedulePolicyItem
	status *volsyncv1alpha1.SchedulePolicyStatus
}

func (p policyObject) describe() string {
	if p.GetNamespace() != "" {
		return fmt.Sprintf("namespaced schedule policy %q", p.GetNamespace()+"/"+p.GetName())
	}
	return fmt.Sprintf("schedule policy %q", p.GetName())
}

func (r *Reconciler) recordValidity(policy policyObject, c *metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	if c.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(policy.Object, nil, "Normal", c.Reason, "Validate", "%s is valid", policy.describe())
		return
	}
	r.Recorder.Eventf(policy.Object, nil, "Warning", c.Reason, "Validate", "%s is invalid: %s", policy.describe(), c.Message)
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

// SetupWithManager registers the controller of each kind, SchedulePolicy and
// NamespacedSchedulePolicy. Status-only updates do not trigger a reconcile.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	cluster, namespaced := *r, *r
	cluster.namespaced, namespaced.namespaced = false, true
	if err := ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.SchedulePolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("schedulepolicy").
		Complete(&cluster); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&volsyncv1alpha1.NamespacedSchedulePolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("namespacedschedulepolicy").
		Complete(&namespaced)
}
