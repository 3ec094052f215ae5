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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// failbackFlags are the flags of `perform failback`.
type failbackFlags struct {
	performFlags
	reverseClusterPair string
	reverseNamespace   string
	keepSuspended      bool
}

// failbackSteps is how many steps a failback prints.
const failbackSteps = 6

func (a *app) performFailbackCommand() *cobra.Command {
	var f failbackFlags
	cmd := &cobra.Command{
		Use:   "failback -m SCHEDULE --reverse-clusterpair NAME [--destination-context NAME]",
		Short: "Move the applications of a failed-over MigrationSchedule back to its source cluster",
		Long: `Fail back: after a failover, migrate the applications and their data from the destination (the
recovery site) back to the source cluster, and run them there again.

--kubeconfig and --context select the source cluster, where the schedule lives (-n is its
namespace); it must be reachable. The schedule must be suspended (a failover suspends it) and a
destination namespace activated. --reverse-clusterpair names a ClusterPair on the destination
cluster, in the namespace the reverse Migration is created in (--reverse-namespace, default the
first destination namespace), that reaches the source cluster.

The steps, each printed:
  1. scale the applications on the destination to 0 (the namespaces stay marked activated);
  2. scale the source's Deployments and StatefulSets to 0, keeping their replica counts in
     volsync.backube/migration-replicas (and suspend its CronJobs), so the source application
     does not run while its volumes are written;
  3. create on the destination a Migration back to the source (namespaces mapped back,
     startApplications false) and wait until it is Successful;
  4. remove the activation from the destination namespaces and clear
     status.applicationActivated on the schedule;
  5. start the applications on the source from the kept replica counts;
  6. resume the schedule, unless --keep-suspended.

The reverse Migration's name is recorded on the schedule (volsync.backube/failback-migration)
before it is created, so running the command again after an interruption waits for the same
Migration; one that failed is replaced by a new one. A FailedBack Event is recorded on the
schedule.`,
		Example: `  volsyncctl --context prod -n mysql perform failback -m mysqlmigrationschedule --reverse-clusterpair back-to-prod
  volsyncctl --context prod -n mysql perform failback -m mysqlmigrationschedule --reverse-clusterpair back-to-prod \
      --destination-context dr --reverse-namespace volsync-admin --keep-suspended`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if f.reverseClusterPair == "" {
				return cli.Hint(errors.New("no reverse cluster pair given"),
					"pass --reverse-clusterpair NAME: a ClusterPair on the destination cluster that reaches the source cluster")
			}
			return a.failback(cmd.Context(), f)
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVar(&f.reverseClusterPair, "reverse-clusterpair", "", "ClusterPair on the destination cluster that reaches the source cluster (required)")
	cmd.Flags().StringVar(&f.reverseNamespace, "reverse-namespace", "", "namespace on the destination for the reverse Migration and its ClusterPair (default: the first destination namespace)")
	cmd.Flags().BoolVar(&f.keepSuspended, "keep-suspended", false, "leave the schedule suspended at the end")
	return cmd
}

// failback is `perform failback`; see its help for the steps.
func (a *app) failback(ctx context.Context, f failbackFlags) error {
	src, dest, ms, err := a.reachBoth(ctx, f.performFlags, "failback", "fail back once it is up again; check --kubeconfig and --context")
	if err != nil {
		return err
	}
	spec := ms.Spec.Template.Spec
	destNames := cli.DestinationNamespaces(spec)
	targets, err := a.readNamespaces(ctx, dest, destNames)
	if err != nil {
		return err
	}
	underWay := ms.Annotations[cli.FailbackMigrationAnnotation]
	switch {
	case !suspended(ms) && underWay == "" && !anyActivated(targets):
		fmt.Fprintf(a.out, "nothing to fail back: migrationschedule/%s runs and no destination namespace is activated\n", ms.Name)
		return nil
	case !suspended(ms):
		return cli.Hint(fmt.Errorf("schedule %s still runs", ms.Name),
			fmt.Sprintf("suspend it first with 'volsyncctl suspend migrationschedule %s', or run 'volsyncctl perform failover'", ms.Name))
	case underWay == "" && !anyActivated(targets):
		return cli.Hint(fmt.Errorf("no destination namespace of schedule %s is activated (%s on %s): the applications do not run at the recovery site, so there is nothing to fail back",
			ms.Name, strings.Join(destNames, ", "), dest.name),
			fmt.Sprintf("fail over first with 'volsyncctl perform failover -m %s', or resume the schedule with 'volsyncctl resume migrationschedule %s'", ms.Name, ms.Name))
	}
	reverseNS := f.reverseNamespace
	if reverseNS == "" {
		reverseNS = destNames[0]
	}
	if err := a.checkReversePair(ctx, dest, reverseNS, f.reverseClusterPair); err != nil {
		return err
	}
	// Both sides are read and checked before the first write.
	if _, err := a.planScales(ctx, dest, destNames, false); err != nil {
		return err
	}
	stops, err := a.planSourceStop(ctx, *src, spec.Namespaces)
	if err != nil {
		return err
	}
	if underWay != "" {
		fmt.Fprintf(a.out, "carrying on with the failback of reverse migration %s\n", underWay)
	}

	a.step(1, "scale the applications on %s to 0", dest.name)
	plans, err := a.planScales(ctx, dest, destNames, false)
	if err != nil {
		return err
	}
	if err := a.applyScales(ctx, dest, plans); err != nil {
		return err
	}

	a.step(2, "scale the applications on the source to 0, keeping their replica counts")
	if err := a.stopSource(ctx, *src, stops); err != nil {
		return err
	}

	a.step(3, "migrate %s back to the source", strings.Join(destNames, ", "))
	reverse, err := a.reverseMigration(ctx, *src, dest, ms, f.reverseClusterPair, reverseNS, f.timeout)
	if err != nil {
		return err
	}

	a.step(4, "remove the activation from the destination namespaces")
	if err := a.clearActivated(ctx, dest, targets); err != nil {
		return err
	}
	if err := a.setScheduleActivated(ctx, *src, ms.Namespace, ms.Name, false); err != nil {
		return cli.Hint(fmt.Errorf("clearing status.applicationActivated of migration schedule %s: %w", ms.Name, err),
			"rerun 'volsyncctl perform failback' to carry on")
	}

	a.step(5, "start the applications on the source")
	srcPlans, err := a.planScales(ctx, *src, spec.Namespaces, true)
	if err != nil {
		return err
	}
	if err := a.applyScales(ctx, *src, srcPlans); err != nil {
		return err
	}

	if err := a.finishFailback(ctx, *src, ms, f.keepSuspended); err != nil {
		return err
	}
	a.recordEvent(ctx, *src, ms, corev1.EventTypeNormal, cli.ActionFailback, cli.ReasonFailedBack,
		fmt.Sprintf("migrated namespace(s) %s back from %s with migration %s/%s and started them here", strings.Join(destNames, ", "), dest.name, reverse.Namespace, reverse.Name))
	return nil
}

// step prints the heading of one failback step.
func (a *app) step(n int, format string, args ...any) {
	fmt.Fprintf(a.out, "step %d/%d: %s\n", n, failbackSteps, fmt.Sprintf(format, args...))
}

// checkReversePair refuses a reverse cluster pair that is not on the destination: the reverse
// Migration would fail after the applications were stopped.
func (a *app) checkReversePair(ctx context.Context, dest site, ns, name string) error {
	var pair volsyncv1alpha1.ClusterPair
	if err := dest.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pair); err != nil {
		if apierrors.IsNotFound(err) && !cli.IsMissingResource(err) {
			return cli.Hint(fmt.Errorf("cluster pair %q not found in namespace %q on %s", name, ns, dest.name),
				fmt.Sprintf("create it there, reaching the source: 'volsyncctl generate clusterpair %s --context SOURCE -n %s | kubectl --context DESTINATION apply -f -', or pass --reverse-namespace", name, ns))
		}
		return dest.explain(err)
	}
	return nil
}

