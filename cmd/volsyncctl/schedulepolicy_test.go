package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// seedTestPolicy is the seed's testpolicy with only the apiVersion changed (and no namespace: the
// kind is cluster-scoped).
const seedTestPolicy = `apiVersion: volsync.backube/v1alpha1
kind: SchedulePolicy
metadata:
  name: testpolicy
policy:
  interval:
    intervalMinutes: 1
  daily:
    time: "10:14PM"
  weekly:
    day: "Thursday"
    time: "10:13PM"
  monthly:
    date: 14
    time: "8:05PM"
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGetSchedulePolicyPrintsTheSeedRow(t *testing.T) {
	_, kubeconfig := startCluster(t)
	out, errLine := execute(t, false, "--kubeconfig", kubeconfig, "create", "schedulepolicy", "testpolicy",
		"--interval", "1", "--daily", "10:14PM", "--weekly", "Thursday@10:13PM", "--monthly", "14@8:05PM")
	if errLine != "" {
		t.Fatalf("create: %s", errLine)
	}
	if out != "schedulepolicy/testpolicy created\n" {
		t.Fatalf("create printed %q", out)
	}
	t.Cleanup(func() { execute(t, false, "--kubeconfig", kubeconfig, "delete", "schedulepolicy", "testpolicy") })

	out, errLine = execute(t, false, "--kubeconfig", kubeconfig, "get", "schedulepolicy", "testpolicy")
	if errLine != "" {
		t.Fatalf("get: %s", errLine)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("get printed %d lines, want a header and one row:\n%s", len(lines), out)
	}
	// The seed's header, exactly: the time zone is only in -o wide.
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME INTERVAL-MINUTES DAILY WEEKLY MONTHLY" {
		t.Errorf("header is %q", lines[0])
	}
	// The seed's row, column for column: testpolicy 1 10:14PM Thursday@10:13PM 14@8:05PM
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "testpolicy 1 10:14PM Thursday@10:13PM 14@8:05PM" {
		t.Errorf("row is %q", lines[1])
	}
	if strings.HasSuffix(lines[1], " ") {
		t.Errorf("row %q ends in blanks", lines[1])
	}

	out, errLine = execute(t, false, "--kubeconfig", kubeconfig, "get", "schedulepolicy", "testpolicy", "-o", "wide")
	if errLine != "" {
		t.Fatalf("get -o wide: %s", errLine)
	}
	if got := strings.Join(strings.Fields(out), " "); got != "NAME INTERVAL-MINUTES DAILY WEEKLY MONTHLY TIMEZONE testpolicy 1 10:14PM Thursday@10:13PM 14@8:05PM UTC" {
		t.Errorf("get -o wide printed %q", out)
	}

	out, errLine = execute(t, false, "--kubeconfig", kubeconfig, "get", "sp", "testpolicy", "-o", "json")
	if errLine != "" {
		t.Fatalf("get -o json: %s", errLine)
	}
	var p volsyncv1alpha1.SchedulePolicy
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("get -o json is not a SchedulePolicy: %v\n%s", err, out)
	}
	if p.Kind != "SchedulePolicy" || p.APIVersion != "volsync.backube/v1alpha1" || p.Policy.Weekly.Day != "Thursday" {
		t.Errorf("get -o json returned %+v", p)
	}
}

func TestSchedulePolicyCommandsAgainstTheCluster(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}

	if _, errLine := run("create", "schedulepolicy", "shared", "--daily", "1:00am", "--retain", "daily=3",
		"--time-zone", "Europe/Berlin"); errLine != "" {
		t.Fatalf("create: %s", errLine)
	}
	var created volsyncv1alpha1.SchedulePolicy
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "shared"}, &created); err != nil {
		t.Fatal(err)
	}
	if created.Policy.Daily.Retain == nil || *created.Policy.Daily.Retain != 3 || created.Policy.TimeZone != "Europe/Berlin" {
		t.Fatalf("created policy is %+v", created.Policy)
	}
	// Sections the policy lacks print as N/A, as storkctl prints them; the zone only in -o wide.
	if out, errLine := run("get", "schedulepolicy", "shared"); errLine != "" ||
		strings.Join(strings.Fields(out), " ") != "NAME INTERVAL-MINUTES DAILY WEEKLY MONTHLY shared N/A 1:00am N/A N/A" {
		t.Errorf("get printed %q, error %q", out, errLine)
	}
	if out, errLine := run("get", "schedulepolicy", "-o", "wide"); errLine != "" ||
		!strings.Contains(strings.Join(strings.Fields(out), " "), "shared N/A 1:00am N/A N/A Europe/Berlin") {
		t.Errorf("get -o wide printed %q, error %q", out, errLine)
	}

	users := []client.Object{
		&volsyncv1alpha1.ReplicationSource{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
			Spec: volsyncv1alpha1.ReplicationSourceSpec{
				SourcePVC: "db-data",
				Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "shared"},
				Rclone:    &volsyncv1alpha1.ReplicationSourceRcloneSpec{},
			},
		},
		&volsyncv1alpha1.MigrationSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: "app-dr", Namespace: "default"},
			Spec: volsyncv1alpha1.MigrationScheduleSpec{
				SchedulePolicyName: "shared",
				Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
					ClusterPair: "remote", Namespaces: []string{"app"},
				}},
			},
		},
	}
	for _, u := range users {
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"delete is refused while a source and a schedule use the policy",
			[]string{"delete", "schedulepolicy", "shared"}, "",
			`error: schedule policy "shared" is in use by MigrationSchedule default/app-dr, ReplicationSource default/db: point them at another policy or delete them first`},
		{"creating a policy that exists names the fix",
			[]string{"create", "schedulepolicy", "shared", "--daily", "2:00AM"}, "",
			`error: schedule policy "shared" already exists: delete it first or pick another name`},
		{"a bad time is refused before anything is sent, naming the field",
			[]string{"create", "schedulepolicy", "late", "--daily", "13:00PM"}, "",
			`policy.daily.time: Invalid value: "13:00PM": time must be in 3:04PM form`},
		{"a malformed --weekly says the form it wants",
			[]string{"create", "schedulepolicy", "late", "--weekly", "Thursday"}, "",
			`error: --weekly "Thursday" is not DAY@TIME, such as Thursday@10:13PM`},
		{"retain for a missing section says which flag to add",
			[]string{"create", "schedulepolicy", "late", "--daily", "1:00PM", "--retain", "weekly=2"}, "",
			`error: --retain "weekly=2": the policy has no weekly section; add --weekly`},
		{"a missing policy says how to list them",
			[]string{"get", "schedulepolicy", "nope"}, "",
			`error: schedule policy "nope" not found: list them with 'volsyncctl get schedulepolicy'`},
		{"deleting a missing policy says how to list them",
			[]string{"delete", "schedulepolicy", "nope"}, "",
			`error: schedule policy "nope" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if !strings.Contains(errLine, tc.wantErr) || (tc.wantErr == "" && errLine != "") {
				t.Errorf("error line = %q, want it to contain %q", errLine, tc.wantErr)
			}
			if tc.wantErr != "" && strings.Count(errLine, "\n") != 1 {
				t.Errorf("error is not one line: %q", errLine)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output = %q, want %q", out, tc.wantOut)
			}
		})
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "shared"}, &created); err != nil {
		t.Fatalf("the refused delete removed the policy: %v", err)
	}

	for _, u := range users {
		if err := env.Client.Delete(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if out, errLine := run("delete", "schedulepolicy", "shared"); errLine != "" || out != "schedulepolicy/shared deleted\n" {
		t.Fatalf("delete of an unused policy: out %q, error %q", out, errLine)
	}
}

func TestValidateAndPreviewNeedNoCluster(t *testing.T) {
	good := writeFile(t, "good.yaml", seedTestPolicy)
	month31 := writeFile(t, "month-end.yaml", `apiVersion: volsync.backube/v1alpha1
kind: SchedulePolicy
metadata:
  name: month-end
policy:
  monthly:
    date: 31
    time: "12:00AM"
`)
	bad := writeFile(t, "bad.yaml", `apiVersion: volsync.backube/v1alpha1
kind: SchedulePolicy
metadata:
  name: bad
policy:
  daily:
    time: "13:00PM"
  weekly:
    day: Funday
    time: "10:00PM"
`)
	stork := writeFile(t, "stork.yaml", strings.Replace(seedTestPolicy, "volsync.backube", "stork.libopenstorage.org", 1))
	// No kubeconfig at all: these commands must not need one.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))

	t.Run("a valid file passes", func(t *testing.T) {
		out, errLine := execute(t, false, "validate", "-f", good)
		if errLine != "" || out != "schedulepolicy \"testpolicy\" is valid\n" {
			t.Fatalf("out %q, error %q", out, errLine)
		}
	})
	t.Run("a bad file prints one line per problem and exits 1", func(t *testing.T) {
		var outBuf strings.Builder
		a := newApp(&outBuf, &outBuf, false)
		a.root.SetArgs([]string{"validate", "-f", bad})
		err := a.root.Execute()
		if code, silent := cli.ExitCode(err); code != 1 || !silent {
			t.Fatalf("exit code %d (silent %v), want 1 with the problems already printed", code, silent)
		}
		lines := strings.Split(strings.TrimSpace(outBuf.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], "policy.daily.time") || !strings.Contains(lines[1], "policy.weekly.day") {
			t.Fatalf("problems printed:\n%s", outBuf.String())
		}
	})
	t.Run("a Stork policy names the apiVersion to use", func(t *testing.T) {
		_, errLine := execute(t, false, "validate", "-f", stork)
		if !strings.Contains(errLine, `is Stork's: change it to "volsync.backube/v1alpha1"`) {
			t.Fatalf("error %q", errLine)
		}
	})
	t.Run("preview of date 31 lists every month once, February rolling over", func(t *testing.T) {
		out, errLine := execute(t, false, "preview", "schedulepolicy", "-f", month31,
			"--from", "2023-01-01T00:00:00Z", "--count", "14", "-o", "json")
		if errLine != "" {
			t.Fatal(errLine)
		}
		var got []previewEntry
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := []string{"2023-01-31", "2023-03-03", "2023-03-31", "2023-05-01", "2023-05-31", "2023-07-01", "2023-07-31",
			"2023-08-31", "2023-10-01", "2023-10-31", "2023-12-01", "2023-12-31", "2024-01-31", "2024-03-02"}
		if len(got) != len(want) {
			t.Fatalf("%d entries, want %d:\n%s", len(got), len(want), out)
		}
		for i, e := range got {
			if e.Type != "Monthly" || e.Time != want[i]+"T00:00:00Z" {
				t.Errorf("entry %d is %+v, want Monthly at %sT00:00:00Z", i, e, want[i])
			}
		}
	})
	t.Run("preview uses the policy's offset and starts the interval at --from", func(t *testing.T) {
		berlin := writeFile(t, "berlin.yaml", `apiVersion: volsync.backube/v1alpha1
kind: SchedulePolicy
metadata:
  name: berlin
policy:
  timeZone: Europe/Berlin
  interval:
    intervalMinutes: 90
  daily:
    time: "2:30AM"
`)
		out, errLine := execute(t, false, "preview", "sp", "-f", berlin, "--from", "2024-03-30T12:00:00Z", "--count", "2", "-o", "json")
		if errLine != "" {
			t.Fatal(errLine)
		}
		var got []previewEntry
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		// 2:30AM does not exist in Berlin on 2024-03-31: it fires once, when the clocks jump to 3:00 CEST.
		want := []previewEntry{
			{"Interval", "2024-03-30T13:00:00+01:00"},
			{"Interval", "2024-03-30T14:30:00+01:00"},
			{"Daily", "2024-03-31T03:00:00+02:00"},
			{"Daily", "2024-04-01T02:30:00+02:00"},
		}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
