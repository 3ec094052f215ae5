package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
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
	return a.getCommand(getKind{
		resource: "migration", aliases: migrationAliases,
		what: "migration", plural: "migrations",
		short: "List migrations, or show one",
		long: `List migrations: NAME CLUSTERPAIR STAGE STATUS VOLUMES RESOURCES CREATED ELAPSED TOTAL BYTES
TRANSFERRED, as storkctl prints them. VOLUMES and RESOURCES are migrated/total; the bytes are the
volumes' data moved. -c shows only the migrations through one cluster pair.`,
		example: `  volsyncctl get migration -n mysql
  volsyncctl get migration -c remotecluster -w`,
		newObject: func() client.Object { return &volsyncv1alpha1.Migration{} },
		newList:   func() client.ObjectList { return &volsyncv1alpha1.MigrationList{} },
		table: func(list client.ObjectList, allNamespaces, _ bool, now time.Time) cli.Table {
			return cli.MigrationTable(list.(*volsyncv1alpha1.MigrationList).Items, allNamespaces, now)
		},
		clusterPair: func(o client.Object) string { return o.(*volsyncv1alpha1.Migration).Spec.ClusterPair },
	})
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
		Long: `Create a Migration that copies whole applications, the namespaces' objects and the data of their
PVCs, to the cluster the ClusterPair reaches, as storkctl's does: volumes are included unless
--include-volumes=false (storage shared or replicated by other means), and Deployments and
StatefulSets arrive scaled to 0 unless --start-applications. With --wait it waits for the
migration to finish and exits non-zero, saying why, unless it succeeded.

This is an application migration between clusters. To copy a local directory into a PVC, as
VolSync's plugin does, use 'volsyncctl migration -r NAME create|rsync|delete'.`,
		Example: `  volsyncctl create migration mysql-now -c remotecluster --namespaces mysql --wait
  volsyncctl create migration mysql-dr -c thiscluster --namespaces mysql --namespace-mapping mysql=mysql-dr
  volsyncctl create migration mysql-config -c remotecluster --namespaces mysql --include-volumes=false`,
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
	got, err := a.awaitMigration(ctx, c, client.ObjectKeyFromObject(m), timeout)
	switch {
	case errors.Is(err, errNotFinished):
		return nil, cli.Hint(fmt.Errorf("migration %q did not finish within %s", m.Name, timeout),
			"it goes on in the cluster; follow it with 'volsyncctl get migration "+m.Name+"'")
	case err != nil:
		return nil, a.explainGet(err, "migration", m.Name, "volsyncctl get migration -n "+m.Namespace)
	}
	if err := migrationOutcomeError(got); err != nil {
		return nil, err
	}
	return got, nil
}

// errNotFinished: a wait for a Migration gave up before it finished. The Migration goes on.
var errNotFinished = errors.New("the migration has not finished")

// awaitMigration polls a Migration until it has finished, well or not, printing on stderr each
// status it passes through. It returns errNotFinished when the timeout (0: none) or ctx ends
// first, and the API error when the Migration cannot be read.
func (a *app) awaitMigration(ctx context.Context, c client.Client, key client.ObjectKey, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	last := volsyncv1alpha1.RunStatus("")
	var got volsyncv1alpha1.Migration
	err := pollUntil(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, &got); err != nil {
			return false, err
		}
		if got.Status.Status != last && got.Status.Status != "" {
			last = got.Status.Status
			fmt.Fprintf(a.root.ErrOrStderr(), "migration/%s: %s %s\n", got.Name, got.Status.Status, got.Status.Stage)
		}
		return got.Status.Status.Finished(), nil
	})
	if err != nil {
		return nil, err
	}
	return &got, nil
}

// pollUntil calls check every migrationPollInterval until it reports done or fails. When timeout
// (0: none) passes, or ctx ends, first, it returns errNotFinished. The deadline is checked
// between the checks rather than handed to their requests, so that client-go's rate limiter
// never refuses a request for the deadline's sake with an error of its own.
func pollUntil(ctx context.Context, timeout time.Duration, check func(context.Context) (bool, error)) error {
	return pollEvery(ctx, migrationPollInterval, timeout, check)
}

// pollEvery is pollUntil with its own interval.
func pollEvery(ctx context.Context, interval, timeout time.Duration, check func(context.Context) (bool, error)) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		done, err := check(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return errNotFinished
		case err != nil:
			return err
		case done:
			return nil
		}
		select {
		case <-ctx.Done():
			return errNotFinished
		case <-deadline:
			return errNotFinished
		case <-ticker.C:
		}
	}
}

// migrationOutcomeError is nil for a Successful Migration, else why it did not fully succeed.
func migrationOutcomeError(m *volsyncv1alpha1.Migration) error {
	switch m.Status.Status {
	case volsyncv1alpha1.RunStatusSuccessful:
		return nil
	case volsyncv1alpha1.RunStatusPartialSuccess:
		return cli.Hint(fmt.Errorf("migration %q finished with some objects not migrated: %s", m.Name, cli.MigrationOutcome(m)),
			"see 'volsyncctl get migration "+m.Name+" -o yaml' for each object's outcome")
	}
	return cli.Hint(fmt.Errorf("migration %q failed: %s", m.Name, cli.MigrationOutcome(m)),
		"see 'volsyncctl get migration "+m.Name+" -o yaml' for each object's outcome")
}

