package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

// labelSecondMover makes secondMover answer for a source too, so two Builders claim it.
const labelSecondMover = "test.volsync.backube/second-mover"

// secondMover is a Builder that claims sources carrying labelSecondMover.
type secondMover struct{}

func (secondMover) FromSource(_ client.Client, _ logr.Logger, _ events.EventRecorder, rs *volsyncv1alpha1.ReplicationSource, _ bool) (mover.Mover, error) {
	if _, ok := rs.Labels[labelSecondMover]; !ok {
		return nil, nil
	}
	return nopMover{}, nil
}
func (secondMover) FromDestination(client.Client, logr.Logger, events.EventRecorder, *volsyncv1alpha1.ReplicationDestination, bool) (mover.Mover, error) {
	return nil, nil
}
func (secondMover) VersionInfo() string { return "second test mover" }

type nopMover struct{}

func (nopMover) Name() string                                      { return "nop" }
func (nopMover) Synchronize(context.Context) (mover.Result, error) { return mover.InProgress(), nil }
func (nopMover) Cleanup(context.Context) (mover.Result, error)     { return mover.Complete(), nil }

func TestTwoMoversClaimingASourceIsAnErrorInStatusAndAnEvent(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "two-movers", "data", nil)
	rs.Labels = map[string]string{labelSecondMover: ""}
	create(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonError)
	if c := synchronizing(&rs.Status.ReplicationStatus); c.Status != metav1.ConditionFalse || c.Message != mover.ErrMultipleMoversFound.Error() {
		t.Errorf("condition %+v", c)
	}
	note := waitEvent(t, ns, rs.Name, "MoverNotFound")
	if !strings.Contains(note, "only one replication method") {
		t.Errorf("event %q", note)
	}
	noJob(t, ns, tlsSourceJob(rs.Name))
}

func TestAnExternalSourceIsLeftToItsProvider(t *testing.T) {
	ns := namespace(t, false)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "vendor", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "data",
			External:  &volsyncv1alpha1.ExternalSpec{Provider: "example.com/replicator", Parameters: map[string]string{"k": "v"}},
		},
	}
	create(t, rs)
	// Another object in the same namespace is reconciled meanwhile, so the controller has had its
	// chance at this one.
	sourcePVC(t, ns, "data", nil)
	other := tlsSource(ns, "neighbour", "data", nil)
	create(t, other)
	waitJob(t, ns, tlsSourceJob(other.Name), "")
	get(t, rs)
	if len(rs.Status.Conditions) != 0 || rs.Status.LastSyncStartTime != nil || rs.Status.ObservedGeneration != 0 {
		t.Fatalf("volsync touched an external source's status: %+v", rs.Status)
	}
	if e := eventReasons(t, ns, rs.Name); len(e) != 0 {
		t.Fatal(fmt.Sprintf("events about an external source: %v", e))
	}
}
