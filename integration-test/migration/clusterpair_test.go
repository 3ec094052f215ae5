package migration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// pairReady is a poll condition: the pair's Ready condition has status and reason, and its
// message contains says.
func pairReady(pair *volsyncv1alpha1.ClusterPair, status metav1.ConditionStatus, reason, says string) func() error {
	return func() error {
		var got volsyncv1alpha1.ClusterPair
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(pair), &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, says) {
			return fmt.Errorf("Ready condition is %+v; want %s/%s saying %q", c, status, reason, says)
		}
		return nil
	}
}

func TestClusterPairReadyReportsTheServerVersion(t *testing.T) {
	pair := createPair(t, suiteNamespace, "ready", kubeconfigB)
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionTrue, volsyncv1alpha1.ReasonConnected, versionB))

	var got volsyncv1alpha1.ClusterPair
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(pair), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.ServerVersion != versionB {
		t.Errorf("serverVersion = %q, want %q", got.Status.ServerVersion, versionB)
	}
	if got.Status.LastCheckTime == nil || !got.Status.LastCheckTime.Time.Equal(fakeClock.Now().Truncate(time.Second)) {
		t.Errorf("lastCheckTime = %v, want the suite clock's now %s", got.Status.LastCheckTime, fakeClock.Now())
	}
	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, pair.Name, corev1.EventTypeNormal, volsyncv1alpha1.ReasonConnected, versionB))
}

func TestClusterPairWithoutItsSecretTurnsReadyWhenTheSecretIsCreated(t *testing.T) {
	pair := createPair(t, suiteNamespace, "secret-later", nil)
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionFalse, volsyncv1alpha1.ReasonSecretNotFound,
		`Secret dr/secret-later-kubeconfig named by spec.kubeconfigSecretRef does not exist: create it`))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, pair.Name, corev1.EventTypeWarning, volsyncv1alpha1.ReasonSecretNotFound, "does not exist"))

	if v, ok := readyGauge(t, pair); !ok || v != 0 {
		t.Errorf("volsync_clusterpair_ready %v (present %v) while not Ready, want 0", v, ok)
	}

	// The failing pair would be checked again in 30s; creating the Secret must not wait for that.
	setKubeconfig(t, pair, kubeconfigB)
	eventually(t, 10*time.Second, pairReady(pair, metav1.ConditionTrue, volsyncv1alpha1.ReasonConnected, ""))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, pair.Name, corev1.EventTypeNormal, volsyncv1alpha1.ReasonConnected, ""))
	if v, _ := readyGauge(t, pair); v != 1 {
		t.Errorf("volsync_clusterpair_ready %v once Ready, want 1", v)
	}

	// A deleted pair leaves no series behind for an alert to fire on.
	if err := a.Delete(context.Background(), pair); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if v, ok := readyGauge(t, pair); ok {
			return fmt.Errorf("volsync_clusterpair_ready still %v after the pair was deleted", v)
		}
		return nil
	})
}

// readyGauge reads volsync_clusterpair_ready for one pair from the registry volsyncd serves.
func readyGauge(t *testing.T, pair *volsyncv1alpha1.ClusterPair) (float64, bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "volsync_clusterpair_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] == pair.Name && labels["obj_namespace"] == pair.Namespace {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestClusterPairWithACorruptKubeconfigSaysSo(t *testing.T) {
	pair := createPair(t, suiteNamespace, "corrupt", []byte("apiVersion: v1\nclusters: {{{\n"))
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionFalse, volsyncv1alpha1.ReasonInvalidKubeconfig,
		`key "kubeconfig" of Secret dr/corrupt-kubeconfig: the kubeconfig does not parse`))
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, pair.Name, corev1.EventTypeWarning, volsyncv1alpha1.ReasonInvalidKubeconfig, "does not parse"))

	// A kubeconfig that would run a command inside volsyncd is refused before anything runs.
	exec := strings.Replace(string(kubeconfigB), "client-certificate-data:", "exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}\n    client-certificate-data:", 1)
	setKubeconfig(t, pair, []byte(exec))
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionFalse, volsyncv1alpha1.ReasonInvalidKubeconfig, "exec credential plugin"))
}

func TestClusterPairWithAnUnreachableServerIsUnreachable(t *testing.T) {
	kc := unreachableKubeconfig(t)
	pair := createPair(t, suiteNamespace, "unreachable", kc)
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionFalse, volsyncv1alpha1.ReasonUnreachable, "cannot reach the destination https://127.0.0.1:"))
	var got volsyncv1alpha1.ClusterPair
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(pair), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.ServerVersion != "" {
		t.Errorf("an unreachable pair shows server version %q", got.Status.ServerVersion)
	}
	eventually(t, 10*time.Second, hasEvent(suiteNamespace, pair.Name, corev1.EventTypeWarning, volsyncv1alpha1.ReasonUnreachable, "connection refused"))
}

