package migration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
)

// waiting is a poll condition: m has not finished, and its DestinationReady condition is False
// with reason, saying says.
func waiting(m *volsyncv1alpha1.Migration, reason, says string) func() error {
	return func() error {
		var got volsyncv1alpha1.Migration
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return err
		}
		if got.Status.Status.Finished() {
			return fmt.Errorf("migration finished %s; conditions %+v", got.Status.Status, got.Status.Conditions)
		}
		c := meta.FindStatusCondition(got.Status.Conditions, migration.ConditionDestinationReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || !strings.Contains(c.Message, says) {
			return fmt.Errorf("DestinationReady = %+v; want False/%s saying %q", c, reason, says)
		}
		done := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
		if done == nil || done.Status != metav1.ConditionFalse || done.Reason != reason {
			return fmt.Errorf("Completed = %+v; want False/%s", done, reason)
		}
		return nil
	}
}

// poke changes an annotation of m, which wakes its reconciler as `kubectl annotate` would.
func poke(t *testing.T, m *volsyncv1alpha1.Migration, value string) {
	t.Helper()
	var got volsyncv1alpha1.Migration
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations["test/poke"] = value
	if err := a.Update(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationWithAMissingClusterPairRetriesThenFailsWithTheReason(t *testing.T) {
	m := newMigration("no-pair", "shop")
	m.Spec.ClusterPair = "no-such-pair"
	createOn(t, a, m)
	start := fakeClock.Now().Truncate(time.Second)
	eventually(t, 20*time.Second, waiting(m, migration.ReasonClusterPairNotFound,
		"attempt 1 of 3 failed, next attempt at "+start.Add(10*time.Second).Format(time.RFC3339)+
			": ClusterPair dr/no-such-pair named by spec.clusterPair does not exist"))
	var got volsyncv1alpha1.Migration
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Status != volsyncv1alpha1.RunStatusPending {
		t.Errorf("a run waiting for its first attempt is %s, want Pending", got.Status.Status)
	}

	// Woken early, it does not spend an attempt.
	checks := reconcileCount(t, "migration")
	poke(t, m, "early")
	eventually(t, 10*time.Second, func() error {
		if reconcileCount(t, "migration") <= checks {
			return fmt.Errorf("the poke was not seen yet")
		}
		return nil
	})
	eventually(t, 5*time.Second, waiting(m, migration.ReasonClusterPairNotFound, "attempt 1 of 3 failed"))
	fakeClock.Step(10 * time.Second)
	poke(t, m, "2")
	eventually(t, 20*time.Second, waiting(m, migration.ReasonClusterPairNotFound, "attempt 2 of 3 failed, next attempt at "+start.Add(30*time.Second).Format(time.RFC3339)))
	fakeClock.Step(20 * time.Second)
	poke(t, m, "3")
	done := finished(t, m)
	wantStatus(t, done, volsyncv1alpha1.RunStatusFailed)
	c := meta.FindStatusCondition(done.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != migration.ReasonClusterPairNotFound || !strings.Contains(c.Message, "gave up after 3 attempts over 30s") {
		t.Errorf("Completed = %+v", c)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, "Failed", "gave up after 3 attempts"))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, migration.ReasonClusterPairNotFound, "attempt 2 of 3"))
	if n := counterValue(t, "volsync_migrations_failed_total", ""); n < 1 {
		t.Errorf("volsync_migrations_failed_total{migration_schedule=\"\"} = %v, want at least 1", n)
	}
	if n := outcomeCount(t, "", volsyncv1alpha1.RunStatusFailed); n < 1 {
		t.Errorf("volsync_migrations_finished_total{status=Failed,migration_schedule=\"\"} = %v, want at least 1", n)
	}

	// A finished Migration is never touched again.
	checks = reconcileCount(t, "migration")
	poke(t, m, "after")
	eventually(t, 10*time.Second, func() error {
		if reconcileCount(t, "migration") <= checks {
			return fmt.Errorf("the poke was not seen yet")
		}
		return nil
	})
	var after volsyncv1alpha1.Migration
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &after); err != nil {
		t.Fatal(err)
	}
	if after.Status.FinishTimestamp == nil || !after.Status.FinishTimestamp.Equal(done.Status.FinishTimestamp) ||
		len(after.Status.Conditions) != len(done.Status.Conditions) || after.Status.Status != done.Status.Status {
		t.Errorf("a finished Migration changed: %+v -> %+v", done.Status, after.Status)
	}
}

func TestMigrationWaitsForAnUnreachablePairAndFinishesWhenItIsBack(t *testing.T) {
	const ns = "comeback"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}})
	pair := createPair(t, suiteNamespace, "flaky", unreachableKubeconfig(t))
	m := newMigration("comeback", ns)
	m.Spec.ClusterPair = pair.Name
	createOn(t, a, m)
	eventually(t, 20*time.Second, waiting(m, volsyncv1alpha1.ReasonUnreachable, "attempt 1 of 3 failed"))
	eventually(t, 20*time.Second, waiting(m, volsyncv1alpha1.ReasonUnreachable, `cluster pair "flaky": cannot reach the destination https://127.0.0.1:`))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, volsyncv1alpha1.ReasonUnreachable, "connection refused"))

	// The destination comes back: the pair turns Ready, and that wakes the waiting run at once,
	// well before its next attempt is due.
	setKubeconfig(t, pair, kubeconfigB)
	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)
	ready := meta.FindStatusCondition(got.Status.Conditions, migration.ConditionDestinationReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != volsyncv1alpha1.ReasonConnected {
		t.Errorf("DestinationReady = %+v", ready)
	}
	if err := b.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("the ConfigMap did not reach B: %v", err)
	}
}

func TestMigrationOfAPairWithoutPermissionsSaysWhatIsMissingAndRunsOnceGranted(t *testing.T) {
	const ns = "granted"
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}})
	kc, grant := limitedUser(t, "migration-limited")
	pair := createPair(t, suiteNamespace, "limited", kc)
	m := newMigration("granted", ns)
	m.Spec.ClusterPair = pair.Name
	m.Spec.PurgeDeletedResources = ptr.To(true)
	createOn(t, a, m)
	// The run asks for exactly what it does: its kinds in its namespace, and delete for the purge.
	eventually(t, 20*time.Second, waiting(m, volsyncv1alpha1.ReasonForbidden, `user "system:serviceaccount:default:migration-limited" may not`))
	var got volsyncv1alpha1.Migration
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
		t.Fatal(err)
	}
	msg := meta.FindStatusCondition(got.Status.Conditions, migration.ConditionDestinationReady).Message
	for _, want := range []string{"may not create/patch namespaces; create/delete/list/patch configmaps,", "deployments.apps", "in namespace granted: grant these"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not list %q", msg, want)
		}
	}
	if strings.Contains(msg, "in all namespaces") {
		t.Errorf("message %q asks for more than the run needs", msg)
	}

	grant()
	poke(t, m, "granted")
	wantStatus(t, finished(t, m), volsyncv1alpha1.RunStatusSuccessful)
}
