package remote

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// DefaultTimeout bounds every request to the destination, and every check as a whole.
const DefaultTimeout = 10 * time.Second

// SecretKey is the key of the pair's Secret that holds the kubeconfig.
func SecretKey(pair *volsyncv1alpha1.ClusterPair) string {
	if k := pair.Spec.KubeconfigSecretRef.Key; k != "" {
		return k
	}
	return volsyncv1alpha1.DefaultKubeconfigKey
}

// Kubeconfig reads the kubeconfig the pair's Secret holds. r should read straight from the API
// server (a manager's APIReader) so that volsyncd does not keep every Secret of the cluster in
// memory.
func Kubeconfig(ctx context.Context, r client.Reader, pair *volsyncv1alpha1.ClusterPair) ([]byte, error) {
	ref := pair.Spec.KubeconfigSecretRef
	key := SecretKey(pair)
	var secret corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: pair.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, newError(volsyncv1alpha1.ReasonSecretNotFound,
				"Secret %s/%s named by spec.kubeconfigSecretRef does not exist: create it with the destination's kubeconfig under the key %q",
				pair.Namespace, ref.Name, key)
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", pair.Namespace, ref.Name, err)
	}
	data, ok := secret.Data[key]
	if !ok {
		keys := make([]string, 0, len(secret.Data))
		for k := range secret.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, newError(volsyncv1alpha1.ReasonSecretNotFound,
			"Secret %s/%s has no key %q (it has %s): put the kubeconfig under %q or set spec.kubeconfigSecretRef.key",
			pair.Namespace, ref.Name, key, describeKeys(keys), key)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, newError(volsyncv1alpha1.ReasonInvalidKubeconfig,
			"key %q of Secret %s/%s is empty: put the destination's kubeconfig there", key, pair.Namespace, ref.Name)
	}
	return data, nil
}

func describeKeys(keys []string) string {
	if len(keys) == 0 {
		return "no keys"
	}
	return "keys " + strings.Join(keys, ", ")
}

// RESTConfig parses a kubeconfig into a client configuration for its current context, refusing
// what volsyncd must not do on a kubeconfig's say-so (see the package documentation). The result
// has DefaultTimeout on every request and no client-side rate limit: the destination's API
// priority and fairness protects it, and the migration bounds its own concurrency.
func RESTConfig(kubeconfig []byte) (*rest.Config, error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "the kubeconfig does not parse: %v", err)
	}
	if err := checkInline(raw); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "the kubeconfig cannot be used: %v", err)
	}
	if cfg.Timeout == 0 || cfg.Timeout > DefaultTimeout {
		cfg.Timeout = DefaultTimeout
	}
	cfg.QPS = -1
	cfg.UserAgent = "volsync"
	return cfg, nil
}

// checkInline refuses a kubeconfig whose current context needs a plugin or a file.
func checkInline(raw *clientcmdapi.Config) error {
	ctxName := raw.CurrentContext
	if ctxName == "" {
		if len(raw.Contexts) != 1 {
			return newError(volsyncv1alpha1.ReasonInvalidKubeconfig,
				"the kubeconfig has no current-context and %d contexts: set current-context", len(raw.Contexts))
		}
		for name := range raw.Contexts {
			ctxName = name
		}
		raw.CurrentContext = ctxName
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "the kubeconfig's current-context %q is not among its contexts", ctxName)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "context %q names cluster %q, which the kubeconfig does not define", ctxName, kctx.Cluster)
	}
	if cluster.Server == "" {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "cluster %q of the kubeconfig has no server address", kctx.Cluster)
	}
	var problems []string
	if cluster.CertificateAuthority != "" {
		problems = append(problems, "certificate-authority (a file): use certificate-authority-data")
	}
	if user, ok := raw.AuthInfos[kctx.AuthInfo]; ok {
		if user.Exec != nil {
			problems = append(problems, "exec credential plugin: use a token or client-certificate-data")
		}
		if user.AuthProvider != nil {
			problems = append(problems, "auth-provider plugin: use a token or client-certificate-data")
		}
		if user.TokenFile != "" {
			problems = append(problems, "tokenFile (a file): use token")
		}
		if user.ClientCertificate != "" {
			problems = append(problems, "client-certificate (a file): use client-certificate-data")
		}
		if user.ClientKey != "" {
			problems = append(problems, "client-key (a file): use client-key-data")
		}
	} else if kctx.AuthInfo != "" {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "context %q names user %q, which the kubeconfig does not define", ctxName, kctx.AuthInfo)
	}
	if len(problems) > 0 {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig,
			"the kubeconfig must carry its credentials inline; it uses %s", strings.Join(problems, "; "))
	}
	return nil
}

// Config reads and parses the pair's kubeconfig.
func Config(ctx context.Context, r client.Reader, pair *volsyncv1alpha1.ClusterPair) (*rest.Config, error) {
	data, err := Kubeconfig(ctx, r, pair)
	if err != nil {
		return nil, err
	}
	cfg, err := RESTConfig(data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = fmt.Errorf("key %q of Secret %s/%s: %w", SecretKey(pair), pair.Namespace, pair.Spec.KubeconfigSecretRef.Name, e.Err)
		}
		return nil, err
	}
	return cfg, nil
}
