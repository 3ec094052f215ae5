package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/rule"
)

// A Migration of a namespace next to itself with a preExecRule and a postExecRule, run by the
// deployed volsyncd through pods/exec in the application's pod: the pre rule writes a marker
// into the volume (in one pod) and holds a flock in the background while the volume is copied;
// the post rule leaves a file in the pod. The marker reaches the copy (the trees match by
// checksum), the lock is free afterwards and its holder's process gone, and the post rule ran.
// Then a Rule whose command fails fails the next Migration with its exit code and output.
func TestMigrationRunsPreAndPostExecRulesInTheApplicationsPod(t *testing.T) {
	ctx := context.Background()
	src := newNamespace(t, "rule-src")
	dst := strings.Replace(src, "e2e-rule-src-", "e2e-rule-dst-", 1)
	migratedNamespace(t, dst)
	privilegedMovers(t, src)
	newPVC(t, src, "data", nil)
	writeTree(t, src, "data", "rules")
	create(t, sleepingApp(src))
	waitDeploymentReady(t, src, "app", 1)
	pair := localPair(t, src, "dr")

	app := map[string]string{"app": "e2e-app"}
	create(t, &volsyncv1alpha1.Rule{ObjectMeta: objectMeta(src, "quiesce"), Rules: []volsyncv1alpha1.RuleItem{{
		PodSelector: app,
		Actions: []volsyncv1alpha1.RuleAction{
			{Type: volsyncv1alpha1.RuleActionCommand, Value: "date +%s%N > /data/marker && sync", RunInSinglePod: true},
			{Type: volsyncv1alpha1.RuleActionCommand, Value: "flock /tmp/app.lock -c ${WAIT_CMD}", Background: true},
		},
	}}})
	create(t, &volsyncv1alpha1.Rule{ObjectMeta: objectMeta(src, "resume"), Rules: []volsyncv1alpha1.RuleItem{{
		PodSelector: app,
		Actions:     []volsyncv1alpha1.RuleAction{{Type: volsyncv1alpha1.RuleActionCommand, Value: "touch /tmp/post-ran"}},
	}}})

	m := &volsyncv1alpha1.Migration{ObjectMeta: objectMeta(src, "hooked"), Spec: volsyncv1alpha1.MigrationSpec{
		ClusterPair: pair.Name, Namespaces: []string{src},
		IncludeResources: ptr.To(true), IncludeVolumes: ptr.To(true), StartApplications: ptr.To(false),
		NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{src: volsyncv1alpha1.NamespaceName(dst)},
		PreExecRule:      "quiesce", PostExecRule: "resume",
	}}
	start := time.Now()
	create(t, m)
	// While the volume is copied the lock is held.
	pod := appPod(t, src)
	sawHeld := false
	eventually(t, migrationTimeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return err
		}
		if m.Status.Stage == volsyncv1alpha1.MigrationStageVolumes && !sawHeld {
			if _, code := execIn(t, src, pod, "flock -n /tmp/app.lock true"); code != 0 {
				sawHeld = true
			}
		}
		if !m.Status.Status.Finished() {
			return fmt.Errorf("Migration %s is %s at stage %s (%+v)", m.Name, m.Status.Status, m.Status.Stage, m.Status.Conditions)
		}
		return nil
	})
	t.Logf("Migration with pre and post rules: %s in %s", m.Status.Status, time.Since(start).Round(time.Second))
	if m.Status.Status != volsyncv1alpha1.RunStatusSuccessful {
		t.Fatalf("Migration %s ended %s: rule actions %+v, conditions %+v", m.Name, m.Status.Status, m.Status.RuleActions, m.Status.Conditions)
	}
	if !sawHeld {
		t.Error("the background action's lock was never seen held while the volume was copied")
	}
	if len(m.Status.RuleActions) != 3 {
		t.Errorf("status.ruleActions %+v, want the marker, the lock and the post action", m.Status.RuleActions)
	}
	for _, e := range m.Status.RuleActions {
		if e.Status != volsyncv1alpha1.RunStatusSuccessful || (e.Background && !e.Ended) {
			t.Errorf("rule action %+v did not end Successful", e)
		}
	}
	// The lock is free and no process of the background action is left (the pattern is spelt in
	// two parts so that this script's own command line does not match it).
	if out, code := execIn(t, src, pod, "flock -n /tmp/app.lock true"); code != 0 {
		t.Errorf("the lock is still held after the migration: %s", out)
	}
	if out, _ := execIn(t, src, pod, `for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; tr '\0' ' ' < $p/cmdline 2>/dev/null | grep -q "/tmp/volsync""-rule-" && echo "$p: $(tr '\0' ' ' < $p/cmdline)"; done; true`); strings.TrimSpace(out) != "" {
		t.Errorf("processes of the background action are left: %s", out)
	}
	if out, code := execIn(t, src, pod, "test -e /tmp/post-ran"); code != 0 {
		t.Errorf("the postExecRule did not run: %s", out)
	}
	// The marker the pre rule wrote reached the copy: the whole tree matches by checksum.
	want := treeSum(t, src, "data", "check-source")
	if !strings.Contains(want, " marker") {
		t.Fatalf("the source tree has no marker: %s", want)
	}
	requireSameTree(t, "the migrated volume", want, treeSum(t, dst, "data", "check-migrated"))

	// A failing command fails the run, with its exit code and output in status and an Event.
	create(t, &volsyncv1alpha1.Rule{ObjectMeta: objectMeta(src, "failing"), Rules: []volsyncv1alpha1.RuleItem{{
		PodSelector: app,
		Actions:     []volsyncv1alpha1.RuleAction{{Type: volsyncv1alpha1.RuleActionCommand, Value: "echo cannot quiesce >&2; exit 7"}},
	}}})
	failed := &volsyncv1alpha1.Migration{ObjectMeta: objectMeta(src, "hook-fails"), Spec: *m.Spec.DeepCopy()}
	failed.Spec.PreExecRule, failed.Spec.PostExecRule = "failing", ""
	create(t, failed)
	eventually(t, 2*time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(failed), failed); err != nil {
			return err
		}
		if !failed.Status.Status.Finished() {
			return fmt.Errorf("Migration %s is %s at stage %s", failed.Name, failed.Status.Status, failed.Status.Stage)
		}
		return nil
	})
	c := meta.FindStatusCondition(failed.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if failed.Status.Status != volsyncv1alpha1.RunStatusFailed || c == nil || c.Reason != migration.ReasonRuleFailed ||
		!strings.Contains(c.Message, "exited with code 7") || !strings.Contains(c.Message, "cannot quiesce") {
		t.Fatalf("Migration %s ended %s with %+v; want Failed, reason %s, exit code 7 and the output", failed.Name, failed.Status.Status, c, migration.ReasonRuleFailed)
	}
	if len(failed.Status.RuleActions) != 1 || ptr.Deref(failed.Status.RuleActions[0].ExitCode, 0) != 7 ||
		failed.Status.RuleActions[0].Output != "cannot quiesce" {
		t.Errorf("status.ruleActions %+v, want exit code 7 and output %q", failed.Status.RuleActions, "cannot quiesce")
	}
	if len(failed.Status.Volumes) != 0 || len(failed.Status.Resources) != 0 {
		t.Errorf("the failed run copied something: volumes %+v, resources %+v", failed.Status.Volumes, failed.Status.Resources)
	}
	eventually(t, 30*time.Second, func() error {
		var list corev1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(src)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == failed.Name && e.Type == corev1.EventTypeWarning && e.Reason == migration.ReasonRuleFailed {
				return nil
			}
		}
		return fmt.Errorf("no Warning Event %s about %s", migration.ReasonRuleFailed, failed.Name)
	})
}

// appPod is the name of the running pod of the sleeping app in ns.
func appPod(t *testing.T, ns string) string {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": "e2e-app"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range rule.MatchingPods(pods.Items, map[string]string{"app": "e2e-app"}) {
		return p.Name
	}
	t.Fatalf("no running app pod in %s", ns)
	return ""
}

// execIn runs script in the pod through pods/exec, as volsyncd does, and returns its output and
// exit code.
func execIn(t *testing.T, ns, pod, script string) (string, int) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, code, err := (&rule.PodExecutor{Config: cfg}).Exec(ctx, ns, pod, "", []string{"sh", "-c", script})
	if err != nil {
		t.Fatalf("exec in %s/%s: %v", ns, pod, err)
	}
	return out, code
}
