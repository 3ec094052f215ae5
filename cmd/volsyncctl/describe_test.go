package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// describe shows a source's settings, state, mover logs, conditions and its own Events from a
// real API server, and says how to list the objects when the name is unknown.
func TestDescribeReplicationSource(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	ns := "describe-cli"
	createNamespace(t, env.Client, ns)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "now"},
			Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{Repository: "repo"}},
	}
	if err := env.Client.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	last := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	rs.Status.LastSyncTime = &last
	rs.Status.LastManualSync = "now"
	rs.Status.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: "Successful", Logs: "processed 3 files\nRestic completed in 2s"}
	rs.Status.Conditions = []metav1.Condition{{Type: volsyncv1alpha1.ConditionSynchronizing, Status: metav1.ConditionFalse,
		Reason: volsyncv1alpha1.ReasonWaitingForManual, Message: "waiting for a new manual trigger", LastTransitionTime: last}}
	if err := env.Client.Status().Update(ctx, rs); err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "db.1", Namespace: ns},
		EventTime:  metav1.NewMicroTime(time.Now()), ReportingController: "volsync", ReportingInstance: "test",
		Action: "Synchronize", Reason: "SyncCompleted", Type: corev1.EventTypeNormal, Note: "the sync completed",
		Regarding: corev1.ObjectReference{Kind: "ReplicationSource", Name: "db", Namespace: ns, UID: rs.UID},
	}
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r := executeAll(t, "--kubeconfig", kubeconfig, "-n", ns, "describe", "repsrc", "db")
	if r.errLine != "" {
		t.Fatal(r.errLine)
	}
	for _, want := range []string{"Name:", "db", "Source PVC:", "data", "Mover:", "restic", "Last manual sync:", "now",
		"Latest mover run:", "processed 3 files", "Restic completed in 2s", "WaitingForManual", "SyncCompleted", "the sync completed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.out)
		}
	}
	r = executeAll(t, "--kubeconfig", kubeconfig, "-n", ns, "describe", "migration", "nope")
	if !strings.Contains(r.errLine, `migration "nope" not found`) {
		t.Errorf("unknown name: %q", r.errLine)
	}
}
