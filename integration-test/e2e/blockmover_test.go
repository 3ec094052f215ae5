package e2e

import (
	"testing"

	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestBlockPVCThroughRsyncTLSIntoASnapshotDestination replicates a volumeMode: Block claim over
// rsync-tls, from a clone of it, into a Block ReplicationDestination that keeps a VolumeSnapshot
// of each sync. Two rounds, the second after a few MiB of the device changed: each latestImage,
// restored into a new Block claim, has the source device's checksum, read from pods that see the
// devices whole.
func TestBlockPVCThroughRsyncTLSIntoASnapshotDestination(t *testing.T) {
	ns := newNamespace(t, "block-tls")
	privilegedMovers(t, ns) // a mover opens the raw device
	newBlockPVC(t, ns, "disk", "256Mi", nil)
	first := deviceSum(t, runBlockPod(t, ns, "write", "disk", `
dd if=/dev/urandom of=`+blockDevice+` bs=1M seek=8 count=96 conv=fsync status=none
sha256sum `+blockDevice))

	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: objectMeta(ns, "disk-dr"),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{
			ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
				CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("256Mi"),
				StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
			},
			VolumeMode: ptr.To(corev1.PersistentVolumeBlock),
		}},
	}
	createListening(t, rd)
	rs := rsyncTLSSource(ns, "disk", rd, volsyncv1alpha1.CopyMethodClone, volsyncv1alpha1.MoverConfig{})
	create(t, rs)
	waitManualSync(t, rs, "first")
	image := waitNewImage(t, rd, "")
	newBlockPVC(t, ns, "restored-first", "256Mi", snapshotSource(image))
	if got := deviceSum(t, runBlockPod(t, ns, "read-first", "restored-first", "sha256sum "+blockDevice)); got != first {
		t.Fatalf("the first image restored has checksum %s, want the source's %s", got, first)
	}

	second := deviceSum(t, runBlockPod(t, ns, "rewrite", "disk", `
dd if=/dev/urandom of=`+blockDevice+` bs=4k seek=20000 count=512 conv=fsync,notrunc status=none
sha256sum `+blockDevice))
	setManual(t, rs, "second")
	waitManualSync(t, rs, "second")
	if msg := rs.Status.LatestMoverStatus; msg == nil || msg.Result != volsyncv1alpha1.MoverResultSuccessful {
		t.Errorf("the second sync's mover status is %+v", msg)
	}
	image2 := waitNewImage(t, rd, image)
	newBlockPVC(t, ns, "restored-second", "256Mi", snapshotSource(image2))
	if got := deviceSum(t, runBlockPod(t, ns, "read-second", "restored-second", "sha256sum "+blockDevice)); got != second {
		t.Fatalf("the second image restored has checksum %s, want the source's %s", got, second)
	}
}
