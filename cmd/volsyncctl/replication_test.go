package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// running is a volsyncctl run in the background with a context the test cancels, and both of its
// outputs readable while it runs.
type running struct {
	out, errOut *testenv.SyncBuffer
	done        chan string // the error line, "" on success
	cancel      context.CancelFunc
}

func startRunning(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &testenv.SyncBuffer{}, errOut: &testenv.SyncBuffer{}, done: make(chan string, 1), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		a := newApp(r.out, r.errOut, false)
		a.root.SetArgs(args)
		var errLine bytes.Buffer
		if err := a.root.ExecuteContext(ctx); err != nil {
			cli.PrintError(&errLine, err)
		}
		r.done <- errLine.String()
	}()
	return r
}

// waitFor waits until buf holds text.
func waitFor(t *testing.T, what string, buf *testenv.SyncBuffer, text string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(buf.String(), text) {
			return fmt.Errorf("no %q on %s so far:\n%s", text, what, buf.String())
		}
		return nil
	})
}

// ended waits for the run to return and gives its error line.
func (r *running) ended(t *testing.T) string {
	t.Helper()
	select {
	case line := <-r.done:
		return line
	case <-time.After(20 * time.Second):
		t.Fatalf("the command did not return; it printed:\n%s\n%s", r.out.String(), r.errOut.String())
		return ""
	}
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// setReplicationStatus plays the replication controller, which does not run in these tests.
func setReplicationStatus(t *testing.T, c client.Client, obj client.Object, change func(*volsyncv1alpha1.ReplicationStatus)) {
	t.Helper()
	ctx := context.Background()
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	switch o := obj.(type) {
	case *volsyncv1alpha1.ReplicationSource:
		change(&o.Status.ReplicationStatus)
	case *volsyncv1alpha1.ReplicationDestination:
		change(&o.Status.ReplicationStatus)
	}
	if err := c.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

func synchronizing(st *volsyncv1alpha1.ReplicationStatus, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: volsyncv1alpha1.ConditionSynchronizing,
		Status: status, Reason: reason, Message: message})
}

// fields is a table line with its columns joined by single blanks.
func fields(line string) string { return strings.Join(strings.Fields(line), " ") }

