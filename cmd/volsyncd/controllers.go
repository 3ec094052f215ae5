package main

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/volsync/volsync/pkg/schedulepolicy"
)

// Options is what the controllers need from the command line. It is handed to every entry of
// controllers.
type Options struct {
	// MoverImage is the container image mover Jobs run.
	MoverImage string
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
}
