package main

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Without -s, create migrationschedule uses default-migration-policy, as storkctl does, and says
// where that policy comes from when it is missing.
func TestCreateMigrationScheduleDefaultsToTheDefaultMigrationPolicy(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	ns := "default-policy-cli"
	createNamespace(t, env.Client, ns)
	pair := &volsyncv1alpha1.ClusterPair{ObjectMeta: metav1.ObjectMeta{Name: "remote", Namespace: ns},
		Spec: volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: "remote-kubeconfig", Key: "kubeconfig"}}}
	if err := env.Client.Create(ctx, pair); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", kubeconfig, "-n", ns, "create", "migrationschedule", "nightly", "-c", "remote", "--namespaces", "app"}
	r := executeAll(t, args...)
	if !strings.Contains(r.errLine, `schedule policy "default-migration-policy" not found`) || !strings.Contains(r.errLine, "--default-schedule-policies") {
		t.Fatalf("without the default policy: %q", r.errLine)
	}
	if _, err := schedulepolicy.EnsureDefaults(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range schedulepolicy.Defaults() {
			_ = env.Client.Delete(ctx, &p)
		}
	})
	if r := executeAll(t, args...); r.errLine != "" {
		t.Fatal(r.errLine)
	}
	var s volsyncv1alpha1.MigrationSchedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nightly"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Spec.SchedulePolicyName != schedulepolicy.DefaultMigrationPolicy {
		t.Errorf("schedule policy %q, want %s", s.Spec.SchedulePolicyName, schedulepolicy.DefaultMigrationPolicy)
	}
}