// sourceStop is one source object scaled to 0 (or suspended) and what it had, kept in its
// annotation for step 5.
type sourceStop struct {
	obj       client.Object
	kind      string
	namespace string
	patch     map[string]any
	kept      string
}

// planSourceStop reads what runs in the source namespaces: Deployments, StatefulSets and unowned
// ReplicaSets with replicas, CronJobs not suspended, DaemonSets not kept off the nodes.
func (a *app) planSourceStop(ctx context.Context, src site, namespaces []string) ([]sourceStop, error) {
	var stops []sourceStop
	for _, ns := range namespaces {
		var deployments appsv1.DeploymentList
		if err := src.client.List(ctx, &deployments, client.InNamespace(ns)); err != nil {
			return nil, src.explain(err)
		}
		var statefulSets appsv1.StatefulSetList
		if err := src.client.List(ctx, &statefulSets, client.InNamespace(ns)); err != nil {
			return nil, src.explain(err)
		}
		var replicaSets appsv1.ReplicaSetList
		if err := src.client.List(ctx, &replicaSets, client.InNamespace(ns)); err != nil {
			return nil, src.explain(err)
		}
		var workloads []client.Object
		for i := range deployments.Items {
			workloads = append(workloads, &deployments.Items[i])
		}
		for i := range statefulSets.Items {
			workloads = append(workloads, &statefulSets.Items[i])
		}
		for i := range replicaSets.Items {
			// A Deployment's ReplicaSets follow it; only one nobody controls is stopped itself.
			if metav1.GetControllerOf(&replicaSets.Items[i]) == nil {
				workloads = append(workloads, &replicaSets.Items[i])
			}
		}
		for _, w := range workloads {
			if replicas := specReplicas(w); replicas > 0 {
				kept := strconv.Itoa(int(replicas))
				stops = append(stops, sourceStop{obj: w, kind: workloadKind(w), namespace: ns, kept: kept, patch: map[string]any{
					"metadata": map[string]any{"annotations": map[string]any{volsyncv1alpha1.MigrationReplicasAnnotation: kept}},
					"spec":     map[string]any{"replicas": 0},
				}})
			}
		}
		var cronJobs batchv1.CronJobList
		if err := src.client.List(ctx, &cronJobs, client.InNamespace(ns)); err != nil {
			return nil, src.explain(err)
		}
		for i := range cronJobs.Items {
			cj := &cronJobs.Items[i]
			if !ptr.Deref(cj.Spec.Suspend, false) {
				stops = append(stops, sourceStop{obj: cj, kind: "cronjob.batch", namespace: ns, kept: "false", patch: map[string]any{
					"metadata": map[string]any{"annotations": map[string]any{volsyncv1alpha1.MigrationSuspendAnnotation: "false"}},
					"spec":     map[string]any{"suspend": true},
				}})
			}
		}
		var daemonSets appsv1.DaemonSetList
		if err := src.client.List(ctx, &daemonSets, client.InNamespace(ns)); err != nil {
			return nil, src.explain(err)
		}
		for i := range daemonSets.Items {
			ds := &daemonSets.Items[i]
			if _, stopped := ds.Spec.Template.Spec.NodeSelector[volsyncv1alpha1.MigrationStoppedNodeLabel]; !stopped {
				// The node selector no node carries, as a migration stops a copy; activation takes it out.
				stops = append(stops, sourceStop{obj: ds, kind: "daemonset.apps", namespace: ns, patch: map[string]any{
					"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
						"nodeSelector": map[string]any{volsyncv1alpha1.MigrationStoppedNodeLabel: "true"}}}},
				}})
			}
		}
	}
	return stops, nil
}

