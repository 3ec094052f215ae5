package volume

import (
	"context"
	"fmt"
	"slices"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// ReleaseKept hands the VolumeSnapshots of owner that a user labelled do-not-delete over to the
// user: it removes owner's reference from them, so that garbage collection does not delete them
// with owner, and volsync never deletes them either (deleteUnlessKept). It returns the names of the
// snapshots it released in this call. Without the VolumeSnapshot API there is nothing to release.
func ReleaseKept(ctx context.Context, c client.Client, owner client.Object) ([]string, error) {
	kept, err := labels.NewRequirement(volsyncv1alpha1.DoNotDeleteLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	var snaps snapv1.VolumeSnapshotList
	err = c.List(ctx, &snaps, client.InNamespace(owner.GetNamespace()), client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*kept)})
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing snapshots labelled %s: %w", volsyncv1alpha1.DoNotDeleteLabel, err)
	}
	var released []string
	for i := range snaps.Items {
		snap := &snaps.Items[i]
		refs := slices.DeleteFunc(slices.Clone(snap.OwnerReferences), func(r metav1.OwnerReference) bool { return r.UID == owner.GetUID() })
		if len(refs) == len(snap.OwnerReferences) {
			continue
		}
		patch := client.MergeFrom(snap.DeepCopy())
		snap.OwnerReferences = refs
		if err := c.Patch(ctx, snap, patch); err != nil {
			return released, fmt.Errorf("releasing snapshot %s labelled %s: %w", snap.Name, volsyncv1alpha1.DoNotDeleteLabel, err)
		}
		released = append(released, snap.Name)
	}
	return released, nil
}
