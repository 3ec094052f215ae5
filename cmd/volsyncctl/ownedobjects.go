package main

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The workflows that set up rsync replication from the command line (the seed's start-replication,
// the relationship verbs) share these steps: they mark what they create so that they update and
// delete only that, undo a half-done run, and wait for a destination to publish where it listens.

// ownerMark is how one workflow marks the objects it creates: an annotation (the seed workflow)
// or a label (relationships, whose objects are deleted by selector), with one value per
// replication.
type ownerMark struct {
	key, value string
	label      bool
}

// owns says whether obj carries the mark.
func (m ownerMark) owns(obj client.Object) bool {
	if m.label {
		return obj.GetLabels()[m.key] == m.value
	}
	return obj.GetAnnotations()[m.key] == m.value
}

// other is the value of the mark's key on obj, "" when it has none: the replication it belongs to.
func (m ownerMark) other(obj client.Object) string {
	if m.label {
		return obj.GetLabels()[m.key]
	}
	return obj.GetAnnotations()[m.key]
}

// set puts the mark on obj.
func (m ownerMark) set(obj client.Object) {
	get, put := obj.GetAnnotations, obj.SetAnnotations
	if m.label {
		get, put = obj.GetLabels, obj.SetLabels
	}
	values := get()
	if values == nil {
		values = map[string]string{}
	}
	values[m.key] = m.value
	put(values)
}

// writeOwned creates obj after set fills it in, or, when exists (obj was read), updates it. The
// update reads obj again and redoes the change on a conflict: volsyncd writes the status
// meanwhile. created is told of an object this call created. It returns "created" or "updated".
func writeOwned(ctx context.Context, c client.Client, obj client.Object, exists bool, set func(), mark ownerMark,
	created func(client.Client, client.Object)) (string, error) {
	if exists {
		return "updated", retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			set()
			mark.set(obj)
			return c.Update(ctx, obj)
		})
	}
	set()
	mark.set(obj)
	if err := c.Create(ctx, obj); err != nil {
		return "", err
	}
	created(c, obj)
	return "created", nil
}

// rollback deletes, newest first, what a run created before one of its later steps failed, so that
// a failed run leaves the clusters as it found them. What it updated stays updated.
type rollback struct{ undo []func() }

// created records an object the run made.
func (r *rollback) created(c client.Client, obj client.Object) {
	r.undo = append(r.undo, func() {
		_ = c.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
	})
}

// fail undoes the run's creations and returns err.
func (r *rollback) fail(err error) error {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
	return err
}

// awaitRsyncEndpoint polls rd until its status names the ssh keys Secret and, unless
// addressGiven (the user supplies the address), the address it listens at. It returns that
// status, errNotFinished when timeout (0: none) passes first, or the API error.
func awaitRsyncEndpoint(ctx context.Context, c client.Client, rd *volsyncv1alpha1.ReplicationDestination, interval, timeout time.Duration,
	addressGiven bool) (volsyncv1alpha1.ReplicationDestinationRsyncStatus, error) {
	var st volsyncv1alpha1.ReplicationDestinationRsyncStatus
	err := pollEvery(ctx, interval, timeout, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
			return false, err
		}
		if p := rd.Status.Rsync; p != nil && ptr.Deref(p.SSHKeys, "") != "" && (addressGiven || ptr.Deref(p.Address, "") != "") {
			st = *p
			return true, nil
		}
		return false, nil
	})
	return st, err
}

// warnClusterIPAcross warns on w when a source in another cluster is to connect to a ClusterIP
// address of the destination's cluster, which it can seldom reach. fix says how to avoid it.
func warnClusterIPAcross(w io.Writer, sameCluster bool, serviceType *corev1.ServiceType, address, fix string) {
	if sameCluster || ptr.Deref(serviceType, corev1.ServiceTypeClusterIP) != corev1.ServiceTypeClusterIP {
		return
	}
	fmt.Fprintf(w, "warning: %s is a ClusterIP of the destination cluster, which the source cluster may not reach: %s\n", address, fix)
}