// specReplicas is the replica count a Deployment or StatefulSet asks for (the API's default 1
// when unset).
func specReplicas(o client.Object) int32 {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return ptr.Deref(w.Spec.Replicas, 1)
	case *appsv1.StatefulSet:
		return ptr.Deref(w.Spec.Replicas, 1)
	case *appsv1.ReplicaSet:
		return ptr.Deref(w.Spec.Replicas, 1)
	}
	return 0
}

// stopSource carries the source stops out, the count kept in the same write as the scale.
func (a *app) stopSource(ctx context.Context, src site, stops []sourceStop) error {
	if len(stops) == 0 {
		fmt.Fprintln(a.out, "nothing runs in the source namespaces")
	}
	for _, s := range stops {
		if err := src.client.Patch(ctx, s.obj, mergePatch(s.patch)); err != nil {
			return src.explain(err)
		}
		if s.kind == "daemonset.apps" {
			fmt.Fprintf(a.out, "%s/%s kept off every node in namespace %s on the source (node selector %s=true)\n",
				s.kind, s.obj.GetName(), s.namespace, volsyncv1alpha1.MigrationStoppedNodeLabel)
			continue
		}
		if s.kind == "cronjob.batch" {
			fmt.Fprintf(a.out, "%s/%s suspend set to true in namespace %s on the source (was false, kept in %s)\n",
				s.kind, s.obj.GetName(), s.namespace, volsyncv1alpha1.MigrationSuspendAnnotation)
			continue
		}
		fmt.Fprintf(a.out, "%s/%s scaled to 0 in namespace %s on the source (%s replicas kept in %s)\n",
			s.kind, s.obj.GetName(), s.namespace, s.kept, volsyncv1alpha1.MigrationReplicasAnnotation)
	}
	return nil
}

