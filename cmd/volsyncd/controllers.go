package main

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/migrationschedule"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/replication"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Options is what the controllers need from the command line. It is handed to every entry of
// controllers.
type Options struct {
	// MoverImage is the container image mover Jobs run.
	MoverImage string
	// AdminNamespace is the namespace whose Migrations may migrate other namespaces.
	AdminNamespace string
}

// cacheOptions keeps volsyncd's memory in proportion to the volsync objects rather than to the
// cluster. The controllers read only their own mover Jobs and those Jobs' pods, so those two kinds
// are cached only when they carry the label every object volsync creates has; a cluster's other
// Jobs and pods, often the most numerous objects in it, are never held. No controller reads
// managedFields, so they are dropped from every cached object.
func cacheOptions() cache.Options {
	ours := labels.SelectorFromSet(labels.Set{mover.LabelCreatedBy: mover.CreatedByValue})
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:  {Label: ours},
			&batchv1.Job{}: {Label: ours},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// controllers registers the volsync controllers with the manager, one line each, such as
//
//	func(mgr ctrl.Manager, o Options) error { return (&replication.SourceReconciler{...}).SetupWithManager(mgr) },
//
// Entries run in order at start-up; the first error stops volsyncd before the manager starts.
var controllers = []func(ctrl.Manager, Options) error{
	func(mgr ctrl.Manager, _ Options) error {
		return (&schedulepolicy.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(mgr ctrl.Manager, _ Options) error {
		return (&migration.ClusterPairReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(mgr ctrl.Manager, o Options) error {
		return (&migration.MigrationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"), AdminNamespace: o.AdminNamespace}).SetupWithManager(mgr)
	},
	func(mgr ctrl.Manager, _ Options) error {
		return (&migrationschedule.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(mgr ctrl.Manager, _ Options) error {
		return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(mgr ctrl.Manager, _ Options) error {
		return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rsync.Builder{Image: o.MoverImage})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rclone.Builder{Image: o.MoverImage})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rsynctls.Builder{Image: o.MoverImage})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&restic.Builder{Image: o.MoverImage})
		return nil
	},
}