func TestGetReplicationObjects(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	createNamespace(t, env.Client, "repl-get")
	createNamespace(t, env.Client, "repl-get-other")
	createNamespace(t, env.Client, "repl-get-empty")
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}
	src := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "repl-get"},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "db-data",
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/5 * * * *")},
			Rclone:  &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	fresh := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: "repl-get-other"},
		Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "web", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	dst := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "repl-get"},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "nightly", Manual: "final"},
			Rclone:  &volsyncv1alpha1.ReplicationDestinationRcloneSpec{}},
	}
	scheduled := metav1.NewTime(time.Date(2026, 1, 2, 22, 14, 0, 0, time.UTC))
	sync := &volsyncv1alpha1.ReplicationSync{
		ObjectMeta: metav1.ObjectMeta{Name: "db-daily-2026-01-02-221400", Namespace: "repl-get"},
		Spec: volsyncv1alpha1.ReplicationSyncSpec{Replication: volsyncv1alpha1.ReplicationRef{Kind: "ReplicationDestination", Name: "db"},
			PolicyType: volsyncv1alpha1.SchedulePolicyType("Daily"), ScheduledTime: scheduled},
	}
	createAll(t, env.Client, src, fresh, dst, sync)

	now := time.Now()
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.LastSyncTime = &metav1.Time{Time: now.Add(-5 * time.Minute)}
		st.LastSyncDuration = &metav1.Duration{Duration: 42 * time.Second}
		st.NextSyncTime = &metav1.Time{Time: now.Add(4*time.Minute + 30*time.Second)}
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultSuccessful}
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonWaitingForSchedule, "waiting for the next scheduled sync")
	})
	setReplicationStatus(t, env.Client, dst, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed}
		st.Progress = &volsyncv1alpha1.MoverProgress{BytesDone: 3 << 20, BytesTotal: 12 << 20, FilesDone: 7}
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, "sync started for the manual trigger")
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(dst), dst); err != nil {
		t.Fatal(err)
	}
	dst.Status.LatestImage = &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "db-snap-1"}
	if err := env.Client.Status().Update(ctx, dst); err != nil {
		t.Fatal(err)
	}

	lines := func(out string) []string { return strings.Split(strings.TrimRight(out, "\n"), "\n") }
	t.Run("sources: last sync as an age, duration, next sync, status, result", func(t *testing.T) {
		out, errLine := run("get", "replicationsource", "-n", "repl-get")
		l := lines(out)
		if errLine != "" || len(l) != 2 {
			t.Fatalf("out %q, error %q", out, errLine)
		}
		if fields(l[0]) != "NAME SOURCE LAST-SYNC DURATION NEXT-SYNC STATUS LAST-RESULT" {
			t.Errorf("header %q", l[0])
		}
		// The ages move on while the test runs: 5m ago may read 5m3s ago, in 4m30s may read in 4m27s.
		if got := fields(l[1]); !regexp.MustCompile(`^db db-data 5m([0-9]s)? ago 42s in 4m[0-9]+s WaitingForSchedule Successful$`).MatchString(got) {
			t.Errorf("row %q", l[1])
		}
	})
	t.Run("wide adds trigger, mover and progress", func(t *testing.T) {
		out, errLine := run("get", "repsrc", "db", "-n", "repl-get", "-o", "wide")
		l := lines(out)
		if errLine != "" || len(l) != 2 || !strings.HasSuffix(fields(l[0]), "TRIGGER MOVER PROGRESS") ||
			!strings.HasSuffix(fields(l[1]), "schedule=*/5_*_*_*_* rclone <none>") {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})
	t.Run("-A lists every namespace with a NAMESPACE column", func(t *testing.T) {
		out, errLine := run("get", "repsrc", "-A")
		if errLine != "" || !strings.HasPrefix(fields(out), "NAMESPACE NAME SOURCE") ||
			!strings.Contains(fields(out), "repl-get db db-data 5m") ||
			!strings.Contains(fields(out), "repl-get-other fresh web <none> <none> <none> <unknown> <none>") {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})
	t.Run("destinations show the latest image", func(t *testing.T) {
		out, errLine := run("get", "replicationdestination", "-n", "repl-get")
		l := lines(out)
		if errLine != "" || len(l) != 2 ||
			fields(l[0]) != "NAME LAST-SYNC DURATION NEXT-SYNC STATUS LAST-RESULT LATEST-IMAGE" ||
			fields(l[1]) != "db <none> <none> <none> SyncInProgress Failed db-snap-1" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
		out, errLine = run("get", "rd", "-n", "repl-get", "-o", "wide")
		if errLine != "" || !strings.HasSuffix(fields(lines(out)[1]),
			"VolumeSnapshot/db-snap-1 manual=final,policy=nightly rclone 3.0 MiB of 12.0 MiB (25%), 7 files") {
			t.Fatalf("wide: out %q, error %q", out, errLine)
		}
	})
	t.Run("syncs show owner, type, scheduled time and status", func(t *testing.T) {
		out, errLine := run("get", "repsync", "-n", "repl-get")
		l := lines(out)
		if errLine != "" || len(l) != 2 || fields(l[0]) != "NAME OWNER TYPE SCHEDULED STATUS DURATION" ||
			fields(l[1]) != "db-daily-2026-01-02-221400 ReplicationDestination/db Daily 2026-01-02T22:14:00Z Pending <none>" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})
	t.Run("-o json prints the object with its kind", func(t *testing.T) {
		out, errLine := run("get", "repdst", "db", "-n", "repl-get", "-o", "json")
		var got volsyncv1alpha1.ReplicationDestination
		if errLine != "" || json.Unmarshal([]byte(out), &got) != nil || got.Kind != "ReplicationDestination" ||
			got.Status.LatestImage == nil || got.Status.LatestImage.Name != "db-snap-1" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
		out, errLine = run("get", "repsrc", "-A", "-o", "yaml")
		if errLine != "" || !strings.Contains(out, "kind: ReplicationSourceList") || !strings.Contains(out, "name: fresh") {
			t.Fatalf("yaml list: out %q, error %q", out, errLine)
		}
	})
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"an empty namespace says so", "No replication sources found in namespace repl-get-empty.\n",
			[]string{"get", "repsrc", "-n", "repl-get-empty"}},
		{"no syncs says so", "No replication syncs found in namespace repl-get-empty.\n",
			[]string{"get", "replicationsyncs", "-n", "repl-get-empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, errLine := run(tc.args...); out != tc.want || errLine != "" {
				t.Fatalf("out %q, error %q", out, errLine)
			}
		})
	}
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"a missing source says how to list them",
			`error: replication source "nope" not found: list them with 'volsyncctl get replicationsource -n repl-get'` + "\n",
			[]string{"get", "repsrc", "nope", "-n", "repl-get"}},
		{"a missing destination says how to list them",
			`error: replication destination "nope" not found: list them with 'volsyncctl get replicationdestination -n repl-get'` + "\n",
			[]string{"get", "repdst", "nope", "-n", "repl-get"}},
		{"a name with -A is refused",
			"error: a replication sync cannot be fetched by name across all namespaces: drop -A or the name\n",
			[]string{"get", "repsync", "x", "-A"}},
		{"a bad output format lists the formats",
			"error: --output \"tabel\" is not supported: use table, wide, yaml or json\n",
			[]string{"get", "repsrc", "-o", "tabel"}},
		{"two names are refused",
			"error: volsyncctl get replicationsource takes one NAME, not 2: [\"a\" \"b\"]: pass one name, or none to list them all\n",
			[]string{"get", "repsrc", "a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if errLine != tc.want || out != "" {
				t.Fatalf("out %q, error %q; want error %q", out, errLine, tc.want)
			}
		})
	}
}

