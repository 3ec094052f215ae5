package migration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// A namespace on the destination is a static copy until someone activates it (`volsyncctl
// activate migration`, `perform failover`), which records ApplicationActivatedAnnotation on it.
// From then on it is the live application: the next scheduled run would scale it back to zero
// and sync the source's volumes over what was written there since. So every pass of a run that
// writes anything reads its destination namespaces first, and a run that finds one activated
// fails at once with reason ApplicationActivated, before it writes, or writes more. The
// MigrationSchedule sees that reason and, with autoSuspend, suspends itself.

// activatedNamespaces lists, as "name (activated at T)", the run's destination namespaces that are
// activated.
func (run *migrationRun) activatedNamespaces(ctx context.Context) ([]string, error) {
	if !boolOr(run.m.Spec.IncludeResources, true) && !boolOr(run.m.Spec.IncludeVolumes, true) {
		return nil, nil // nothing is written
	}
	var out []string
	for _, d := range run.destinationNamespaces() {
		ns, err := run.destinationNamespace(ctx, d)
		if err != nil {
			return nil, err
		}
		if at, ok := ns.annotations[volsyncv1alpha1.ApplicationActivatedAnnotation]; ok {
			out = append(out, fmt.Sprintf("%s (activated at %s)", d, at))
		}
	}
	return out, nil
}

// activatedMessage says what was refused and how to go on.
func (run *migrationRun) activatedMessage(activated []string, started bool) string {
	written := "Nothing was written."
	if started {
		written = "The run stopped here and writes nothing more."
	}
	names := make([]string, len(activated))
	for i, a := range activated {
		names[i], _, _ = strings.Cut(a, " ")
	}
	return fmt.Sprintf("the destination namespace(s) %s on cluster pair %q are activated: they run the application now, "+
		"and a migration would stop it and overwrite what was written there. %s "+
		"To migrate into them again, deactivate them on the destination ('volsyncctl deactivate migration --namespaces %s'), "+
		"or fail back with 'volsyncctl perform failback'; set autoSuspend: true on the MigrationSchedule to suspend it while they are activated",
		strings.Join(activated, ", "), run.m.Spec.ClusterPair, written, strings.Join(names, ","))
}

// recoveryPointOwner is the field manager of the recovery point annotations, apart from the
// copier's, so that applying a namespace's copy never takes them away.
const recoveryPointOwner = "volsync-recovery-point"

// markRecoveryPoint records, on the destination namespaces of a run that succeeded, when its data
// was taken and by which Migration: what a failover that cannot reach this cluster reads. It is
// best effort: the run has succeeded, and the next success writes it again.
func (run *migrationRun) markRecoveryPoint(ctx context.Context) {
	m := run.m
	if run.dst == nil || m.Status.StartTimestamp == nil {
		return
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		volsyncv1alpha1.RecoveryPointAnnotation:          m.Status.StartTimestamp.UTC().Format(time.RFC3339),
		volsyncv1alpha1.RecoveryPointMigrationAnnotation: m.Namespace + "/" + m.Name,
	}}})
	if err != nil {
		return
	}
	for _, d := range run.destinationNamespaces() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d}}
		if err := run.dst.Patch(ctx, ns, client.RawPatch("application/merge-patch+json", patch), client.FieldOwner(recoveryPointOwner)); err != nil {
			log.FromContext(ctx).Info("could not record the recovery point on the destination namespace", "namespace", d, "error", err.Error())
		}
	}
}
