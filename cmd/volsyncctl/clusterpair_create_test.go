package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// create clusterpair applies a pair on both API servers, each holding a kubeconfig that reaches
// the other; rerunning it updates them; --unidirectional stops at the source.
func TestCreateClusterPairPairsBothSides(t *testing.T) {
	cl := startTwoClusters(t)
	ctx := context.Background()
	ns := "pair-" + strings.ToLower(t.Name()[len(t.Name())-6:])
	reaches := func(c client.Client, name, wantHost string) {
		t.Helper()
		var pair volsyncv1alpha1.ClusterPair
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pair); err != nil {
			t.Fatal(err)
		}
		var secret corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: pair.Spec.KubeconfigSecretRef.Name}, &secret); err != nil {
			t.Fatal(err)
		}
		cfg, err := remote.RESTConfig(secret.Data[pair.Spec.KubeconfigSecretRef.Key])
		if err != nil {
			t.Fatalf("the pair's kubeconfig: %v", err)
		}
		if strings.TrimSuffix(cfg.Host, "/") != strings.TrimSuffix(wantHost, "/") {
			t.Errorf("pair %s reaches %s, want %s", name, cfg.Host, wantHost)
		}
	}

	r := executeAll(t, "--kubeconfig", cl.kubeconfig, "-n", ns, "create", "clusterpair", "dr", "--destination-context", "dest")
	if r.errLine != "" {
		t.Fatal(r.errLine)
	}
	if !strings.Contains(r.out, "on the source reaches the destination") || !strings.Contains(r.out, "on the destination reaches the source") {
		t.Errorf("output:\n%s", r.out)
	}
	reaches(cl.source.Client, "dr", cl.dest.Config.Host)
	reaches(cl.dest.Client, "dr", cl.source.Config.Host)

	// Again: the same objects, updated, no error.
	if r := executeAll(t, "--kubeconfig", cl.kubeconfig, "-n", ns, "create", "clusterpair", "dr", "--destination-context", "dest"); r.errLine != "" {
		t.Fatalf("a second run: %s", r.errLine)
	}

	r = executeAll(t, "--kubeconfig", cl.kubeconfig, "-n", ns, "create", "clusterpair", "one-way", "--destination-context", "dest", "-u")
	if r.errLine != "" {
		t.Fatal(r.errLine)
	}
	reaches(cl.source.Client, "one-way", cl.dest.Config.Host)
	if err := cl.dest.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one-way"}, &volsyncv1alpha1.ClusterPair{}); err == nil {
		t.Error("--unidirectional created a pair on the destination")
	}

	// A Secret of the pair's name that volsync did not make is not overwritten.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine-kubeconfig"}, StringData: map[string]string{"k": "v"}}
	if err := cl.source.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{"create", "clusterpair", "x"}, "name the destination"},
		{"an unknown context", []string{"create", "clusterpair", "x", "--destination-context", "nope"}, `context "nope" is not in the kubeconfig`},
		{"a foreign Secret", []string{"create", "clusterpair", "mine", "--destination-context", "dest"}, "was not made by volsync"},
	} {
		r := executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig, "-n", ns}, tc.args...)...)
		if !strings.Contains(r.errLine, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, r.errLine, tc.want)
		}
	}
	var kept corev1.Secret
	if err := cl.source.Client.Get(ctx, client.ObjectKeyFromObject(foreign), &kept); err != nil || string(kept.Data["k"]) != "v" {
		t.Errorf("the foreign Secret was changed: %v %v", err, kept.Data)
	}
}
