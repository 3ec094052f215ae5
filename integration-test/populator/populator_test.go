package populator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/populator"
)

// TestPopulatesAClaimFromTheLatestImageAndWaitsWhileThereIsNone restores a claim the documented
// VolSync way: it waits while the destination has no latestImage, restores the image into a
// prime claim of the same shape, hands the prime claim's volume to the claim and deletes the
// prime claim.
func TestPopulatesAClaimFromTheLatestImageAndWaitsWhileThereIsNone(t *testing.T) {
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	rd := destination(t, ns, "backup")
	pvc := claim(t, ns, "restored", sc, "backup")

	note := waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonNoLatestImage)
	t.Logf("while the destination has no image: %s", note)
	if err := k8s.Get(context.Background(), primeKey(pvc), &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a prime claim exists before the destination has an image (%v)", err)
	}

	publishImage(t, rd, "backup-snap-1")
	prime := waitPrime(t, pvc)
	if got := prime.Spec.DataSourceRef; got == nil || got.Kind != "VolumeSnapshot" || got.Name != "backup-snap-1" || ptr.Deref(got.APIGroup, "") != snapv1.GroupName {
		t.Errorf("the prime claim restores %+v, want VolumeSnapshot backup-snap-1", got)
	}
	if ptr.Deref(prime.Spec.StorageClassName, "") != sc || prime.Spec.Resources.Requests.Storage().Cmp(resource.MustParse("3Gi")) != 0 ||
		len(prime.Spec.AccessModes) != 1 || prime.Spec.AccessModes[0] != corev1.ReadWriteMany ||
		ptr.Deref(prime.Spec.VolumeMode, "") != corev1.PersistentVolumeBlock {
		t.Errorf("the prime claim's shape differs from the claim's: %+v", prime.Spec)
	}
	if prime.Labels[volsyncv1alpha1.CreatedByLabel] != volsyncv1alpha1.CreatedByValue || prime.Labels[populator.PopulatorForLabel] != string(pvc.UID) {
		t.Errorf("the prime claim's labels are %v", prime.Labels)
	}
	if ref := metav1.GetControllerOf(prime); ref == nil || ref.UID != pvc.UID {
		t.Errorf("the prime claim is controlled by %+v, want the claim", ref)
	}
	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonPVCCreated)

	pv := provision(t, prime, sc)
	eventually(t, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pv), pv); err != nil {
			return err
		}
		if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != pvc.UID || ref.Name != pvc.Name || ref.Namespace != ns {
			return fmt.Errorf("the volume's claimRef is %+v, want the claim", ref)
		}
		return nil
	})
	if got := pv.Annotations[populator.PopulatedFromAnnotation]; got != ns+"/backup/backup-snap-1" {
		t.Errorf("the volume says it was populated from %q", got)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("the volume's reclaim policy became %s; it keeps its class's", pv.Spec.PersistentVolumeReclaimPolicy)
	}
	// The prime claim stays until the claim is bound.
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(prime), prime); err != nil || prime.DeletionTimestamp != nil {
		t.Fatalf("the prime claim went before the claim was bound (%v)", err)
	}

	bindTheRebound(t, pvc, prime, pv)
	waitPrimeGone(t, prime)
	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonPopulatorFinished)
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pvc), pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.VolumeName != pv.Name || pvc.Status.Phase != corev1.ClaimBound {
		t.Errorf("the claim is %s on %q, want Bound on %s", pvc.Status.Phase, pvc.Spec.VolumeName, pv.Name)
	}
}

// TestAMissingDestinationIsAWarningUntilItExists: a claim naming a destination that does not
// exist gets a Warning Event that says so, and is restored once the destination is there.
func TestAMissingDestinationIsAWarningUntilItExists(t *testing.T) {
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	pvc := claim(t, ns, "restored", sc, "not-yet")

	note := waitEvent(t, ns, pvc.Name, corev1.EventTypeWarning, populator.ReasonReplicationDestinationMissing)
	if want := "ReplicationDestination not-yet not found"; !strings.Contains(note, want) {
		t.Errorf("the Warning says %q, want it to say %q", note, want)
	}

	rd := destination(t, ns, "not-yet")
	publishImage(t, rd, "snap")
	prime := waitPrime(t, pvc)
	pv := provision(t, prime, sc)
	eventually(t, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pv), pv); err != nil {
			return err
		}
		if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != pvc.UID {
			return fmt.Errorf("the volume's claimRef is %+v", ref)
		}
		return nil
	})
	bindTheRebound(t, pvc, prime, pv)
	waitPrimeGone(t, prime)
	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonPopulatorFinished)
}

