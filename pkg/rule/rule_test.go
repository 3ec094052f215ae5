package rule

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func pod(name string, phase corev1.PodPhase, labels map[string]string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Status: corev1.PodStatus{Phase: phase}}
}

func names(pods []corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestMatchingPods(t *testing.T) {
	app := map[string]string{"app": "db"}
	deleting := pod("db-2", corev1.PodRunning, app)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	for _, tc := range []struct {
		name     string
		pods     []corev1.Pod
		selector map[string]string
		want     string
	}{
		{"running pods with every label match, in name order",
			[]corev1.Pod{pod("db-1", corev1.PodRunning, map[string]string{"app": "db", "tier": "x"}), pod("db-0", corev1.PodRunning, app)}, app, "db-0,db-1"},
		{"a pod missing a label does not match", []corev1.Pod{pod("web", corev1.PodRunning, map[string]string{"app": "web"})}, app, ""},
		{"a pending pod has no process to run in", []corev1.Pod{pod("db-0", corev1.PodPending, app)}, app, ""},
		{"a finished pod does not match", []corev1.Pod{pod("db-0", corev1.PodSucceeded, app), pod("db-1", corev1.PodFailed, app)}, app, ""},
		{"a pod being deleted does not match", []corev1.Pod{deleting}, app, ""},
		{"every label of the selector must match", []corev1.Pod{pod("db-0", corev1.PodRunning, app)}, map[string]string{"app": "db", "role": "primary"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(MatchingPods(tc.pods, tc.selector)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodsForAction(t *testing.T) {
	three := []corev1.Pod{pod("a", corev1.PodRunning, nil), pod("b", corev1.PodRunning, nil), pod("c", corev1.PodRunning, nil)}
	for _, tc := range []struct {
		name   string
		action volsyncv1alpha1.RuleAction
		pods   []corev1.Pod
		want   string
	}{
		{"an action runs in every matching pod", volsyncv1alpha1.RuleAction{}, three, "a,b,c"},
		{"runInSinglePod runs in the first pod by name only", volsyncv1alpha1.RuleAction{RunInSinglePod: true}, three, "a"},
		{"runInSinglePod with no pod runs nowhere", volsyncv1alpha1.RuleAction{RunInSinglePod: true}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(PodsForAction(tc.action, tc.pods)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	long := strings.Repeat("x", 100) + "\nlast line\n"
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short output is kept whole, without its final newline", "error: no such table\n", 100, "error: no such table"},
		{"long output keeps its end, from a line start when one is near", long, 12, "...last line"},
		{"a cut never splits a UTF-8 character", "ééééé", 5, "...éé"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Tail(tc.in, tc.max); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	rule := func(a volsyncv1alpha1.RuleAction) *volsyncv1alpha1.Rule {
		return &volsyncv1alpha1.Rule{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "app"},
			Rules: []volsyncv1alpha1.RuleItem{{PodSelector: map[string]string{"a": "b"}, Actions: []volsyncv1alpha1.RuleAction{a}}}}
	}
	bg := volsyncv1alpha1.RuleAction{Type: "command", Value: "flock /l -c ${WAIT_CMD}", Background: true}
	for _, tc := range []struct {
		name    string
		r       *volsyncv1alpha1.Rule
		post    bool
		wantErr string
	}{
		{"a command runs in either stage", rule(volsyncv1alpha1.RuleAction{Type: "command", Value: "sync"}), true, ""},
		{"a background action runs in a preExecRule", rule(bg), false, ""},
		{"a background action in a postExecRule is refused, as in Stork", rule(bg), true, "a postExecRule may not have"},
		{"a background action without ${WAIT_CMD} is refused", rule(volsyncv1alpha1.RuleAction{Type: "command", Value: "sleep 9", Background: true}), false, "without ${WAIT_CMD}"},
		{"an unknown type is refused", rule(volsyncv1alpha1.RuleAction{Type: "http", Value: "x"}), false, `type is "http"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.r, tc.post)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      State
	}{
		{"a command on its way", "started\n", State{Phase: PhaseStarted}},
		{"a command at ${WAIT_CMD} told to end", "told\nready\n", State{Told: true, Phase: PhaseReady}},
		{"an exited command with its code and log", "exited 3\nboom\n", State{Phase: PhaseExited, ExitCode: 3, Output: "boom"}},
		{"a container that lost its files", "absent\n", State{Phase: PhaseAbsent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseState(tc.out)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := ParseState("sh: not found"); err == nil {
		t.Fatal("an answer that is no state was read as one")
	}
}

// localShell runs the scripts with this machine's sh, as a container's sh would: the scripts'
// behaviour (detaching, the ready and end files, the exit code) is the same.
type localShell struct{}

func (localShell) Exec(ctx context.Context, _, _, _ string, command []string) (string, int, error) {
	out, err := exec.CommandContext(ctx, command[0], command[1:]...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	return string(out), 0, err
}

// TestBackgroundActionLifecycle starts a background command that holds a flock until it is told
// to end, checks that it is detached (the start returns at once) and holds the lock, then ends it
// and checks that the lock is free and its process gone.
func TestBackgroundActionLifecycle(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock not installed")
	}
	ctx := context.Background()
	task := TaskID("uid-"+t.Name(), 0, 0, "pod")
	t.Cleanup(func() { _ = os.RemoveAll(Dir(task)) })
	lock := filepath.Join(t.TempDir(), "lock")
	sh := localShell{}
	state := func(cmd []string) State {
		t.Helper()
		out, _, err := sh.Exec(ctx, "", "", "", cmd)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseState(out)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	poll := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if out, code, err := sh.Exec(ctx, "", "", "", StartCommand(task, "flock "+lock+" -c ${WAIT_CMD}")); err != nil || code != 0 {
		t.Fatalf("start: %q %d %v", out, code, err)
	}
	// Starting again (a pass after a restart) does not start a second one.
	if _, code, _ := sh.Exec(ctx, "", "", "", StartCommand(task, "flock "+lock+" -c ${WAIT_CMD}")); code != 0 {
		t.Fatalf("a second start exited %d", code)
	}
	poll("the command to reach ${WAIT_CMD}", func() bool { return state(StateCommand(task)).Phase == PhaseReady })
	if err := exec.Command("flock", "-n", lock, "true").Run(); err == nil {
		t.Fatal("the lock is free while the background command should hold it")
	}
	if s := state(EndCommand(task)); !s.Told {
		t.Fatalf("end did not tell the command: %+v", s)
	}
	poll("the command to exit", func() bool { return state(StateCommand(task)).Phase == PhaseExited })
	if s := state(StateCommand(task)); s.ExitCode != 0 {
		t.Fatalf("exit code %d, output %q", s.ExitCode, s.Output)
	}
	if err := exec.Command("flock", "-n", lock, "true").Run(); err != nil {
		t.Fatalf("the lock is still held after the end: %v", err)
	}
	if s := state(EndCommand(task)); s.Told || s.Phase != PhaseExited {
		t.Fatalf("ending an ended command again: %+v", s)
	}
}
