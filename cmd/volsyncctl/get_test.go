package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestGetClusterPair(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	const ns = "cp-get"
	migrationFixtures(t, env.Client, ns, "remotecluster", "broken", "new")
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	}
	setPair := func(name string, status volsyncv1alpha1.ClusterPairStatus) {
		t.Helper()
		var cp volsyncv1alpha1.ClusterPair
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cp); err != nil {
			t.Fatal(err)
		}
		cp.Status = status
		if err := env.Client.Status().Update(ctx, &cp); err != nil {
			t.Fatal(err)
		}
	}
	checked := metav1.NewTime(time.Now().Add(-2 * time.Minute))
	ok := volsyncv1alpha1.ClusterPairStatus{ServerVersion: "v1.31.2", LastCheckTime: &checked}
	meta.SetStatusCondition(&ok.Conditions, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: volsyncv1alpha1.ReasonConnected, Message: "connected to v1.31.2"})
	setPair("remotecluster", ok)
	bad := volsyncv1alpha1.ClusterPairStatus{LastCheckTime: &checked}
	meta.SetStatusCondition(&bad.Conditions, metav1.Condition{Type: volsyncv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: volsyncv1alpha1.ReasonSecretNotFound, Message: `Secret "broken-kubeconfig" not found`})
	setPair("broken", bad)

	var created volsyncv1alpha1.ClusterPair
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "new"}, &created); err != nil {
		t.Fatal(err)
	}
	at := created.CreationTimestamp.UTC().Format(time.RFC3339)
	out, errLine := run("get", "clusterpair")
	want := []string{
		"NAME READY SERVER-VERSION LAST-CHECK CREATED",
		"broken False <none> 2m ago " + at,
		"new Unknown <none> <none> " + at,
		"remotecluster True v1.31.2 2m ago " + at,
	}
	// The three were created within the same second or two; compare all but the time.
	created2 := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if errLine != "" || len(got) != len(want) {
		t.Fatalf("out %q, error %q", out, errLine)
	}
	for i := range want {
		if created2.ReplaceAllString(fields(got[i]), "T") != created2.ReplaceAllString(want[i], "T") {
			t.Errorf("line %d is %q, want %q", i, got[i], want[i])
		}
	}
	out, errLine = run("get", "cp", "broken", "-o", "wide")
	if errLine != "" || !strings.HasSuffix(fields(out), `SecretNotFound broken-kubeconfig Secret "broken-kubeconfig" not found`) ||
		!strings.HasPrefix(fields(out), "NAME READY SERVER-VERSION LAST-CHECK CREATED REASON SECRET MESSAGE") {
		t.Fatalf("wide: out %q, error %q", out, errLine)
	}
	out, errLine = run("get", "clusterpairs", "remotecluster", "-o", "json")
	var cp volsyncv1alpha1.ClusterPair
	if errLine != "" || json.Unmarshal([]byte(out), &cp) != nil || cp.Kind != "ClusterPair" || cp.Status.ServerVersion != "v1.31.2" {
		t.Fatalf("json: out %q, error %q", out, errLine)
	}
	out, errLine = run("get", "clusterpair", "nope")
	if out != "" || errLine != `error: cluster pair "nope" not found: list them with 'volsyncctl get clusterpair -n cp-get'`+"\n" {
		t.Fatalf("missing: out %q, error %q", out, errLine)
	}
	out, errLine = execute(t, false, "--kubeconfig", kubeconfig, "get", "clusterpair", "-A")
	if errLine != "" || !strings.HasPrefix(fields(out), "NAMESPACE NAME READY") || !strings.Contains(fields(out), "cp-get remotecluster True v1.31.2") {
		t.Fatalf("-A: out %q, error %q", out, errLine)
	}
}

