package remote

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// kubeconfig is a kubeconfig with one context; user is the YAML of its user entry.
func kubeconfig(server, user string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: dr
contexts:
- name: dr
  context: {cluster: dr, user: dr}
clusters:
- name: dr
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: dr
  user: %s
`, server, user)
}

func TestRESTConfig(t *testing.T) {
	tests := []struct {
		name       string
		kubeconfig string
		reason     string // "" when it must parse
		says       string
	}{
		{"a kubeconfig with an inline token parses", kubeconfig("https://dr.example:6443", "{token: abc}"), "", ""},
		{"a kubeconfig with inline client certificate data parses",
			kubeconfig("https://dr.example:6443", "{client-certificate-data: Y2VydA==, client-key-data: a2V5}"), "", ""},
		{"text that is not YAML is an invalid kubeconfig", "{{{ not yaml", volsyncv1alpha1.ReasonInvalidKubeconfig, "does not parse"},
		{"an exec plugin is refused: it would run a command inside volsyncd",
			kubeconfig("https://dr.example:6443", "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}"),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "exec credential plugin"},
		{"a token file is refused: it would read volsyncd's own files",
			kubeconfig("https://dr.example:6443", "{tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}"),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "tokenFile"},
		{"a client certificate file is refused", kubeconfig("https://dr.example:6443", "{client-certificate: /etc/dr/client.crt, client-key: /etc/dr/client.key}"),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "client-certificate (a file)"},
		{"an auth-provider plugin is refused", kubeconfig("https://dr.example:6443", "{auth-provider: {name: oidc}}"),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "auth-provider"},
		{"a CA file is refused", strings.Replace(kubeconfig("https://dr.example:6443", "{token: abc}"),
			"insecure-skip-tls-verify: true", "certificate-authority: /etc/ca.crt", 1),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "certificate-authority (a file)"},
		{"a cluster without a server address is refused", kubeconfig("", "{token: abc}"),
			volsyncv1alpha1.ReasonInvalidKubeconfig, "no server address"},
		{"a current-context that does not exist is refused",
			strings.Replace(kubeconfig("https://dr.example:6443", "{token: abc}"), "current-context: dr", "current-context: prod", 1),
			volsyncv1alpha1.ReasonInvalidKubeconfig, `current-context "prod"`},
		{"a single context is used when current-context is not set",
			strings.Replace(kubeconfig("https://dr.example:6443", "{token: abc}"), "current-context: dr\n", "", 1), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := RESTConfig([]byte(tt.kubeconfig))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("RESTConfig: %v", err)
				}
				if cfg.Timeout != DefaultTimeout || cfg.QPS >= 0 {
					t.Errorf("timeout %s and QPS %v; want %s and no client-side limit", cfg.Timeout, cfg.QPS, DefaultTimeout)
				}
				return
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %s (%v), want %s", got, err, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("message %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestKubeconfigFromSecret(t *testing.T) {
	pair := func(key string) *volsyncv1alpha1.ClusterPair {
		return &volsyncv1alpha1.ClusterPair{
			ObjectMeta: metav1.ObjectMeta{Name: "dr", Namespace: "ops"},
			Spec:       volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: "dr-kubeconfig", Key: key}},
		}
	}
	secret := func(data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dr-kubeconfig", Namespace: "ops"}, Data: data}
	}
	tests := []struct {
		name   string
		secret *corev1.Secret
		key    string
		reason string
		says   string
	}{
		{"the default key kubeconfig is read", secret(map[string][]byte{"kubeconfig": []byte("x")}), "", "", ""},
		{"a named key is read", secret(map[string][]byte{"config": []byte("x")}), "config", "", ""},
		{"a missing Secret says to create it", nil, "", volsyncv1alpha1.ReasonSecretNotFound, "create it"},
		{"a missing key names the keys there are", secret(map[string][]byte{"config": []byte("x")}), "",
			volsyncv1alpha1.ReasonSecretNotFound, `has no key "kubeconfig" (it has keys config)`},
		{"an empty key is an invalid kubeconfig", secret(map[string][]byte{"kubeconfig": []byte("  \n")}), "",
			volsyncv1alpha1.ReasonInvalidKubeconfig, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme.Scheme)
			if tt.secret != nil {
				b = b.WithObjects(tt.secret)
			}
			data, err := Kubeconfig(context.Background(), b.Build(), pair(tt.key))
			if tt.reason == "" {
				if err != nil || string(data) != "x" {
					t.Fatalf("Kubeconfig = %q, %v", data, err)
				}
				return
			}
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %v (reason %s); want reason %s saying %q", err, ReasonOf(err), tt.reason, tt.says)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	tests := []struct {
		name   string
		err    error
		reason string
		says   string
	}{
		{"401 means the credentials are wrong or expired", apierrors.NewUnauthorized("token expired"),
			volsyncv1alpha1.ReasonForbidden, "wrong or has expired"},
		{"403 is Forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), volsyncv1alpha1.ReasonForbidden, "forbids"},
		{"an untrusted certificate points at the kubeconfig's CA", fmt.Errorf("Get: %w", x509.UnknownAuthorityError{}),
			volsyncv1alpha1.ReasonUnreachable, "certificate-authority-data"},
		{"a refused connection is Unreachable", &net.OpError{Op: "dial", Err: errors.New("connection refused")},
			volsyncv1alpha1.ReasonUnreachable, "check the server address"},
		{"a timeout is Unreachable", context.DeadlineExceeded, volsyncv1alpha1.ReasonUnreachable, "cannot reach"},
		{"an Error keeps its own reason", &Error{Reason: volsyncv1alpha1.ReasonSecretNotFound, Err: errors.New("x")},
			volsyncv1alpha1.ReasonSecretNotFound, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(tt.err, "https://dr.example:6443", "reading the server version")
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Classify = %v (reason %s); want reason %s saying %q", err, ReasonOf(err), tt.reason, tt.says)
			}
		})
	}
	if ReasonOf(errors.New("plain")) != volsyncv1alpha1.ReasonError {
		t.Error("a plain error has reason Error")
	}
}

// TestServerVersionGivesUpWithinTheTimeout: a destination that accepts connections and never
// answers must cost a bounded wait, not a stuck worker.
func TestServerVersionGivesUpWithinTheTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := &rest.Config{Host: srv.URL, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := ServerVersion(context.Background(), cfg)
	if ReasonOf(err) != volsyncv1alpha1.ReasonUnreachable {
		t.Fatalf("reason = %s (%v), want Unreachable", ReasonOf(err), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s", d)
	}
}

func TestServerVersionRefusesSomethingThatIsNotKubernetes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	defer srv.Close()
	_, err := ServerVersion(context.Background(), &rest.Config{Host: srv.URL, Timeout: time.Second})
	if ReasonOf(err) != volsyncv1alpha1.ReasonUnreachable || !strings.Contains(err.Error(), "not a Kubernetes version") {
		t.Fatalf("err = %v", err)
	}
}

func TestPermissionString(t *testing.T) {
	tests := []struct {
		p    Permission
		want string
	}{
		{Permission{Verb: "create", Resource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Namespace: "shop"}, "create deployments.apps in namespace shop"},
		{Permission{Verb: "patch", Resource: schema.GroupResource{Resource: "configmaps"}}, "patch configmaps in all namespaces"},
		{Permission{Verb: "create", Resource: schema.GroupResource{Resource: "namespaces"}}, "create namespaces"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
	}
}

func TestDescribePermissions(t *testing.T) {
	gr := func(group, resource string) schema.GroupResource {
		return schema.GroupResource{Group: group, Resource: resource}
	}
	perms := []Permission{
		{Verb: "patch", Resource: gr("", "configmaps"), Namespace: "shop"},
		{Verb: "create", Resource: gr("", "configmaps"), Namespace: "shop"},
		{Verb: "create", Resource: gr("apps", "deployments"), Namespace: "shop"},
		{Verb: "patch", Resource: gr("apps", "deployments"), Namespace: "shop"},
		{Verb: "delete", Resource: gr("apps", "deployments"), Namespace: "shop"},
		{Verb: "create", Resource: gr("", "secrets")},
		{Verb: "create", Resource: gr("", "namespaces")},
		{Verb: "patch", Resource: gr("", "namespaces")},
	}
	want := "create/patch namespaces; create secrets in all namespaces; create/delete/patch deployments.apps in namespace shop; create/patch configmaps in namespace shop"
	if got := describePermissions(perms); got != want {
		t.Errorf("describePermissions =\n%s\nwant\n%s", got, want)
	}
}
