package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// blockDevice is where the test's pods see a Block claim.
const blockDevice = "/dev/xvda"

// TestBlockVolumesSnapshotAndCloneOnTheTestCluster checks the cluster's CSI driver with raw block
// claims: a pod writes random data to a Block claim through volumeDevices and checksums the whole
// device; a VolumeSnapshot of it restored into a new Block claim, and a clone of the claim, read
// back the same checksum in other pods. A write after the snapshot is in the clone, not in the
// restore.
func TestBlockVolumesSnapshotAndCloneOnTheTestCluster(t *testing.T) {
	ns := newNamespace(t, "block")
	newBlockPVC(t, ns, "source", "256Mi", nil)
	// Random data in the middle and a marker at the end: the checksum covers the whole device, so
	// a copy of the wrong size or one that lost the holes' neighbours differs.
	first := deviceSum(t, runBlockPod(t, ns, "write", "source", `
dd if=/dev/urandom of=`+blockDevice+` bs=1M seek=16 count=48 conv=fsync status=none
printf 'end of the device' | dd of=`+blockDevice+` bs=1M seek=255 conv=fsync status=none
sha256sum `+blockDevice))

	snap := &snapv1.VolumeSnapshot{
		ObjectMeta: objectMeta(ns, "source-snap"),
		Spec: snapv1.VolumeSnapshotSpec{
			Source:                  snapv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("source")},
			VolumeSnapshotClassName: ptr.To(snapshotClass),
		},
	}
	create(t, snap)
	eventually(t, 2*time.Minute, func() error { return snapshotReady(ns, snap.Name) })

	// The source changes after the snapshot: the restore has the first data, a clone the second.
	second := deviceSum(t, runBlockPod(t, ns, "rewrite", "source", `
dd if=/dev/urandom of=`+blockDevice+` bs=1M seek=100 count=8 conv=fsync status=none
sha256sum `+blockDevice))
	if second == first {
		t.Fatal("the rewrite did not change the device's checksum")
	}

	newBlockPVC(t, ns, "restored", "256Mi", snapshotSource(snap.Name))
	if got := deviceSum(t, runBlockPod(t, ns, "read-restored", "restored", "sha256sum "+blockDevice)); got != first {
		t.Errorf("the claim restored from the snapshot has checksum %s, want the snapshot's %s", got, first)
	}
	newBlockPVC(t, ns, "clone", "256Mi", &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "source"})
	if got := deviceSum(t, runBlockPod(t, ns, "read-clone", "clone", "sha256sum "+blockDevice)); got != second {
		t.Errorf("the clone has checksum %s, want the source's %s", got, second)
	}
}

// newBlockPVC makes a volumeMode: Block claim of the cluster's CSI StorageClass.
func newBlockPVC(t *testing.T, ns, name, size string, from *corev1.TypedLocalObjectReference) {
	t.Helper()
	create(t, &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta(ns, name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(storageClass),
			VolumeMode:       ptr.To(corev1.PersistentVolumeBlock),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse(size),
			}},
			DataSource: from,
		},
	})
}

// runBlockPod runs script as root in a mover-image pod with the Block claim as device
// blockDevice, waits for it to end and returns its output; a pod that fails fails the test.
func runBlockPod(t *testing.T, ns, name, claim, script string) string {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: objectMeta(ns, name),
		Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: asRoot(),
			Containers: []corev1.Container{{
				Name: "run", Image: moverImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:       []string{"sh", "-ec", script},
				VolumeDevices: []corev1.VolumeDevice{{Name: "data", DevicePath: blockDevice}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}},
		},
	}
	logs := runToEnd(t, pod)
	// The claim is free again (ReadWriteOnce) once kubelet has unpublished it: the pod is gone.
	eventually(t, 2*time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s is still there (%v)", name, err)
		}
		return nil
	})
	return logs
}

// deviceSum is the checksum in sha256sum's output for blockDevice.
func deviceSum(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == blockDevice {
			return f[0]
		}
	}
	t.Fatalf("no checksum of %s in:\n%s", blockDevice, out)
	return ""
}
