package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

var migrationAliases = []string{"migrations", "mig"}

// migrationPollInterval is how often `create migration --wait` reads the Migration.
var migrationPollInterval = 2 * time.Second

func (a *app) getMigrationCommand() *cobra.Command {
	allNamespaces := false
	cmd := &cobra.Command{
		Use:     "migration [NAME]",
		Aliases: migrationAliases,
		Short:   "List migrations, or show one",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			if allNamespaces && len(args) == 1 {
				return cli.Hint(errors.New("a migration cannot be fetched by name across all namespaces"), "drop -A or the name")
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			scheme, err := volsyncscheme.New()
			if err != nil {
				return err
			}
			ctx, ns, now := cmd.Context(), a.opts.TargetNamespace(), time.Now()
			if len(args) == 1 {
				var m volsyncv1alpha1.Migration
				if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, &m); err != nil {
					return a.explainGet(err, "migration", args[0], "volsyncctl get migration -n "+ns)
				}
				return cli.PrintObject(a.out, format, scheme, &m, func() cli.Table {
					return cli.MigrationTable([]volsyncv1alpha1.Migration{m}, false, now)
				})
			}
			var list volsyncv1alpha1.MigrationList
			var opts []client.ListOption
			if !allNamespaces {
				opts = append(opts, client.InNamespace(ns))
			}
			if err := c.List(ctx, &list, opts...); err != nil {
				return a.explain(err)
			}
			if format == cli.OutputTable && len(list.Items) == 0 {
				if allNamespaces {
					fmt.Fprintln(a.out, "No migrations found.")
				} else {
					fmt.Fprintf(a.out, "No migrations found in namespace %s.\n", ns)
				}
				return nil
			}
			return cli.PrintObject(a.out, format, scheme, &list, func() cli.Table {
				return cli.MigrationTable(list.Items, allNamespaces, now)
			})
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list the migrations of every namespace")
	return cmd
}

func (a *app) createMigrationCommand() *cobra.Command {
	var (
		f       migrationSpecFlags
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:     "migration NAME -c CLUSTERPAIR --namespaces NS[,NS...]",
		Aliases: migrationAliases,
		Short:   "Migrate namespaces to a paired cluster once",
		Long: `Create a Migration that copies the namespaces' objects (and, with --include-volumes, their volumes)
to the cluster the ClusterPair reaches. With --wait it waits for the migration to finish and exits
non-zero, saying why, unless it succeeded.`,
		Example: `  volsyncctl create migration mysql-now -c remotecluster --namespaces mysql --wait
  volsyncctl create migration mysql-dr -c thiscluster --namespaces mysql --namespace-mapping mysql=mysql-dr --include-volumes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.opts.OutputFormat()
			if err != nil {
				return err
			}
			spec, err := f.spec()
			if err != nil {
				return err
			}
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), a.opts.TargetNamespace()
			if err := a.checkClusterPair(ctx, c, ns, spec.ClusterPair); err != nil {
				return err
			}
			m := &volsyncv1alpha1.Migration{
				TypeMeta:   metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "Migration"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: ns},
				Spec:       spec,
			}
			if err := c.Create(ctx, m); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return cli.Hint(fmt.Errorf("migration %q already exists in namespace %q", m.Name, ns), "delete it first or pick another name")
				}
				return a.explain(err)
			}
			if format == cli.OutputTable {
				fmt.Fprintf(a.out, "migration/%s created\n", m.Name)
			}
			if wait {
				if m, err = a.waitForMigration(ctx, c, m, timeout); err != nil {
					return err
				}
			}
			if format != cli.OutputTable {
				scheme, err := volsyncscheme.New()
				if err != nil {
					return err
				}
				return cli.PrintObject(a.out, format, scheme, m, nil)
			}
			return nil
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the migration finishes; exit non-zero unless it succeeded")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long, such as 30m (default: wait until it finishes)")
	return cmd
}

// waitForMigration polls a Migration until it finishes. It returns an error that says why when
// the migration did not fully succeed, or when the timeout passes first.
func (a *app) waitForMigration(ctx context.Context, c client.Client, m *volsyncv1alpha1.Migration, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ticker := time.NewTicker(migrationPollInterval)
	defer ticker.Stop()
	notFinished := cli.Hint(fmt.Errorf("migration %q did not finish within %s", m.Name, timeout),
		"it goes on in the cluster; follow it with 'volsyncctl get migration "+m.Name+"'")
	last := volsyncv1alpha1.RunStatus("")
	for {
		var got volsyncv1alpha1.Migration
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), &got); err != nil {
			if ctx.Err() != nil {
				return nil, notFinished
			}
			return nil, a.explainGet(err, "migration", m.Name, "volsyncctl get migration -n "+m.Namespace)
		}
		if got.Status.Status != last && got.Status.Status != "" {
			last = got.Status.Status
			fmt.Fprintf(a.root.ErrOrStderr(), "migration/%s: %s %s\n", got.Name, got.Status.Status, got.Status.Stage)
		}
		switch got.Status.Status {
		case volsyncv1alpha1.RunStatusSuccessful:
			return &got, nil
		case volsyncv1alpha1.RunStatusFailed:
			return nil, cli.Hint(fmt.Errorf("migration %q failed: %s", got.Name, cli.MigrationOutcome(&got)),
				"see 'volsyncctl get migration "+got.Name+" -o yaml' for each object's outcome")
		case volsyncv1alpha1.RunStatusPartialSuccess:
			return nil, cli.Hint(fmt.Errorf("migration %q finished with some objects not migrated: %s", got.Name, cli.MigrationOutcome(&got)),
				"see 'volsyncctl get migration "+got.Name+" -o yaml' for each object's outcome")
		}
		select {
		case <-ctx.Done():
			return nil, notFinished
		case <-ticker.C:
		}
	}
}

func (a *app) deleteMigrationCommand() *cobra.Command {
	return a.deleteNamespacedCommand("migration", migrationAliases, "migration",
		"Delete a migration (objects already copied stay on the destination)",
		func(key client.ObjectKey) client.Object {
			return &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
		})
}

func (a *app) activateMigrationCommand() *cobra.Command {
	return a.scaleMigratedCommand(true)
}

func (a *app) deactivateMigrationCommand() *cobra.Command {
	return a.scaleMigratedCommand(false)
}

// scaleMigratedCommand is `activate migration` (scale the migrated Deployments and StatefulSets
// back to the replica count the source had, from the volsync.backube/migration-replicas
// annotation) or `deactivate migration` (scale them to 0). It runs against the destination.
func (a *app) scaleMigratedCommand(activate bool) *cobra.Command {
	var namespaces []string
	short := "Scale migrated applications to 0 on this cluster (the destination)"
	if activate {
		short = "Start migrated applications on this cluster (the destination) with the source's replica counts"
	}
	cmd := &cobra.Command{
		Use:     "migration [--namespaces NS[,NS...]]",
		Aliases: migrationAliases,
		Short:   short,
		Long: short + `.

It acts on every Deployment and StatefulSet in the namespaces that carries the
volsync.backube/migration-replicas annotation, and every CronJob that carries
volsync.backube/migration-suspend, which a migration with startApplications=false leaves on them. Run it with --context pointing at the destination cluster. The namespaces default to -n; they are the
namespaces on the destination, so a namespace the migration renamed (namespaceMapping) is named
by its new name.`,
		Example: `  volsyncctl --context dr activate migration --namespaces mysql,web
  volsyncctl --context dr deactivate migration -n mysql`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.opts.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if len(namespaces) == 0 {
				namespaces = []string{a.opts.TargetNamespace()}
			}
			scaled := 0
			for _, ns := range namespaces {
				n, err := a.scaleMigrated(ctx, c, ns, activate)
				if err != nil {
					return err
				}
				scaled += n
			}
			if scaled == 0 {
				return cli.Hint(fmt.Errorf("no Deployment, StatefulSet or CronJob in namespace(s) %s carries the %s or %s annotation",
					strings.Join(namespaces, ", "), volsyncv1alpha1.MigrationReplicasAnnotation, volsyncv1alpha1.MigrationSuspendAnnotation),
					"run this against the destination cluster (--context) after a migration with startApplications=false")
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&namespaces, "namespaces", nil, "namespaces whose migrated applications to scale, comma-separated (default: -n)")
	return cmd
}

// scaleMigrated scales the annotated Deployments and StatefulSets of one namespace and returns how
// many it scaled.
func (a *app) scaleMigrated(ctx context.Context, c client.Client, ns string, activate bool) (int, error) {
	var deployments appsv1.DeploymentList
	if err := c.List(ctx, &deployments, client.InNamespace(ns)); err != nil {
		return 0, a.explain(err)
	}
	var statefulSets appsv1.StatefulSetList
	if err := c.List(ctx, &statefulSets, client.InNamespace(ns)); err != nil {
		return 0, a.explain(err)
	}
	var objects []client.Object
	for i := range deployments.Items {
		objects = append(objects, &deployments.Items[i])
	}
	for i := range statefulSets.Items {
		objects = append(objects, &statefulSets.Items[i])
	}
	scaled := 0
	for _, o := range objects {
		replicas, ok, err := cli.MigrationReplicas(o.GetAnnotations())
		if !ok {
			continue
		}
		kind := "deployment.apps"
		if _, isSet := o.(*appsv1.StatefulSet); isSet {
			kind = "statefulset.apps"
		}
		if err != nil {
			return scaled, cli.Hint(fmt.Errorf("%s %s/%s: %w", kind, ns, o.GetName(), err), "set it to the replica count the application should run with")
		}
		if !activate {
			replicas = 0
		}
		patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))
		if err := c.Patch(ctx, o, patch); err != nil {
			return scaled, a.explain(err)
		}
		fmt.Fprintf(a.out, "%s/%s scaled to %d in namespace %s\n", kind, o.GetName(), replicas, ns)
		scaled++
	}
	n, err := a.suspendMigratedCronJobs(ctx, c, ns, activate)
	return scaled + n, err
}

// suspendMigratedCronJobs is the CronJob half of activate and deactivate: a CronJob migrated with
// startApplications=false is suspended on the destination and keeps the source's own suspend in
// the volsync.backube/migration-suspend annotation; activate puts that value back, deactivate
// suspends it again.
func (a *app) suspendMigratedCronJobs(ctx context.Context, c client.Client, ns string, activate bool) (int, error) {
	var cronJobs batchv1.CronJobList
	if err := c.List(ctx, &cronJobs, client.InNamespace(ns)); err != nil {
		return 0, a.explain(err)
	}
	changed := 0
	for i := range cronJobs.Items {
		cj := &cronJobs.Items[i]
		source, ok := cj.Annotations[volsyncv1alpha1.MigrationSuspendAnnotation]
		if !ok {
			continue
		}
		suspend := true
		if activate {
			var err error
			if suspend, err = strconv.ParseBool(source); err != nil {
				return changed, cli.Hint(fmt.Errorf("cronjob.batch %s/%s: annotation %s is %q, not true or false",
					ns, cj.Name, volsyncv1alpha1.MigrationSuspendAnnotation, source), "set it to whether the CronJob should be suspended")
			}
		}
		patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend))
		if err := c.Patch(ctx, cj, patch); err != nil {
			return changed, a.explain(err)
		}
		fmt.Fprintf(a.out, "cronjob.batch/%s suspend set to %t in namespace %s\n", cj.Name, suspend, ns)
		changed++
	}
	return changed, nil
}
