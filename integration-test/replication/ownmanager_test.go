package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/replication"
)

// A write the reconcilers of an own manager make: verb is create, update, patch, delete or status
// (a write of the status subresource), obj what is written.
type write struct {
	verb string
	obj  client.Object
}

// crashPoint says whether a manager crashes at a write: before it reaches the API server, or
// right after the API server stored it.
type crashPoint int

const (
	noCrash crashPoint = iota
	crashBefore
	crashAfter
)

var errCrashed = errors.New("the manager crashed")

// crashingClient is the reconcilers' client in an own manager. When crashAt says so it "crashes"
// the process at a write: the manager is stopped (as a kill would: its context is cancelled) and
// from then on every write fails, so the dying process changes nothing more. observe sees every
// write that the API server accepted.
type crashingClient struct {
	client.Client
	crashAt func(write) crashPoint
	observe func(write)
	crashed chan struct{}

	mu   sync.Mutex
	dead bool
}

func (c *crashingClient) do(verb string, obj client.Object, op func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return errCrashed
	}
	w := write{verb: verb, obj: obj}
	at := noCrash
	if c.crashAt != nil {
		at = c.crashAt(w)
	}
	if at == crashBefore {
		c.die()
		return errCrashed
	}
	err := op()
	if err != nil {
		return err
	}
	if c.observe != nil {
		c.observe(w)
	}
	if at == crashAfter {
		c.die()
	}
	return nil
}

func (c *crashingClient) die() {
	c.dead = true
	close(c.crashed)
}

func (c *crashingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.do("create", obj, func() error { return c.Client.Create(ctx, obj, opts...) })
}

func (c *crashingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.do("update", obj, func() error { return c.Client.Update(ctx, obj, opts...) })
}

func (c *crashingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return c.do("patch", obj, func() error { return c.Client.Patch(ctx, obj, patch, opts...) })
}

func (c *crashingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return c.do("delete", obj, func() error { return c.Client.Delete(ctx, obj, opts...) })
}

func (c *crashingClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	return c.do("delete", obj, func() error { return c.Client.DeleteAllOf(ctx, obj, opts...) })
}

func (c *crashingClient) Status() client.SubResourceWriter {
	return crashingStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type crashingStatus struct {
	client.SubResourceWriter
	c *crashingClient
}

func (s crashingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.c.do("status", obj, func() error { return s.SubResourceWriter.Update(ctx, obj, opts...) })
}

func (s crashingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return s.c.do("status", obj, func() error { return s.SubResourceWriter.Patch(ctx, obj, patch, opts...) })
}

// ownMgr is a manager a test runs for itself.
type ownMgr struct {
	// stop stops it (as a shutdown would) and waits until it has stopped. It may be called again.
	stop func()
	// stopped is closed once a crash stopped it.
	stopped chan struct{}
}

// ownManager starts a manager of the test's own, as a fresh volsyncd process would start: both
// replication reconcilers, the suite's Builders and fake clock, a cache of namespace ns alone, and
// cfg's identity. The suite's manager does not see the objects labelled ownManagerLabel, so label
// the ReplicationSources and ReplicationDestinations it is to run. crashAt (may be nil) says
// where it crashes; observe (may be nil) sees each write its reconcilers made.
func ownManager(t *testing.T, ns string, cfg *rest.Config, crashAt func(write) crashPoint, observe func(write)) *ownMgr {
	t.Helper()
	died := make(chan struct{})
	var cc *crashingClient
	_, stop, err := testenv.StartManager(cfg, ctrl.Options{
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		// Each own manager registers the controllers again, under the names the suite's use.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	},
		func(mgr ctrl.Manager) error {
			cc = &crashingClient{Client: mgr.GetClient(), crashAt: crashAt, observe: observe, crashed: died}
			return (&replication.SourceReconciler{Client: cc, Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock}).SetupWithManager(mgr)
		},
		func(mgr ctrl.Manager) error {
			return (&replication.DestinationReconciler{Client: cc, Recorder: mgr.GetEventRecorder("volsync"), Clock: fakeClock}).SetupWithManager(mgr)
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	m := &ownMgr{stop: stop, stopped: make(chan struct{})}
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended); stop() })
	go func() {
		select {
		case <-died:
			stop()
			close(m.stopped)
		case <-ended:
		}
	}()
	return m
}

// waitCrash waits until m crashed at the point named what and has stopped.
func (m *ownMgr) waitCrash(t *testing.T, what string) {
	t.Helper()
	eventually(t, wait, func() error {
		select {
		case <-m.stopped:
			return nil
		default:
			return fmt.Errorf("the manager did not crash %s", what)
		}
	})
}