func TestGetWatchPrintsARowOnEachChange(t *testing.T) {
	env, kubeconfig := startCluster(t)
	createNamespace(t, env.Client, "repl-watch")
	src := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "repl-watch"},
		Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "db-data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	createAll(t, env.Client, src)

	w := startRunning(t, "--kubeconfig", kubeconfig, "get", "repsrc", "-n", "repl-watch", "-w")
	waitFor(t, "stdout", w.out, "<unknown>")
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, "sync started")
	})
	waitFor(t, "stdout", w.out, "SyncInProgress")
	other := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "repl-watch"},
		Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "web-data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	createAll(t, env.Client, other)
	waitFor(t, "stdout", w.out, "web-data")
	w.cancel()
	if errLine := w.ended(t); errLine != "" {
		t.Fatalf("the watch ended with %q", errLine)
	}
	l := strings.Split(strings.TrimRight(w.out.String(), "\n"), "\n")
	if len(l) != 4 || !strings.HasPrefix(l[0], "NAME ") || !strings.HasPrefix(l[1], "db ") ||
		!strings.Contains(fields(l[2]), "db db-data <none> <none> <none> SyncInProgress") || !strings.HasPrefix(l[3], "web ") {
		t.Fatalf("the watch printed:\n%s", w.out.String())
	}
	// The rows printed later line up under the header.
	if strings.Index(l[0], "STATUS") != strings.Index(l[2], "SyncInProgress") {
		t.Errorf("the new row does not line up:\n%s", w.out.String())
	}

	// Watching one object by name prints only its changes.
	one := startRunning(t, "--kubeconfig", kubeconfig, "get", "repsrc", "web", "-n", "repl-watch", "--watch")
	waitFor(t, "stdout", one.out, "web-data")
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonCleaningUp, "cleaning up")
	})
	setReplicationStatus(t, env.Client, other, func(st *volsyncv1alpha1.ReplicationStatus) {
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonWaitingForManual, "waiting")
	})
	waitFor(t, "stdout", one.out, "WaitingForManual")
	one.cancel()
	if errLine := one.ended(t); errLine != "" || strings.Contains(one.out.String(), "CleaningUp") {
		t.Fatalf("watching web printed %q, error %q", one.out.String(), errLine)
	}
}

