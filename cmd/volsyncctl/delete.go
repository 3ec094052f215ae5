package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deleteNamespacedCommand is `delete <resource> NAME` for a namespaced kind: it deletes the object
// in the target namespace and, when it is missing, says how to list the ones there are.
func (a *app) deleteNamespacedCommand(resource string, aliases []string, what, short string,
	object func(client.ObjectKey) client.Object) *cobra.Command {
	return &cobra.Command{
		Use:     resource + " NAME",
		Aliases: aliases,
		Short:   short,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ns := a.opts.TargetNamespace()
			if err := c.Delete(cmd.Context(), object(client.ObjectKey{Name: args[0], Namespace: ns})); err != nil {
				return a.explainGet(err, what, args[0], "volsyncctl get "+resource+" -n "+ns)
			}
			fmt.Fprintf(a.out, "%s/%s deleted\n", resource, args[0])
			return nil
		},
	}
}
