package populator

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
//   - a dedicated informer of PVCs with a transform that keeps the claims to populate whole and
//     turns every other claim into a stub (name, namespace, resourceVersion).
//
// The populator uses the last, a cache of its own (ClaimCache) holding PersistentVolumeClaims
// only. It reacts to a new claim at once, as an informer does, and the API server's load is one
// watch. The transform runs before an object is stored, so an unrelated claim never stays in
// memory whole: what is left of it is its key and resourceVersion, under 200 bytes against the
// several kilobytes a provisioned claim with its annotations, status and managed fields takes,
// which is what the manager's caches already spend per labelled object. (A client-go informer
// cannot drop an object outright: the key must stay, or the next update of the claim would look
// like a new one and a delete could not be matched.) That stub still costs something per claim,
// so memory is not strictly independent of the number of unrelated claims, but an order of
// magnitude below caching them; integration-test/populator's TestClaimCacheMemory measures it
// (VOLSYNC_MEASURE_CLAIM_CACHE=1). dataSourceRef is immutable, so a claim is either always kept
// or always a stub, and the stubs never reach the reconciler (the watch's predicate drops them).

// indexReplicationDestination indexes the claims to populate by the ReplicationDestination they
// name.
const indexReplicationDestination = "spec.dataSourceRef.replicationDestination"

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

// KeepOnlyClaimsToPopulate is ClaimCache's transform: a claim whose dataSourceRef names a
// ReplicationDestination is kept without its managedFields; any other claim becomes a stub of
// its name, namespace and resourceVersion. Anything else passes unchanged.
func KeepOnlyClaimsToPopulate(obj any) (any, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return obj, nil
	}
	if replicationDestinationOf(pvc) != "" {
		pvc.ManagedFields = nil
		return pvc, nil
	}
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{
		Name: pvc.Name, Namespace: pvc.Namespace, ResourceVersion: pvc.ResourceVersion,
	}}, nil
}

// ClaimCacheOptions are the options of the populator's claim cache for the given manager: only
// PersistentVolumeClaims (a read of any other kind fails rather than start an informer), through
// KeepOnlyClaimsToPopulate.
func ClaimCacheOptions(mgr ctrl.Manager) cache.Options {
	return cache.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.PersistentVolumeClaim{}: {Transform: toolscache.TransformFunc(KeepOnlyClaimsToPopulate)},
		},
		ReaderFailOnMissingInformer: true,
	}
}

// newClaimCache builds the claim cache, indexes it and adds it to the manager, which starts it
// with its other runnables (on every replica, like the manager's own cache, so that a new leader
// starts warm).
func newClaimCache(ctx context.Context, mgr ctrl.Manager, cfg *rest.Config) (cache.Cache, error) {
	c, err := cache.New(cfg, ClaimCacheOptions(mgr))
	if err != nil {
		return nil, err
	}
	if err := c.IndexField(ctx, &corev1.PersistentVolumeClaim{}, indexReplicationDestination, func(o client.Object) []string {
		if rd := replicationDestinationOf(o.(*corev1.PersistentVolumeClaim)); rd != "" {
			return []string{rd}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}
