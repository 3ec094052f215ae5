package replication

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/replication/statemachine"
	"github.com/volsync/volsync/pkg/schedule"
)

// objectMachine adapts a ReplicationSource or ReplicationDestination to statemachine.Machine.
type objectMachine struct {
	client   client.Client
	recorder events.EventRecorder
	obj      client.Object
	kind     string
	trigger  *volsyncv1alpha1.ReplicationTriggerSpec
	paused   bool
	status   *volsyncv1alpha1.ReplicationStatus
	mover    mover.Mover
	metrics  objectMetrics
	policy   *schedule.Policy
	now      time.Time
	// clock stamps the dated children with the instant they are created.
	clock clock.PassiveClock
	// onImage receives the image of a successful sync (destinations publish it).
	onImage func(*corev1.TypedLocalObjectReference)
}

var _ statemachine.Machine = (*objectMachine)(nil)

func (m *objectMachine) TriggerSpec() *volsyncv1alpha1.ReplicationTriggerSpec { return m.trigger }
func (m *objectMachine) Status() *volsyncv1alpha1.ReplicationStatus           { return m.status }
func (m *objectMachine) Created() time.Time                                   { return m.obj.GetCreationTimestamp().Time }
func (m *objectMachine) Paused() bool                                         { return m.paused }

func (m *objectMachine) Synchronize(ctx context.Context) (mover.Result, error) {
	return m.mover.Synchronize(ctx)
}

// ReadsAhead and ReadAhead are the mover's (mover.ReadAhead), when it has them.
func (m *objectMachine) ReadsAhead() bool {
	ra, ok := m.mover.(mover.ReadAhead)
	return ok && ra.ReadsAhead()
}

func (m *objectMachine) ReadAhead(ctx context.Context) error {
	if ra, ok := m.mover.(mover.ReadAhead); ok {
		return ra.ReadAhead(ctx)
	}
	return nil
}

func (m *objectMachine) Cleanup(ctx context.Context) (mover.Result, error) {
	return m.mover.Cleanup(ctx)
}

func (m *objectMachine) SyncStarted(ctx context.Context, d schedule.Decision) error {
	if !isPolicyType(d.Type) {
		return nil
	}
	return startPolicyRun(ctx, m.client, m.obj, m.kind, m.status, d, m.now, m.clock)
}

func (m *objectMachine) SyncQueued(ctx context.Context, d schedule.Decision) error {
	if !isPolicyType(d.Type) {
		return nil
	}
	return queuePolicyRun(ctx, m.client, m.obj, m.kind, m.status, d, m.now, m.clock)
}

func (m *objectMachine) SyncEnded(ctx context.Context, result mover.Result, failure *mover.FailedError) error {
	if err := finishPolicyRuns(ctx, m.client, m.obj, m.status, m.policy, failure, m.now); err != nil {
		return err
	}
	if failure == nil && result.Image != nil && m.onImage != nil {
		m.onImage(result.Image)
	}
	return nil
}

// Event records an Event on the owner. Its action is "Synchronize"; related tells the Events of
// one sync from the next one's.
func (m *objectMachine) Event(eventType, reason, message string, related client.Object) {
	recordEvent(m.recorder, m.obj, related, eventType, reason, message)
}

func (m *objectMachine) Owner() client.Object { return m.obj }

// Related is the dated ReplicationSync child of the running sync, when a policy's trigger started
// it.
func (m *objectMachine) Related() client.Object {
	a := m.status.ActiveSync
	if a == nil || a.ScheduledTime == nil || !isPolicyType(schedule.Type(a.Trigger)) {
		return nil
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "ReplicationSync"},
		ObjectMeta: metav1.ObjectMeta{Namespace: m.obj.GetNamespace(),
			Name: schedule.ChildName(m.obj.GetName(), schedule.Type(a.Trigger), a.ScheduledTime.Time)},
	}
}

func (m *objectMachine) MissedTriggers(n int)         { m.metrics.missed(n) }
func (m *objectMachine) SyncDuration(d time.Duration) { m.metrics.duration(d) }
func (m *objectMachine) OutOfSync(b bool)             { m.metrics.outOfSync(b) }
func (m *objectMachine) SyncFailed()                  { m.metrics.failed() }

func isPolicyType(t schedule.Type) bool {
	for _, p := range volsyncv1alpha1.SchedulePolicyTypes {
		if p == t {
			return true
		}
	}
	return false
}
