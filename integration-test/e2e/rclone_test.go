package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestRcloneOneSourceTwoDestinations syncs a volume into a bucket with one rclone source, then
// restores it with two rclone destinations in two namespaces at once: one keeps a VolumeSnapshot
// of what it pulled (copyMethod Snapshot), the other publishes its PVC (Direct). Both copies must
// match the source by checksum, hard links aside.
func TestRcloneOneSourceTwoDestinations(t *testing.T) {
	ns := newNamespace(t, "rclone")
	other := newNamespace(t, "rclone-dst")
	// The tree has a file only root may read (mode 0640).
	privilegedMovers(t, ns)
	privilegedMovers(t, other)
	store := startObjectStore(t)
	store.MakeBucket(t, "rclone")
	store.rcloneConfigSecret(t, ns, "rclone-config")
	store.rcloneConfigSecret(t, other, "rclone-config")
	remote := func() volsyncv1alpha1.ReplicationDestinationRcloneSpec {
		return volsyncv1alpha1.ReplicationDestinationRcloneSpec{
			RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("rclone/" + ns), RcloneConfig: ptr.To("rclone-config"),
		}
	}

	newPVC(t, ns, "source", nil)
	want := withoutLinkCount(writeTree(t, ns, "source", "rclone-source"))
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "source"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "upload"},
			Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodClone,
				},
				RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("rclone/" + ns), RcloneConfig: ptr.To("rclone-config"),
			},
		},
	}
	create(t, rs)
	waitManualSync(t, rs, "upload")
	if st := rs.Status.LatestMoverStatus; st == nil || st.Result != volsyncv1alpha1.MoverResultSuccessful {
		t.Fatalf("the upload finished with latestMoverStatus %+v, want Successful", st)
	}

	snapshotted := remote()
	snapshotted.ReplicationDestinationVolumeOptions = volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("1Gi"),
		StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
	}
	direct := remote()
	direct.ReplicationDestinationVolumeOptions = volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodDirect, Capacity: ptrQuantity("1Gi"), StorageClassName: ptr.To(storageClass),
	}
	pull := &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "download"}
	rdSnapshot := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: objectMeta(ns, "copy"),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Trigger: pull, Rclone: &snapshotted}}
	rdDirect := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: objectMeta(other, "copy"),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Trigger: pull.DeepCopy(), Rclone: &direct}}
	create(t, rdSnapshot)
	create(t, rdDirect)

	waitManualRestore(t, rdSnapshot, "download")
	image := waitNewImage(t, rdSnapshot, "")
	requireSameTree(t, "the snapshotted copy in "+ns, want, withoutLinkCount(restoredTreeSum(t, ns, image, "rclone")))

	waitManualRestore(t, rdDirect, "download")
	claim := waitPVCImage(t, rdDirect)
	requireSameTree(t, "the direct copy in "+other, want, withoutLinkCount(treeSum(t, other, claim, "check-rclone")))
}

// withoutLinkCount drops the hard-link count from a checksum listing: rclone moves objects, and
// an object store has no hard links, so a linked file arrives as a second file with the same
// content and mode. Content, modes and directories are still compared line by line.
func withoutLinkCount(listing string) string {
	var keep []string
	for _, l := range strings.Split(listing, "\n") {
		if !strings.HasPrefix(l, "links ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// waitPVCImage waits until a copyMethod Direct destination publishes its PVC as latestImage and
// returns the claim's name.
func waitPVCImage(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination) string {
	t.Helper()
	var name string
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		img := rd.Status.LatestImage
		if img == nil {
			return fmt.Errorf("destination %s has no latestImage", rd.Name)
		}
		if img.Kind != "PersistentVolumeClaim" {
			return fmt.Errorf("latestImage is a %s, want the PersistentVolumeClaim of a Direct destination", img.Kind)
		}
		name = img.Name
		return nil
	})
	return name
}
