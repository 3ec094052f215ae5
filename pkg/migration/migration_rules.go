package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/rule"
)

// The hooks of spec.preExecRule and spec.postExecRule, as in Stork: the Rule of the given name is
// read from each migrated namespace and run in that namespace's pods. The PreExecRule stage runs
// before anything is copied; its background actions keep running, detached from volsyncd in the
// container, while the volumes are copied, and the PostExecRule stage, once they are copied,
// tells them to end and then runs the postExecRule. A run that fails or is deleted ends them in
// release. Every action started is in status.ruleActions before it starts, so any pass (the
// first after a restart of volsyncd, too) knows what to look at and what to end.

const (
	// ruleActionTimeout bounds one foreground action, and the wait of a background action for
	// its ${WAIT_CMD}: Stork's 900 seconds per pod.
	ruleActionTimeout = 900 * time.Second
	// ruleWaitPoll is how often a run whose background action has not reached ${WAIT_CMD} looks
	// again.
	ruleWaitPoll = 2 * time.Second
	// ruleEndWait is how long a pass waits for a background action it told to end to exit.
	ruleEndWait = 30 * time.Second
)

// ruleFailure is why a rule stage fails the run.
type ruleFailure struct{ reason, msg string }

func (run *migrationRun) ruleNameOf(stage volsyncv1alpha1.MigrationStage) string {
	if stage == volsyncv1alpha1.MigrationStagePostExecRule {
		return run.m.Spec.PostExecRule
	}
	return run.m.Spec.PreExecRule
}

// readRule reads the stage's Rule in namespace ns and checks it for the stage.
func (run *migrationRun) readRule(ctx context.Context, stage volsyncv1alpha1.MigrationStage, ns string) (*volsyncv1alpha1.Rule, *ruleFailure, error) {
	name := run.ruleNameOf(stage)
	field := "spec.preExecRule"
	if stage == volsyncv1alpha1.MigrationStagePostExecRule {
		field = "spec.postExecRule"
	}
	var r volsyncv1alpha1.Rule
	if err := run.r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &ruleFailure{ReasonRuleNotFound, fmt.Sprintf(
				"%s names Rule %q, which namespace %s does not have: a Migration runs the Rule of that name in each namespace it migrates; create it there, or drop %s",
				field, name, ns, field)}, nil
		}
		return nil, nil, fmt.Errorf("reading Rule %s/%s: %w", ns, name, err)
	}
	if err := rule.Check(&r, stage == volsyncv1alpha1.MigrationStagePostExecRule); err != nil {
		return nil, &ruleFailure{ReasonRuleInvalid, field + ": " + err.Error()}, nil
	}
	return &r, nil, nil
}

// rulePods are the running pods of ns that item's podSelector matches, in name order.
func (run *migrationRun) rulePods(ctx context.Context, ns string, r *volsyncv1alpha1.Rule, i int) ([]corev1.Pod, *ruleFailure, error) {
	item := r.Rules[i]
	var list corev1.PodList
	if err := run.r.APIReader.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels(item.PodSelector)); err != nil {
		return nil, nil, fmt.Errorf("listing the pods of Rule %s/%s: %w", ns, r.Name, err)
	}
	pods := rule.MatchingPods(list.Items, item.PodSelector)
	if len(pods) == 0 {
		return nil, &ruleFailure{ReasonRulePodsNotFound, fmt.Sprintf(
			"Rule %s/%s: rules[%d].podSelector %s matches no running pod in namespace %s (%d pod(s) have the labels, none running)",
			ns, r.Name, i, labelsString(item.PodSelector), ns, len(list.Items))}, nil
	}
	return pods, nil, nil
}

// checkRules is done once, before anything is copied: each Rule exists in every migrated
// namespace, can run in its stage, and each podSelector matches a running pod.
func (run *migrationRun) checkRules(ctx context.Context) (*ruleFailure, error) {
	for _, stage := range []volsyncv1alpha1.MigrationStage{volsyncv1alpha1.MigrationStagePreExecRule, volsyncv1alpha1.MigrationStagePostExecRule} {
		if run.ruleNameOf(stage) == "" {
			continue
		}
		for _, ns := range run.namespaces() {
			r, f, err := run.readRule(ctx, stage, ns)
			if f != nil || err != nil {
				return f, err
			}
			for i := range r.Rules {
				if _, f, err := run.rulePods(ctx, ns, r, i); f != nil || err != nil {
					return f, err
				}
			}
		}
	}
	return nil, nil
}

