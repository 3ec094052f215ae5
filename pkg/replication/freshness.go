package replication

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// reconcileObject runs pass over the object named by key, as the cache holds it when the cache
// shows this controller's last write of it, else as the API server has it.
//
// The cycle's state is in the object's status, and a status older than the controller's last
// write would repeat a step already taken, such as deleting the Job of a sync that has just
// started. The cache lags the controller's writes by the time the watch takes to bring them back,
// and a reconcile woken meanwhile (a Job it created, say) would see the older status. So each
// status write is noted with the resourceVersion it got, until the cache holds that version or a
// newer one; only an object with such a note is read from the API server. Every other reconcile
// (a requeue at a trigger, a restart over thousands of objects) costs the API server nothing.
func reconcileObject[T client.Object](ctx context.Context, b base, live client.Reader, key types.NamespacedName,
	newObj func() T, pass func(context.Context, *base, T) (ctrl.Result, error)) (ctrl.Result, error) {
	obj := newObj()
	if err := b.client.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			b.writes.forget(key)
			forgetMetrics(key.Name, key.Namespace)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !b.writes.shownBy(key, obj.GetResourceVersion()) {
		obj = newObj()
		if err := live.Get(ctx, key, obj); err != nil {
			if apierrors.IsNotFound(err) {
				b.writes.forget(key)
				forgetMetrics(key.Name, key.Namespace)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		// What was read includes every write so far: the cache is current once it holds this.
		b.writes.wrote(key, obj.GetResourceVersion())
	}
	return pass(ctx, &b, obj)
}

// ownWrites are, per object, the resourceVersion of this controller's last status write that the
// cache has not shown yet. An entry lives from a write until the next reconcile of the object
// finds the cache caught up (the write's own watch event brings that reconcile), so the map holds
// only the objects being written at the moment. A restarted controller starts empty, and rightly:
// its cache is listed after every write of the one before.
type ownWrites struct {
	mu sync.Mutex
	rv map[types.NamespacedName]string
}

// wrote notes a write that got resourceVersion rv; "" when it is not known (a write that failed
// may have been stored all the same), which sends the next reconcile to the API server.
func (w *ownWrites) wrote(key types.NamespacedName, rv string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv == nil {
		w.rv = map[types.NamespacedName]string{}
	}
	w.rv[key] = rv
}

// forget drops the note of a deleted object.
func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, key)
}

// shownBy says whether an object the cache holds at resourceVersion cached shows the last write,
// and drops the note when it does. A version that cannot be compared (from a server whose versions
// are not the integers of etcd) counts as not shown, so such a server is always asked.
func (w *ownWrites) shownBy(key types.NamespacedName, cached string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	written, ok := w.rv[key]
	if !ok {
		return true
	}
	if written == "" {
		return false
	}
	if c, err := resourceversion.CompareResourceVersion(cached, written); err != nil || c < 0 {
		return false
	}
	delete(w.rv, key)
	return true
}
