package populator

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/volsync/volsync/pkg/populator"
)

// TestClaimCacheMemory measures what the populator's claim watch holds for claims that are not
// its business, against a plain cache of every claim (managedFields stripped, as the manager's
// caches do) and an informer whose transform turns those claims into stubs of their key. It creates VOLSYNC_MEASURE_CLAIM_CACHE unrelated claims (1 turns it on with 3000)
// and is skipped without it: it takes some seconds and only prints numbers.
func TestClaimCacheMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VOLSYNC_MEASURE_CLAIM_CACHE"))
	if n <= 0 {
		t.Skip("set VOLSYNC_MEASURE_CLAIM_CACHE=1 (or a number of claims) to measure")
	}
	if n == 1 {
		n = 3000
	}
	ns := namespace(t)
	sc := storageClass(t, storagev1.VolumeBindingImmediate)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pvc := &corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("app-data-%05d", i),
						Labels: map[string]string{"app.kubernetes.io/name": "app", "app.kubernetes.io/instance": fmt.Sprintf("app-%d", i)},
						Annotations: map[string]string{
							"volume.beta.kubernetes.io/storage-provisioner": "hostpath.csi.example.com",
							"volume.kubernetes.io/storage-provisioner":      "hostpath.csi.example.com",
						}},
					Spec: claimSpec(sc),
				}
				if err := k8s.Create(context.Background(), pvc); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	plain := heapOf(t, cache.Options{Scheme: env.Scheme, ByObject: map[client.Object]cache.ByObject{
		&corev1.PersistentVolumeClaim{}: {Transform: cache.TransformStripManagedFields()},
	}})
	stubs := heapOf(t, cache.Options{Scheme: env.Scheme, ByObject: map[client.Object]cache.ByObject{
		&corev1.PersistentVolumeClaim{}: {Transform: func(obj any) (any, error) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: pvc.Name, Namespace: pvc.Namespace, ResourceVersion: pvc.ResourceVersion}}, nil
		}},
	}})
	watched := heapOfWatch(t)
	t.Logf("%d unrelated claims: a plain cache of claims holds %d bytes (%d a claim), a cache of stubs %d (%d a claim), the populator's claim watch %d",
		n, plain, plain/int64(n), stubs, stubs/int64(n), watched)
	if watched > plain/20 {
		t.Errorf("the claim watch grew the heap by %d bytes for %d claims it does not keep", watched, n)
	}
}

// heapOfWatch starts a ClaimWatch, waits for its first list and returns how much the heap grew.
func heapOfWatch(t *testing.T) int64 {
	t.Helper()
	before := liveHeap()
	w, err := populator.NewClaimWatch(env.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	if err := w.Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	grown := int64(liveHeap()) - int64(before)
	if w.Len() != 0 {
		t.Errorf("the claim watch holds %d claims; none is to be populated", w.Len())
	}
	runtime.KeepAlive(w)
	return grown
}

// heapOf starts a cache of claims with opts, waits for it to sync and returns how much the heap
// grew, after a collection, while it holds them.
func heapOf(t *testing.T, opts cache.Options) int64 {
	t.Helper()
	before := liveHeap()
	c, err := cache.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.GetInformer(ctx, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	grown := int64(liveHeap()) - int64(before)
	runtime.KeepAlive(c)
	return grown
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
