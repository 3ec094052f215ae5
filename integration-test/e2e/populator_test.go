package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/populator"
)

// TestVolumePopulatorRestoresTheLatestImage restores the documented VolSync way: a claim whose
// dataSourceRef names a ReplicationDestination. The claim is created before the destination has
// any image and waits, Pending, with an Event that says so; after an rsync round it is bound to a
// volume the CSI driver restored from the destination's latestImage, which a pod checks by
// checksum, and the populator's prime claim is gone.
func TestVolumePopulatorRestoresTheLatestImage(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "populator")
	privilegedMovers(t, ns)
	newPVC(t, ns, "source", nil)
	want := writeTree(t, ns, "source", "populator")

	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: objectMeta(ns, "backup"),
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

	restored := &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta(ns, "restored"),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(storageClass),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
			DataSourceRef: &corev1.TypedObjectReference{
				APIGroup: ptr.To(volsyncv1alpha1.GroupVersion.Group), Kind: "ReplicationDestination", Name: rd.Name,
			},
		},
	}
	create(t, restored)
	waitPVCEvent(t, ns, restored.Name, corev1.EventTypeNormal, populator.ReasonNoLatestImage)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(restored), restored); err != nil {
		t.Fatal(err)
	}
	if restored.Status.Phase != corev1.ClaimPending {
		t.Fatalf("the claim is %s before the destination has an image", restored.Status.Phase)
	}

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
	waitManualSync(t, rs, "first")
	image := waitNewImage(t, rd, "")

	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(restored), restored); err != nil {
			return err
		}
		if restored.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("the claim is %s", restored.Status.Phase)
		}
		return nil
	})
	var pv corev1.PersistentVolume
	if err := k8s.Get(ctx, client.ObjectKey{Name: restored.Spec.VolumeName}, &pv); err != nil {
		t.Fatal(err)
	}
	if got, want := pv.Annotations[populator.PopulatedFromAnnotation], ns+"/"+rd.Name+"/"+image; got != want {
		t.Errorf("the volume says it was populated from %q, want %q", got, want)
	}
	eventually(t, time.Minute, func() error {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: populator.PrimePrefix + string(restored.UID)}, &corev1.PersistentVolumeClaim{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("the prime claim is still there (%v)", err)
	})
	waitPVCEvent(t, ns, restored.Name, corev1.EventTypeNormal, populator.ReasonPopulatorFinished)
	requireSameTree(t, "the claim restored through the volume populator", want, treeSum(t, ns, restored.Name, "check-populated"))
}

// waitPVCEvent waits for an Event of type and reason about the named claim.
func waitPVCEvent(t *testing.T, ns, name, eventType, reason string) {
	t.Helper()
	eventually(t, time.Minute, func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Kind != "PersistentVolumeClaim" || e.Regarding.Name != name {
				continue
			}
			if e.Type == eventType && e.Reason == reason {
				return nil
			}
			seen = append(seen, e.Type+" "+e.Reason)
		}
		return fmt.Errorf("no %s %s Event about claim %s (have %s)", eventType, reason, name, strings.Join(seen, ", "))
	})
}