// triggerSource creates a scheduled source in its own namespace.
func triggerSource(t *testing.T, env *testenv.Env, ns string) *volsyncv1alpha1.ReplicationSource {
	t.Helper()
	createNamespace(t, env.Client, ns)
	src := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "db-data",
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("0 2 * * *")},
			Rclone:  &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	createAll(t, env.Client, src)
	return src
}

// manualOf waits until spec.trigger.manual of obj is set and returns it.
func manualOf(t *testing.T, c client.Client, obj client.Object) string {
	t.Helper()
	value := ""
	testenv.Eventually(t, 15*time.Second, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		var trigger *volsyncv1alpha1.ReplicationTriggerSpec
		switch o := obj.(type) {
		case *volsyncv1alpha1.ReplicationSource:
			trigger = o.Spec.Trigger
		case *volsyncv1alpha1.ReplicationDestination:
			trigger = o.Spec.Trigger
		}
		if trigger == nil || trigger.Manual == "" {
			return fmt.Errorf("no manual trigger on %s yet", obj.GetName())
		}
		value = trigger.Manual
		return nil
	})
	return value
}

func fastTriggerPolls(t *testing.T) {
	t.Helper()
	was := triggerPollInterval
	triggerPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { triggerPollInterval = was })
}

func TestTriggerWaitsForTheManualSync(t *testing.T) {
	env, kubeconfig := startCluster(t)
	fastTriggerPolls(t)
	src := triggerSource(t, env, "trigger-ok")

	r := startRunning(t, "--kubeconfig", kubeconfig, "-n", "trigger-ok", "trigger", "repsrc", "db", "--restore-schedule", "--timeout", "1m")
	value := manualOf(t, env.Client, src)
	if _, err := time.Parse(time.RFC3339, value); err != nil {
		t.Fatalf("spec.trigger.manual is %q, not an RFC 3339 time", value)
	}
	if src.Spec.Trigger.Schedule == nil || *src.Spec.Trigger.Schedule != "0 2 * * *" {
		t.Fatalf("the trigger lost its schedule: %+v", src.Spec.Trigger)
	}
	waitFor(t, "stdout", r.out, "replicationsource/db triggered (spec.trigger.manual: "+value+")")

	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, "sync started for the manual trigger")
		st.Progress = &volsyncv1alpha1.MoverProgress{BytesDone: 512 << 10, BytesTotal: 2 << 20, FilesDone: 3}
	})
	waitFor(t, "stderr", r.errOut, "replicationsource/db: SyncInProgress: sync started for the manual trigger; 512.0 KiB of 2.0 MiB (25%), 3 files\n")
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.Progress = &volsyncv1alpha1.MoverProgress{BytesDone: 2 << 20, BytesTotal: 2 << 20, FilesDone: 9}
	})
	waitFor(t, "stderr", r.errOut, "2.0 MiB of 2.0 MiB (100%), 9 files\n")
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.LastManualSync = value
		st.LastSyncDuration = &metav1.Duration{Duration: 75 * time.Second}
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonCleaningUp, "sync completed in 1m15s; cleaning up")
	})
	if errLine := r.ended(t); errLine != "" {
		t.Fatalf("trigger failed: %s\nstderr:\n%s", errLine, r.errOut.String())
	}
	wantOut := "replicationsource/db triggered (spec.trigger.manual: " + value + ")\n" +
		"replicationsource/db synced in 1m15s\n" +
		"replicationsource/db: manual trigger removed; the schedule \"0 2 * * *\" resumes\n"
	if r.out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.out.String(), wantOut)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatal(err)
	}
	if src.Spec.Trigger == nil || src.Spec.Trigger.Manual != "" || src.Spec.Trigger.Schedule == nil || *src.Spec.Trigger.Schedule != "0 2 * * *" {
		t.Fatalf("after --restore-schedule the trigger is %+v; want the schedule alone", src.Spec.Trigger)
	}

	// Without --restore-schedule the manual value stays, as for a final sync before a failover,
	// and a second trigger uses a new value.
	r = startRunning(t, "--kubeconfig", kubeconfig, "-n", "trigger-ok", "trigger", "replicationsource", "db")
	second := ""
	testenv.Eventually(t, 15*time.Second, func() error {
		if second = manualOf(t, env.Client, src); second == value {
			return fmt.Errorf("the second trigger reused %q", value)
		}
		return nil
	})
	setReplicationStatus(t, env.Client, src, func(st *volsyncv1alpha1.ReplicationStatus) { st.LastManualSync = second })
	if errLine := r.ended(t); errLine != "" {
		t.Fatalf("second trigger failed: %s", errLine)
	}
	if got := manualOf(t, env.Client, src); got != second {
		t.Fatalf("the manual value is %q after the sync, want %q kept", got, second)
	}
}

