package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// A drill proves that a failover would work, and measures it, without touching what a real one
// needs: it copies the schedule's namespaces afresh into scratch namespaces on the destination,
// starts the applications there, times them until they are ready, and deletes everything it made.
// The source namespaces and the real destination namespaces are only read.

// drillFlags are the flags of `perform drill`.
type drillFlags struct {
	performFlags
	suffix         string
	cleanupTimeout time.Duration
}

// defaultCleanupTimeout is how long a drill waits for what it made to be deleted.
const defaultCleanupTimeout = 5 * time.Minute

func (a *app) performDrillCommand() *cobra.Command {
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "drill -m SCHEDULE [--destination-context NAME] [--drill-suffix SUFFIX]",
		Short: "Rehearse a failover into scratch namespaces on the destination, and measure it",
		Long: `Drill: rehearse the failover of a MigrationSchedule without disturbing it.

--kubeconfig and --context select the source cluster, where the schedule lives (-n is its
namespace); it must be reachable. Each destination namespace gets a scratch twin, its name with
--drill-suffix appended; the drill refuses to start when one of them exists already.

The steps:
  1. create the scratch namespaces on the destination, annotated volsync.backube/drill;
  2. create a Migration from the schedule's template into the scratch namespaces
     (startApplications false) and wait for it; a partial success is reported and the drill goes
     on, a failure ends it;
  3. activate the scratch namespaces as 'activate migration' does and time them until every
     Deployment and StatefulSet there is ready;
  4. print the figures, one line each:
       recovery point: <age> (data of migration NAME, taken at TIME)
       recovery time: <duration> (activation until every Deployment and StatefulSet was ready)
       drill copy: <duration> (migration NAME)
  5. delete the drill Migration and the scratch namespaces (only namespaces carrying the drill's
     annotation), and wait until they are gone, up to --cleanup-timeout (0: do not wait).

A step that fails still cleans up before the error is returned. The figures, or the failure, are
recorded in a DrillSucceeded or DrillFailed Event on the schedule. The schedule keeps running.`,
		Example: `  volsyncctl --context prod -n mysql perform drill -m mysqlmigrationschedule
  volsyncctl --context prod -n mysql perform drill -m mysqlmigrationschedule --destination-context dr --drill-suffix -test | grep '^recovery'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if f.suffix == "" {
				return cli.Hint(errors.New("--drill-suffix is empty: the drill would write into the destination namespaces themselves"),
					"pass a suffix such as --drill-suffix -drill")
			}
			if f.cleanupTimeout < 0 {
				return cli.Hint(fmt.Errorf("--cleanup-timeout %s is negative", f.cleanupTimeout), "pass a duration such as 5m, or 0 not to wait")
			}
			return a.drill(cmd.Context(), f)
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVar(&f.suffix, "drill-suffix", "-drill", "appended to each destination namespace to name its scratch namespace")
	cmd.Flags().DurationVar(&f.cleanupTimeout, "cleanup-timeout", defaultCleanupTimeout, "how long to wait for the drill's Migration and namespaces to be gone (0: do not wait)")
	return cmd
}

// drillRun is one drill under way: what it made, so it can be cleaned up.
type drillRun struct {
	a         *app
	src, dest site
	ms        *volsyncv1alpha1.MigrationSchedule
	name      string
	scratch   []string
	f         drillFlags
}

func (a *app) drill(ctx context.Context, f drillFlags) error {
	src, dest, ms, err := a.reachBoth(ctx, f.performFlags, "drill", "a drill copies from the source; check --kubeconfig and --context")
	if err != nil {
		return err
	}
	scratch, err := cli.ScratchNamespaces(cli.DestinationNamespaces(ms.Spec.Template.Spec), f.suffix)
	if err != nil {
		return err
	}
	if err := checkScratchFree(ctx, dest, scratch, ms); err != nil {
		return err
	}
	d := &drillRun{a: a, src: *src, dest: dest, ms: ms, name: cli.RunName(ms.Name, "drill", time.Now()), scratch: scratch, f: f}
	note, err := d.run(ctx)
	if err != nil {
		// Also after Ctrl-C, which cancelled ctx: the drill's namespaces must not stay behind.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := d.cleanUp(cctx, 0); cerr != nil {
			fmt.Fprintf(a.root.ErrOrStderr(), "warning: cleaning up after the failed drill: %v\n", cerr)
		}
		a.recordEvent(cctx, *src, ms, corev1.EventTypeWarning, cli.ActionDrill, cli.ReasonDrillFailed, "drill "+d.name+" failed: "+err.Error())
		return err
	}
	cerr := d.cleanUp(ctx, f.cleanupTimeout)
	if cerr != nil {
		note += "; cleanup incomplete: " + cerr.Error()
	}
	a.recordEvent(ctx, *src, ms, corev1.EventTypeNormal, cli.ActionDrill, cli.ReasonDrillSucceeded, note)
	return cerr
}

// checkScratchFree refuses scratch namespaces that exist: a drill writes only into namespaces it
// made itself.
func checkScratchFree(ctx context.Context, dest site, scratch []string, ms *volsyncv1alpha1.MigrationSchedule) error {
	for _, name := range scratch {
		var ns corev1.Namespace
		err := dest.client.Get(ctx, client.ObjectKey{Name: name}, &ns)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return dest.explain(err)
		}
		earlier, ours := ns.Annotations[volsyncv1alpha1.DrillAnnotation]
		if ours && ns.DeletionTimestamp != nil {
			return cli.Hint(fmt.Errorf("namespace %q of drill %s is still being deleted on %s", name, earlier, dest.name),
				"rerun once it is gone ('kubectl --context DESTINATION get namespace "+name+"'), or pass another --drill-suffix")
		}
		if ours {
			return cli.Hint(fmt.Errorf("namespace %q already exists on %s: it is left from drill %s, which did not finish cleaning up", name, dest.name, earlier),
				fmt.Sprintf("delete it ('kubectl --context DESTINATION delete namespace %s') and the drill's Migration ('volsyncctl delete migration %s -n %s'), then rerun", name, earlier, ms.Namespace))
		}
		return cli.Hint(fmt.Errorf("namespace %q already exists on %s: a drill copies only into namespaces it creates", name, dest.name),
			"pass another --drill-suffix")
	}
	return nil
}

// run is steps 1 to 4. It returns the figures, for the Event.
func (d *drillRun) run(ctx context.Context) (string, error) {
	a := d.a
	for _, name := range d.scratch {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{volsyncv1alpha1.DrillAnnotation: d.name}}}
		if err := d.dest.client.Create(ctx, ns); err != nil {
			return "", d.dest.explain(err)
		}
		fmt.Fprintf(a.out, "namespace/%s created on %s for the drill\n", name, d.dest.name)
	}

	m, copied, err := d.copy(ctx)
	if err != nil {
		return "", err
	}

	activated := time.Now()
	nss, err := a.readNamespaces(ctx, d.dest, d.scratch)
	if err != nil {
		return "", err
	}
	plans, err := a.planScales(ctx, d.dest, d.scratch, true)
	if err != nil {
		return "", err
	}
	if err := a.markActivated(ctx, d.dest, nss, activated); err != nil {
		return "", err
	}
	if err := a.applyScales(ctx, d.dest, plans); err != nil {
		return "", err
	}
	if err := d.waitReady(ctx); err != nil {
		return "", err
	}
	recoveryTime := time.Since(activated)

	name, at := cli.NewestSuccess(d.ms)
	lines := []string{
		cli.RecoveryPointLine(name, at, time.Now()),
		fmt.Sprintf("recovery time: %s (activation until every Deployment and StatefulSet was ready)", recoveryTime.Round(time.Millisecond)),
		fmt.Sprintf("drill copy: %s (migration %s)", copied.Round(time.Millisecond), m.Name),
	}
	for _, l := range lines {
		fmt.Fprintln(a.out, l)
	}
	return "drill " + d.name + " into " + strings.Join(d.scratch, ", ") + ": " + strings.Join(lines, "; "), nil
}

// copy is step 2: the drill Migration, and how long it took.
func (d *drillRun) copy(ctx context.Context) (*volsyncv1alpha1.Migration, time.Duration, error) {
	a := d.a
	spec := *d.ms.Spec.Template.Spec.DeepCopy()
	spec.NamespaceMapping = map[string]volsyncv1alpha1.NamespaceName{}
	for i, source := range spec.Namespaces {
		spec.NamespaceMapping[source] = volsyncv1alpha1.NamespaceName(d.scratch[i])
	}
	spec.StartApplications = ptr.To(false)
	spec.PurgeDeletedResources = ptr.To(false)
	m := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ms.Namespace, Annotations: map[string]string{volsyncv1alpha1.DrillAnnotation: "true"}},
		Spec:       spec,
	}
	started := time.Now()
	if err := d.src.client.Create(ctx, m); err != nil {
		return nil, 0, d.src.explain(err)
	}
	fmt.Fprintf(a.out, "migration/%s created (drill copy into %s)\n", m.Name, strings.Join(d.scratch, ", "))
	got, err := a.awaitMigration(ctx, d.src.client, client.ObjectKeyFromObject(m), d.f.timeout)
	switch {
	case errors.Is(err, errNotFinished):
		return nil, 0, cli.Hint(fmt.Errorf("drill migration %q did not finish within %s", m.Name, d.f.timeout), "the drill cleaned up; rerun it with a longer --timeout")
	case err != nil:
		return nil, 0, d.src.explain(err)
	case got.Status.Status == volsyncv1alpha1.RunStatusPartialSuccess:
		fmt.Fprintf(a.root.ErrOrStderr(), "warning: drill migration %s finished with some objects not migrated (%s): the drill goes on with what was copied\n",
			m.Name, cli.MigrationOutcome(got))
	case got.Status.Status != volsyncv1alpha1.RunStatusSuccessful:
		return nil, 0, cli.Hint(fmt.Errorf("drill migration %q failed: %s", m.Name, cli.MigrationOutcome(got)),
			"a failover now would miss the same; the drill cleaned up")
	}
	return got, runDuration(got, started), nil
}

// waitReady polls the scratch namespaces until every Deployment and StatefulSet is ready.
func (d *drillRun) waitReady(ctx context.Context) error {
	waiting := ""
	err := pollUntil(ctx, d.f.timeout, func(ctx context.Context) (bool, error) {
		var err error
		waiting, err = d.notReady(ctx)
		return waiting == "", err
	})
	switch {
	case errors.Is(err, errNotFinished):
		return cli.Hint(fmt.Errorf("the drill's applications were not ready within %s: %s", d.f.timeout, waiting),
			"see why with 'kubectl --context DESTINATION get pods -n "+strings.Join(d.scratch, ",")+"'; the drill cleaned up")
	case err != nil:
		return d.dest.explain(err)
	}
	return nil
}

// notReady names the first Deployment or StatefulSet of the scratch namespaces that is not ready,
// or is "" when all are.
func (d *drillRun) notReady(ctx context.Context) (string, error) {
	for _, ns := range d.scratch {
		var deployments appsv1.DeploymentList
		if err := d.dest.client.List(ctx, &deployments, client.InNamespace(ns)); err != nil {
			return "", err
		}
		var statefulSets appsv1.StatefulSetList
		if err := d.dest.client.List(ctx, &statefulSets, client.InNamespace(ns)); err != nil {
			return "", err
		}
		var workloads []any
		for i := range deployments.Items {
			workloads = append(workloads, &deployments.Items[i])
		}
		for i := range statefulSets.Items {
			workloads = append(workloads, &statefulSets.Items[i])
		}
		for _, w := range workloads {
			if ready, waiting := cli.WorkloadReady(w); !ready {
				return "namespace " + ns + ": " + waiting, nil
			}
		}
	}
	return "", nil
}

// cleanUp is step 5, also run after a failed step: it deletes the drill Migration (its finalizer
// cleans what its volume path made) and the scratch namespaces that carry this drill's
// annotation, then waits up to wait for them to be gone. It is best effort: it goes on past an
// error and returns the first.
func (d *drillRun) cleanUp(ctx context.Context, wait time.Duration) error {
	a := d.a
	// An interrupted command still cleans up what it can.
	ctx = context.WithoutCancel(ctx)
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	m := &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ms.Namespace}}
	switch err := d.src.client.Delete(ctx, m); {
	case err == nil:
		fmt.Fprintf(a.out, "migration/%s deleted\n", d.name)
	case !apierrors.IsNotFound(err):
		keep(d.src.explain(err))
	}
	var owned []string
	for _, name := range d.scratch {
		var ns corev1.Namespace
		if err := d.dest.client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			if !apierrors.IsNotFound(err) {
				keep(d.dest.explain(err))
			}
			continue
		}
		if ns.Annotations[volsyncv1alpha1.DrillAnnotation] != d.name {
			fmt.Fprintf(a.root.ErrOrStderr(), "warning: namespace %s is not this drill's (no %s=%s): left alone\n", name, volsyncv1alpha1.DrillAnnotation, d.name)
			continue
		}
		owned = append(owned, name)
		if ns.DeletionTimestamp != nil {
			continue
		}
		if err := d.dest.client.Delete(ctx, &ns, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			keep(d.dest.explain(err))
			continue
		}
		fmt.Fprintf(a.out, "namespace/%s deleted on %s\n", name, d.dest.name)
	}
	if first != nil || wait == 0 {
		return first
	}
	return d.waitGone(ctx, owned, wait)
}

// waitGone polls until the drill Migration and the namespaces no longer exist.
func (d *drillRun) waitGone(ctx context.Context, namespaces []string, wait time.Duration) error {
	var left []string
	err := pollUntil(ctx, wait, func(ctx context.Context) (bool, error) {
		left = d.left(ctx, namespaces)
		return len(left) == 0, nil
	})
	if err != nil {
		return cli.Hint(fmt.Errorf("the drill's cleanup did not finish within %s: %s still there", wait, strings.Join(left, ", ")),
			"it goes on in the clusters; a Migration waits for its finalizer, a namespace for its contents to be deleted")
	}
	fmt.Fprintln(d.a.out, "drill cleaned up")
	return nil
}

// left names what of the drill still exists (an object that cannot be read counts as there).
func (d *drillRun) left(ctx context.Context, namespaces []string) []string {
	var left []string
	if err := d.src.client.Get(ctx, client.ObjectKey{Namespace: d.ms.Namespace, Name: d.name}, &volsyncv1alpha1.Migration{}); !apierrors.IsNotFound(err) {
		left = append(left, "migration/"+d.name)
	}
	for _, name := range namespaces {
		if err := d.dest.client.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
			left = append(left, "namespace/"+name)
		}
	}
	return left
}
