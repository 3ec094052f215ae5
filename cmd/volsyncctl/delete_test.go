package main

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// storkctl's `delete migrations -c PAIR` deletes every migration of the namespace that uses the
// pair, and only those.
func TestDeleteMigrationsByClusterPair(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	ns := "delete-by-pair"
	createNamespace(t, env.Client, ns)
	for name, pair := range map[string]string{"one": "dr", "two": "dr", "other": "lab"} {
		m := &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: volsyncv1alpha1.MigrationSpec{ClusterPair: pair, Namespaces: []string{"app"}}}
		if err := env.Client.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	r := executeAll(t, "--kubeconfig", kubeconfig, "-n", ns, "delete", "migrations", "--clusterPair", "dr")
	if r.errLine != "" {
		t.Fatal(r.errLine)
	}
	if !strings.Contains(r.out, "migration/one deleted") || !strings.Contains(r.out, "migration/two deleted") {
		t.Errorf("output:\n%s", r.out)
	}
	var list volsyncv1alpha1.MigrationList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, m := range list.Items {
		if m.DeletionTimestamp == nil {
			left = append(left, m.Name)
		}
	}
	if len(left) != 1 || left[0] != "other" {
		t.Errorf("left %v, want [other]", left)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"delete", "migration", "-c", "nope"}, `no migration in namespace "delete-by-pair" uses cluster pair "nope"`},
		{[]string{"delete", "migration", "other", "-c", "lab"}, "not both"},
		{[]string{"delete", "migrationschedule", "-c", "nope"}, "no migration schedule"},
	} {
		r := executeAll(t, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, tc.args...)...)
		if !strings.Contains(r.errLine, tc.want) {
			t.Errorf("%v: error %q, want %q", tc.args, r.errLine, tc.want)
		}
	}
}
