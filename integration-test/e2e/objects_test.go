package e2e

import (
	"context"
	"fmt"
	"testing"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

func ptrQuantity(q string) *resource.Quantity {
	v := resource.MustParse(q)
	return &v
}

// create creates obj or fails the test.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// snapshotReady says why a VolumeSnapshot is not ready to use yet, or nil when it is.
func snapshotReady(ns, name string) error {
	var s snapv1.VolumeSnapshot
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return err
	}
	if s.Status == nil || s.Status.ReadyToUse == nil || !*s.Status.ReadyToUse {
		return fmt.Errorf("VolumeSnapshot %s is not ready to use", name)
	}
	return nil
}

// privilegedMovers lets movers in ns run as root with the capabilities to keep owners, as an admin
// does for volumes whose files belong to several users.
func privilegedMovers(t *testing.T, ns string) {
	t.Helper()
	var n corev1.Namespace
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(n.DeepCopy())
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations["volsync.backube/privileged-movers"] = "true"
	if err := k8s.Patch(context.Background(), &n, patch); err != nil {
		t.Fatal(err)
	}
}
