package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// migrationFixtures creates a namespace and the cluster pairs named, for the migration commands.
func migrationFixtures(t *testing.T, c client.Client, ns string, pairs ...string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		cp := &volsyncv1alpha1.ClusterPair{
			ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns},
			Spec:       volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: p + "-kubeconfig"}},
		}
		if err := c.Create(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
}

// rows is the table output as rows of fields, header first.
func rows(out string) [][]string {
	var r [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		r = append(r, strings.Fields(line))
	}
	return r
}

func TestMigrationScheduleCommandsAgainstTheCluster(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	const ns = "migsched-cli"
	migrationFixtures(t, env.Client, ns, "remotecluster", "elsewhere")
	policy := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "migsched-cli-policy"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 30}}}
	if err := env.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, policy) })
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
	}{
		// The seed's schedule: one storage fabric, so volumes are not migrated (storkctl's
		// camelCase spelling, as a Stork user types it).
		{"a schedule is created from flags", []string{"create", "migrationschedule", "mysqlmigrationschedule", "-c", "remotecluster",
			"-s", policy.Name, "--namespaces", "mysql,mysql-logs", "--includeVolumes=false"}, "migrationschedule/mysqlmigrationschedule created\n"},
		{"a second schedule on the same pair is created suspended", []string{"create", "migsched", "other", "-c", "remotecluster",
			"-s", policy.Name, "--namespaces", "web", "--include-volumes", "--start-applications", "--suspend"}, "migrationschedule/other created\n"},
		{"a schedule on another pair is created, suspending itself once its destination is activated", []string{"create", "migrationschedule", "third", "-c", "elsewhere",
			"-s", policy.Name, "--namespaces", "db", "--auto-suspend"}, "migrationschedule/third created\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if errLine != "" || out != tc.wantOut {
				t.Fatalf("out %q, error %q; want out %q", out, errLine, tc.wantOut)
			}
		})
	}

	var s volsyncv1alpha1.MigrationSchedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mysqlmigrationschedule"}, &s); err != nil {
		t.Fatal(err)
	}
	spec := s.Spec.Template.Spec
	if spec.ClusterPair != "remotecluster" || strings.Join(spec.Namespaces, ",") != "mysql,mysql-logs" ||
		!*spec.IncludeResources || *spec.IncludeVolumes || *spec.StartApplications || *s.Spec.Suspend || s.Spec.SchedulePolicyName != policy.Name {
		t.Fatalf("created schedule is %+v", s.Spec)
	}
	var third volsyncv1alpha1.MigrationSchedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "third"}, &third); err != nil {
		t.Fatal(err)
	}
	if !third.Spec.AutoSuspend || s.Spec.AutoSuspend {
		t.Errorf("autoSuspend is %v with --auto-suspend and %v without", third.Spec.AutoSuspend, s.Spec.AutoSuspend)
	}
	// The controller is not running here: play its part for the last success.
	finished := metav1.NewTime(time.Date(2019, 2, 14, 22, 19, 51, 0, time.UTC))
	s.Status.LastSuccessTime = &finished
	s.Status.LastSuccessDuration = &metav1.Duration{Duration: 3 * time.Minute}
	if err := env.Client.Status().Update(ctx, &s); err != nil {
		t.Fatal(err)
	}

	out, errLine := run("get", "migrationschedule")
	if errLine != "" {
		t.Fatal(errLine)
	}
	want := [][]string{
		{"NAME", "POLICYNAME", "CLUSTERPAIR", "SUSPEND", "LAST-SUCCESS-TIME", "LAST-SUCCESS-DURATION"},
		{"mysqlmigrationschedule", policy.Name, "remotecluster", "false", "2019-02-14T22:19:51Z", "3m0s"},
		{"other", policy.Name, "remotecluster", "true"},
		{"third", policy.Name, "elsewhere", "false"},
	}
	if got := rows(out); !equalRows(got, want) {
		t.Fatalf("get migrationschedule printed\n%s\nwant rows %q", out, want)
	}
	out, _ = execute(t, false, "--kubeconfig", kubeconfig, "get", "migrationschedule", "-A")
	if r := rows(out); r[0][0] != "NAMESPACE" || !containsRow(r, []string{ns, "third", policy.Name, "elsewhere", "false"}) {
		t.Errorf("get -A printed\n%s", out)
	}
	out, errLine = run("get", "migrationschedule", "mysqlmigrationschedule", "-o", "json")
	var got volsyncv1alpha1.MigrationSchedule
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Kind != "MigrationSchedule" || got.Spec.SchedulePolicyName != policy.Name {
		t.Errorf("get -o json: %v %q\n%s", err, errLine, out)
	}

	for _, tc := range []struct {
		name      string
		args      []string
		wantOut   string
		wantErr   string
		suspended map[string]bool
	}{
		{"suspend -c suspends every schedule of the pair", []string{"suspend", "migrationschedule", "-c", "remotecluster"},
			"migrationschedule/mysqlmigrationschedule suspended\nmigrationschedule/other suspended\n", "",
			map[string]bool{"mysqlmigrationschedule": true, "other": true, "third": false}},
		{"resume by name resumes that schedule only", []string{"resume", "migrationschedule", "other"},
			"migrationschedule/other resumed\n", "",
			map[string]bool{"mysqlmigrationschedule": true, "other": false, "third": false}},
		{"resume -c resumes every schedule of the pair", []string{"resume", "migsched", "-c", "remotecluster"},
			"migrationschedule/mysqlmigrationschedule resumed\nmigrationschedule/other resumed\n", "",
			map[string]bool{"mysqlmigrationschedule": false, "other": false, "third": false}},
		{"suspend needs a name or -c", []string{"suspend", "migrationschedule"}, "",
			"error: name one migration schedule or pass -c CLUSTERPAIR: see 'volsyncctl suspend migrationschedule --help'", nil},
		{"suspend -c of a pair no schedule uses says so", []string{"suspend", "migrationschedule", "-c", "nowhere"}, "",
			`error: no migration schedule in namespace "migsched-cli" uses cluster pair "nowhere": check -c and -n; list them with 'volsyncctl get migrationschedule -n migsched-cli'`, nil},
		{"suspending a missing schedule says how to list them", []string{"suspend", "migrationschedule", "nope"}, "",
			`error: migration schedule "nope" not found: list them with 'volsyncctl get migrationschedule -n migsched-cli'`, nil},
		{"a missing policy is refused with the fix", []string{"create", "migrationschedule", "x", "-c", "remotecluster", "-s", "nope", "--namespaces", "a"}, "",
			`error: schedule policy "nope" not found (neither a NamespacedSchedulePolicy in migsched-cli nor a SchedulePolicy): create it with 'volsyncctl create schedulepolicy nope ...' or list them with 'volsyncctl get schedulepolicy'`, nil},
		{"a missing cluster pair is refused with the fix", []string{"create", "migrationschedule", "x", "-c", "nope", "-s", policy.Name, "--namespaces", "a"}, "",
			`error: cluster pair "nope" not found in namespace "migsched-cli": create it with 'volsyncctl generate clusterpair nope --context DESTINATION | kubectl apply -f -' or pass another -c`, nil},
		{"no namespaces is refused", []string{"create", "migrationschedule", "x", "-c", "remotecluster", "-s", policy.Name}, "",
			"error: no namespaces given: pass --namespaces a,b with the namespaces to migrate, or --namespace-selectors to choose them by label", nil},
		{"no policy means the default one, which is missing here", []string{"create", "migrationschedule", "x", "-c", "remotecluster", "--namespaces", "a"}, "",
			`error: schedule policy "default-migration-policy" not found (neither a NamespacedSchedulePolicy in migsched-cli nor a SchedulePolicy): volsyncd creates it at start-up unless it runs with --default-schedule-policies=false; pass -s POLICY, or create it with 'volsyncctl create schedulepolicy default-migration-policy ...' or list them with 'volsyncctl get schedulepolicy'`, nil},
		{"an existing name is refused", []string{"create", "migrationschedule", "third", "-c", "elsewhere", "-s", policy.Name, "--namespaces", "db"}, "",
			`error: migration schedule "third" already exists in namespace "migsched-cli": delete it first or pick another name`, nil},
		{"getting a missing schedule says how to list them", []string{"get", "migrationschedule", "nope"}, "",
			`error: migration schedule "nope" not found: list them with 'volsyncctl get migrationschedule -n migsched-cli'`, nil},
		{"a name with -A is refused", []string{"get", "migrationschedule", "third", "-A"}, "",
			"error: a migration schedule cannot be fetched by name across all namespaces: drop -A or the name", nil},
		{"delete removes the schedule", []string{"delete", "migrationschedule", "third"}, "migrationschedule/third deleted\n", "",
			map[string]bool{"mysqlmigrationschedule": false, "other": false}},
		{"deleting a missing schedule says how to list them", []string{"delete", "migrationschedule", "third"}, "",
			`error: migration schedule "third" not found: list them with 'volsyncctl get migrationschedule -n migsched-cli'`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if errLine != "" && tc.wantErr == "" || errLine != "" && errLine != tc.wantErr+"\n" || errLine == "" && tc.wantErr != "" {
				t.Fatalf("error line %q, want %q", errLine, tc.wantErr)
			}
			if out != tc.wantOut {
				t.Errorf("out %q, want %q", out, tc.wantOut)
			}
			if tc.suspended == nil {
				return
			}
			var list volsyncv1alpha1.MigrationScheduleList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, s := range list.Items {
				got[s.Name] = s.Spec.Suspend != nil && *s.Spec.Suspend
			}
			if len(got) != len(tc.suspended) {
				t.Fatalf("schedules are %v, want %v", got, tc.suspended)
			}
			for name, want := range tc.suspended {
				if got[name] != want {
					t.Errorf("%s suspend = %t, want %t", name, got[name], want)
				}
			}
		})
	}
}

func equalRows(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			return false
		}
	}
	return true
}

func containsRow(rows [][]string, row []string) bool {
	for _, r := range rows {
		if strings.Join(r, " ") == strings.Join(row, " ") {
			return true
		}
	}
	return false
}