// reconcileCount is how many passes the named controller has finished, from controller-runtime's
// own metrics.
func reconcileCount(t *testing.T, controller string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// limitedUser makes a ServiceAccount on cluster B that may do nothing, and returns a kubeconfig
// with a token for it, and a func that makes it cluster-admin.
func limitedUser(t *testing.T, name string) (kubeconfig []byte, grant func()) {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if err := b.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(clusterB.Config)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := tokenKubeconfig(tok.Status.Token)
	if err != nil {
		t.Fatal(err)
	}
	return kc, func() {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "default"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		}
		if err := b.Create(ctx, crb); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClusterPairOfAUserWithoutPermissionsIsForbiddenUntilGranted(t *testing.T) {
	kc, grant := limitedUser(t, "pair-limited")
	pair := createPair(t, suiteNamespace, "forbidden", kc)
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionFalse, volsyncv1alpha1.ReasonForbidden,
		`user "system:serviceaccount:default:pair-limited" may not create/patch namespaces; create/patch configmaps, cronjobs.batch, daemonsets.apps, deployments.apps,`))
	var got volsyncv1alpha1.ClusterPair
	if err := a.Get(context.Background(), client.ObjectKeyFromObject(pair), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.ServerVersion != versionB {
		t.Errorf("a pair whose server answered but refused shows server version %q, want %q", got.Status.ServerVersion, versionB)
	}
	c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
	for _, want := range []string{"rolebindings.rbac.authorization.k8s.io", "statefulsets.apps", "in all namespaces: grant these"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q does not list %q", c.Message, want)
		}
	}

	grant()
	// Touching the Secret is how a person asks for a check now; the timer would do it later.
	var secret corev1.Secret
	if err := a.Get(context.Background(), client.ObjectKey{Namespace: suiteNamespace, Name: pair.Spec.KubeconfigSecretRef.Name}, &secret); err != nil {
		t.Fatal(err)
	}
	secret.Labels = map[string]string{"checked": "again"}
	if err := a.Update(context.Background(), &secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionTrue, volsyncv1alpha1.ReasonConnected, ""))
}

func TestClusterPairStatusIsNotRewrittenByEveryCheck(t *testing.T) {
	ctx := context.Background()
	pair := createPair(t, suiteNamespace, "quiet", kubeconfigB)
	eventually(t, 20*time.Second, pairReady(pair, metav1.ConditionTrue, volsyncv1alpha1.ReasonConnected, ""))
	var before volsyncv1alpha1.ClusterPair
	if err := a.Get(ctx, client.ObjectKeyFromObject(pair), &before); err != nil {
		t.Fatal(err)
	}

	// Wake the controller with a Secret change: it checks, finds the same, and writes nothing.
	touch := func(value string) {
		var secret corev1.Secret
		if err := a.Get(ctx, client.ObjectKey{Namespace: suiteNamespace, Name: pair.Spec.KubeconfigSecretRef.Name}, &secret); err != nil {
			t.Fatal(err)
		}
		secret.Labels = map[string]string{"touched": value}
		if err := a.Update(ctx, &secret); err != nil {
			t.Fatal(err)
		}
	}
	checks := reconcileCount(t, "clusterpair")
	touch("1")
	eventually(t, 20*time.Second, func() error {
		if n := reconcileCount(t, "clusterpair"); n <= checks {
			return fmt.Errorf("no check since the Secret changed (%v checks)", n)
		}
		return nil
	})
	var after volsyncv1alpha1.ClusterPair
	if err := a.Get(ctx, client.ObjectKeyFromObject(pair), &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("an unchanged check rewrote the status: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}

	// Once lastCheckTime is older than half the recheck interval, a check refreshes it.
	fakeClock.Step(3 * time.Minute)
	touch("2")
	eventually(t, 20*time.Second, func() error {
		var got volsyncv1alpha1.ClusterPair
		if err := a.Get(ctx, client.ObjectKeyFromObject(pair), &got); err != nil {
			return err
		}
		if want := fakeClock.Now().Truncate(time.Second); got.Status.LastCheckTime == nil || !got.Status.LastCheckTime.Time.Equal(want) {
			return fmt.Errorf("lastCheckTime = %v, want %s", got.Status.LastCheckTime, want)
		}
		return nil
	})
}
