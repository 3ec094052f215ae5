package main

import (
	"strings"
	"testing"
	"time"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Activation tells the schedules that feed the namespaces: on the very cluster when the copy was
// made next to its source, on --source-context otherwise, and warns when it cannot.
func TestActivateMigrationTellsTheSchedules(t *testing.T) {
	cl := startTwoClusters(t)
	// A copy next to its source on one cluster: app to app-dr.
	migrationFixtures(t, cl.source.Client, "act-admin", "dr")
	createAll(t, cl.source.Client, drSchedule("act-admin", "local", []string{"act-app"},
		map[string]volsyncv1alpha1.NamespaceName{"act-app": "act-app-dr"}, false))
	copyNamespace(t, cl.source.Client, "act-app-dr", "act-admin", "local", cl.sourceID, nil)
	// A copy of another cluster's schedule, which this cluster cannot reach.
	copyNamespace(t, cl.source.Client, "act-other", "elsewhere", "remote", "another-cluster", nil)
	createAll(t, cl.source.Client,
		workload("Deployment", "act-app-dr", "web", 0, "3"),
		workload("Deployment", "act-other", "api", 0, "1"))
	// A copy on the second cluster of a schedule on the first.
	migrationFixtures(t, cl.source.Client, "act-prod", "dr")
	createAll(t, cl.source.Client, drSchedule("act-prod", "prod", []string{"act-shop"}, nil, false))
	copyNamespace(t, cl.dest.Client, "act-shop", "act-prod", "prod", cl.sourceID, nil)
	createAll(t, cl.dest.Client, workload("Deployment", "act-shop", "shop", 0, "2"))

	activated := func(ns, name string) bool {
		return getSchedule(t, cl.source.Client, ns, name).Status.ApplicationActivated
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantOut    string
		wantStderr string
		wantLocal  bool
		wantProd   bool
	}{
		{"activate on one cluster tells the local schedule and warns about the one it cannot reach",
			[]string{"activate", "migration", "--namespaces", "act-app-dr,act-other"},
			"namespace/act-app-dr annotated volsync.backube/application-activated=T\n" +
				"namespace/act-other annotated volsync.backube/application-activated=T\n" +
				"deployment.apps/web scaled to 3 in namespace act-app-dr\n" +
				"deployment.apps/api scaled to 1 in namespace act-other\n" +
				"migrationschedule/local status.applicationActivated set to true in namespace act-admin\n",
			"warning: migrationschedule elsewhere/remote was not told of the activation (its source cluster is another cluster: pass --source-context to reach it): " +
				"its next migration into namespace(s) act-other fails with reason ApplicationActivated (and, with autoSuspend, suspends it)\n",
			true, false},
		{"activating again says what is so already",
			[]string{"activate", "migration", "--namespaces", "act-app-dr"},
			"namespace/act-app-dr already activated at T\n" +
				"deployment.apps/web scaled to 3 in namespace act-app-dr\n" +
				"migrationschedule/local status.applicationActivated already true in namespace act-admin\n",
			"", true, false},
		{"deactivate scales down, removes the activation and clears the schedule's",
			[]string{"deactivate", "migration", "--namespaces", "act-app-dr"},
			"deployment.apps/web scaled to 0 in namespace act-app-dr\n" +
				"namespace/act-app-dr annotation volsync.backube/application-activated removed\n" +
				"migrationschedule/local status.applicationActivated set to false in namespace act-admin\n",
			"", false, false},
		{"deactivating again says what is so already",
			[]string{"deactivate", "migration", "--namespaces", "act-app-dr"},
			"deployment.apps/web scaled to 0 in namespace act-app-dr\n" +
				"namespace/act-app-dr was not activated\n" +
				"migrationschedule/local status.applicationActivated already false in namespace act-admin\n",
			"", false, false},
		{"on another cluster the schedule is told through --source-context",
			[]string{"--context", "dest", "activate", "migration", "--namespaces", "act-shop", "--source-context", "source"},
			"namespace/act-shop annotated volsync.backube/application-activated=T\n" +
				"deployment.apps/shop scaled to 2 in namespace act-shop\n" +
				"migrationschedule/prod status.applicationActivated set to true in namespace act-prod\n",
			"", false, true},
		{"a source that is down is a warning, not an error",
			[]string{"--context", "dest", "deactivate", "migration", "--namespaces", "act-shop", "--source-context", "down"},
			"deployment.apps/shop scaled to 0 in namespace act-shop\n" +
				"namespace/act-shop annotation volsync.backube/application-activated removed\n",
			"warning: migrationschedule act-prod/prod was not told of the deactivation (context down", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig}, tc.args...)...)
			if r.errLine != "" {
				t.Fatalf("error %q", r.errLine)
			}
			if withoutTimes(r.out) != tc.wantOut {
				t.Errorf("out\n%s\nwant\n%s", r.out, tc.wantOut)
			}
			if !strings.HasPrefix(r.stderr, tc.wantStderr) || (tc.wantStderr == "") != (r.stderr == "") {
				t.Errorf("stderr %q, want %q", r.stderr, tc.wantStderr)
			}
			if got := activated("act-admin", "local"); got != tc.wantLocal {
				t.Errorf("schedule local: applicationActivated %t, want %t", got, tc.wantLocal)
			}
			if got := activated("act-prod", "prod"); got != tc.wantProd {
				t.Errorf("schedule prod: applicationActivated %t, want %t", got, tc.wantProd)
			}
		})
	}

	t.Run("the activation time is kept across runs", func(t *testing.T) {
		first, _ := namespaceAnnotation(t, cl.source.Client, "act-other", volsyncv1alpha1.ApplicationActivatedAnnotation)
		if _, err := time.Parse(time.RFC3339, first); err != nil {
			t.Fatalf("activation %q is not an RFC 3339 time: %v", first, err)
		}
		r := executeAll(t, "--kubeconfig", cl.kubeconfig, "activate", "migration", "--namespaces", "act-other")
		if r.errLine != "" {
			t.Fatal(r.errLine)
		}
		if again, _ := namespaceAnnotation(t, cl.source.Client, "act-other", volsyncv1alpha1.ApplicationActivatedAnnotation); again != first {
			t.Errorf("activation time changed from %s to %s", first, again)
		}
	})
}
