// Package cachepolicy decides what volsyncd holds in its informer cache and how it reads what the
// cache leaves out.
//
// A cluster's Secrets, PVCs, Services, VolumeSnapshots, Jobs, Deployments and pods are mostly not volsync's, and
// they are often the most numerous objects in it. volsyncd caches those kinds only when they carry
// the label every object volsync creates has, so its memory follows the volsync objects rather
// than the cluster. A user's own object of those kinds (a source PVC, a repository Secret) is read
// with one direct, targeted GET when it is needed.
package cachepolicy

import (
	"context"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// selective lists the kinds cached only when they carry volsync's label.
func selective() []client.Object {
	return []client.Object{
		&corev1.Secret{}, &corev1.PersistentVolumeClaim{}, &corev1.Service{},
		&snapv1.VolumeSnapshot{}, &batchv1.Job{}, &corev1.Pod{}, &appsv1.Deployment{},
	}
}

// Ours selects the objects volsync created.
func Ours() labels.Selector {
	return labels.SelectorFromSet(labels.Set{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue})
}

// Options is the manager's cache configuration. No controller reads managedFields, so they are
// dropped from every cached object.
func Options() cache.Options {
	by := map[client.Object]cache.ByObject{}
	for _, o := range selective() {
		by[o] = cache.ByObject{Label: Ours()}
	}
	return cache.Options{ByObject: by, DefaultTransform: cache.TransformStripManagedFields()}
}

// NewClient is the manager's client constructor (ctrl.Options.NewClient). Its reads go to the
// cache as usual; a Get of a selectively cached kind that the cache does not hold goes on to the
// API server, because the object may simply not be volsync's. List always reads the cache: for
// those kinds it sees only volsync's own objects, which is what every controller lists them for.
func NewClient(config *rest.Config, options client.Options) (client.Client, error) {
	cached, err := client.New(config, options)
	if err != nil {
		return nil, err
	}
	live, err := client.New(config, client.Options{HTTPClient: options.HTTPClient, Scheme: options.Scheme, Mapper: options.Mapper})
	if err != nil {
		return nil, err
	}
	kinds := map[schema.GroupKind]bool{}
	for _, o := range selective() {
		gvk, err := apiutil.GVKForObject(o, cached.Scheme())
		if err != nil {
			return nil, err
		}
		kinds[gvk.GroupKind()] = true
	}
	return &liveFallback{Client: cached, live: live, kinds: kinds}, nil
}

type liveFallback struct {
	client.Client
	live  client.Reader
	kinds map[schema.GroupKind]bool
}

// Cached is c's cache without the API server behind it, for reading an object volsync made and
// labelled: the cache holds every such object, so a miss means it is not there (or so new that the
// cache has not seen it, which the caller's create then finds out), and costs the API server
// nothing. When many owners fire together, the GET that would otherwise ask for each one's mover
// Job before creating it is a quarter of the requests on the way to the Job. Any other client is
// returned as it is.
func Cached(c client.Reader) client.Reader {
	if f, ok := c.(*liveFallback); ok {
		return f.Client
	}
	return c
}

// Get reads the cache and, for a selectively cached kind it does not find there, the API server.
// The second read also covers an object volsync created a moment ago that the cache has not seen
// yet.
func (c *liveFallback) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	if !apierrors.IsNotFound(err) {
		return err
	}
	gvk, gvkErr := apiutil.GVKForObject(obj, c.Scheme())
	if gvkErr != nil || !c.kinds[gvk.GroupKind()] {
		return err
	}
	return c.live.Get(ctx, key, obj, opts...)
}