func (a *app) deleteMigrationCommand() *cobra.Command {
	return a.deleteNamespacedCommand("migration", migrationAliases, "migration",
		"Delete a migration (objects already copied stay on the destination)",
		func(key client.ObjectKey) client.Object {
			return &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
		},
		func(ctx context.Context, c client.Client, ns string) (map[string][]string, error) {
			var list volsyncv1alpha1.MigrationList
			if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return nil, err
			}
			users := map[string][]string{}
			for _, m := range list.Items {
				users[m.Spec.ClusterPair] = append(users[m.Spec.ClusterPair], m.Name)
			}
			return users, nil
		})
}

func (a *app) activateMigrationCommand() *cobra.Command {
	return a.scaleMigratedCommand(true)
}

func (a *app) deactivateMigrationCommand() *cobra.Command {
	return a.scaleMigratedCommand(false)
}

// scaleMigratedCommand is `activate migration` (record the activation on the namespaces, then
// scale the migrated Deployments and StatefulSets back to the replica count the source had, from
// the volsync.backube/migration-replicas annotation) or `deactivate migration` (scale them to 0,
// then remove the record). It runs against the destination, and tells the MigrationSchedules
// that feed the namespaces when it can reach them.
func (a *app) scaleMigratedCommand(activate bool) *cobra.Command {
	var (
		namespaces    []string
		sourceContext string
	)
	short := "Scale migrated applications to 0 on this cluster (the destination)"
	long := short + `, then remove the volsync.backube/application-activated annotation from
the namespaces, so that migrations update them again.`
	example := `  volsyncctl --context dr deactivate migration --namespaces mysql,web --source-context prod
  volsyncctl --context dr deactivate migration -n mysql`
	if activate {
		short = "Start migrated applications on this cluster (the destination) with the source's replica counts"
		long = short + `.

It first records the activation on each namespace (annotation volsync.backube/application-activated,
the time), so that a scheduled migration starting meanwhile is refused with reason
ApplicationActivated instead of scaling the application back to 0, and then scales up.`
		example = `  volsyncctl --context dr activate migration --namespaces mysql,web --source-context prod
  volsyncctl --context dr activate migration -n mysql`
	}
	cmd := &cobra.Command{
		Use:     "migration [--namespaces NS[,NS...]] [--source-context NAME]",
		Aliases: migrationAliases,
		Short:   short,
		Long: long + `

It acts on every Deployment and StatefulSet in the namespaces that carries the
volsync.backube/migration-replicas annotation, and every CronJob that carries
volsync.backube/migration-suspend, which a migration with startApplications=false leaves on them.
Run it with --context pointing at the destination cluster. The namespaces default to -n; they are
the namespaces on the destination, so a namespace the migration renamed (namespaceMapping) is
named by its new name.

Then it sets (or clears) status.applicationActivated on the MigrationSchedules that feed the
namespaces (their volsync.backube/migrated-by annotation), on the source cluster: the context
--source-context of the same kubeconfig, or this very cluster when the copy was made next to its
source. A schedule that cannot be reached is named in a warning: it is not told, and its next
migration into the namespace fails with reason ApplicationActivated (with autoSuspend, the schedule
then suspends itself). Running it twice is harmless.`,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dest, err := a.globalSite()
			if err != nil {
				return err
			}
			var source *site
			if sourceContext != "" {
				s, err := a.contextSite(sourceContext, sourceTimeout)
				if err != nil {
					return err
				}
				source = &s
			}
			ctx := cmd.Context()
			if len(namespaces) == 0 {
				namespaces = []string{a.opts.TargetNamespace()}
			}
			nss, err := a.readNamespaces(ctx, dest, namespaces)
			if err != nil {
				return err
			}
			plans, err := a.planScales(ctx, dest, namespaces, activate)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(plans, func(p scalePlan) bool { return !p.empty() }) {
				return cli.Hint(fmt.Errorf("no workload in namespace(s) %s was migrated with startApplications=false: no Deployment, StatefulSet, ReplicaSet, CronJob or Job carries the %s or %s annotation, and no DaemonSet is a copy",
					strings.Join(namespaces, ", "), volsyncv1alpha1.MigrationReplicasAnnotation, volsyncv1alpha1.MigrationSuspendAnnotation),
					"run this against the destination cluster (--context) after a migration with startApplications=false")
			}
			if activate {
				if err := a.markActivated(ctx, dest, nss, time.Now()); err != nil {
					return err
				}
				if err := a.applyScales(ctx, dest, plans); err != nil {
					return err
				}
			} else {
				if err := a.applyScales(ctx, dest, plans); err != nil {
					return err
				}
				if err := a.clearActivated(ctx, dest, nss); err != nil {
					return err
				}
			}
			a.tellSchedules(ctx, dest, source, nss, activate)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&namespaces, "namespaces", nil, "namespaces whose migrated applications to scale, comma-separated (default: -n)")
	cmd.Flags().StringVar(&sourceContext, "source-context", "", "kubeconfig context of the source cluster, where the MigrationSchedules that feed the namespaces live")
	return cmd
}