func TestTriggerReportsAFailedSync(t *testing.T) {
	env, kubeconfig := startCluster(t)
	fastTriggerPolls(t)
	createNamespace(t, env.Client, "trigger-fail")
	dst := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "trigger-fail"},
		Spec:       volsyncv1alpha1.ReplicationDestinationSpec{Rclone: &volsyncv1alpha1.ReplicationDestinationRcloneSpec{}},
	}
	createAll(t, env.Client, dst)
	// A failure from before the trigger is not this sync's.
	setReplicationStatus(t, env.Client, dst, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.ConsecutiveFailures = 1
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: "old failure"}
	})

	r := startRunning(t, "--kubeconfig", kubeconfig, "-n", "trigger-fail", "trigger", "repdst", "db")
	manualOf(t, env.Client, dst)
	setReplicationStatus(t, env.Client, dst, func(st *volsyncv1alpha1.ReplicationStatus) {
		synchronizing(st, metav1.ConditionTrue, volsyncv1alpha1.ReasonSyncInProgress, "sync started for the manual trigger (attempt 2)")
	})
	waitFor(t, "stderr", r.errOut, "(attempt 2)")
	select {
	case line := <-r.done:
		t.Fatalf("the earlier failure ended the wait: %q", line)
	default:
	}
	retry := metav1.NewTime(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC))
	setReplicationStatus(t, env.Client, dst, func(st *volsyncv1alpha1.ReplicationStatus) {
		st.ConsecutiveFailures = 2
		st.NextRetryTime = &retry
		st.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed,
			Logs: "Transferred: 0 B\nERROR : Failed to copy: bucket \"backups\" does not exist"}
		synchronizing(st, metav1.ConditionFalse, volsyncv1alpha1.ReasonCleaningUp, "mover failed; cleaning up")
	})
	want := `error: the sync of replicationdestination/db failed: ERROR : Failed to copy: bucket "backups" does not exist: ` +
		`volsyncd retries it from 2026-12-02T16:00:00Z; see 'kubectl describe replicationdestination db -n trigger-fail'` + "\n"
	if errLine := r.ended(t); errLine != want {
		t.Fatalf("error line %q\nwant %q", errLine, want)
	}
}

func TestTriggerGivesUpAtTheTimeout(t *testing.T) {
	env, kubeconfig := startCluster(t)
	fastTriggerPolls(t)
	src := triggerSource(t, env, "trigger-timeout")
	start := time.Now()
	out, errLine := execute(t, false, "--kubeconfig", kubeconfig, "-n", "trigger-timeout", "trigger", "repsrc", "db", "--timeout", "500ms", "--restore-schedule")
	want := "error: the sync of replicationsource/db did not finish within 500ms: it goes on in the cluster; " +
		"follow it with 'volsyncctl get replicationsource db -n trigger-timeout -w'\n"
	if errLine != want || !strings.HasPrefix(out, "replicationsource/db triggered") {
		t.Fatalf("out %q, error %q; want %q", out, errLine, want)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the timeout of 500ms took %s", took)
	}
	// The trigger stays: the sync goes on, even with --restore-schedule.
	manualOf(t, env.Client, src)
}

