package rule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// OutputTailBytes is how much of a command's output a status keeps: the end, where a failing
// command says why.
const OutputTailBytes = 2048

// Check refuses what a Rule may not do in a stage: an action type other than command (admission
// refuses it too, but a Rule stored before that is not), and a background action in a
// postExecRule, which nothing would end, as in Stork.
func Check(r *volsyncv1alpha1.Rule, post bool) error {
	for i, item := range r.Rules {
		for j, a := range item.Actions {
			if a.Type != volsyncv1alpha1.RuleActionCommand {
				return fmt.Errorf("rule %s/%s: rules[%d].actions[%d].type is %q; the only type is %q",
					r.Namespace, r.Name, i, j, a.Type, volsyncv1alpha1.RuleActionCommand)
			}
			if a.Background && post {
				return fmt.Errorf("rule %s/%s: rules[%d].actions[%d] is a background action, which a postExecRule may not have: nothing would end it",
					r.Namespace, r.Name, i, j)
			}
			if a.Background && !strings.Contains(a.Value, volsyncv1alpha1.RuleWaitPlaceholder) {
				return fmt.Errorf("rule %s/%s: rules[%d].actions[%d] is a background action without %s, where it waits for the copy to end",
					r.Namespace, r.Name, i, j, volsyncv1alpha1.RuleWaitPlaceholder)
			}
		}
	}
	return nil
}

// MatchingPods are the pods an item's podSelector chooses: running, not being deleted, with all
// the selector's labels, in name order. A pod that has finished or not yet started has no
// process to run a command in.
func MatchingPods(pods []corev1.Pod, selector map[string]string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil || !hasLabels(p.Labels, selector) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// PodsForAction are the pods one action runs in: all the matching pods, or with runInSinglePod
// the first of them.
func PodsForAction(a volsyncv1alpha1.RuleAction, matching []corev1.Pod) []corev1.Pod {
	if a.RunInSinglePod && len(matching) > 1 {
		return matching[:1]
	}
	return matching
}

func hasLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Tail is the end of a command's output, at most max bytes, cut at a line start when one is
// near, and never inside a UTF-8 character.
func Tail(output string, max int) string {
	output = strings.TrimRight(output, "\n")
	if len(output) <= max {
		return output
	}
	cut := len(output) - max
	for cut < len(output) && !isRuneStart(output[cut]) {
		cut++
	}
	tail := output[cut:]
	if nl := strings.IndexByte(tail, '\n'); nl >= 0 && nl < len(tail)/4 {
		tail = tail[nl+1:]
	}
	return "..." + tail
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// TaskID names the files of one background action in one pod: a hash of the run's UID, the
// action's place in the Rule and the pod's UID. The same run always finds the same files, so a
// volsyncd that restarts ends what the one before it started.
func TaskID(runUID string, item, action int, podUID string) string {
	sum := sha256.Sum256([]byte(runUID + "/" + strconv.Itoa(item) + "/" + strconv.Itoa(action) + "/" + podUID))
	return hex.EncodeToString(sum[:])[:16]
}

// Dir is where a background action keeps its files in the container.
func Dir(task string) string { return "/tmp/volsync-rule-" + task }

// The scripts below run with `sh -c SCRIPT volsync-rule ARG...`, so what a user wrote is an
// argument, never part of the script's text, and needs no quoting.

// startScript starts a background command detached from the exec stream, with its output in a
// log and its exit code in a file, and returns at once. The command's ${WAIT_CMD} becomes the
// path of a script that marks the command ready and then waits until the end file appears. It
// does nothing when the task was started before (a pass after a restart).
const startScript = `d="$1"
[ -e "$d/pid" ] && exit 0
mkdir -p "$d" || exit 1
printf '#!/bin/sh\ntouch "%s/ready"\nwhile [ ! -e "%s/end" ]; do sleep 1; done\n' "$d" "$d" > "$d/wait" || exit 1
chmod +x "$d/wait" || exit 1
( sh -c "$2" </dev/null >"$d/log" 2>&1; echo $? >"$d/exit" ) </dev/null >/dev/null 2>&1 &
echo $! > "$d/pid"
`

// stateScript prints where a background command stands: "exited CODE" and its log's tail,
// "ready", "started" or "absent" (never started, or the container restarted since, which took
// /tmp and the process with it).
const stateScript = `d="$1"
if [ -e "$d/exit" ]; then echo "exited $(cat "$d/exit")"; tail -c ` + "2048" + ` "$d/log" 2>/dev/null
elif [ -e "$d/ready" ]; then echo ready
elif [ -e "$d/pid" ]; then echo started
else echo absent; fi
`

// endScript tells a background command to end by creating its end file, then prints its state
// as stateScript does. A command that exited before it was told to has lost its hold (a lock)
// while the copy ran: the state says so, "exited CODE" with no "told".
const endScript = `d="$1"
if [ -e "$d/pid" ] && [ ! -e "$d/exit" ]; then touch "$d/end"; echo told; fi
` + stateScript

// StartCommand is the command that starts background action value as task, with its
// ${WAIT_CMD} replaced by the wait script's path.
func StartCommand(task, value string) []string {
	value = strings.ReplaceAll(value, volsyncv1alpha1.RuleWaitPlaceholder, Dir(task)+"/wait")
	return []string{"sh", "-c", startScript, "volsync-rule", Dir(task), value}
}

// StateCommand is the command that reports task's state.
func StateCommand(task string) []string {
	return []string{"sh", "-c", stateScript, "volsync-rule", Dir(task)}
}

// EndCommand is the command that tells task to end and reports its state.
func EndCommand(task string) []string {
	return []string{"sh", "-c", endScript, "volsync-rule", Dir(task)}
}

// ForegroundCommand is the command that runs action value and waits for it.
func ForegroundCommand(value string) []string {
	return []string{"sh", "-c", value}
}

// State is where a background command stands, read from stateScript's or endScript's output.
type State struct {
	// Told is true when this call told the command to end.
	Told bool
	// Phase is Absent, Started, Ready or Exited.
	Phase Phase
	// ExitCode is the command's, when it exited.
	ExitCode int
	// Output is the tail of its log, when it exited.
	Output string
}

// Phase is a background command's step.
type Phase string

// The phases of a background command.
const (
	PhaseAbsent  Phase = "absent"
	PhaseStarted Phase = "started"
	PhaseReady   Phase = "ready"
	PhaseExited  Phase = "exited"
)

// ParseState reads stateScript's or endScript's output.
func ParseState(out string) (State, error) {
	var s State
	rest := out
	line, rest, _ := strings.Cut(rest, "\n")
	if line == "told" {
		s.Told = true
		line, rest, _ = strings.Cut(rest, "\n")
	}
	word, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch Phase(word) {
	case PhaseAbsent, PhaseStarted, PhaseReady:
		s.Phase = Phase(word)
	case PhaseExited:
		code, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil {
			return s, fmt.Errorf("reading a background command's exit code from %q: %w", line, err)
		}
		s.Phase, s.ExitCode, s.Output = PhaseExited, code, Tail(rest, OutputTailBytes)
	default:
		return s, fmt.Errorf("unexpected answer from the container: %q", Tail(out, 200))
	}
	return s, nil
}
