package migration

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// includeVolumes: false means the storage is shared by both clusters, or replicated by its vendor:
// the data is already there, and what the destination lacks is the PersistentVolume that points
// at it. So the Volumes stage of such a run creates, for every bound PVC, its PersistentVolume on
// the destination (copier.PreparePersistentVolume: reclaim Retain, claimRef to the migrated claim)
// and the Applications stage keeps the PVC's volumeName. Each PV is one entry in status.volumes.
//
// The destination user's rights on PersistentVolumes are not checked up front: a user confined
// to the migrated namespaces still migrates everything else, and each volume it may not create
// is a failed entry that says so.
//
// What cannot work is said there, never left as a silent empty volume:
//   - a destination that is this very cluster (the same PersistentVolume UID): a volume binds one
//     claim, and taking it would unbind the source's;
//   - a PersistentVolume of that name on the destination bound to another claim;
//   - a CSI driver the destination does not have: its volumes are not reachable there, so the
//     storage is not shared.
//
// A PersistentVolume that exists on the destination already is left as it is (its source is
// immutable, and its binding is the destination's PV controller's business).

var (
	pvKind        = copier.Kind{Version: "v1", Kind: "PersistentVolume", Resource: "persistentvolumes"}
	csiDriverKind = schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "CSIDriver"}
)

// errNoVolume: the PersistentVolume a claim names does not exist on the source.
var errNoVolume = errors.New("no such PersistentVolume on the source")

// migrateSharedVolumes is the Volumes stage of a run with includeVolumes false.
func (run *migrationRun) migrateSharedVolumes(ctx context.Context) error {
	pvcKind := copier.Kind{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", Namespaced: true}
	done := map[string]bool{}
	for _, v := range run.m.Status.Volumes {
		if v.Status.Finished() {
			done[v.Namespace+"/"+v.PersistentVolumeClaim] = true
		}
	}
	var vols []volsyncv1alpha1.MigrationVolumeInfo
	for _, v := range run.m.Status.Volumes {
		if v.Status.Finished() {
			vols = append(vols, v)
		}
	}
	for _, ns := range run.namespaces() {
		items, err := listAll(ctx, run.r.APIReader, pvcKind, ns, run.selector)
		if err != nil {
			return fmt.Errorf("listing PersistentVolumeClaims in namespace %s on the source: %w", ns, err)
		}
		for i := range items {
			pvc := &items[i]
			pvc.SetGroupVersionKind(pvcKind.GroupVersionKind())
			volumeName, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName")
			if run.selection.SkipReason(pvc) != "" || volumeName == "" || done[ns+"/"+pvc.GetName()] {
				continue // not the user's, not bound (nothing to share yet), or done by an earlier pass
			}
			e := volsyncv1alpha1.MigrationVolumeInfo{
				PersistentVolumeClaim: pvc.GetName(), Namespace: ns, DestinationNamespace: run.destinationOf(ns),
				Volume: volumeName, Status: volsyncv1alpha1.RunStatusSuccessful,
			}
			reason, err := run.shareVolume(ctx, volumeName)
			if errors.Is(err, errNoVolume) {
				continue // pre-bound to a volume that is not there yet: the claim waits for it on both sides
			}
			if err != nil {
				return err
			}
			if reason != "" {
				e.Status, e.Reason = volsyncv1alpha1.RunStatusFailed, shorten(reason)
			}
			vols = append(vols, e)
		}
	}
	run.m.Status.Volumes = vols
	return nil
}

// shareVolume creates PersistentVolume name on the destination. It returns why the copy cannot
// reach the data, or "" when it can; an error only for a failure of a cluster as a whole.
func (run *migrationRun) shareVolume(ctx context.Context, name string) (string, error) {
	pv := &unstructured.Unstructured{}
	pv.SetGroupVersionKind(pvKind.GroupVersionKind())
	if err := run.r.APIReader.Get(ctx, client.ObjectKey{Name: name}, pv); err != nil {
		if apierrors.IsNotFound(err) {
			return "", errNoVolume
		}
		return "", fmt.Errorf("reading PersistentVolume %s on the source: %w", name, err)
	}
	prepared, err := copier.PreparePersistentVolume(pv, run.opts)
	if err != nil {
		return err.Error(), nil
	}
	existing := &unstructured.Unstructured{}
	existing.SetGroupVersionKind(pvKind.GroupVersionKind())
	err = run.dst.Get(ctx, client.ObjectKey{Name: name}, existing)
	if apierrors.IsForbidden(err) {
		// A destination user confined to namespaces may still be allowed to create volumes; if
		// not, the create below says so for this volume. The run's up-front check does not ask
		// for PersistentVolume rights, so such a user can still migrate everything else.
		err = apierrors.NewNotFound(pvKind.GroupResource(), name)
	}
	switch {
	case err == nil:
		if existing.GetUID() == pv.GetUID() {
			return fmt.Sprintf("PersistentVolume %s is this very cluster's: the cluster pair reaches the source cluster, and a volume binds one claim, "+
				"so includeVolumes: false cannot share it here; set includeVolumes: true to copy the data", name), nil
		}
		want, _, _ := unstructured.NestedMap(prepared.Object, "spec", "claimRef")
		got, _, _ := unstructured.NestedMap(existing.Object, "spec", "claimRef")
		if got != nil && (got["namespace"] != want["namespace"] || got["name"] != want["name"]) {
			return fmt.Sprintf("PersistentVolume %s exists on the destination bound to claim %v/%v, not to the migrated %v/%v; it is left alone",
				name, got["namespace"], got["name"], want["namespace"], want["name"]), nil
		}
	case apierrors.IsNotFound(err):
		if reason := run.unsharedStorage(ctx, pv); reason != "" {
			return reason, nil
		}
		if err := run.dst.Create(ctx, prepared, client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
			if refusedObject(err) {
				return "the destination refused PersistentVolume " + name + ": " + err.Error(), nil
			}
			return "", remote.Classify(err, run.dest.Config.Host, "creating PersistentVolume "+name)
		}
	default:
		return "", remote.Classify(err, run.dest.Config.Host, "reading PersistentVolume "+name)
	}
	return "", nil
}

// unsharedStorage says why the destination cannot reach the volume's storage, or "" when nothing
// says it cannot: a CSI driver that is not installed there. A destination user that may not read
// CSIDrivers leaves it unknown.
func (run *migrationRun) unsharedStorage(ctx context.Context, pv *unstructured.Unstructured) string {
	driver, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if driver == "" {
		return ""
	}
	d := &unstructured.Unstructured{}
	d.SetGroupVersionKind(csiDriverKind)
	if err := run.dst.Get(ctx, client.ObjectKey{Name: driver}, d); apierrors.IsNotFound(err) {
		return fmt.Sprintf("the destination has no CSI driver %s, which PersistentVolume %s needs: the storage is not shared, "+
			"so the copy would bind to nothing; set includeVolumes: true to copy the data", driver, pv.GetName())
	}
	return ""
}

// keepsVolumeName says whether the run's PVCs keep volumeName on the destination.
func keepsVolumeName(m *volsyncv1alpha1.Migration) bool {
	return !boolOr(m.Spec.IncludeVolumes, true)
}
