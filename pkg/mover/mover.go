package mover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// How long an object may stay unready before the controller warns about it (an Event and a
// condition message); waiting goes on after the warning.
const (
	// SnapshotBindTimeout: a VolumeSnapshot not bound to a VolumeSnapshotContent.
	SnapshotBindTimeout = 30 * time.Second
	// PVCBindTimeout: a PVC not bound to a PV.
	PVCBindTimeout = 120 * time.Second
	// ServiceAddressTimeout: a Service without an address.
	ServiceAddressTimeout = 15 * time.Second
)

// VolSyncPrefix starts the name of every object a mover creates, so they are easy to recognise.
const VolSyncPrefix = "volsync-"

// Errors the catalog reports; the controllers surface them in a condition.
var (
	ErrNoMoverFound        = errors.New("a replication method must be specified: set exactly one of rsync, rsyncTLS, rclone, restic, syncthing, external")
	ErrMultipleMoversFound = errors.New("only one replication method can be supplied: set exactly one of rsync, rsyncTLS, rclone, restic, syncthing, external")
)

// Mover moves the data of one ReplicationSource or ReplicationDestination.
type Mover interface {
	// Name of the data mover, such as "rsync".
	Name() string
	// Synchronize begins or continues a synchronization. It is called until the Result says
	// Completed. Must be idempotent.
	Synchronize(ctx context.Context) (Result, error)
	// Cleanup begins or continues the removal of a finished synchronization's temporary objects.
	// Must be idempotent.
	Cleanup(ctx context.Context) (Result, error)
}

// ReadAhead is a Mover that can do, shortly before a scheduled trigger, what its first pass at the
// trigger needs done before it starts the mover (read the user's volume and the Secrets, make the
// objects that serve every sync), so that the trigger's first request is the one that starts it.
type ReadAhead interface {
	// ReadsAhead says whether this mover has anything to do ahead.
	ReadsAhead() bool
	// ReadAhead does it. It starts nothing, and what it finds missing is left to the trigger's
	// pass to report.
	ReadAhead(ctx context.Context) error
}

// Continuous is a Mover that runs all the time instead of in triggered syncs, such as syncthing:
// its Synchronize never completes, and keeps the running mover and its status current each time
// it is called. The controllers call it on every pass, and the object's trigger does not apply.
type Continuous interface {
	Continuous() bool
}

// IsContinuous says whether m is a Continuous mover.
func IsContinuous(m Mover) bool {
	c, ok := m.(Continuous)
	return ok && c.Continuous()
}

// Builder makes Movers of one kind.
type Builder interface {
	// FromSource builds a Mover for the source, or returns (nil, nil) when the source does not use
	// this Builder's mover.
	FromSource(c client.Client, logger logr.Logger, recorder events.EventRecorder,
		source *volsyncv1alpha1.ReplicationSource, privileged bool) (Mover, error)
	// FromDestination builds a Mover for the destination, or returns (nil, nil) when the
	// destination does not use this Builder's mover.
	FromDestination(c client.Client, logger logr.Logger, recorder events.EventRecorder,
		destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (Mover, error)
	// VersionInfo describes the mover's version, usually its container image.
	VersionInfo() string
}

// Result is the outcome of one Synchronize or Cleanup call.
type Result struct {
	// Completed is true when the operation finished; RetryAfter is then ignored.
	Completed bool
	// Image is the data image (a PVC or VolumeSnapshot) a completed Synchronize produced.
	Image *corev1.TypedLocalObjectReference
	// RetryAfter asks for another call after this long; nil waits for a watched object to change,
	// 0 retries at once.
	RetryAfter *time.Duration
	// Started is true when this call created the mover's work (its Job). The state machine then
	// records the start of the sync in a pass of its own, so that when many owners fire together
	// every mover goes out before any of their status writes.
	Started bool
}

// Complete is a finished operation.
func Complete() Result { return Result{Completed: true} }

// CompleteWithImage is a finished synchronization that produced image.
func CompleteWithImage(image *corev1.TypedLocalObjectReference) Result {
	return Result{Completed: true, Image: image}
}

// InProgress is an operation still going that needs no explicit requeue: a watched object will
// change when there is more to do.
func InProgress() Result { return Result{} }

// RetryAfter is an operation still going that should be looked at again after d.
func RetryAfter(d time.Duration) Result { return Result{RetryAfter: &d} }

// ReconcileResult turns a Result into the controller-runtime result that requeues as asked.
func (r Result) ReconcileResult() ctrl.Result {
	if r.Completed || r.RetryAfter == nil {
		return ctrl.Result{}
	}
	if *r.RetryAfter <= 0 {
		return ctrl.Result{Requeue: true}
	}
	return ctrl.Result{RequeueAfter: *r.RetryAfter}
}

// Catalog holds the registered Builders.
var (
	catalogMu sync.RWMutex
	// Catalog is the list of Builders the controllers try, in registration order.
	Catalog []Builder
)

// Register adds a Builder to the Catalog. volsyncd calls it once per mover at start-up.
func Register(b Builder) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	Catalog = append(Catalog, b)
}

func builders() []Builder {
	catalogMu.RLock()
	defer catalogMu.RUnlock()
	return append([]Builder(nil), Catalog...)
}

// GetSourceMoverFromCatalog asks every Builder for a Mover for source. Exactly one must answer.
func GetSourceMoverFromCatalog(c client.Client, logger logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (Mover, error) {
	return GetSourceMover(nil, c, logger, recorder, source, privileged)
}

// GetSourceMover asks each of bs (the Catalog when nil) for a Mover for source. Exactly one must
// answer.
func GetSourceMover(bs []Builder, c client.Client, logger logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (Mover, error) {
	return pick(bs, func(b Builder) (Mover, error) { return b.FromSource(c, logger, recorder, source, privileged) })
}

// GetDestinationMoverFromCatalog asks every Builder for a Mover for destination. Exactly one must
// answer.
func GetDestinationMoverFromCatalog(c client.Client, logger logr.Logger, recorder events.EventRecorder,
	destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (Mover, error) {
	return GetDestinationMover(nil, c, logger, recorder, destination, privileged)
}

// GetDestinationMover asks each of bs (the Catalog when nil) for a Mover for destination. Exactly
// one must answer.
func GetDestinationMover(bs []Builder, c client.Client, logger logr.Logger, recorder events.EventRecorder,
	destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (Mover, error) {
	return pick(bs, func(b Builder) (Mover, error) { return b.FromDestination(c, logger, recorder, destination, privileged) })
}

func pick(bs []Builder, build func(Builder) (Mover, error)) (Mover, error) {
	if bs == nil {
		bs = builders()
	}
	var found Mover
	for _, b := range bs {
		m, err := build(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.VersionInfo(), err)
		}
		if m == nil {
			continue
		}
		if found != nil {
			return nil, ErrMultipleMoversFound
		}
		found = m
	}
	if found == nil {
		return nil, ErrNoMoverFound
	}
	return found, nil
}
