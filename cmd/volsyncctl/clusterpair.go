package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/migration/remote"
)

var clusterPairAliases = []string{"clusterpairs", "cp"}

func (a *app) getClusterPairCommand() *cobra.Command {
	return a.getCommand(getKind{
		resource: "clusterpair", aliases: clusterPairAliases,
		what: "cluster pair", plural: "cluster pairs",
		short: "List cluster pairs, or show one",
		long: `List cluster pairs: NAME READY SERVER-VERSION LAST-CHECK CREATED. READY is the outcome of volsyncd's
last check of the destination (its API server and the permissions a migration needs), Unknown
before the first; SERVER-VERSION is the destination's. -o wide adds the REASON, the kubeconfig
SECRET and the check's MESSAGE.`,
		example: `  volsyncctl get clusterpair -n mysql
  volsyncctl get cp remotecluster -o wide`,
		newObject: func() client.Object { return &volsyncv1alpha1.ClusterPair{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.ClusterPairList{} },
		table: func(list client.ObjectList, allNamespaces, wide bool, now time.Time) cli.Table {
			return cli.ClusterPairTable(list.(*volsyncv1alpha1.ClusterPairList).Items, allNamespaces, wide, now)
		},
	})
}

func (a *app) generateClusterPairCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "clusterpair NAME --context DESTINATION",
		Aliases: clusterPairAliases,
		Short:   "Print a ClusterPair and its kubeconfig Secret for the cluster of a kubeconfig context",
		Long: `Print, as YAML to apply on the SOURCE cluster, a Secret holding a kubeconfig for the
DESTINATION cluster (the --context of your kubeconfig, reduced to that one context with every
certificate inline) and a ClusterPair that points at it. volsyncd refuses kubeconfigs that run
credential plugins or read files, so the context must use a token or client certificate.`,
		Example: `  volsyncctl generate clusterpair dr --context dr-admin -n mysql | kubectl --context prod apply -f -`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if a.opts.Context == "" {
				return errors.New("--context is required: name the kubeconfig context of the destination cluster")
			}
			kubeconfig, err := a.destinationKubeconfig()
			if err != nil {
				return err
			}
			ns := a.opts.Namespace
			if ns == "" {
				ns = cli.DefaultNamespace
			}
			secret, pair := clusterPairObjects(args[0], ns, kubeconfig)
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			if format == cli.OutputTable {
				format = cli.OutputYAML
			}
			scheme, err := volsyncscheme.New()
			if err != nil {
				return err
			}
			for i, obj := range []runtime.Object{secret, pair} {
				if i > 0 && format == cli.OutputYAML {
					fmt.Fprintln(a.out, "---")
				}
				if err := cli.PrintObject(a.out, format, scheme, obj, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// clusterPairObjects are a ClusterPair name in ns and the Secret holding the kubeconfig of the
// cluster it reaches.
func clusterPairObjects(name, ns string, kubeconfig []byte) (*corev1.Secret, *volsyncv1alpha1.ClusterPair) {
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		// volsyncd caches and watches only Secrets with volsync's label, so this one is
		// labelled: a fixed kubeconfig is re-checked at once, not at the next recheck.
		ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: ns,
			Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{volsyncv1alpha1.DefaultKubeconfigKey: string(kubeconfig)},
	}
	pair := &volsyncv1alpha1.ClusterPair{
		TypeMeta:   metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "ClusterPair"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ClusterPairSpec{
			KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: secret.Name, Key: volsyncv1alpha1.DefaultKubeconfigKey},
		},
	}
	return secret, pair
}

// destinationKubeconfig is the user's kubeconfig reduced to --context, with every file it refers
// to read in, checked by the same rules the ClusterPair controller applies.
func (a *app) destinationKubeconfig() ([]byte, error) {
	return a.contextKubeconfig(a.opts.Kubeconfig, a.opts.Context)
}

// contextKubeconfig is the kubeconfig at path (the default loading rules when empty) reduced to
// context (its current one when empty), self-contained and checked as destinationKubeconfig.
func (a *app) contextKubeconfig(path, context string) ([]byte, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	raw, err := rules.Load()
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("reading the kubeconfig: %w", err), "check --kubeconfig or KUBECONFIG")
	}
	if context == "" {
		context = raw.CurrentContext
	}
	if _, ok := raw.Contexts[context]; !ok {
		return nil, cli.Hint(fmt.Errorf("context %q is not in the kubeconfig", context),
			"list the contexts with 'kubectl config get-contexts'")
	}
	raw.CurrentContext = context
	if err := clientcmdapi.MinifyConfig(raw); err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(raw); err != nil {
		return nil, cli.Hint(fmt.Errorf("reading a file the context refers to: %w", err), "check the certificate paths of the context")
	}
	data, err := clientcmd.Write(*raw)
	if err != nil {
		return nil, err
	}
	if _, err := remote.RESTConfig(data); err != nil {
		return nil, cli.Hint(fmt.Errorf("context %q: %w", context, err),
			"give volsync a token for the destination, such as one from 'kubectl create token'")
	}
	return data, nil
}