// reverseMigration creates, on the destination, the Migration back to the source and waits for it
// to succeed. Its "namespace/name" is recorded on the schedule before it is created, so a rerun
// finds it again; one that did not succeed is replaced by a new one.
func (a *app) reverseMigration(ctx context.Context, src, dest site, ms *volsyncv1alpha1.MigrationSchedule, pair, reverseNS string, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	var key client.ObjectKey
	if recorded := ms.Annotations[cli.FailbackMigrationAnnotation]; recorded != "" {
		n, name, _ := strings.Cut(recorded, "/")
		key = client.ObjectKey{Namespace: n, Name: name}
		var m volsyncv1alpha1.Migration
		err := dest.client.Get(ctx, key, &m)
		switch {
		case err == nil && m.Status.Status.Finished() && m.Status.Status != volsyncv1alpha1.RunStatusSuccessful:
			fmt.Fprintf(a.out, "reverse migration %s ended %s earlier: starting a new one\n", name, m.Status.Status)
			key = client.ObjectKey{}
		case err == nil:
			fmt.Fprintf(a.out, "waiting for reverse migration %s in namespace %s on the destination\n", name, n)
			return a.awaitReverseMigration(ctx, dest, key, timeout)
		case !apierrors.IsNotFound(err):
			return nil, dest.explain(err)
		}
	}
	if key.Name == "" {
		key = client.ObjectKey{Namespace: reverseNS, Name: cli.RunName(ms.Name, "failback", time.Now())}
		recorded := key.Namespace + "/" + key.Name
		if err := src.client.Patch(ctx, ms, annotationPatch(cli.FailbackMigrationAnnotation, &recorded)); err != nil {
			return nil, src.explain(err)
		}
	}
	m := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       reverseSpec(ms.Spec.Template.Spec, pair),
	}
	if err := dest.client.Create(ctx, m); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, dest.explain(err)
	}
	fmt.Fprintf(a.out, "migration/%s created in namespace %s on the destination (back to the source)\n", key.Name, key.Namespace)
	return a.awaitReverseMigration(ctx, dest, key, timeout)
}

// reverseSpec is the spec of the Migration back: the destination namespaces, each mapped back to
// its source namespace, with what the template includes and selects; the applications stay
// stopped on the source until step 5, and nothing there is purged.
func reverseSpec(template volsyncv1alpha1.MigrationSpec, pair string) volsyncv1alpha1.MigrationSpec {
	spec := volsyncv1alpha1.MigrationSpec{
		ClusterPair:           pair,
		Namespaces:            cli.DestinationNamespaces(template),
		Selectors:             template.Selectors,
		IncludeResources:      template.IncludeResources,
		IncludeVolumes:        template.IncludeVolumes,
		ExcludeResourceTypes:  template.ExcludeResourceTypes,
		StartApplications:     ptr.To(false),
		PurgeDeletedResources: ptr.To(false),
	}
	for _, source := range template.Namespaces {
		if d := cli.DestinationOf(template, source); d != source {
			if spec.NamespaceMapping == nil {
				spec.NamespaceMapping = map[string]volsyncv1alpha1.NamespaceName{}
			}
			spec.NamespaceMapping[d] = volsyncv1alpha1.NamespaceName(source)
		}
	}
	return spec
}

func (a *app) awaitReverseMigration(ctx context.Context, dest site, key client.ObjectKey, timeout time.Duration) (*volsyncv1alpha1.Migration, error) {
	got, err := a.awaitMigration(ctx, dest.client, key, timeout)
	stopped := "the applications are stopped on both sites"
	switch {
	case errors.Is(err, errNotFinished):
		return nil, cli.Hint(fmt.Errorf("reverse migration %q did not finish within %s: %s", key.Name, timeout, stopped),
			"it goes on on the destination: rerun 'volsyncctl perform failback' to wait for it again")
	case err != nil:
		return nil, dest.explain(err)
	case got.Status.Status != volsyncv1alpha1.RunStatusSuccessful:
		return nil, cli.Hint(fmt.Errorf("reverse migration %q ended %s (%s): %s", key.Name, got.Status.Status, cli.MigrationOutcome(got), stopped),
			fmt.Sprintf("fix the cause and rerun 'volsyncctl perform failback' (it starts a new reverse migration), or run the applications at the recovery site again with 'volsyncctl activate migration --namespaces %s' there", strings.Join(got.Spec.Namespaces, ",")))
	}
	fmt.Fprintf(a.out, "migration/%s succeeded\n", key.Name)
	return got, nil
}

// finishFailback resumes the schedule (unless keepSuspended) and drops the record of the reverse
// Migration, in one write: a rerun then sees either a failback under way or one that is done.
func (a *app) finishFailback(ctx context.Context, src site, ms *volsyncv1alpha1.MigrationSchedule, keepSuspended bool) error {
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{cli.FailbackMigrationAnnotation: nil}}}
	if keepSuspended {
		a.step(6, "leave the schedule suspended (--keep-suspended)")
	} else {
		a.step(6, "resume the schedule")
		patch["spec"] = map[string]any{"suspend": false}
	}
	if err := src.client.Patch(ctx, ms, mergePatch(patch)); err != nil {
		return src.explain(err)
	}
	if !keepSuspended {
		fmt.Fprintf(a.out, "migrationschedule/%s resumed\n", ms.Name)
	}
	return nil
}
