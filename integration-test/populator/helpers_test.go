package populator

import (
	"context"
	"fmt"
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

// namespace makes a namespace for one test and sets the fake clock to the real time, so that a
// claim created now is young on it.
func namespace(t *testing.T) string {
	t.Helper()
	fakeClock.SetTime(time.Now())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "populator-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// storageClass makes a CSI StorageClass with the binding mode, reclaim policy Delete.
func storageClass(t *testing.T, mode storagev1.VolumeBindingMode) string {
	t.Helper()
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{GenerateName: "csi-"},
		Provisioner:       "hostpath.csi.example.com",
		VolumeBindingMode: &mode,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
	}
	if err := k8s.Create(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), sc) })
	return sc.Name
}

// destination makes a ReplicationDestination; no replication controller runs here, so it only
// ever has the status the test writes.
func destination(t *testing.T, ns, name string) *volsyncv1alpha1.ReplicationDestination {
	t.Helper()
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptr.To(resource.MustParse("3Gi")),
				},
			},
		},
	}
	if err := k8s.Create(context.Background(), rd); err != nil {
		t.Fatal(err)
	}
	return rd
}

// publishImage makes a VolumeSnapshot and sets it as the destination's latestImage.
func publishImage(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination, snapshot string) {
	t.Helper()
	ctx := context.Background()
	snap := &snapv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: rd.Namespace, Name: snapshot,
			Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Spec: snapv1.VolumeSnapshotSpec{Source: snapv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To("volsync-" + rd.Name + "-dst")}},
	}
	if err := k8s.Create(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
		t.Fatal(err)
	}
	rd.Status.LatestImage = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapv1.GroupName), Kind: "VolumeSnapshot", Name: snapshot}
	if err := k8s.Status().Update(ctx, rd); err != nil {
		t.Fatal(err)
	}
}

func claimSpec(sc string) corev1.PersistentVolumeClaimSpec {
	return corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
		StorageClassName: ptr.To(sc),
		VolumeMode:       ptr.To(corev1.PersistentVolumeBlock),
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceStorage: resource.MustParse("3Gi"),
		}},
	}
}

// claim makes the user's claim, to be populated from the destination rd.
func claim(t *testing.T, ns, name, sc, rd string) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: claimSpec(sc)}
	pvc.Spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To(volsyncv1alpha1.GroupVersion.Group), Kind: "ReplicationDestination", Name: rd}
	if err := k8s.Create(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.DataSourceRef == nil {
		t.Fatal("the API server dropped the claim's dataSourceRef (AnyVolumeDataSource off?)")
	}
	return pvc
}

func primeKey(pvc *corev1.PersistentVolumeClaim) client.ObjectKey {
	return client.ObjectKey{Namespace: pvc.Namespace, Name: populator.PrimePrefix + string(pvc.UID)}
}

func waitPrime(t *testing.T, pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	t.Helper()
	var prime corev1.PersistentVolumeClaim
	eventually(t, func() error { return k8s.Get(context.Background(), primeKey(pvc), &prime) })
	return &prime
}

// provision plays the CSI provisioner and the PersistentVolume controller for the prime claim: a
// volume of its class, bound to it.
func provision(t *testing.T, prime *corev1.PersistentVolumeClaim, sc string) *corev1.PersistentVolume {
	t.Helper()
	ctx := context.Background()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(prime.UID)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("3Gi")},
			AccessModes:                   prime.Spec.AccessModes,
			VolumeMode:                    prime.Spec.VolumeMode,
			StorageClassName:              sc,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "hostpath.csi.example.com", VolumeHandle: string(prime.UID),
			}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: prime.Namespace, Name: prime.Name, UID: prime.UID},
		},
	}
	if err := k8s.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pv) })
	pv.Status.Phase = corev1.VolumeBound
	if err := k8s.Status().Update(ctx, pv); err != nil {
		t.Fatal(err)
	}
	bind(t, prime, pv, corev1.ClaimBound)
	return pv
}

// bindTheRebound plays the PersistentVolume controller once the volume names the user's claim:
// the claim is bound to it and the prime claim, whose volume is gone, is Lost.
func bindTheRebound(t *testing.T, pvc, prime *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) {
	t.Helper()
	ctx := context.Background()
	bind(t, pvc, pv, corev1.ClaimBound)
	patch := client.MergeFrom(prime.DeepCopy())
	prime.Status.Phase = corev1.ClaimLost
	if err := k8s.Status().Patch(ctx, prime, patch); err != nil {
		t.Fatal(err)
	}
}

// bind sets the claim's volumeName to the volume and its status to phase, as the PersistentVolume
// controller does. Patches, not updates: the populator and the API server edit claims too.
func bind(t *testing.T, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, phase corev1.PersistentVolumeClaimPhase) {
	t.Helper()
	ctx := context.Background()
	patch := client.MergeFrom(pvc.DeepCopy())
	pvc.Spec.VolumeName = pv.Name
	if err := k8s.Patch(ctx, pvc, patch); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(pvc.DeepCopy())
	pvc.Status.Phase = phase
	pvc.Status.AccessModes = pvc.Spec.AccessModes
	pvc.Status.Capacity = pv.Spec.Capacity
	if err := k8s.Status().Patch(ctx, pvc, patch); err != nil {
		t.Fatal(err)
	}
}

// waitPrimeGone waits until the prime claim is deleted (or being deleted: no controller here
// removes the pvc-protection finalizer).
func waitPrimeGone(t *testing.T, prime *corev1.PersistentVolumeClaim) {
	t.Helper()
	eventually(t, func() error {
		var got corev1.PersistentVolumeClaim
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(prime), &got)
		if apierrors.IsNotFound(err) || (err == nil && got.DeletionTimestamp != nil) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("the prime claim %s is still there", prime.Name)
	})
}

// poke edits the claim's annotations, which brings a reconcile.
func poke(t *testing.T, pvc *corev1.PersistentVolumeClaim) {
	t.Helper()
	patch := client.MergeFrom(pvc.DeepCopy())
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	pvc.Annotations["test.volsync.backube/poke"] = time.Now().Format(time.RFC3339Nano)
	if err := k8s.Patch(context.Background(), pvc, patch); err != nil {
		t.Fatal(err)
	}
}

// releaseClaim removes the finalizers of a claim being deleted, as the pvc-protection controller
// does once no pod uses it.
func releaseClaim(t *testing.T, pvc *corev1.PersistentVolumeClaim) {
	t.Helper()
	var got corev1.PersistentVolumeClaim
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pvc), &got)
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Finalizers = nil
	if err := k8s.Patch(context.Background(), &got, patch); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}
