package e2e

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestRsyncToASnapshotDestination replicates a volume over rsync/ssh twice (the second round after
// a change at the source) to a destination that keeps a VolumeSnapshot of each good sync, and checks
// every latestImage by checksum from a pod that mounts a claim restored from it. Movers are
// privileged here, so owners are kept as well.
func TestRsyncToASnapshotDestination(t *testing.T) {
	ns := newNamespace(t, "rsync")
	privilegedMovers(t, ns)
	newPVC(t, ns, "source", nil)
	want := writeTree(t, ns, "source", "rsync-first")

	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: objectMeta(ns, "backup"),
		// No trigger: the destination listens continuously, and each finished sync becomes an image.
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("1Gi"),
					StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
				},
			},
		},
	}
	createListening(t, rd)

	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "source"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"},
			Rsync: &volsyncv1alpha1.ReplicationSourceRsyncSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, VolumeSnapshotClassName: ptr.To(snapshotClass),
				},
				Address: rd.Status.Rsync.Address,
				SSHKeys: rd.Status.Rsync.SSHKeys,
			},
		},
	}
	create(t, rs)
	first := waitManualSync(t, rs, "first")
	image := waitNewImage(t, rd, "")
	requireSameTree(t, "the first image", want, restoredTreeSum(t, ns, image, "first"))
	if first.Status.LastSyncTime == nil {
		t.Errorf("the source has no lastSyncTime after a sync")
	}

	want = writeTree(t, ns, "source", "rsync-second")
	setManual(t, rs, "second")
	waitManualSync(t, rs, "second")
	image2 := waitNewImage(t, rd, image)
	requireSameTree(t, "the second image", want, restoredTreeSum(t, ns, image2, "second"))
}

// createListening creates an always-listening rsync or rsync-tls destination and waits until its
// status publishes the address and keys a source needs.
func createListening(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination) {
	t.Helper()
	create(t, rd)
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		if rd.Spec.RsyncTLS != nil {
			if st := rd.Status.RsyncTLS; st == nil || st.Address == nil || st.KeySecret == nil {
				return fmt.Errorf("destination %s publishes no address and key Secret yet (status.rsyncTLS %+v)", rd.Name, st)
			}
			return nil
		}
		if st := rd.Status.Rsync; st == nil || st.Address == nil || st.SSHKeys == nil {
			return fmt.Errorf("destination %s publishes no address and SSH keys yet (status.rsync %+v)", rd.Name, st)
		}
		return nil
	})
}

// waitManualSync waits until a manually triggered source has finished the sync named tag.
func waitManualSync(t *testing.T, rs *volsyncv1alpha1.ReplicationSource, tag string) *volsyncv1alpha1.ReplicationSource {
	t.Helper()
	waitLastManualSync(t, rs, &rs.Status.ReplicationStatus, "source", tag)
	return rs
}

// waitLastManualSync waits until obj, a manually triggered source or destination (what) whose
// status is st, has finished the sync named tag. Each poll reads obj, and so st, afresh.
func waitLastManualSync(t *testing.T, obj client.Object, st *volsyncv1alpha1.ReplicationStatus, what, tag string) {
	t.Helper()
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if st.LastManualSync != tag {
			c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing)
			return fmt.Errorf("%s %s: lastManualSync %q, want %q (condition %+v)", what, obj.GetName(), st.LastManualSync, tag, c)
		}
		return nil
	})
}

// waitNewImage waits until the destination's latestImage names a snapshot other than previous and
// that snapshot is ready to use, and returns its name.
func waitNewImage(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination, previous string) string {
	t.Helper()
	var name string
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		if rd.Status.LatestImage == nil || rd.Status.LatestImage.Name == previous {
			return fmt.Errorf("destination %s: no new latestImage (have %v)", rd.Name, rd.Status.LatestImage)
		}
		if rd.Status.LatestImage.Kind != "VolumeSnapshot" {
			return fmt.Errorf("latestImage is a %s, want a VolumeSnapshot", rd.Status.LatestImage.Kind)
		}
		name = rd.Status.LatestImage.Name
		return snapshotReady(rd.Namespace, name)
	})
	return name
}

// restoredTreeSum restores a claim from snapshot and returns the checksum listing of its tree.
func restoredTreeSum(t *testing.T, ns, snapshot, tag string) string {
	t.Helper()
	claim := "restored-" + tag
	newPVC(t, ns, claim, snapshotSource(snapshot))
	return treeSum(t, ns, claim, "check-"+tag)
}

// setManual asks a manually triggered source for another sync.
func setManual(t *testing.T, rs *volsyncv1alpha1.ReplicationSource, tag string) {
	t.Helper()
	patch := client.MergeFrom(rs.DeepCopy())
	rs.Spec.Trigger.Manual = tag
	if err := k8s.Patch(context.Background(), rs, patch); err != nil {
		t.Fatal(err)
	}
}
