package migration

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// A Migration that moves volumes makes objects on two clusters: the ReplicationSource and the
// copied key Secret here, the ReplicationDestination (with its Service, Job and key Secret as its
// children) on the destination. The run deletes them once every volume has finished; a run that
// is deleted, or its schedule deleted, in the middle never gets there. So every run that moves
// volumes holds MigrationFinalizer from its first pass, before anything is written, and lets it
// go only once both clusters are clean:
//   - when the run finishes, right after its final status;
//   - when it is deleted unfinished: the mover work stops with the ReplicationSource, whose Job
//     and clone are its children.
//
// The names to delete are derived, not remembered: from the Migration's name and the PVCs (the
// source's, and those the status lists), plus everything on this cluster that carries the run's
// volsyncv1alpha1.MigrationUIDLabel, so a run killed between a create and its checkpoint leaves nothing behind.
//
// A destination that cannot be reached holds the finalizer through the run's retry budget,
// counted from the deletion, with every attempt in the Cleanup condition and a Warning Event; a
// destination that will never be reached again (its ClusterPair or kubeconfig gone) does not
// hold the finalizer at all. Either way what could not be deleted is named in an Event.

// ConditionCleanup says, on a Migration being deleted, whether what its volume path made is gone.
const ConditionCleanup = "Cleanup"

// Reasons of the Cleanup condition and its Events.
const (
	// ReasonCleanedUp: nothing the volume path made is left on either cluster.
	ReasonCleanedUp = "CleanedUp"
	// ReasonCleanupIncomplete: the destination could not be cleaned; the Event names what is left.
	ReasonCleanupIncomplete = "CleanupIncomplete"
)

// needsFinalizer says whether a run makes objects that must be deleted with it.
func needsFinalizer(m *volsyncv1alpha1.Migration) bool {
	return boolOr(m.Spec.IncludeVolumes, true) || m.Spec.PreExecRule != ""
}

// holdFinalizer adds MigrationFinalizer before the run's first write.
func (r *MigrationReconciler) holdFinalizer(ctx context.Context, m *volsyncv1alpha1.Migration) error {
	if !needsFinalizer(m) || controllerutil.ContainsFinalizer(m, volsyncv1alpha1.MigrationFinalizer) {
		return nil
	}
	controllerutil.AddFinalizer(m, volsyncv1alpha1.MigrationFinalizer)
	return r.Client.Update(ctx, m)
}

// release cleans up after a finished or deleted run and drops MigrationFinalizer.
func (run *migrationRun) release(ctx context.Context) (ctrl.Result, error) {
	m := run.m
	if hasBackground(&m.Status) {
		// A failed or deleted run still holds what its preExecRule's background actions hold.
		_, err := run.endBackground(ctx)
		if cerr := run.checkpoint(ctx); cerr != nil && m.DeletionTimestamp == nil {
			return ctrl.Result{}, cerr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctrl.Result{}, ctx.Err()
			}
			run.event(corev1.EventTypeWarning, ReasonRuleFailed, "could not end the background actions of Rule %q yet: %v", m.Spec.PreExecRule, err)
			return ctrl.Result{}, err
		}
	}
	if !controllerutil.ContainsFinalizer(m, volsyncv1alpha1.MigrationFinalizer) {
		return ctrl.Result{}, nil
	}
	if err := run.cleanupEverything(ctx); err != nil {
		if ctx.Err() != nil {
			return ctrl.Result{}, ctx.Err()
		}
		var re *remote.Error
		if !errors.As(err, &re) {
			return ctrl.Result{}, err // this cluster's API: the controller's backoff
		}
		if !permanent(re) {
			if res, waiting, werr := run.cleanupRetry(ctx, re); waiting || werr != nil {
				return res, werr
			}
		}
		// Given up on the destination: say what is left there, then let the Migration go.
		run.event(corev1.EventTypeWarning, ReasonCleanupIncomplete,
			"could not delete the ReplicationDestinations of this migration through cluster pair %q: %v; delete them on the destination by hand: %s",
			m.Spec.ClusterPair, err, run.leftoverNames(ctx))
	}
	controllerutil.RemoveFinalizer(m, volsyncv1alpha1.MigrationFinalizer)
	if err := run.r.Client.Update(ctx, m); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if m.DeletionTimestamp != nil {
		log.FromContext(ctx).Info("migration deleted; what its volume path made is gone")
	}
	return ctrl.Result{}, nil
}

// cleanupEverything deletes what the volume path made, this cluster first: that stops the mover,
// and this cluster is always reachable.
func (run *migrationRun) cleanupEverything(ctx context.Context) error {
	claims, err := run.claimsToClean(ctx)
	if err != nil {
		return err
	}
	if err := run.cleanupSource(ctx, claims); err != nil {
		return err
	}
	if len(claims) == 0 {
		return nil
	}
	if run.dst == nil {
		if err := run.connectForCleanup(ctx); err != nil {
			return err
		}
	}
	return run.cleanupDestination(ctx, claims)
}