func TestTriggerStopsWhenSomeoneElseChangesTheTrigger(t *testing.T) {
	env, kubeconfig := startCluster(t)
	fastTriggerPolls(t)
	src := triggerSource(t, env, "trigger-raced")
	r := startRunning(t, "--kubeconfig", kubeconfig, "-n", "trigger-raced", "trigger", "repsrc", "db")
	value := manualOf(t, env.Client, src)
	src.Spec.Trigger.Manual = "final-sync"
	if err := env.Client.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	want := `error: spec.trigger.manual of replicationsource/db was changed to "final-sync" while waiting for the sync of "` + value +
		`": someone else triggers it; follow it with 'volsyncctl get replicationsource db -n trigger-raced -w'` + "\n"
	if errLine := r.ended(t); errLine != want {
		t.Fatalf("error line %q\nwant %q", errLine, want)
	}
}

func TestTriggerRefusesBadInput(t *testing.T) {
	env, kubeconfig := startCluster(t)
	createNamespace(t, env.Client, "trigger-bad")
	paused := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "paused", Namespace: "trigger-bad"},
		Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Paused: true, Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{}},
	}
	createAll(t, env.Client, paused)
	before := paused.ResourceVersion
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"a missing source says how to list them",
			`error: replication source "nope" not found: list them with 'volsyncctl get replicationsource -n trigger-bad'`,
			[]string{"trigger", "repsrc", "nope"}},
		{"a missing destination says how to list them",
			`error: replication destination "nope" not found: list them with 'volsyncctl get replicationdestination -n trigger-bad'`,
			[]string{"trigger", "replicationdestination", "nope"}},
		{"a paused source says how to unpause it",
			`error: replication source "paused" in namespace "trigger-bad" is paused: a manual trigger would not run: clear spec.paused first: kubectl patch replicationsource paused -n trigger-bad --type merge -p '{"spec":{"paused":false}}'`,
			[]string{"trigger", "repsrc", "paused"}},
		{"--restore-schedule without waiting is refused",
			`error: --restore-schedule needs --wait: the manual trigger is removed once the sync finished: drop --wait=false or --restore-schedule`,
			[]string{"trigger", "repsrc", "paused", "--wait=false", "--restore-schedule"}},
		{"a negative timeout is refused",
			`error: --timeout -1m0s is negative: pass a duration such as 10m, or 0 to wait as long as it takes`,
			[]string{"trigger", "repsrc", "paused", "--timeout=-1m"}},
		{"a bad timeout names the flag",
			`error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon": see 'volsyncctl trigger replicationsource --help'`,
			[]string{"trigger", "repsrc", "paused", "--timeout", "soon"}},
		{"no name is refused",
			`error: volsyncctl trigger replicationsource needs the NAME of the object: see 'volsyncctl trigger replicationsource --help'`,
			[]string{"trigger", "repsrc"}},
		{"an unknown kind names the verb's help",
			`error: unknown command "replicationsorce" for "volsyncctl trigger" (did you mean "replicationsource"?): run 'volsyncctl trigger --help' for the list of commands`,
			[]string{"trigger", "replicationsorce", "db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := execute(t, false, append([]string{"--kubeconfig", kubeconfig, "-n", "trigger-bad"}, tc.args...)...)
			if errLine != tc.want+"\n" || out != "" {
				t.Fatalf("out %q, error %q\nwant %q", out, errLine, tc.want)
			}
		})
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(paused), paused); err != nil {
		t.Fatal(err)
	}
	if paused.ResourceVersion != before || paused.Spec.Trigger != nil {
		t.Fatalf("a refused trigger changed the source: %+v", paused.Spec.Trigger)
	}
}