// ruleEntry finds the status entry of one action in one pod, or adds it.
func (run *migrationRun) ruleEntry(stage volsyncv1alpha1.MigrationStage, ns string, item, action int, pod *corev1.Pod, container string, background bool) *volsyncv1alpha1.MigrationRuleAction {
	st := &run.m.Status
	for k := range st.RuleActions {
		e := &st.RuleActions[k]
		if e.Stage == stage && e.Namespace == ns && int(e.Item) == item && int(e.Action) == action && e.Pod == pod.Name && e.PodUID == string(pod.UID) {
			return e
		}
	}
	st.RuleActions = append(st.RuleActions, volsyncv1alpha1.MigrationRuleAction{
		Stage: stage, Rule: run.ruleNameOf(stage), Item: int32(item), Action: int32(action),
		Namespace: ns, Pod: pod.Name, PodUID: string(pod.UID), Container: container,
		Background: background, Status: volsyncv1alpha1.RunStatusPending,
	})
	return &st.RuleActions[len(st.RuleActions)-1]
}

// runRule runs the stage's Rule in every migrated namespace, in order, skipping what an earlier
// pass finished. It says whether a background action is still on its way to ${WAIT_CMD} (come
// back later), or why the run fails.
func (run *migrationRun) runRule(ctx context.Context, stage volsyncv1alpha1.MigrationStage) (bool, *ruleFailure, error) {
	for _, ns := range run.namespaces() {
		r, f, err := run.readRule(ctx, stage, ns)
		if f != nil || err != nil {
			return false, f, err
		}
		for i, item := range r.Rules {
			matching, f, err := run.rulePods(ctx, ns, r, i)
			if f != nil || err != nil {
				return false, f, err
			}
			for j, action := range item.Actions {
				for _, pod := range rule.PodsForAction(action, matching) {
					e := run.ruleEntry(stage, ns, i, j, &pod, item.Container, action.Background)
					waiting, f, err := run.runAction(ctx, r, e, action, &pod)
					if f != nil || err != nil || waiting {
						return waiting, f, err
					}
				}
			}
		}
	}
	return false, nil, nil
}

// runAction takes one action in one pod as far as it goes.
func (run *migrationRun) runAction(ctx context.Context, r *volsyncv1alpha1.Rule, e *volsyncv1alpha1.MigrationRuleAction, action volsyncv1alpha1.RuleAction, pod *corev1.Pod) (bool, *ruleFailure, error) {
	where := fmt.Sprintf("Rule %s/%s rules[%d].actions[%d] in pod %s", r.Namespace, r.Name, e.Item, e.Action, pod.Name)
	fail := func(code *int32, output, why string) (bool, *ruleFailure, error) {
		e.Status, e.ExitCode, e.Output, e.Reason = volsyncv1alpha1.RunStatusFailed, code, output, why
		msg := where + ": " + why
		if output != "" {
			msg += "; output: " + output
		}
		return false, &ruleFailure{ReasonRuleFailed, msg}, nil
	}
	switch {
	case e.Status == volsyncv1alpha1.RunStatusSuccessful:
		return false, nil, nil
	case e.Status == volsyncv1alpha1.RunStatusFailed:
		return fail(e.ExitCode, e.Output, e.Reason)
	case !action.Background:
		actx, cancel := context.WithTimeout(ctx, ruleActionTimeout)
		out, code, err := run.r.Exec.Exec(actx, pod.Namespace, pod.Name, e.Container, rule.ForegroundCommand(action.Value))
		cancel()
		if ctx.Err() != nil {
			return false, nil, ctx.Err()
		}
		if err != nil {
			return fail(nil, rule.Tail(out, rule.OutputTailBytes), "could not run the command: "+err.Error())
		}
		c := int32(code)
		e.ExitCode = &c
		if code != 0 {
			return fail(&c, rule.Tail(out, rule.OutputTailBytes), fmt.Sprintf("the command exited with code %d", code))
		}
		e.Status = volsyncv1alpha1.RunStatusSuccessful
		return false, nil, run.checkpoint(ctx)
	}

	// A background action: recorded before it starts, so nothing started is ever forgotten.
	if e.Status == volsyncv1alpha1.RunStatusPending {
		t := metav1.NewTime(run.now())
		e.Status, e.StartTimestamp = volsyncv1alpha1.RunStatusInProgress, &t
		if err := run.checkpoint(ctx); err != nil {
			return false, nil, err
		}
	}
	task := rule.TaskID(string(run.m.UID), int(e.Item), int(e.Action), e.PodUID)
	out, code, err := run.r.Exec.Exec(ctx, pod.Namespace, pod.Name, e.Container, rule.StartCommand(task, action.Value))
	if err == nil && code != 0 {
		err = fmt.Errorf("the start script exited with code %d: %s", code, rule.Tail(out, 512))
	}
	if err != nil {
		e.Ended = true
		return fail(nil, "", "could not start the command in the background: "+err.Error())
	}
	out, _, err = run.r.Exec.Exec(ctx, pod.Namespace, pod.Name, e.Container, rule.StateCommand(task))
	if err != nil {
		return false, nil, fmt.Errorf("%s: reading the background command's state: %w", where, err)
	}
	state, err := rule.ParseState(out)
	if err != nil {
		return false, nil, fmt.Errorf("%s: %w", where, err)
	}
	switch state.Phase {
	case rule.PhaseReady:
		e.Reason = "running in the background, holding until the volumes are copied"
		return false, nil, nil
	case rule.PhaseExited:
		c := int32(state.ExitCode)
		e.Ended = true
		return fail(&c, state.Output, fmt.Sprintf("the background command exited with code %d before it reached %s", c, volsyncv1alpha1.RuleWaitPlaceholder))
	case rule.PhaseAbsent:
		e.Ended = true
		return fail(nil, "", "the background command's files are gone from the container: it restarted")
	}
	if e.StartTimestamp != nil && run.now().Sub(e.StartTimestamp.Time) > ruleActionTimeout {
		return fail(nil, "", fmt.Sprintf("the background command did not reach %s within %s", volsyncv1alpha1.RuleWaitPlaceholder, ruleActionTimeout))
	}
	e.Reason = "started; waiting for it to reach " + volsyncv1alpha1.RuleWaitPlaceholder
	return true, nil, nil
}