// claimsToClean are the PVCs the volume path may have made objects for: those the status lists
// and those the source has in the run's namespaces now.
func (run *migrationRun) claimsToClean(ctx context.Context) ([]volumeClaim, error) {
	seen := map[volumeClaim]bool{}
	var out []volumeClaim
	add := func(c volumeClaim) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, v := range run.m.Status.Volumes {
		add(volumeClaim{namespace: v.Namespace, name: v.PersistentVolumeClaim})
	}
	if run.m.Status.Status == "" {
		return out, nil // never started: nothing was made
	}
	pvcKind := copier.Kind{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", Namespaced: true}
	for _, ns := range run.namespaces() {
		items, err := listAll(ctx, run.r.APIReader, pvcKind, ns, run.selector)
		if err != nil {
			return nil, fmt.Errorf("listing PersistentVolumeClaims in namespace %s on the source: %w", ns, err)
		}
		for _, pvc := range items {
			add(volumeClaim{namespace: ns, name: pvc.GetName()})
		}
	}
	return out, nil
}

// connectForCleanup reaches the destination with the permissions the cleanup needs only.
func (run *migrationRun) connectForCleanup(ctx context.Context) error {
	m := run.m
	var pair volsyncv1alpha1.ClusterPair
	if err := run.r.Client.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.ClusterPair}, &pair); err != nil {
		if apierrors.IsNotFound(err) {
			return &remote.Error{Reason: ReasonClusterPairNotFound, Err: fmt.Errorf("ClusterPair %s/%s is gone", m.Namespace, m.Spec.ClusterPair)}
		}
		return err
	}
	rd := schema.GroupResource{Group: volsyncv1alpha1.GroupVersion.Group, Resource: "replicationdestinations"}
	var perms []remote.Permission
	for _, ns := range run.destinationNamespaces() {
		for _, verb := range []string{"get", "delete"} {
			perms = append(perms, remote.Permission{Verb: verb, Resource: rd, Namespace: ns})
		}
	}
	dest, err := remote.Connect(ctx, run.r.APIReader, &pair, perms)
	if err != nil {
		return err
	}
	dst, err := run.r.NewDestinationClient(dest.Config)
	if err != nil {
		return &remote.Error{Reason: volsyncv1alpha1.ReasonUnreachable, Err: fmt.Errorf("making a client for %s: %w", dest.Config.Host, err)}
	}
	run.dest, run.dst, run.pair = dest, dst, &pair
	return nil
}

// permanent says whether a destination failure will not heal by waiting: the way to the
// destination itself is gone.
func permanent(re *remote.Error) bool {
	switch re.Reason {
	case ReasonClusterPairNotFound, volsyncv1alpha1.ReasonSecretNotFound, volsyncv1alpha1.ReasonInvalidKubeconfig:
		return true
	}
	return false
}

// cleanupRetry records a failed cleanup attempt in the Cleanup condition and says whether to wait
// for the next one; false once the retry budget, counted from the deletion (or the end of the
// run), is spent.
func (run *migrationRun) cleanupRetry(ctx context.Context, re *remote.Error) (ctrl.Result, bool, error) {
	m := run.m
	now := run.now()
	since := now
	switch {
	case m.DeletionTimestamp != nil:
		since = m.DeletionTimestamp.Time
	case m.Status.FinishTimestamp != nil:
		since = m.Status.FinishTimestamp.Time
	}
	policy := run.r.Retry.withDefaults()
	attempt, next, exhausted := policy.Attempt(since, now)
	if exhausted {
		return ctrl.Result{}, false, nil
	}
	msg := fmt.Sprintf("cleanup attempt %d of %d failed, next at %s: %v; to give up, remove the finalizer %s",
		attempt, policy.Attempts, next.UTC().Format(time.RFC3339), re, volsyncv1alpha1.MigrationFinalizer)
	before := meta.FindStatusCondition(m.Status.Conditions, ConditionCleanup)
	run.setCondition(metav1.Condition{Type: ConditionCleanup, Status: metav1.ConditionFalse, Reason: re.Reason, Message: msg})
	if err := run.checkpoint(ctx); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, true, err
	}
	if before == nil || before.Message != msg {
		run.event(corev1.EventTypeWarning, re.Reason, "%s", msg)
	}
	return ctrl.Result{RequeueAfter: max(next.Sub(now), time.Second)}, true, nil
}

// leftoverNames names, for the Event of a cleanup given up, what may be left on the destination.
func (run *migrationRun) leftoverNames(ctx context.Context) string {
	claims, err := run.claimsToClean(ctx)
	if err != nil || len(claims) == 0 {
		return "unknown"
	}
	out := ""
	for i, c := range claims {
		if i > 0 {
			out += ", "
		}
		out += "ReplicationDestination " + run.mapping.Destination(c.namespace) + "/" + volumeObjectName(run.m.Name, c.name)
	}
	return out
}
