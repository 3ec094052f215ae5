package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/pkg/cli"
)

// pairUsers lists the names of the objects of namespace ns that use each cluster pair, for
// `delete -c PAIR`.
type pairUsers func(ctx context.Context, c client.Client, ns string) (map[string][]string, error)

// deleteNamespacedCommand is `delete <resource> NAME` for a namespaced kind: it deletes the object
// in the target namespace and, when it is missing, says how to list the ones there are. With
// byPair, `delete <resource> -c PAIR` deletes every object of the namespace that uses the cluster
// pair, as storkctl's -c does.
func (a *app) deleteNamespacedCommand(resource string, aliases []string, what, short string,
	object func(client.ObjectKey) client.Object, byPair ...pairUsers) *cobra.Command {
	var clusterPair string
	cmd := &cobra.Command{
		Use:     resource + " NAME",
		Aliases: aliases,
		Short:   short,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (clusterPair != "") {
				if len(byPair) == 0 {
					return errors.New("name the " + what + " to delete")
				}
				return errors.New("name the " + what + " to delete, or give -c CLUSTERPAIR (not both)")
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ns := a.opts.TargetNamespace()
			names := args
			if clusterPair != "" {
				users, err := byPair[0](cmd.Context(), c, ns)
				if err != nil {
					return err
				}
				if names = users[clusterPair]; len(names) == 0 {
					return cli.Hint(fmt.Errorf("no %s in namespace %q uses cluster pair %q", what, ns, clusterPair),
						"check -c and -n; list them with 'volsyncctl get "+resource+" -n "+ns+"'")
				}
			}
			for _, name := range names {
				if err := c.Delete(cmd.Context(), object(client.ObjectKey{Name: name, Namespace: ns})); err != nil {
					return a.explainGet(err, what, name, "volsyncctl get "+resource+" -n "+ns)
				}
				fmt.Fprintf(a.out, "%s/%s deleted\n", resource, name)
			}
			return nil
		},
	}
	if len(byPair) > 0 {
		cmd.Use = resource + " (NAME | -c CLUSTERPAIR)"
		cmd.Flags().StringVarP(&clusterPair, "cluster-pair", "c", "", "delete every "+what+" of the namespace that uses this cluster pair")
		for _, alias := range []string{"clusterPair", "clusterpair"} {
			cmd.Flags().StringVar(&clusterPair, alias, "", "storkctl's spelling of --cluster-pair")
			_ = cmd.Flags().MarkHidden(alias)
		}
	}
	return cmd
}
