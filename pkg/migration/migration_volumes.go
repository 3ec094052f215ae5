package migration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// migrateVolumes is the Volumes stage: it lists the PVCs the run covers (its namespaces, its
// selectors) and moves their data to the destination.
//
// Moving data takes the replication movers (a ReplicationSource/ReplicationDestination pair per
// PVC, rsync-tls, manual trigger), which this build does not have yet. Until then every PVC is
// listed Pending with volumeMigrationUnavailable, so a run with includeVolumes and PVCs ends no
// better than PartialSuccess and says why, instead of claiming a success it did not have.
//
// This function is the seam for the volume path: it has the run (spec, status, the destination's
// client and config in run.dst and run.dest) and returns the volume list; it may be called again
// after a restart, so the real implementation must pick up its ReplicationSources by name.
func (run *migrationRun) migrateVolumes(ctx context.Context) ([]volsyncv1alpha1.MigrationVolumeInfo, error) {
	var out []volsyncv1alpha1.MigrationVolumeInfo
	for _, ns := range run.namespaces() {
		var claims corev1.PersistentVolumeClaimList
		opts := []client.ListOption{client.InNamespace(ns)}
		if !run.selector.Empty() {
			opts = append(opts, client.MatchingLabelsSelector{Selector: run.selector})
		}
		if err := run.r.APIReader.List(ctx, &claims, opts...); err != nil {
			return nil, fmt.Errorf("listing PersistentVolumeClaims in namespace %s on the source: %w", ns, err)
		}
		for _, pvc := range claims.Items {
			if pvc.DeletionTimestamp != nil {
				continue
			}
			out = append(out, volsyncv1alpha1.MigrationVolumeInfo{
				PersistentVolumeClaim: pvc.Name,
				Namespace:             pvc.Namespace,
				Volume:                pvc.Spec.VolumeName,
				Status:                volsyncv1alpha1.RunStatusPending,
				Reason:                volumeMigrationUnavailable,
			})
		}
	}
	return out, nil
}
