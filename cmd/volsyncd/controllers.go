package main

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/migrationschedule"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/syncthing"
	"github.com/volsync/volsync/pkg/populator"
	"github.com/volsync/volsync/pkg/replication"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Options is what the controllers need from the command line. It is handed to every entry of
// controllers.
type Options struct {
	// MoverImage is the container image mover Jobs run, unless MoverImages names one for the mover.
	MoverImage string
	// MoverImages is each mover's image, by mover name (see moverImages).
	MoverImages map[string]string
	// AdminNamespace is the namespace whose Migrations may migrate other namespaces.
	AdminNamespace string
	// PullSecrets are the Secrets mover pods pull their image with.
	PullSecrets job.PullSecrets
}

// image is the container image of one mover's Jobs.
func (o Options) image(mover string) string {
	if img := o.MoverImages[mover]; img != "" {
		return img
	}
	return o.MoverImage
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
	func(mgr ctrl.Manager, _ Options) error {
		return (&populator.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rsync.Builder{Settings: job.Settings{Image: o.image(rsync.MoverName), PullSecrets: o.PullSecrets}})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rclone.Builder{Settings: job.Settings{Image: o.image(rclone.MoverName), PullSecrets: o.PullSecrets}})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&rsynctls.Builder{Settings: job.Settings{Image: o.image(rsynctls.MoverName), PullSecrets: o.PullSecrets}})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&restic.Builder{Settings: job.Settings{Image: o.image(restic.MoverName), PullSecrets: o.PullSecrets}})
		return nil
	},
	func(_ ctrl.Manager, o Options) error {
		mover.Register(&syncthing.Builder{Settings: job.Settings{Image: o.image(syncthing.MoverName), PullSecrets: o.PullSecrets}})
		return nil
	},
}
