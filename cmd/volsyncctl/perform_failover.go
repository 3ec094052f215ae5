package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/migrationschedule"
)

// failoverFlags are the flags of `perform failover`.
type failoverFlags struct {
	performFlags
	sourceTimeout  time.Duration
	finalMigration bool
}

func (a *app) performFailoverCommand() *cobra.Command {
	var f failoverFlags
	cmd := &cobra.Command{
		Use:   "failover -m SCHEDULE [--destination-context NAME] [--final-migration]",
		Short: "Start the applications of a MigrationSchedule on its destination cluster",
		Long: `Fail over: run the applications a MigrationSchedule copies on the destination cluster.

--kubeconfig and --context select the source cluster, where the schedule lives (-n is its
namespace). The source is tried for --source-timeout. When it answers, the command refuses a
schedule that has no successful migration yet (there is no copy to fail over to), suspends the
schedule, waits for a migration of it that is running, and with --final-migration first runs one
last migration and waits for it to succeed. When the source cannot be reached, it says so and goes
on with the destination alone, which then needs --destination-context.

On the destination it activates the schedule's namespaces as 'activate migration' does: it records
the activation on each namespace (volsync.backube/application-activated), so that no later
migration overwrites them, and then scales the applications up to the source's replica counts.
It sets status.applicationActivated on the schedule, records a FailedOver Event on it, and prints
the recovery point: how old the data the applications start from is.

Running it again is harmless, and after an interruption it carries on.`,
		Example: `  # The source is up: suspend the schedule, copy once more, start the applications at the DR site.
  volsyncctl --context prod -n mysql perform failover -m mysqlmigrationschedule --final-migration

  # The source is down: fail over with the destination alone.
  volsyncctl --context prod -n mysql perform failover -m mysqlmigrationschedule --destination-context dr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if f.sourceTimeout <= 0 {
				return cli.Hint(fmt.Errorf("--source-timeout %s is not a positive duration", f.sourceTimeout), "pass it as --source-timeout 10s")
			}
			return a.failover(cmd.Context(), f)
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().DurationVar(&f.sourceTimeout, "source-timeout", sourceTimeout, "how long to try the source cluster before failing over without it")
	cmd.Flags().BoolVar(&f.finalMigration, "final-migration", false, "run one last migration and wait for it to succeed before activating (needs the source)")
	return cmd
}

func (a *app) failover(ctx context.Context, f failoverFlags) error {
	ns := a.opts.TargetNamespace()
	src, ms, unreachable, err := a.reachSource(ctx, ns, f.schedule, f.sourceTimeout)
	if err != nil {
		return err
	}
	if src == nil {
		if f.destinationContext == "" {
			return cli.Hint(fmt.Errorf("the source cluster cannot be reached: %v", unreachable),
				"to fail over with the destination alone, pass --destination-context NAME, the kubeconfig context of the destination cluster")
		}
		if f.finalMigration {
			return cli.Hint(fmt.Errorf("--final-migration needs the source cluster, which cannot be reached: %v", unreachable),
				"rerun without --final-migration to fail over to the last migration that reached the destination")
		}
		fmt.Fprintf(a.root.ErrOrStderr(), "the source cluster cannot be reached: %v; failing over with the destination alone\n", unreachable)
	} else if !cli.HasSuccessfulMigration(ms) {
		return cli.Hint(fmt.Errorf("migration schedule %q has no successful migration yet: the destination holds no complete copy to fail over to", ms.Name),
			fmt.Sprintf("wait for one ('volsyncctl get migrationschedule %s -n %s' shows LAST-SUCCESS-TIME), or run one with 'volsyncctl create migration ... --wait'", ms.Name, ns))
	}
	dest, err := a.reachDestination(ctx, f.destinationContext, src, ms)
	if err != nil {
		return err
	}
	targets, err := a.failoverTargets(ctx, dest, ms, ns, f.schedule)
	if err != nil {
		return err
	}
	names := namespaceNames(targets)
	// Planned once now, so a bad annotation refuses the failover before the schedule is touched.
	if _, err := a.planScales(ctx, dest, names, true); err != nil {
		return err
	}

	var final *volsyncv1alpha1.Migration
	if src != nil {
		if err := a.suspendSchedule(ctx, *src, ms); err != nil {
			return err
		}
		if anyActivated(targets) {
			// A migration into it would be refused (ApplicationActivated): an earlier failover
			// got this far, and this one carries on from here.
			fmt.Fprintln(a.out, "the destination is activated already: no migration is waited for")
		} else {
			if err := a.waitForScheduledRuns(ctx, *src, ms, f.timeout); err != nil {
				return err
			}
			if f.finalMigration {
				if final, err = a.runFinalMigration(ctx, *src, ms, f.timeout); err != nil {
					return err
				}
			}
		}
	}

	if err := a.markActivated(ctx, dest, targets, time.Now()); err != nil {
		return err
	}
	// Planned again: the last migration may have written new objects.
	plans, err := a.planScales(ctx, dest, names, true)
	if err != nil {
		return err
	}
	if err := a.applyScales(ctx, dest, plans); err != nil {
		return err
	}
	for _, p := range plans {
		if p.empty() {
			fmt.Fprintf(a.out, "namespace/%s has no migrated Deployment, StatefulSet or CronJob to start\n", p.namespace)
		}
	}

	if src == nil {
		a.warnNotTold(ns, f.schedule, names, true, "the source cluster cannot be reached")
		name, at := cli.DestinationRecoveryPoint(targets)
		if at == nil {
			fmt.Fprintln(a.out, "recovery point: unknown (the source cluster cannot be reached, and the destination namespaces do not record one)")
			return nil
		}
		fmt.Fprintln(a.out, cli.RecoveryPointLine(name, at, time.Now()))
		return nil
	}
	if err := a.setScheduleActivated(ctx, *src, ms.Namespace, ms.Name, true); err != nil {
		a.warnNotTold(ms.Namespace, ms.Name, names, true, err.Error())
	}
	if _, recorded := ms.Annotations[cli.FinalMigrationAnnotation]; recorded {
		// Done with, or given up by a rerun without --final-migration.
		if err := src.client.Patch(ctx, ms, annotationPatch(cli.FinalMigrationAnnotation, nil)); err != nil {
			return src.explain(err)
		}
	}
	line := failoverRecoveryPoint(ms, final, time.Now())
	a.recordEvent(ctx, *src, ms, corev1.EventTypeNormal, cli.ActionFailover, cli.ReasonFailedOver,
		fmt.Sprintf("activated namespace(s) %s on %s; %s", strings.Join(names, ", "), dest.name, line))
	fmt.Fprintln(a.out, line)
	return nil
}

// failoverRecoveryPoint is the recovery point line of a failover: the final migration's when it
// ran one, else the schedule's.
func failoverRecoveryPoint(ms *volsyncv1alpha1.MigrationSchedule, final *volsyncv1alpha1.Migration, now time.Time) string {
	if final == nil {
		name, at := cli.NewestSuccess(ms)
		return cli.RecoveryPointLine(name, at, now)
	}
	at := final.CreationTimestamp.DeepCopy()
	if final.Status.StartTimestamp != nil {
		at = final.Status.StartTimestamp
	}
	return cli.RecoveryPointLine(final.Name, at, now)
}

// failoverTargets are the schedule's namespaces on the destination: its template's, through
// namespaceMapping, when the schedule could be read; else those the destination says the
// schedule wrote (volsync.backube/migrated-by).
func (a *app) failoverTargets(ctx context.Context, dest site, ms *volsyncv1alpha1.MigrationSchedule, ns, name string) ([]*corev1.Namespace, error) {
	var found []*corev1.Namespace
	hint := "no namespace there carries " + "volsync.backube/migrated-by=" + ns + "/" + name + ": check -m, -n and --destination-context"
	if ms != nil {
		wanted := cli.DestinationNamespaces(ms.Spec.Template.Spec)
		hint = fmt.Sprintf("none of its namespaces (%s) is there: check --destination-context, or let a migration succeed first", strings.Join(wanted, ", "))
		for _, n := range wanted {
			var got corev1.Namespace
			err := dest.client.Get(ctx, client.ObjectKey{Name: n}, &got)
			switch {
			case apierrors.IsNotFound(err):
				fmt.Fprintf(a.root.ErrOrStderr(), "warning: namespace %s of migration schedule %s is not on %s: left out\n", n, name, dest.name)
			case err != nil:
				return nil, dest.explain(err)
			default:
				found = append(found, &got)
			}
		}
	} else {
		var list corev1.NamespaceList
		if err := dest.client.List(ctx, &list); err != nil {
			return nil, dest.explain(err)
		}
		for i := range list.Items {
			if cli.IsCopyOf(&list.Items[i], ns, name) && list.Items[i].DeletionTimestamp == nil {
				found = append(found, &list.Items[i])
			}
		}
	}
	if len(found) == 0 {
		return nil, cli.Hint(fmt.Errorf("no copy of schedule %q on %s", name, dest.name), hint)
	}
	return found, nil
}

// waitForScheduledRuns waits for the schedule's running Migrations to finish, well or not: the
// newest data should be on the destination before it is activated.
func (a *app) waitForScheduledRuns(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule, timeout time.Duration) error {
	var list volsyncv1alpha1.MigrationList
	if err := src.client.List(ctx, &list, client.InNamespace(ms.Namespace)); err != nil {
		return src.explain(err)
	}
	for i := range list.Items {
		m := &list.Items[i]
		if !metav1.IsControlledBy(m, ms) || (m.Status.Status != volsyncv1alpha1.RunStatusInProgress && m.Status.Status != volsyncv1alpha1.RunStatusPending) {
			continue
		}
		fmt.Fprintf(a.out, "waiting for scheduled migration %s (%s) to finish\n", m.Name, m.Status.Status)
		got, err := a.awaitMigration(ctx, src.client, client.ObjectKeyFromObject(m), timeout)
		switch {
		case errors.Is(err, errNotFinished):
			return cli.Hint(fmt.Errorf("scheduled migration %q did not finish within %s", m.Name, timeout),
				"the schedule is suspended and nothing is activated yet; rerun 'volsyncctl perform failover' (it carries on) with a longer --timeout")
		case apierrors.IsNotFound(err):
			continue // deleted meanwhile: nothing to wait for
		case err != nil:
			return src.explain(err)
		}
		fmt.Fprintf(a.out, "migration/%s finished: %s\n", got.Name, got.Status.Status)
	}
	return nil
}

// runFinalMigration runs one last Migration from the schedule's template and waits for it to
// succeed. Its name is recorded on the schedule first, so that a rerun after an interruption waits
// for it instead of starting another. It carries the schedule's label, so its copies are marked
// as the schedule's, as every scheduled run's are.
func (a *app) runFinalMigration(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	name := ms.Annotations[cli.FinalMigrationAnnotation]
	if name != "" {
		var m volsyncv1alpha1.Migration
		err := src.client.Get(ctx, client.ObjectKey{Namespace: ms.Namespace, Name: name}, &m)
		switch {
		case err == nil && m.Status.Status.Finished() && m.Status.Status != volsyncv1alpha1.RunStatusSuccessful:
			fmt.Fprintf(a.out, "final migration %s ended %s earlier: starting a new one\n", name, m.Status.Status)
			name = ""
		case err == nil:
			fmt.Fprintf(a.out, "carrying on with final migration %s\n", name)
			return a.awaitFinalMigration(ctx, src, ms, name, timeout)
		case !apierrors.IsNotFound(err):
			return nil, src.explain(err)
		}
	}
	if name == "" {
		name = cli.RunName(ms.Name, "final", time.Now())
		if err := src.client.Patch(ctx, ms, annotationPatch(cli.FinalMigrationAnnotation, &name)); err != nil {
			return nil, src.explain(err)
		}
	}
	m := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ms.Namespace,
			Labels: map[string]string{volsyncv1alpha1.MigrationScheduleLabel: migrationschedule.LabelValue(ms.Name)},
		},
		Spec: *ms.Spec.Template.Spec.DeepCopy(),
	}
	if err := src.client.Create(ctx, m); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, src.explain(err)
	}
	fmt.Fprintf(a.out, "migration/%s created (final migration)\n", name)
	return a.awaitFinalMigration(ctx, src, ms, name, timeout)
}

func (a *app) awaitFinalMigration(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule, name string, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	got, err := a.awaitMigration(ctx, src.client, client.ObjectKey{Namespace: ms.Namespace, Name: name}, timeout)
	switch {
	case errors.Is(err, errNotFinished):
		return nil, cli.Hint(fmt.Errorf("final migration %q did not finish within %s: nothing was activated", name, timeout),
			"it goes on: rerun 'volsyncctl perform failover --final-migration' to wait for it again, or without --final-migration to fail over to the last successful migration")
	case err != nil:
		return nil, src.explain(err)
	case got.Status.Status != volsyncv1alpha1.RunStatusSuccessful:
		return nil, cli.Hint(fmt.Errorf("final migration %q ended %s (%s): nothing was activated", name, got.Status.Status, cli.MigrationOutcome(got)),
			"rerun without --final-migration to fail over to the last successful migration")
	}
	fmt.Fprintf(a.out, "migration/%s succeeded\n", name)
	return got, nil
}
