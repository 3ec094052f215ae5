package e2e

import (
	"context"
	"fmt"
	"testing"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
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
