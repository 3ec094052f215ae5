package populator

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// How the populator sees users' claims.
//
// volsyncd's manager caches PVCs only when they carry volsync's created-by label (see
// pkg/cachepolicy), so that its memory follows volsync's own objects and not the cluster. A claim
// to populate is the user's: it has no such label, and the populator cannot ask for one. Nor can
// the API server select it: field selectors on PVCs know metadata.name, metadata.namespace and
// status.phase only, not spec.dataSourceRef. The choices were:
//
//   - polling (a paged List of every PVC now and then): memory stays flat, but a restore waits up
//     to a period to start, and every period reads every claim of the cluster again;
//   - a metadata-only informer: small, but the metadata does not say which claims have a
//     dataSourceRef, so each claim would need a GET of its own;
//   - a dedicated informer of PVCs whose transform turns every claim that is not to be populated
//     into a stub of its key. An informer cannot drop an object (its store must know every key),
//     and a stub is still an empty PersistentVolumeClaim struct;
//   - a reflector of PVCs into a store of its own that keeps only the claims to populate.
//
// The populator uses the last (ClaimWatch). It is what an informer is, a List and then a Watch
// from that resourceVersion, re-listed when the watch expires, without the informer's promise to
// hold every object: a claim that is not to be populated is decoded, looked at and dropped, and
// nothing of it is kept. dataSourceRef is immutable, so a claim never becomes one to populate on
// an update; an update or delete of a claim the store does not hold is nothing to do. Its List
// pages through the claims 500 at a time and keeps only those to populate, so even a (re)list
// holds one page of other claims at a time; it never asks for resourceVersion "0", whose answer
// from the watch cache is the whole list at once.
//
// Measured (integration-test/populator TestClaimCacheMemory, VOLSYNC_MEASURE_CLAIM_CACHE=N): with
// 3000 and 8000 unrelated claims, a plain cache of claims (managedFields stripped) grows the heap
// by about 2550 bytes a claim (7.7 and 20 MB), a cache of stubs by about 750 a claim (2.3 and
// 6 MB), the claim watch by 25 kB in both cases: independent of the number of unrelated claims.
// The API server's load is one watch, and a claim is seen as soon as it is created. What it
// costs: the watch brings every claim's changes to volsyncd (network and decoding, not memory);
// and it runs only while the controller does (on the leader), so a new leader lists the claims
// once before it reconciles.

// listPageSize is how many claims one page of the claim watch's List holds.
const listPageSize = 500

// replicationDestinationOf returns the name of the ReplicationDestination pvc is to be populated
// from, or "" when its dataSourceRef names none.
func replicationDestinationOf(pvc *corev1.PersistentVolumeClaim) string {
	ref := pvc.Spec.DataSourceRef
	if ref == nil || ref.APIGroup == nil || *ref.APIGroup != volsyncv1alpha1.GroupVersion.Group ||
		ref.Kind != "ReplicationDestination" || ref.Name == "" {
		return ""
	}
	// A dataSourceRef in another namespace (CrossNamespaceVolumeDataSource, alpha) would need a
	// ReferenceGrant; volsync, like VolSync, populates from its own namespace only.
	if ref.Namespace != nil && *ref.Namespace != "" && *ref.Namespace != pvc.Namespace {
		return ""
	}
	return ref.Name
}

// ClaimWatch follows the cluster's PersistentVolumeClaims and keeps those whose dataSourceRef
// names a ReplicationDestination, without their managedFields. It is a controller-runtime source
// (Start, WaitForSync) that enqueues each such claim when it changes, and the store the
// reconciler reads them from.
type ClaimWatch struct {
	lw toolscache.ListerWatcher

	mu     sync.RWMutex
	claims map[types.NamespacedName]*corev1.PersistentVolumeClaim
	queue  workqueue.TypedRateLimitingInterface[reconcile.Request]
	synced chan struct{}
	once   sync.Once
}

// NewClaimWatch makes a ClaimWatch for the cluster cfg reaches, through httpClient (the manager's,
// to share its connections) when it is not nil.
func NewClaimWatch(cfg *rest.Config, httpClient *http.Client) (*ClaimWatch, error) {
	var cs *kubernetes.Clientset
	var err error
	if httpClient != nil {
		cs, err = kubernetes.NewForConfigAndClient(cfg, httpClient)
	} else {
		cs, err = kubernetes.NewForConfig(cfg)
	}
	if err != nil {
		return nil, err
	}
	return &ClaimWatch{
		lw:     claimLister{claims: cs.CoreV1().PersistentVolumeClaims(metav1.NamespaceAll)},
		claims: map[types.NamespacedName]*corev1.PersistentVolumeClaim{},
		synced: make(chan struct{}),
	}, nil
}

// Start runs the reflector until ctx ends. It may be called once.
func (w *ClaimWatch) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	w.mu.Lock()
	if w.queue != nil {
		w.mu.Unlock()
		return fmt.Errorf("the populator's claim watch was started twice")
	}
	w.queue = queue
	w.mu.Unlock()
	r := toolscache.NewReflectorWithOptions(w.lw, &corev1.PersistentVolumeClaim{}, w, toolscache.ReflectorOptions{Name: "volsync-populator-claims"})
	go r.RunWithContext(ctx)
	return nil
}

