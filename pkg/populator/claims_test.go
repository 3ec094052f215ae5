package populator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func claimFor(ns, name, rd string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	if rd != "" {
		pvc.Spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To("volsync.backube"), Kind: "ReplicationDestination", Name: rd}
	}
	return pvc
}

func drain(q workqueue.TypedRateLimitingInterface[reconcile.Request]) map[string]bool {
	got := map[string]bool{}
	for q.Len() > 0 {
		r, _ := q.Get()
		got[r.String()] = true
		q.Done(r)
	}
	return got
}

func TestClaimWatchKeepsAndEnqueuesOnlyClaimsToPopulate(t *testing.T) {
	w := &ClaimWatch{claims: map[types.NamespacedName]*corev1.PersistentVolumeClaim{}, synced: make(chan struct{})}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	w.queue = q

	snapshotRef := claimFor("a", "from-snapshot", "")
	snapshotRef.Spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "s"}
	otherNamespace := claimFor("a", "other-namespace", "rd")
	otherNamespace.Spec.DataSourceRef.Namespace = ptr.To("b")
	if err := w.Replace([]any{claimFor("a", "plain", ""), snapshotRef, otherNamespace, claimFor("a", "restore", "rd"), claimFor("b", "restore", "rd")}, "1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.synced:
	default:
		t.Fatal("not synced after the first Replace")
	}
	if w.Len() != 2 {
		t.Fatalf("the store holds %d claims, want the 2 to populate", w.Len())
	}
	if got := drain(q); len(got) != 2 || !got["a/restore"] || !got["b/restore"] {
		t.Errorf("enqueued %v", got)
	}
	if pvc := w.Get(types.NamespacedName{Namespace: "a", Name: "restore"}); pvc == nil || pvc.ManagedFields != nil {
		t.Errorf("kept %+v, want the claim without managedFields", pvc)
	}

	_ = w.Update(claimFor("a", "plain", ""))
	_ = w.Delete(claimFor("a", "plain", ""))
	if got := drain(q); len(got) != 0 {
		t.Errorf("a claim not to populate was enqueued: %v", got)
	}
	_ = w.Add(claimFor("a", "second", "rd"))
	if keys := w.ForDestination("a", "rd"); len(keys) != 2 {
		t.Errorf("claims of destination a/rd: %v", keys)
	}
	_ = w.Delete(claimFor("a", "restore", "rd"))
	if got := drain(q); len(got) != 2 || !got["a/second"] || !got["a/restore"] {
		t.Errorf("enqueued %v", got)
	}
	// A relist that misses a claim enqueues it, as a delete.
	if err := w.Replace([]any{claimFor("a", "second", "rd")}, "2"); err != nil {
		t.Fatal(err)
	}
	if got := drain(q); len(got) != 2 || !got["b/restore"] || !got["a/second"] {
		t.Errorf("enqueued %v", got)
	}
	if w.Len() != 1 {
		t.Errorf("the store holds %d claims after the relist", w.Len())
	}
}