// endBackground tells every background action not yet ended to end, waits a little for each to
// exit, and records how it went. It returns why the run must fail when one had ended before it
// was told to (whatever it held, a lock, was not held for the whole copy). An exec that fails is
// returned, to be tried again by a later pass.
func (run *migrationRun) endBackground(ctx context.Context) (*ruleFailure, error) {
	var failures []string
	changed := false
	for k := range run.m.Status.RuleActions {
		e := &run.m.Status.RuleActions[k]
		if !e.Background || e.Ended {
			continue
		}
		changed = true
		where := fmt.Sprintf("Rule %s/%s rules[%d].actions[%d] in pod %s", e.Namespace, e.Rule, e.Item, e.Action, e.Pod)
		var pod corev1.Pod
		err := run.r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Pod}, &pod)
		if apierrors.IsNotFound(err) || (err == nil && string(pod.UID) != e.PodUID) {
			e.Ended, e.Status, e.Reason = true, volsyncv1alpha1.RunStatusFailed, "the pod went away while the copy ran, and the command with it"
			failures = append(failures, where+": "+e.Reason)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading pod %s/%s: %w", e.Namespace, e.Pod, err)
		}
		task := rule.TaskID(string(run.m.UID), int(e.Item), int(e.Action), e.PodUID)
		out, _, err := run.r.Exec.Exec(ctx, e.Namespace, e.Pod, e.Container, rule.EndCommand(task))
		if err != nil {
			return nil, fmt.Errorf("%s: telling the background command to end: %w", where, err)
		}
		state, err := rule.ParseState(out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		told := state.Told
		deadline := run.r.Clock.Now().Add(ruleEndWait)
		for told && state.Phase != rule.PhaseExited && run.r.Clock.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			if out, _, err = run.r.Exec.Exec(ctx, e.Namespace, e.Pod, e.Container, rule.StateCommand(task)); err != nil {
				break
			}
			if s, err := rule.ParseState(out); err == nil {
				state = s
			}
		}
		e.Ended = true
		switch {
		case state.Phase == rule.PhaseExited:
			c := int32(state.ExitCode)
			e.ExitCode = &c
			switch {
			case !told:
				e.Status, e.Output = volsyncv1alpha1.RunStatusFailed, state.Output
				e.Reason = fmt.Sprintf("the background command exited with code %d before the copy ended: what it held was not held for the whole copy", c)
			case c != 0:
				e.Status, e.Output = volsyncv1alpha1.RunStatusFailed, state.Output
				e.Reason = fmt.Sprintf("told to end, the background command exited with code %d", c)
			default:
				e.Status, e.Reason = volsyncv1alpha1.RunStatusSuccessful, "ended after the copy"
			}
		case state.Phase == rule.PhaseAbsent:
			e.Status, e.Reason = volsyncv1alpha1.RunStatusFailed, "the background command's files are gone from the container: it restarted while the copy ran"
		default:
			e.Status, e.Reason = volsyncv1alpha1.RunStatusSuccessful, fmt.Sprintf("told to end; still running %s later", ruleEndWait)
		}
		if e.Status == volsyncv1alpha1.RunStatusFailed {
			msg := where + ": " + e.Reason
			if e.Output != "" {
				msg += "; output: " + e.Output
			}
			failures = append(failures, msg)
		}
	}
	if !changed {
		return nil, nil
	}
	run.event(corev1.EventTypeNormal, ReasonRuleActionEnded, "the background actions of Rule %q were told to end", run.m.Spec.PreExecRule)
	log.FromContext(ctx).Info("background rule actions told to end", "rule", run.m.Spec.PreExecRule)
	if len(failures) > 0 {
		return &ruleFailure{ReasonRuleFailed, strings.Join(failures, "; ")}, nil
	}
	return nil, nil
}

// hasBackground says whether a background action is still to be ended.
func hasBackground(st *volsyncv1alpha1.MigrationStatus) bool {
	for _, e := range st.RuleActions {
		if e.Background && !e.Ended {
			return true
		}
	}
	return false
}

func labelsString(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return "{" + strings.Join(out, ",") + "}"
}
