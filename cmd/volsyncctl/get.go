package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	"github.com/volsync/volsync/pkg/cli"
)

// getKind describes a namespaced kind for getNamespacedCommand.
type getKind struct {
	// resource is the name the user types, such as replicationsource.
	resource string
	aliases  []string
	// what and plural name the kind in messages: "replication source", "replication sources".
	what, plural string
	short, long  string
	example      string
	newObject    func() client.Object
	newList      func() client.ObjectList
	// table prints the items of list.
	table func(list client.ObjectList, allNamespaces, wide bool, now time.Time) cli.Table
	// clusterPair, when set, gives -c/--cluster-pair: only objects for which it returns the
	// flag's value are shown.
	clusterPair func(client.Object) string
	// clusterScoped kinds have no namespace, and no -A.
	clusterScoped bool
}

// getCommand is `get <resource> [NAME]`: -n and -A for a namespaced kind, -o
// table|wide|yaml|json, and -w to print a new row on each change until Ctrl-C.
func (a *app) getCommand(k getKind) *cobra.Command {
	var (
		allNamespaces bool
		watchChanges  bool
		clusterPair   string
	)
	cmd := &cobra.Command{
		Use:     k.resource + " [NAME]",
		Aliases: k.aliases,
		Short:   k.short,
		Long:    k.long,
		Example: k.example,
		Args:    nameArgs(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			if allNamespaces && len(args) == 1 {
				return cli.Hint(fmt.Errorf("a %s cannot be fetched by name across all namespaces", k.what), "drop -A or the name")
			}
			if clusterPair != "" && len(args) == 1 {
				return cli.Hint(fmt.Errorf("-c %s filters a list; it cannot go with the name %q", clusterPair, args[0]), "drop -c or the name")
			}
			c, err := a.opts.WatchClient()
			if err != nil {
				return err
			}
			scheme, err := volsyncscheme.New()
			if err != nil {
				return err
			}
			ctx, ns, wide := cmd.Context(), a.opts.TargetNamespace(), a.opts.Wide()
			listHint := "volsyncctl get " + k.resource + " -n " + ns
			if k.clusterScoped {
				ns, allNamespaces, listHint = "", true, "volsyncctl get "+k.resource
			}
			list := k.newList()
			var opts []client.ListOption
			if !allNamespaces {
				opts = append(opts, client.InNamespace(ns))
			}
			keep := func(obj client.Object) bool {
				return clusterPair == "" || k.clusterPair(obj) == clusterPair
			}
			if len(args) == 1 {
				obj := k.newObject()
				if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, obj); err != nil {
					return a.explainGet(err, k.what, args[0], listHint)
				}
				if err := meta.SetList(list, []runtime.Object{obj}); err != nil {
					return err
				}
				list.SetResourceVersion(obj.GetResourceVersion())
				opts = append(opts, client.MatchingFields{"metadata.name": args[0]})
				if format != cli.OutputTable {
					if err := cli.PrintObject(a.out, format, scheme, obj, nil); err != nil {
						return err
					}
				}
			} else {
				if err := c.List(ctx, list, opts...); err != nil {
					return a.explain(err)
				}
				if clusterPair != "" {
					if err := filterList(list, keep); err != nil {
						return err
					}
				}
				if format != cli.OutputTable {
					if err := cli.PrintObject(a.out, format, scheme, list, nil); err != nil {
						return err
					}
				}
			}
			var widths []int
			if format == cli.OutputTable {
				if meta.LenList(list) == 0 && !watchChanges {
					where := " in namespace " + ns
					if allNamespaces {
						where = ""
					}
					if clusterPair != "" {
						where += " for cluster pair " + clusterPair
					}
					fmt.Fprintf(a.out, "No %s found%s.\n", k.plural, where)
					return nil
				}
				t := k.table(list, allNamespaces && !k.clusterScoped, wide, time.Now())
				if err := t.Write(a.out); err != nil {
					return err
				}
				widths = t.Widths()
			}
			if !watchChanges {
				return nil
			}
			return a.watchChanges(ctx, c, k, list.GetResourceVersion(), opts, keep, func(obj client.Object) error {
				if format != cli.OutputTable {
					if format == cli.OutputYAML {
						fmt.Fprintln(a.out, "---")
					}
					return cli.PrintObject(a.out, format, scheme, obj, nil)
				}
				one := k.newList()
				if err := meta.SetList(one, []runtime.Object{obj}); err != nil {
					return err
				}
				t := k.table(one, allNamespaces && !k.clusterScoped, wide, time.Now())
				if widths == nil {
					// Nothing was listed: the first change prints the headers.
					widths = t.Widths()
					t.Rows = append([][]string{t.Headers}, t.Rows...)
				}
				return t.WriteRows(a.out, widths)
			})
		},
	}
	if !k.clusterScoped {
		cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list the "+k.plural+" of every namespace")
	}
	cmd.Flags().BoolVarP(&watchChanges, "watch", "w", false, "after listing, print a new row each time one changes, until Ctrl-C")
	if k.clusterPair != nil {
		cmd.Flags().StringVarP(&clusterPair, "cluster-pair", "c", "", "show only the "+k.plural+" that use this cluster pair")
		// storkctl's spellings, hidden.
		for _, alias := range []string{"clusterPair", "clusterpair"} {
			cmd.Flags().StringVar(&clusterPair, alias, "", "storkctl's spelling of --cluster-pair")
			_ = cmd.Flags().MarkHidden(alias)
		}
	}
	return cmd
}

