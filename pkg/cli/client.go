package cli

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
)

// DefaultNamespace is used when neither --namespace nor the kubeconfig context names one.
const DefaultNamespace = "default"

// clientConfig is the kubeconfig as the flags select it: --kubeconfig (else $KUBECONFIG, else
// ~/.kube/config), then --context and --namespace on top, as kubectl does.
func (o *GlobalOptions) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// RESTConfig returns the connection settings for the selected cluster. Its errors say which flag
// or file to fix.
func (o *GlobalOptions) RESTConfig() (*rest.Config, error) {
	cfg, err := o.clientConfig().ClientConfig()
	if err != nil {
		return nil, o.explainConfigError(err)
	}
	cfg.UserAgent = "volsyncctl"
	return cfg, nil
}

// TargetNamespace returns --namespace, else the namespace of the kubeconfig context, else "default".
// A missing kubeconfig is not an error here: commands that only read local files still work.
func (o *GlobalOptions) TargetNamespace() string {
	if o.Namespace != "" {
		return o.Namespace
	}
	ns, _, err := o.clientConfig().Namespace()
	if err != nil || ns == "" {
		return DefaultNamespace
	}
	return ns
}

// Client returns a controller-runtime client that knows the built-in kinds, the volsync kinds and
// VolumeSnapshots.
func (o *GlobalOptions) Client() (client.Client, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	return NewClient(cfg)
}

// WatchClient is Client that can also watch, for the get commands' --watch.
func (o *GlobalOptions) WatchClient() (client.WithWatch, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	scheme, err := volsyncscheme.New()
	if err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, Explain(err, cfg.Host)
	}
	return c, nil
}

// ClientWithin is Client whose every request gives up after timeout, for a cluster that may be
// down, such as the source during a failover. It also returns the API server's address, for
// messages.
func (o *GlobalOptions) ClientWithin(timeout time.Duration) (client.Client, string, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, "", err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = timeout
	c, err := NewClient(cfg)
	return c, cfg.Host, err
}

// WithContext is a copy of the options that selects another context of the same kubeconfig, for
// commands that talk to two clusters (--source-context, --destination-context).
func (o *GlobalOptions) WithContext(name string) *GlobalOptions {
	other := *o
	other.Context = name
	return &other
}

// NewClient is a client for cfg that knows the kinds Client knows.
func NewClient(cfg *rest.Config) (client.Client, error) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, Explain(err, cfg.Host)
	}
	return c, nil
}

// Discovery returns a discovery client whose requests give up after timeout, for quick probes
// such as the server version.
func (o *GlobalOptions) Discovery(timeout time.Duration) (discovery.DiscoveryInterface, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = timeout
	return discovery.NewDiscoveryClientForConfig(cfg)
}

// contextExists reports whether --context names a context of the kubeconfig.
func (o *GlobalOptions) contextExists() bool {
	raw, err := o.clientConfig().RawConfig()
	if err != nil {
		return false
	}
	_, ok := raw.Contexts[o.Context]
	return ok
}

func (o *GlobalOptions) explainConfigError(err error) error {
	switch {
	case clientcmd.IsEmptyConfig(err):
		return Hint(errors.New("no kubeconfig found"),
			"pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config")
	case o.Context != "" && !o.contextExists():
		return Hint(fmt.Errorf("context %q is not in the kubeconfig", o.Context),
			"list the contexts with 'kubectl config get-contexts'")
	case o.Kubeconfig != "":
		return Hint(fmt.Errorf("reading kubeconfig %s: %w", o.Kubeconfig, err), "check the --kubeconfig path")
	}
	return Hint(fmt.Errorf("reading the kubeconfig: %w", err), "check KUBECONFIG or pass --kubeconfig")
}