func TestGetFiltersByClusterPair(t *testing.T) {
	env, kubeconfig := startCluster(t)
	const ns = "get-by-pair"
	migrationFixtures(t, env.Client, ns, "remotecluster", "elsewhere")
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	}
	schedule := func(name, pair string) *volsyncv1alpha1.MigrationSchedule {
		return &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: volsyncv1alpha1.MigrationScheduleSpec{SchedulePolicyName: "p",
				Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{ClusterPair: pair, Namespaces: []string{"app"}}}}}
	}
	migration := func(name, pair string) *volsyncv1alpha1.Migration {
		return &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: volsyncv1alpha1.MigrationSpec{ClusterPair: pair, Namespaces: []string{"app"}}}
	}
	createAll(t, env.Client, schedule("to-remote", "remotecluster"), schedule("to-elsewhere", "elsewhere"),
		migration("once-remote", "remotecluster"), migration("once-elsewhere", "elsewhere"))

	names := func(out string) string {
		var n []string
		for _, r := range rows(out)[1:] {
			n = append(n, r[0])
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"get migrationschedule -c", "to-remote", []string{"get", "migrationschedule", "-c", "remotecluster"}},
		{"get migrationschedule --cluster-pair", "to-elsewhere", []string{"get", "migsched", "--cluster-pair", "elsewhere"}},
		{"get migration -c", "once-remote", []string{"get", "migration", "-c", "remotecluster"}},
		{"storkctl's --clusterPair", "once-elsewhere", []string{"get", "migrations", "--clusterPair", "elsewhere"}},
		{"no filter lists both", "once-elsewhere,once-remote", []string{"get", "migration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if errLine != "" || names(out) != tc.want {
				t.Fatalf("out %q, error %q; want %s", out, errLine, tc.want)
			}
		})
	}
	t.Run("-c with -o json filters the list too", func(t *testing.T) {
		out, errLine := run("get", "migration", "-c", "remotecluster", "-o", "json")
		var list volsyncv1alpha1.MigrationList
		if errLine != "" || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 1 || list.Items[0].Name != "once-remote" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"a pair with nothing says so", "No migrations found in namespace get-by-pair for cluster pair nowhere.\n",
			[]string{"get", "migration", "-c", "nowhere"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, errLine := run(tc.args...); out != tc.want || errLine != "" {
				t.Fatalf("out %q, error %q", out, errLine)
			}
		})
	}
	t.Run("-c with a name is refused", func(t *testing.T) {
		out, errLine := run("get", "migration", "once-remote", "-c", "remotecluster")
		if out != "" || errLine != `error: -c remotecluster filters a list; it cannot go with the name "once-remote": drop -c or the name`+"\n" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})

	// -w with -c prints the changes of that pair's migrations only.
	w := startRunning(t, "--kubeconfig", kubeconfig, "-n", ns, "get", "migration", "-c", "remotecluster", "-w")
	waitFor(t, "stdout", w.out, "once-remote")
	setMigrationStatus(t, env.Client, ns, "once-elsewhere", volsyncv1alpha1.MigrationStatus{Stage: volsyncv1alpha1.MigrationStageFinal, Status: volsyncv1alpha1.RunStatusFailed})
	setMigrationStatus(t, env.Client, ns, "once-remote", volsyncv1alpha1.MigrationStatus{Stage: volsyncv1alpha1.MigrationStageFinal, Status: volsyncv1alpha1.RunStatusSuccessful})
	waitFor(t, "stdout", w.out, "Successful")
	w.cancel()
	if errLine := w.ended(t); errLine != "" || strings.Contains(w.out.String(), "once-elsewhere") || len(rows(w.out.String())) != 3 {
		t.Fatalf("watch printed %q, error %q", w.out.String(), errLine)
	}
}

func TestGetSchedulePolicyWatch(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	p := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "watched"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "1:00AM"}}}
	createAll(t, env.Client, p)
	t.Cleanup(func() { _ = env.Client.Delete(ctx, p) })
	w := startRunning(t, "--kubeconfig", kubeconfig, "get", "schedulepolicy", "watched", "-w")
	waitFor(t, "stdout", w.out, "1:00AM")
	p.Policy.Weekly = &volsyncv1alpha1.WeeklyPolicy{Day: "Sunday", Time: "2:00AM"}
	if err := env.Client.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stdout", w.out, "Sunday@2:00AM")
	w.cancel()
	if errLine := w.ended(t); errLine != "" {
		t.Fatalf("watch ended with %q", errLine)
	}
	if got := rows(w.out.String()); len(got) != 3 || strings.Join(got[2], " ") != "watched N/A 1:00AM Sunday@2:00AM N/A" {
		t.Fatalf("watch printed:\n%s", w.out.String())
	}
}
