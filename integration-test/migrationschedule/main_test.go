// Package migrationschedule is the MigrationSchedule controller suite: the reconciler and the
// SchedulePolicy reconciler run in a real manager against a real kube-apiserver and etcd, with a
// fake clock the tests step. The Migration controller is not running: the tests play its part by
// writing the status of the Migrations the schedule creates.
package migrationschedule

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migrationschedule"
	"github.com/volsync/volsync/pkg/schedulepolicy"
)

var (
	env *testenv.Env
	// k8s reads straight from the API server, never from a cache, so assertions see the truth.
	k8s client.Client
	// fakeClock is what the reconcilers read as "now". Creation timestamps come from the API
	// server's real clock, so each test starts it at the real time (see startClock) and steps it.
	fakeClock = clocktesting.NewFakeClock(time.Now())
	// serial numbers namespaces and pokes.
	serial atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client

	_, stop, err := env.StartManager(
		func(mgr ctrl.Manager) error {
			return (&schedulepolicy.Reconciler{
				Client:   mgr.GetClient(),
				Recorder: mgr.GetEventRecorder("volsync"),
				Clock:    fakeClock,
			}).SetupWithManager(mgr)
		},
		func(mgr ctrl.Manager) error {
			return (&migrationschedule.Reconciler{
				Client:   mgr.GetClient(),
				Recorder: mgr.GetEventRecorder("volsync"),
				Clock:    fakeClock,
			}).SetupWithManager(mgr)
		},
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// eventually polls cond until it holds, for up to 20 seconds.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, cond)
}

// stillTrue checks that cond holds for a while after something that must not change it, such as a
// pass that must not create a second Migration. It polls; the wait is the observation window.
func stillTrue(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startClock sets the fake clock a little after the real time, so that an object created next has
// a creationTimestamp at or before "now", and returns it.
func startClock() time.Time {
	now := time.Now().Add(2 * time.Second).Truncate(time.Second)
	fakeClock.SetTime(now)
	return now
}

// newNamespace makes a namespace of the test's own, so that its Events and Migrations are apart.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ms-" + strconv.FormatInt(serial.Add(1), 10)}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func createPolicy(t *testing.T, item volsyncv1alpha1.SchedulePolicyItem) string {
	t.Helper()
	p := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "policy-" + strconv.FormatInt(serial.Add(1), 10)}, Policy: item}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	return p.Name
}

func createSchedule(t *testing.T, ns, name, policy string, suspend bool) *volsyncv1alpha1.MigrationSchedule {
	t.Helper()
	ms := &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{
			"example.com/team": "storage",
			"kubectl.kubernetes.io/last-applied-configuration": "{}",
		}},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy,
			Suspend:            ptr.To(suspend),
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair:       "remotecluster",
				Namespaces:        []string{"mysql"},
				IncludeResources:  ptr.To(true),
				IncludeVolumes:    ptr.To(false),
				StartApplications: ptr.To(false),
			}},
		},
	}
	if err := k8s.Create(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	// startClock leads the real clock by 2 s so that a schedule's creation is in the fake past; on
	// a loaded machine (CI compiles every package while the first tests run) the API server can be
	// slower than that, and nothing would fire before the fake clock reached the creation.
	if created := ms.CreationTimestamp.Time; fakeClock.Now().Before(created) {
		fakeClock.SetTime(created)
		poke(t, ms)
	}
	return ms
}

// step moves the fake clock to at and nudges the schedule, since a requeue the controller asked
// for runs on the real clock, not the fake one.
func step(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, at time.Time) {
	t.Helper()
	fakeClock.SetTime(at)
	poke(t, ms)
}

// poke changes an annotation of the schedule, which makes the controller run a pass.
func poke(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.volsync.backube/poke":"%d"}}}`, serial.Add(1))
	if err := k8s.Patch(context.Background(), ms.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

func getSchedule(ms *volsyncv1alpha1.MigrationSchedule) (*volsyncv1alpha1.MigrationSchedule, error) {
	var got volsyncv1alpha1.MigrationSchedule
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ms), &got)
	return &got, err
}

// children lists the names of the Migrations in ns, sorted.
func children(ns string) ([]string, error) {
	var list volsyncv1alpha1.MigrationList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var names []string
	for _, m := range list.Items {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names, nil
}

// wantChildren waits until the Migrations of ns are exactly want.
func wantChildren(t *testing.T, ns string, want ...string) {
	t.Helper()
	slices.Sort(want)
	eventually(t, func() error {
		got, err := children(ns)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("migrations are %v, want %v", got, want)
		}
		return nil
	})
}

// finish plays the Migration controller: it marks a Migration finished with status s.
func finish(t *testing.T, ns, name string, s volsyncv1alpha1.RunStatus, reason string) {
	t.Helper()
	var m volsyncv1alpha1.Migration
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		t.Fatal(err)
	}
	now := fakeClock.Now()
	m.Status.Status = s
	m.Status.Stage = volsyncv1alpha1.MigrationStageFinal
	m.Status.StartTimestamp = &metav1.Time{Time: now.Add(-90 * time.Second).Truncate(time.Second)}
	m.Status.FinishTimestamp = &metav1.Time{Time: now.Truncate(time.Second)}
	if reason != "" {
		m.Status.Conditions = []metav1.Condition{{Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse,
			Reason: "Error", Message: reason, LastTransitionTime: metav1.Now()}}
	}
	if err := k8s.Status().Update(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
}

// markRunning plays the Migration controller starting a run.
func markRunning(t *testing.T, ns, name string) {
	t.Helper()
	var m volsyncv1alpha1.Migration
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		t.Fatal(err)
	}
	m.Status.Status = volsyncv1alpha1.RunStatusInProgress
	m.Status.Stage = volsyncv1alpha1.MigrationStageApplications
	if err := k8s.Status().Update(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
}

// events lists the notes of the Events about object name in ns with the given reason.
func events(ns, name, reason string) ([]string, error) {
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes, nil
}

// wantEvent waits for an Event with reason and exactly this note.
func wantEvent(t *testing.T, ns, name, reason, note string) {
	t.Helper()
	eventually(t, func() error {
		notes, err := events(ns, name, reason)
		if err != nil {
			return err
		}
		if !slices.Contains(notes, note) {
			return fmt.Errorf("no %s event %q; %s events: %q", reason, note, reason, notes)
		}
		return nil
	})
}

// missed reads volsync_missed_intervals_total for a schedule from the manager's registry.
func missed(name, ns string) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return -1
	}
	for _, f := range families {
		if f.GetName() != "volsync_missed_intervals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["obj_name"] == name && labels["obj_namespace"] == ns && labels["role"] == "migration" && labels["method"] == "schedulepolicy" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// childName is the name the seed shows: <schedule>-<type>-<YYYY-MM-DD-HHMMSS>, in UTC. It is
// written out here rather than taken from package schedule, so the test pins the format.
func childName(schedule, typ string, at time.Time) string {
	return schedule + "-" + typ + "-" + at.UTC().Format("2006-01-02-150405")
}

// kitchen is t's wall time in the policy form, in UTC.
func kitchen(t time.Time) string {
	return t.UTC().Format("3:04PM")
}
