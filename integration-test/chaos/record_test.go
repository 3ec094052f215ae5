package chaos

import (
	"context"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Annotations of the migration's objects, spelled out rather than imported: the package that
// declares them has moved them before, and the test reads only the API's words.
const (
	// migrationUIDAnnotation is, on the replication objects and key Secrets a Migration's volume
	// path made, that Migration's UID.
	migrationUIDAnnotation = "volsync.backube/migration-uid"
	// migratedByAnnotation marks every copy a Migration wrote on the destination.
	migratedByAnnotation = "volsync.backube/migrated-by"
)

// recorder watches the workload's namespaces for the whole run and keeps the last state of every
// dated child, mover Job and mover pod it ever saw, deleted ones included. Children are only
// deleted beyond the policy's retain (set above what a run makes) and Jobs at the end of each
// sync, so a Job that ran twice for one child, or a child made twice under one name, shows here
// even after the second one replaced the first.
type recorder struct {
	mu sync.Mutex
	// syncs and migrations: namespace/name -> UID -> last state seen.
	syncs      map[string]map[types.UID]*volsyncv1alpha1.ReplicationSync
	migrations map[string]map[types.UID]*volsyncv1alpha1.Migration
	jobs       map[types.UID]*batchv1.Job
	// jobPods: Job UID -> pod UID -> last phase.
	jobPods map[types.UID]map[types.UID]corev1.PodPhase
	// sources: ReplicationSource UID -> the UID of the Migration that made it (migration's
	// volume path), for the migrations' mover Jobs.
	sources map[types.UID]string
}

// startRecorder watches namespaces until ctx ends.
func startRecorder(ctx context.Context, namespaces []string) (*recorder, error) {
	nsConfig := map[string]cache.Config{}
	for _, ns := range namespaces {
		nsConfig[ns] = cache.Config{}
	}
	c, err := cache.New(restConfig, cache.Options{Scheme: k8s.Scheme(), DefaultNamespaces: nsConfig})
	if err != nil {
		return nil, err
	}
	r := &recorder{
		syncs:      map[string]map[types.UID]*volsyncv1alpha1.ReplicationSync{},
		migrations: map[string]map[types.UID]*volsyncv1alpha1.Migration{},
		jobs:       map[types.UID]*batchv1.Job{},
		jobPods:    map[types.UID]map[types.UID]corev1.PodPhase{},
		sources:    map[types.UID]string{},
	}
	for _, obj := range []client.Object{&volsyncv1alpha1.ReplicationSync{}, &volsyncv1alpha1.Migration{},
		&volsyncv1alpha1.ReplicationSource{}, &batchv1.Job{}, &corev1.Pod{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    r.saw,
			UpdateFunc: func(_, o any) { r.saw(o) },
			DeleteFunc: func(o any) {
				if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				r.saw(o)
			},
		}); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the recorder's caches did not sync")
	}
	return r, nil
}

func (r *recorder) saw(o any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o := o.(type) {
	case *volsyncv1alpha1.ReplicationSync:
		key := o.Namespace + "/" + o.Name
		if r.syncs[key] == nil {
			r.syncs[key] = map[types.UID]*volsyncv1alpha1.ReplicationSync{}
		}
		r.syncs[key][o.UID] = o.DeepCopy()
	case *volsyncv1alpha1.Migration:
		key := o.Namespace + "/" + o.Name
		if r.migrations[key] == nil {
			r.migrations[key] = map[types.UID]*volsyncv1alpha1.Migration{}
		}
		r.migrations[key][o.UID] = o.DeepCopy()
	case *volsyncv1alpha1.ReplicationSource:
		if m := o.Annotations[migrationUIDAnnotation]; m != "" {
			r.sources[o.UID] = m
		}
	case *batchv1.Job:
		r.jobs[o.UID] = o.DeepCopy()
	case *corev1.Pod:
		job := o.Labels[batchv1.ControllerUidLabel]
		if job == "" {
			return
		}
		uid := types.UID(job)
		if r.jobPods[uid] == nil {
			r.jobPods[uid] = map[types.UID]corev1.PodPhase{}
		}
		r.jobPods[uid][o.UID] = o.Status.Phase
	}
}

// snapshot is a copy of what the recorder saw, for the checks.
type seen struct {
	syncs      map[string]map[types.UID]*volsyncv1alpha1.ReplicationSync
	migrations map[string]map[types.UID]*volsyncv1alpha1.Migration
	jobs       map[types.UID]*batchv1.Job
	jobPods    map[types.UID]map[types.UID]corev1.PodPhase
	sources    map[types.UID]string
}

func (r *recorder) snapshot() seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := seen{
		syncs:      map[string]map[types.UID]*volsyncv1alpha1.ReplicationSync{},
		migrations: map[string]map[types.UID]*volsyncv1alpha1.Migration{},
		jobs:       map[types.UID]*batchv1.Job{},
		jobPods:    map[types.UID]map[types.UID]corev1.PodPhase{},
		sources:    map[types.UID]string{},
	}
	for k, v := range r.syncs {
		s.syncs[k] = map[types.UID]*volsyncv1alpha1.ReplicationSync{}
		for u, o := range v {
			s.syncs[k][u] = o
		}
	}
	for k, v := range r.migrations {
		s.migrations[k] = map[types.UID]*volsyncv1alpha1.Migration{}
		for u, o := range v {
			s.migrations[k][u] = o
		}
	}
	for k, v := range r.jobs {
		s.jobs[k] = v
	}
	for k, v := range r.jobPods {
		s.jobPods[k] = map[types.UID]corev1.PodPhase{}
		for u, p := range v {
			s.jobPods[k][u] = p
		}
	}
	for k, v := range r.sources {
		s.sources[k] = v
	}
	return s
}

// controllerUID is the UID of obj's controller, "" when it has none.
func controllerUID(obj metav1.Object) types.UID {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return ref.UID
	}
	return ""
}