// nameArgs checks the positional arguments of a command that takes one NAME (required, or at most
// one), with a message that says what to type instead of cobra's count of arguments.
func nameArgs(required bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case required && len(args) == 0:
			return cli.Hint(fmt.Errorf("%s needs the NAME of the object", cmd.CommandPath()), "see '"+cmd.CommandPath()+" --help'")
		case len(args) > 1:
			return cli.Hint(fmt.Errorf("%s takes one NAME, not %d: %q", cmd.CommandPath(), len(args), args),
				"pass one name, or none to list them all")
		}
		return nil
	}
}

// filterList keeps the items of list for which keep is true.
func filterList(list client.ObjectList, keep func(client.Object) bool) error {
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	kept := items[:0]
	for _, item := range items {
		if obj, ok := item.(client.Object); ok && keep(obj) {
			kept = append(kept, item)
		}
	}
	return meta.SetList(list, kept)
}

// watchChanges watches the kind from resourceVersion and calls show for every object that is
// added, changed or deleted and that keep accepts, until ctx ends (Ctrl-C), which is not an error.
// A watch the server closes is opened again where it stopped.
func (a *app) watchChanges(ctx context.Context, c client.WithWatch, k getKind, resourceVersion string,
	opts []client.ListOption, keep func(client.Object) bool, show func(client.Object) error) error {
	for {
		w, err := c.Watch(ctx, k.newList(), append([]client.ListOption{&client.ListOptions{Raw: &metav1.ListOptions{
			ResourceVersion: resourceVersion, AllowWatchBookmarks: true}}}, opts...)...)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return a.explain(err)
		}
		closed, err := func() (bool, error) {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return false, nil
				case ev, ok := <-w.ResultChan():
					if !ok {
						return true, nil
					}
					switch ev.Type {
					case watch.Error:
						err := apierrors.FromObject(ev.Object)
						if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
							return false, cli.Hint(errors.New("the watch fell too far behind the API server"), "run the command again")
						}
						return false, a.explain(err)
					case watch.Bookmark:
						if obj, ok := ev.Object.(client.Object); ok {
							resourceVersion = obj.GetResourceVersion()
						}
					case watch.Added, watch.Modified, watch.Deleted:
						obj, ok := ev.Object.(client.Object)
						if !ok {
							continue
						}
						resourceVersion = obj.GetResourceVersion()
						if !keep(obj) {
							continue
						}
						if err := show(obj); err != nil {
							return false, err
						}
					}
				}
			}
		}()
		if err != nil || !closed || ctx.Err() != nil {
			return err
		}
	}
}
