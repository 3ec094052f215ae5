package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/remote"
)

func TestGenerateClusterPair(t *testing.T) {
	_, kubeconfig := startCluster(t)
	raw, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// A second context that needs a credential plugin, which volsyncd refuses to run.
	dest := raw.Contexts[raw.CurrentContext]
	raw.AuthInfos["sso"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "get-token", APIVersion: "client.authentication.k8s.io/v1"}}
	raw.Contexts["sso"] = &clientcmdapi.Context{Cluster: dest.Cluster, AuthInfo: "sso"}
	raw.Contexts["dr"] = dest.DeepCopy()
	both := writeFile(t, "both.kubeconfig", "")
	if err := clientcmd.WriteToFile(*raw, both); err != nil {
		t.Fatal(err)
	}

	t.Run("the output is a Secret with a usable kubeconfig and a ClusterPair naming it", func(t *testing.T) {
		out, errLine := execute(t, false, "--kubeconfig", both, "--context", "dr", "-n", "mysql", "generate", "clusterpair", "remote")
		if errLine != "" {
			t.Fatal(errLine)
		}
		docs := strings.Split(out, "\n---\n")
		if len(docs) != 2 {
			t.Fatalf("%d documents, want 2:\n%s", len(docs), out)
		}
		var secret corev1.Secret
		var pair volsyncv1alpha1.ClusterPair
		if err := yaml.UnmarshalStrict([]byte(docs[0]), &secret); err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict([]byte(docs[1]), &pair); err != nil {
			t.Fatal(err)
		}
		if secret.Namespace != "mysql" || pair.Namespace != "mysql" || pair.Spec.KubeconfigSecretRef.Name != secret.Name {
			t.Fatalf("secret %s/%s, pair %s/%s -> %+v", secret.Namespace, secret.Name, pair.Namespace, pair.Name, pair.Spec)
		}
		kc := secret.StringData[volsyncv1alpha1.DefaultKubeconfigKey]
		cfg, err := remote.RESTConfig([]byte(kc))
		if err != nil {
			t.Fatalf("the generated kubeconfig is refused: %v", err)
		}
		if cfg.Host != raw.Clusters[dest.Cluster].Server {
			t.Errorf("server %s, want %s", cfg.Host, raw.Clusters[dest.Cluster].Server)
		}
		if strings.Contains(kc, "sso") || strings.Contains(kc, "get-token") {
			t.Errorf("the kubeconfig carries the other context:\n%s", kc)
		}
	})
	for _, tc := range []struct {
		name, context, wantErr string
	}{
		{"a context that runs a credential plugin is refused with the fix", "sso",
			"exec credential plugin: use a token or client-certificate-data: give volsync a token for the destination"},
		{"an unknown context says how to list them", "nope",
			`error: context "nope" is not in the kubeconfig: list the contexts with 'kubectl config get-contexts'`},
		{"no context at all says what to pass", "",
			"error: --context is required: name the kubeconfig context of the destination cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--kubeconfig", both, "generate", "clusterpair", "remote"}
			if tc.context != "" {
				args = append([]string{"--context", tc.context}, args...)
			}
			_, errLine := execute(t, false, args...)
			if !strings.Contains(errLine, tc.wantErr) {
				t.Fatalf("error %q, want %q", errLine, tc.wantErr)
			}
		})
	}
}
