package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// pairSide is one cluster of `create clusterpair`: how to reach it, and the kubeconfig of it that
// the other side's ClusterPair holds.
type pairSide struct {
	what       string
	kubeconfig []byte
	client     client.Client
	host       string
}

func (a *app) createClusterPairCommand() *cobra.Command {
	var (
		srcFile, destFile       string
		srcContext, destContext string
		unidirectional          bool
		wait                    time.Duration
	)
	cmd := &cobra.Command{
		Use:     "clusterpair NAME (--destination-context CTX | --dest-kube-file FILE)",
		Aliases: clusterPairAliases,
		Short:   "Pair two clusters: a ClusterPair NAME on each that reaches the other (as storkctl does)",
		Long: `Create, or bring up to date, a ClusterPair NAME and its kubeconfig Secret on the source cluster,
reaching the destination, and (unless --unidirectional) one on the destination reaching the source,
so that failback needs no second step. Each side's kubeconfig is generated as 'generate
clusterpair' does: reduced to one context, with every certificate inline, and checked by the
rules volsyncd applies. The source is --source-context or --src-kube-file (default: the current
context); the destination is --destination-context or --dest-kube-file. The namespace (-n) is
created on the destination when it is missing.`,
		Example: `  volsyncctl create clusterpair dr -n mysql --destination-context dr-admin
  volsyncctl create clusterpair dr -n mysql --src-kube-file prod.kubeconfig --dest-kube-file dr.kubeconfig --unidirectional`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if destFile == "" && destContext == "" {
				return errors.New("name the destination: --destination-context CTX (a context of your kubeconfig) or --dest-kube-file FILE")
			}
			srcPath, srcCtx := a.opts.Kubeconfig, a.opts.Context
			if srcFile != "" {
				srcPath, srcCtx = srcFile, ""
			}
			if srcContext != "" {
				srcCtx = srcContext
			}
			destPath := a.opts.Kubeconfig
			if destFile != "" {
				destPath = destFile
			}
			src, err := a.pairSide("source", srcPath, srcCtx)
			if err != nil {
				return err
			}
			dest, err := a.pairSide("destination", destPath, destContext)
			if err != nil {
				return err
			}
			if src.host == dest.host {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the source and the destination are the same API server (%s)\n", src.host)
			}
			ctx := cmd.Context()
			ns := a.opts.TargetNamespace()
			name := args[0]
			pairs := []struct{ on, reach *pairSide }{{src, dest}}
			if !unidirectional {
				pairs = append(pairs, struct{ on, reach *pairSide }{dest, src})
			}
			for _, p := range pairs {
				if err := applyClusterPair(ctx, p.on.client, name, ns, p.reach.kubeconfig); err != nil {
					return cli.Hint(fmt.Errorf("on the %s (%s): %w", p.on.what, p.on.host, err),
						"check that volsync's CRDs are installed there and that you may create Secrets and ClusterPairs in "+ns)
				}
				fmt.Fprintf(a.out, "clusterpair/%s in %s on the %s reaches the %s (%s)\n", name, ns, p.on.what, p.reach.what, p.reach.host)
			}
			if wait <= 0 {
				return nil
			}
			for _, p := range pairs {
				if err := waitPairReady(ctx, p.on.client, name, ns, wait); err != nil {
					return cli.Hint(fmt.Errorf("clusterpair/%s on the %s: %w", name, p.on.what, err),
						"see 'volsyncctl get clusterpair "+name+" -n "+ns+"' and the ClusterPair's Events there")
				}
				fmt.Fprintf(a.out, "clusterpair/%s on the %s is Ready\n", name, p.on.what)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&srcContext, "source-context", "", "kubeconfig context of the source cluster (default: --context, else the current one)")
	fs.StringVar(&destContext, "destination-context", "", "kubeconfig context of the destination cluster")
	fs.StringVar(&srcFile, "src-kube-file", "", "storkctl's flag: a kubeconfig file of the source cluster")
	fs.StringVar(&destFile, "dest-kube-file", "", "storkctl's flag: a kubeconfig file of the destination cluster")
	fs.BoolVarP(&unidirectional, "unidirectional", "u", false, "create the pair on the source only (storkctl's flag)")
	fs.DurationVar(&wait, "wait", 0, "wait this long for both pairs to be Ready (0: do not wait)")
	return cmd
}

// pairSide reads one side's kubeconfig and makes a client from it.
func (a *app) pairSide(what, path, context string) (*pairSide, error) {
	data, err := a.contextKubeconfig(path, context)
	if err != nil {
		return nil, fmt.Errorf("the %s: %w", what, err)
	}
	cfg, err := remote.RESTConfig(data)
	if err != nil {
		return nil, fmt.Errorf("the %s: %w", what, err)
	}
	cfg.Timeout = 30 * time.Second
	c, err := cli.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("the %s: %w", what, err)
	}
	return &pairSide{what: what, kubeconfig: data, client: c, host: cfg.Host}, nil
}

// applyClusterPair creates or updates the pair and its Secret in ns, creating ns when missing. A
// Secret of that name that volsync did not make is left alone and reported.
func applyClusterPair(ctx context.Context, c client.Client, name, ns string, kubeconfig []byte) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil &&
		!apierrors.IsAlreadyExists(err) && !apierrors.IsForbidden(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	secret, pair := clusterPairObjects(name, ns, kubeconfig)
	var have corev1.Secret
	switch err := c.Get(ctx, client.ObjectKeyFromObject(secret), &have); {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, secret); err != nil {
			return fmt.Errorf("creating Secret %s: %w", secret.Name, err)
		}
	case err != nil:
		return err
	case have.Labels[volsyncv1alpha1.CreatedByLabel] != volsyncv1alpha1.CreatedByValue:
		return fmt.Errorf("Secret %s exists and was not made by volsync; delete or rename it", secret.Name)
	default:
		have.Data = map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}
		if err := c.Update(ctx, &have); err != nil {
			return fmt.Errorf("updating Secret %s: %w", secret.Name, err)
		}
	}
	var cur volsyncv1alpha1.ClusterPair
	switch err := c.Get(ctx, client.ObjectKeyFromObject(pair), &cur); {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, pair); err != nil {
			return fmt.Errorf("creating ClusterPair %s: %w", name, err)
		}
	case err != nil:
		return err
	default:
		cur.Spec = pair.Spec
		if err := c.Update(ctx, &cur); err != nil {
			return fmt.Errorf("updating ClusterPair %s: %w", name, err)
		}
	}
	return nil
}

// waitPairReady polls the pair until volsyncd finds it Ready, or says why not once within passes.
func waitPairReady(ctx context.Context, c client.Client, name, ns string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last string
	for {
		var p volsyncv1alpha1.ClusterPair
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err == nil {
			cond := meta.FindStatusCondition(p.Status.Conditions, volsyncv1alpha1.ConditionReady)
			if cond != nil && cond.Status == metav1.ConditionTrue {
				return nil
			}
			if cond != nil {
				last = cond.Reason + ": " + cond.Message
			}
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "volsyncd has not checked it (is volsyncd running there?)"
			}
			return fmt.Errorf("not Ready after %s: %s", within, last)
		case <-tick.C:
		}
	}
}