// TestADestinationWithoutAnImageForTooLongIsAWarning: the wait for a first image becomes a
// Warning once the claim is older than NoImageWarning.
func TestADestinationWithoutAnImageForTooLongIsAWarning(t *testing.T) {
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	destination(t, ns, "slow")
	pvc := claim(t, ns, "restored", sc, "slow")
	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonNoLatestImage)

	fakeClock.Step(noImageWarning + time.Second)
	poke(t, pvc) // the populator's requeue runs on the real clock; an edit brings it back now
	note := waitEvent(t, ns, pvc.Name, corev1.EventTypeWarning, populator.ReasonNoLatestImage)
	if !strings.Contains(note, "no latestImage for 5m0s") {
		t.Errorf("the Warning says %q", note)
	}
}

// TestWaitForFirstConsumerRestoresOnTheSelectedNode: with a WaitForFirstConsumer class nothing is
// restored until the scheduler picks a node for the claim, and the prime claim asks for that node.
func TestWaitForFirstConsumerRestoresOnTheSelectedNode(t *testing.T) {
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingWaitForFirstConsumer)
	rd := destination(t, ns, "backup")
	publishImage(t, rd, "snap")
	pvc := claim(t, ns, "restored", sc, "backup")

	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonWaitingForConsumer)
	if err := k8s.Get(context.Background(), primeKey(pvc), &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a prime claim exists before a node was selected (%v)", err)
	}
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Annotations = map[string]string{"volume.kubernetes.io/selected-node": "node-a"}
	if err := k8s.Patch(context.Background(), pvc, patch); err != nil {
		t.Fatal(err)
	}
	prime := waitPrime(t, pvc)
	if got := prime.Annotations["volume.kubernetes.io/selected-node"]; got != "node-a" {
		t.Errorf("the prime claim's selected node is %q, want node-a", got)
	}
}

// TestAClaimInThePrimeClaimsPlaceIsNeverUsed: a claim that has the prime claim's name but is not
// this claim's is left alone, with a Warning.
func TestAClaimInThePrimeClaimsPlaceIsNeverUsed(t *testing.T) {
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	pvc := claim(t, ns, "restored", sc, "later")
	waitEvent(t, ns, pvc.Name, corev1.EventTypeWarning, populator.ReasonReplicationDestinationMissing)
	squatter := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: primeKey(pvc).Name,
			Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Spec: claimSpec(sc),
	}
	if err := k8s.Create(context.Background(), squatter); err != nil {
		t.Fatal(err)
	}
	rd := destination(t, ns, "later")
	publishImage(t, rd, "snap")
	waitEvent(t, ns, pvc.Name, corev1.EventTypeWarning, populator.ReasonPVCCreationError)
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(squatter), squatter); err != nil || squatter.DeletionTimestamp != nil {
		t.Fatalf("the other claim was touched (%v)", err)
	}
	if squatter.Spec.DataSourceRef != nil || len(squatter.OwnerReferences) != 0 {
		t.Errorf("the other claim was changed: %+v", squatter)
	}
}

// TestASnapshotGoneBeforeItsRestoreStartsAgainFromTheNewImage: the destination replaced its image
// and deleted the old snapshot before the provisioner restored it; the prime claim, which could
// never be bound, is replaced by one from the new image.
func TestASnapshotGoneBeforeItsRestoreStartsAgainFromTheNewImage(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	rd := destination(t, ns, "backup")
	publishImage(t, rd, "old")
	pvc := claim(t, ns, "restored", sc, "backup")
	prime := waitPrime(t, pvc)

	publishImage(t, rd, "new")
	if err := k8s.Delete(ctx, &snapv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "old"}}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ns, pvc.Name, corev1.EventTypeNormal, populator.ReasonRestarting)
	waitPrimeGone(t, prime)
	releaseClaim(t, prime) // the pvc-protection controller's part
	eventually(t, func() error {
		var again corev1.PersistentVolumeClaim
		if err := k8s.Get(ctx, primeKey(pvc), &again); err != nil {
			return err
		}
		if again.UID == prime.UID {
			return fmt.Errorf("the old prime claim is still there")
		}
		if again.Spec.DataSourceRef == nil || again.Spec.DataSourceRef.Name != "new" {
			return fmt.Errorf("the new prime claim restores %+v, want snapshot new", again.Spec.DataSourceRef)
		}
		return nil
	})
}