// WaitForSync returns once the first list is in the store, or when ctx ends.
func (w *ClaimWatch) WaitForSync(ctx context.Context) error {
	select {
	case <-w.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the populator's claim watch did not sync: %w", ctx.Err())
	}
}

// Get returns a copy of the claim to populate named key, or nil.
func (w *ClaimWatch) Get(key types.NamespacedName) *corev1.PersistentVolumeClaim {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if pvc := w.claims[key]; pvc != nil {
		return pvc.DeepCopy()
	}
	return nil
}

// ForDestination returns the keys of the unbound claims of namespace to be populated from the
// ReplicationDestination named rd.
func (w *ClaimWatch) ForDestination(namespace, rd string) []types.NamespacedName {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var keys []types.NamespacedName
	for key, pvc := range w.claims {
		if key.Namespace == namespace && pvc.Spec.VolumeName == "" && replicationDestinationOf(pvc) == rd {
			keys = append(keys, key)
		}
	}
	return keys
}

// Len is how many claims the store holds.
func (w *ClaimWatch) Len() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.claims)
}

// The reflector's store (toolscache.ReflectorStore).

func (w *ClaimWatch) Add(obj any) error    { w.put(obj); return nil }
func (w *ClaimWatch) Update(obj any) error { w.put(obj); return nil }
func (w *ClaimWatch) Resync() error        { return nil }

func (w *ClaimWatch) Delete(obj any) error {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	key := keyOf(pvc)
	w.mu.Lock()
	_, had := w.claims[key]
	delete(w.claims, key)
	w.mu.Unlock()
	if had {
		w.enqueue(key)
	}
	return nil
}

func (w *ClaimWatch) Replace(list []any, _ string) error {
	fresh := map[types.NamespacedName]*corev1.PersistentVolumeClaim{}
	for _, obj := range list {
		if pvc := keep(obj); pvc != nil {
			fresh[keyOf(pvc)] = pvc
		}
	}
	w.mu.Lock()
	old := w.claims
	w.claims = fresh
	w.mu.Unlock()
	for key := range old {
		if fresh[key] == nil {
			w.enqueue(key)
		}
	}
	for key := range fresh {
		w.enqueue(key)
	}
	w.once.Do(func() { close(w.synced) })
	return nil
}

func (w *ClaimWatch) put(obj any) {
	pvc := keep(obj)
	if pvc == nil {
		return
	}
	key := keyOf(pvc)
	w.mu.Lock()
	w.claims[key] = pvc
	w.mu.Unlock()
	w.enqueue(key)
}

func (w *ClaimWatch) enqueue(key types.NamespacedName) {
	w.mu.RLock()
	q := w.queue
	w.mu.RUnlock()
	if q != nil {
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// keep returns obj as a claim to populate, without managedFields, or nil when it is not one.
func keep(obj any) *corev1.PersistentVolumeClaim {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok || replicationDestinationOf(pvc) == "" {
		return nil
	}
	pvc.ManagedFields = nil
	return pvc
}

func keyOf(pvc *corev1.PersistentVolumeClaim) types.NamespacedName {
	return types.NamespacedName{Namespace: pvc.Namespace, Name: pvc.Name}
}

// claimLister lists claims page by page, keeping only those to populate, and watches them all.
type claimLister struct {
	claims interface {
		List(context.Context, metav1.ListOptions) (*corev1.PersistentVolumeClaimList, error)
		Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
	}
}

func (l claimLister) List(opts metav1.ListOptions) (runtime.Object, error) {
	ctx := context.Background()
	// "0" would be answered from the watch cache in one piece, whatever the limit: ask for a
	// consistent, paged list instead. Every page of one list is of the same resourceVersion.
	if opts.ResourceVersion == "0" {
		opts.ResourceVersion = ""
		opts.ResourceVersionMatch = ""
	}
	opts.Limit = listPageSize
	opts.Continue = ""
	out := &corev1.PersistentVolumeClaimList{}
	for {
		page, err := l.claims.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		if out.ResourceVersion == "" {
			out.ResourceVersion = page.ResourceVersion
		}
		for i := range page.Items {
			if pvc := keep(&page.Items[i]); pvc != nil {
				out.Items = append(out.Items, *pvc)
			}
		}
		if page.Continue == "" {
			return out, nil
		}
		opts.Continue = page.Continue
		// Continued pages carry the first page's resourceVersion in the token.
		opts.ResourceVersion = ""
		opts.ResourceVersionMatch = ""
	}
}

func (l claimLister) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return l.claims.Watch(context.Background(), opts)
}

// IsWatchListSemanticsUnSupported keeps the reflector on List and Watch: a streaming initial list
// (WatchList) would collect every claim in a temporary store before the first Replace.
func (claimLister) IsWatchListSemanticsUnSupported() bool { return true }
