package migrationschedule

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

const (
	interval = volsyncv1alpha1.SchedulePolicyTypeInterval
	daily    = volsyncv1alpha1.SchedulePolicyTypeDaily
	weekly   = volsyncv1alpha1.SchedulePolicyTypeWeekly
	monthly  = volsyncv1alpha1.SchedulePolicyTypeMonthly
)

// historyNames is status.items[t] as names, oldest first.
func historyNames(ms *volsyncv1alpha1.MigrationSchedule, t volsyncv1alpha1.SchedulePolicyType) []string {
	var out []string
	for _, it := range ms.Status.Items[t] {
		out = append(out, it.Name)
	}
	return out
}

// wantHistory waits until status.items[t] holds exactly these names with these statuses.
func wantHistory(t *testing.T, ms *volsyncv1alpha1.MigrationSchedule, typ volsyncv1alpha1.SchedulePolicyType, want map[string]volsyncv1alpha1.RunStatus, order ...string) {
	t.Helper()
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if names := historyNames(got, typ); strings.Join(names, ",") != strings.Join(order, ",") {
			return fmt.Errorf("items.%s = %v, want %v", typ, names, order)
		}
		for _, it := range got.Status.Items[typ] {
			if it.Status != want[it.Name] {
				return fmt.Errorf("items.%s %s is %s, want %s", typ, it.Name, it.Status, want[it.Name])
			}
		}
		return nil
	})
}

func TestEachTypeCreatesItsDatedMigrationRarestFirst(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	now := startClock()
	// X is when daily, weekly and monthly all come due at once, two hours from now.
	x := now.Add(2 * time.Hour).Truncate(time.Minute)
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{
		Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 180},
		Daily:    &volsyncv1alpha1.DailyPolicy{Time: kitchen(x)},
		Weekly:   &volsyncv1alpha1.WeeklyPolicy{Day: x.Weekday().String(), Time: kitchen(x)},
		Monthly:  &volsyncv1alpha1.MonthlyPolicy{Date: int32(x.Day()), Time: kitchen(x)},
	})
	ms := createSchedule(t, ns, "mysqlmigrationschedule", policy, false)
	created := ms.CreationTimestamp.Time

	// The interval's first trigger is the schedule's creation itself.
	first := childName(ms.Name, "interval", created)
	wantChildren(t, ns, first)
	var m volsyncv1alpha1.Migration
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"the Migration is controlled by the schedule", metav1.IsControlledBy(&m, ms)},
		{"the Migration is labelled with the schedule", m.Labels["volsync.backube/migration-schedule"] == ms.Name},
		{"the Migration is labelled with the policy type in lower case", m.Labels["volsync.backube/policy-type"] == "interval"},
		{"the schedule's annotations are copied", m.Annotations["example.com/team"] == "storage"},
		{"kubectl's last-applied-configuration is not copied", m.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == ""},
		{"the spec is the template's", m.Spec.ClusterPair == "remotecluster" && m.Spec.Namespaces[0] == "mysql" && !*m.Spec.StartApplications},
		{"the schedule holds its finalizer", func() bool {
			got, err := getSchedule(ms)
			return err == nil && slices.Contains(got.Finalizers, "volsync.backube/migration-schedule")
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Errorf("%s: migration is %+v", tc.name, m.ObjectMeta)
			}
		})
	}
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{first: volsyncv1alpha1.RunStatusPending}, first)

	finish(t, ns, first, volsyncv1alpha1.RunStatusSuccessful, "")
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{first: volsyncv1alpha1.RunStatusSuccessful}, first)
	wantEvent(t, ns, ms.Name, "Successful", "Scheduled migration ("+first+") completed successfully")

	// At X three types come due together: one runs, the other two queue, rarest first.
	step(t, ms, x.Add(time.Second))
	monthlyName, weeklyName, dailyName := childName(ms.Name, "monthly", x), childName(ms.Name, "weekly", x), childName(ms.Name, "daily", x)
	wantChildren(t, ns, first, monthlyName)
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if len(got.Status.Pending) != 2 || got.Status.Pending[0].Type != weekly || got.Status.Pending[1].Type != daily ||
			!got.Status.Pending[0].Time.Time.Equal(x) {
			return fmt.Errorf("pending is %+v, want Weekly then Daily at %s", got.Status.Pending, x)
		}
		return nil
	})
	wantEvent(t, ns, ms.Name, "Queued", fmt.Sprintf("Daily migration scheduled for %s is queued until %s finishes", x.UTC().Format(time.RFC3339), monthlyName))

	finish(t, ns, monthlyName, volsyncv1alpha1.RunStatusSuccessful, "")
	wantChildren(t, ns, first, monthlyName, weeklyName)
	markRunning(t, ns, weeklyName)
	wantHistory(t, ms, weekly, map[string]volsyncv1alpha1.RunStatus{weeklyName: volsyncv1alpha1.RunStatusInProgress}, weeklyName)
	finish(t, ns, weeklyName, volsyncv1alpha1.RunStatusFailed, "cluster pair remotecluster is unreachable")
	wantEvent(t, ns, ms.Name, "Failed", "Scheduled migration ("+weeklyName+") failed: cluster pair remotecluster is unreachable")
	wantChildren(t, ns, first, monthlyName, weeklyName, dailyName)
	finish(t, ns, dailyName, volsyncv1alpha1.RunStatusSuccessful, "")

	// The history reads per type, as kubectl describe shows it.
	wantHistory(t, ms, daily, map[string]volsyncv1alpha1.RunStatus{dailyName: volsyncv1alpha1.RunStatusSuccessful}, dailyName)
	got, err := getSchedule(ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		typ  volsyncv1alpha1.SchedulePolicyType
		item string
		want volsyncv1alpha1.RunStatus
	}{
		{"the interval history holds the first run", interval, first, volsyncv1alpha1.RunStatusSuccessful},
		{"the monthly history holds its run", monthly, monthlyName, volsyncv1alpha1.RunStatusSuccessful},
		{"the weekly history holds its failed run", weekly, weeklyName, volsyncv1alpha1.RunStatusFailed},
		{"the daily history holds its run", daily, dailyName, volsyncv1alpha1.RunStatusSuccessful},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := got.Status.Items[tc.typ]
			if len(items) != 1 {
				t.Fatalf("items.%s = %+v", tc.typ, items)
			}
			it := items[0]
			if it.Name != tc.item || it.Status != tc.want || it.CreationTimestamp.IsZero() || it.FinishTimestamp == nil || it.ScheduledTime == nil {
				t.Errorf("items.%s[0] = %+v, want %s %s with creation, finish and scheduled times", tc.typ, it, tc.item, tc.want)
			}
			if last := got.Status.LastTriggers[tc.typ]; last.IsZero() {
				t.Errorf("lastTriggers.%s is not set", tc.typ)
			}
		})
	}
	if len(got.Status.Pending) != 0 {
		t.Errorf("pending is %+v after every run finished", got.Status.Pending)
	}
	if got.Status.LastSuccessTime == nil || got.Status.LastSuccessDuration == nil || got.Status.LastSuccessDuration.Duration != 90*time.Second {
		t.Errorf("last success is %v after %v, want a time and 1m30s", got.Status.LastSuccessTime, got.Status.LastSuccessDuration)
	}
	if len(got.Status.NextTriggers) != 4 {
		t.Errorf("nextTriggers = %+v, want one per type", got.Status.NextTriggers)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != volsyncv1alpha1.ReasonScheduled {
		t.Errorf("Ready is %+v", ready)
	}

	// The interval's next trigger, 180 minutes after the first, is named from its scheduled time.
	step(t, ms, created.Add(180*time.Minute).Add(time.Second))
	wantChildren(t, ns, first, monthlyName, weeklyName, dailyName, childName(ms.Name, "interval", created.Add(180*time.Minute)))

	describeShowsHistory(t, ns, ms.Name, first, monthlyName, weeklyName, dailyName)
}

// describeShowsHistory runs the real kubectl describe, when the test control plane has kubectl,
// and checks that the per-type history reads as in the seed.
func describeShowsHistory(t *testing.T, ns, name string, runs ...string) {
	t.Helper()
	assets, err := os.ReadDir(os.Getenv("KUBEBUILDER_ASSETS"))
	if err != nil || !slices.ContainsFunc(assets, func(e os.DirEntry) bool { return e.Name() == "kubectl" }) {
		t.Log("no kubectl beside the test control plane: kubectl describe not checked")
		return
	}
	data, err := env.AdminKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "--kubeconfig", kubeconfig,
		"describe", "migrationschedules", "-n", ns, name).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl describe: %v\n%s", err, out)
	}
	// describe pads values into columns; compare with runs of blanks folded.
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range append([]string{"Items:", "Interval:", "Daily:", "Weekly:", "Monthly:", "Creation Timestamp:",
		"Finish Timestamp:", "Status: Successful", "Status: Failed", "Scheduled migration (" + runs[0] + ") completed successfully"}, runs...) {
		if !strings.Contains(text, want) {
			t.Errorf("kubectl describe does not show %q:\n%s", want, text)
		}
	}
}

func TestATypeDueWhileAMigrationRunsIsQueuedNeverLostNeverDoubled(t *testing.T) {
	ns := newNamespace(t)
	now := startClock()
	x := now.Add(2 * time.Hour).Truncate(time.Minute)
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{
		Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60},
		Daily:    &volsyncv1alpha1.DailyPolicy{Time: kitchen(x)},
	})
	ms := createSchedule(t, ns, "app", policy, false)
	created := ms.CreationTimestamp.Time
	first := childName(ms.Name, "interval", created)
	wantChildren(t, ns, first)
	markRunning(t, ns, first)

	// The first run goes on for hours. The daily trigger at X and the interval triggers come due
	// meanwhile: nothing new starts, both wait, each once.
	step(t, ms, x.Add(time.Second))
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if len(got.Status.Pending) != 2 || got.Status.Pending[0].Type != daily || got.Status.Pending[1].Type != interval {
			return fmt.Errorf("pending is %+v, want Daily then Interval", got.Status.Pending)
		}
		return nil
	})
	wantChildren(t, ns, first)
	got, err := getSchedule(ms)
	if err != nil {
		t.Fatal(err)
	}
	queuedAt := got.Status.Pending[1].Time.Time
	before := missed(ms.Name, ns)

	// More interval triggers while still running replace the queued one: the newest wins, and
	// the ones it replaces (the queued one and those in between) are counted as missed.
	later := created.Add(4 * time.Hour)
	step(t, ms, later.Add(time.Second))
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if len(got.Status.Pending) != 2 || !got.Status.Pending[1].Time.Time.Equal(later) {
			return fmt.Errorf("pending is %+v, want the interval entry at %s", got.Status.Pending, later)
		}
		if m, want := missed(ms.Name, ns), before+later.Sub(queuedAt).Hours(); m != want {
			return fmt.Errorf("missed count is %v, want %v", m, want)
		}
		return nil
	})
	wantChildren(t, ns, first)

	finish(t, ns, first, volsyncv1alpha1.RunStatusSuccessful, "")
	dailyName := childName(ms.Name, "daily", x)
	wantChildren(t, ns, first, dailyName)
	finish(t, ns, dailyName, volsyncv1alpha1.RunStatusSuccessful, "")
	intervalName := childName(ms.Name, "interval", later)
	wantChildren(t, ns, first, dailyName, intervalName)

	// More passes at the same time change nothing: the queue ran once.
	poke(t, ms)
	stillTrue(t, func() error {
		got, err := children(ns)
		if err != nil {
			return err
		}
		if len(got) != 3 {
			return fmt.Errorf("migrations are %v, want exactly 3", got)
		}
		return nil
	})
	if got, err = getSchedule(ms); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Pending) != 0 {
		t.Errorf("pending is %+v, want empty", got.Status.Pending)
	}
}

func TestAThreeDayOutageRunsEachTypeOnceAndCountsTheMisses(t *testing.T) {
	ns := newNamespace(t)
	now := startClock()
	x := now.Add(2 * time.Hour).Truncate(time.Minute)
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{
		Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60},
		Daily:    &volsyncv1alpha1.DailyPolicy{Time: kitchen(x)},
	})
	ms := createSchedule(t, ns, "outage", policy, false)
	created := ms.CreationTimestamp.Time
	first := childName(ms.Name, "interval", created)
	wantChildren(t, ns, first)
	finish(t, ns, first, volsyncv1alpha1.RunStatusSuccessful, "")
	wantHistory(t, ms, interval, map[string]volsyncv1alpha1.RunStatus{first: volsyncv1alpha1.RunStatusSuccessful}, first)
	before := missed(ms.Name, ns)

	// Three days later: 72 interval triggers and 3 daily ones passed. Each type runs its newest
	// once; the 71 + 2 older ones are counted as missed.
	back := created.Add(72 * time.Hour)
	step(t, ms, back.Add(time.Second))
	dailyName := childName(ms.Name, "daily", x.Add(48*time.Hour))
	wantChildren(t, ns, first, dailyName)
	eventually(t, func() error {
		if m := missed(ms.Name, ns); m != before+73 {
			return fmt.Errorf("missed went from %v to %v, want +73", before, m)
		}
		return nil
	})
	wantEvent(t, ns, ms.Name, "MissedSchedule", fmt.Sprintf("71 Interval trigger(s) of schedule policy %q missed before %s; the latest runs once",
		policy, back.UTC().Format(time.RFC3339)))
	finish(t, ns, dailyName, volsyncv1alpha1.RunStatusSuccessful, "")
	wantChildren(t, ns, first, dailyName, childName(ms.Name, "interval", back))
}

func TestAMigrationCreatedBeforeACrashIsNotCreatedTwice(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	now := startClock()
	x := now.Add(2 * time.Hour).Truncate(time.Minute)
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: kitchen(x)}})
	ms := createSchedule(t, ns, "crash", policy, false)
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if len(got.Status.NextTriggers) != 1 || !got.Status.NextTriggers[0].Time.Time.Equal(x) {
			return fmt.Errorf("nextTriggers = %+v, want daily at %s", got.Status.NextTriggers, x)
		}
		ms = got
		return nil
	})

	// The Migration of the trigger at X exists, but the status write that records it never
	// happened: the controller crashed in between.
	name := childName(ms.Name, "daily", x)
	orphan := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels: map[string]string{"volsync.backube/migration-schedule": ms.Name, "volsync.backube/policy-type": "daily"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "MigrationSchedule",
				Name: ms.Name, UID: ms.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: ms.Spec.Template.Spec,
	}
	if err := k8s.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	markRunning(t, ns, name)

	step(t, ms, x.Add(time.Second))
	wantHistory(t, ms, daily, map[string]volsyncv1alpha1.RunStatus{name: volsyncv1alpha1.RunStatusInProgress}, name)
	poke(t, ms)
	stillTrue(t, func() error {
		got, err := children(ns)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0] != name {
			return fmt.Errorf("migrations are %v, want only %s", got, name)
		}
		return nil
	})
	got, err := getSchedule(ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Pending) != 0 || !got.Status.LastTriggers[daily].Time.Equal(x) {
		t.Errorf("pending %+v, lastTriggers %+v: want nothing pending and daily handled at %s", got.Status.Pending, got.Status.LastTriggers, x)
	}
	if st := got.Status.Items[daily][0].ScheduledTime; st == nil || !st.Time.Equal(x) {
		t.Errorf("the adopted run's scheduled time is %v, want %s (from its name)", st, x)
	}
	finish(t, ns, name, volsyncv1alpha1.RunStatusSuccessful, "")
	wantHistory(t, ms, daily, map[string]volsyncv1alpha1.RunStatus{name: volsyncv1alpha1.RunStatusSuccessful}, name)
}

func TestAMigrationOfTheSameNameThatIsNotTheSchedulesIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	now := startClock()
	x := now.Add(2 * time.Hour).Truncate(time.Minute)
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: kitchen(x)}})
	ms := createSchedule(t, ns, "squatted", policy, false)
	name := childName(ms.Name, "daily", x)
	foreign := &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: ms.Spec.Template.Spec}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	step(t, ms, x.Add(time.Second))
	wantEvent(t, ns, ms.Name, "NameTaken", "Daily migration "+name+
		" was not created: a Migration of that name that this schedule does not own exists; rename or delete it")
	got, err := getSchedule(ms)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Items) != 0 || len(got.Status.Pending) != 0 {
		t.Errorf("items %+v, pending %+v: the foreign Migration must not enter the history", got.Status.Items, got.Status.Pending)
	}
	if err := k8s.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := getSchedule(ms); !apierrors.IsNotFound(err) {
			return fmt.Errorf("schedule still there (%v)", err)
		}
		return nil
	})
	wantChildren(t, ns, name)
}

func TestAMissingPolicyIsReportedOnceAndCreatingItStartsTheSchedule(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	policyName := fmt.Sprintf("later-%d", serial.Add(1))
	ms := createSchedule(t, ns, "waiting", policyName, false)

	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != volsyncv1alpha1.ReasonPolicyNotFound {
			return fmt.Errorf("Ready is %+v, want False PolicyNotFound", ready)
		}
		return nil
	})
	note := fmt.Sprintf("schedule policy %q not found (neither a NamespacedSchedulePolicy in %s nor a SchedulePolicy): create it or set spec.schedulePolicyName to an existing one", policyName, ns)
	wantEvent(t, ns, ms.Name, "PolicyNotFound", note)
	poke(t, ms)
	poke(t, ms)
	stillTrue(t, func() error {
		notes, err := events(ns, ms.Name, "PolicyNotFound")
		if err != nil {
			return err
		}
		if len(notes) != 1 {
			return fmt.Errorf("%d PolicyNotFound events, want 1 however many passes run: %q", len(notes), notes)
		}
		return nil
	})
	wantChildren(t, ns)

	// Creating the policy wakes the schedule through the policy watch: no poke.
	p := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, p) })
	wantChildren(t, ns, childName(ms.Name, "interval", ms.CreationTimestamp.Time))
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready is %+v, want True", ready)
		}
		return nil
	})
}

func TestSuspendCreatesNothingAndResumeDoesNotCatchUp(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}})
	ms := createSchedule(t, ns, "paused", policy, true)
	created := ms.CreationTimestamp.Time
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != volsyncv1alpha1.ReasonSuspended {
			return fmt.Errorf("Ready is %+v, want True Suspended", ready)
		}
		return nil
	})

	// Two hours suspended: the triggers at creation, +1h and +2h pass, are skipped and counted.
	step(t, ms, created.Add(2*time.Hour).Add(time.Second))
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		if !got.Status.LastTriggers[interval].Time.Equal(created.Add(2 * time.Hour)) {
			return fmt.Errorf("lastTriggers = %+v, want interval at +2h", got.Status.LastTriggers)
		}
		if m := missed(ms.Name, ns); m != 3 {
			return fmt.Errorf("missed is %v, want 3", m)
		}
		return nil
	})
	wantChildren(t, ns)

	// Resuming runs nothing from the past; the next trigger runs.
	if err := k8s.Patch(ctx, ms.DeepCopy(), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspend":false}}`))); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got, err := getSchedule(ms)
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionReady)
		if ready == nil || ready.Reason != volsyncv1alpha1.ReasonScheduled {
			return fmt.Errorf("Ready is %+v, want Scheduled", ready)
		}
		return nil
	})
	stillTrue(t, func() error {
		if got, err := children(ns); err != nil || len(got) != 0 {
			return fmt.Errorf("migrations %v (%v) after resume, want none", got, err)
		}
		return nil
	})
	step(t, ms, created.Add(3*time.Hour).Add(time.Second))
	wantChildren(t, ns, childName(ms.Name, "interval", created.Add(3*time.Hour)))
}

func TestRetainKeepsTheNewestAndDeletesOlderMigrations(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60, Retain: ptr.To[int32](2)}})
	ms := createSchedule(t, ns, "trim", policy, false)
	created := ms.CreationTimestamp.Time
	var names []string
	for i := range 4 {
		at := created.Add(time.Duration(i) * time.Hour)
		if i > 0 {
			step(t, ms, at.Add(time.Second))
		}
		name := childName(ms.Name, "interval", at)
		names = append(names, name)
		eventually(t, func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &volsyncv1alpha1.Migration{})
		})
		finish(t, ns, name, volsyncv1alpha1.RunStatusSuccessful, "")
		eventually(t, func() error {
			got, err := getSchedule(ms)
			if err != nil {
				return err
			}
			for _, it := range got.Status.Items[interval] {
				if it.Name == name && it.Status == volsyncv1alpha1.RunStatusSuccessful {
					return nil
				}
			}
			return fmt.Errorf("items.Interval = %v, want %s Successful", historyNames(got, interval), name)
		})
	}
	// retain 2: the two newest stay, in the history and in the cluster; the older are deleted.
	wantChildren(t, ns, names[2], names[3])
	successful := map[string]volsyncv1alpha1.RunStatus{}
	for _, n := range names {
		successful[n] = volsyncv1alpha1.RunStatusSuccessful
	}
	wantHistory(t, ms, interval, successful, names[2], names[3])
	wantEvent(t, ns, ms.Name, "MigrationDeleted", "Deleted migration "+names[0]+": the policy keeps the newest 2 Interval migrations")

	// Lowering retain in the policy trims at once, through the policy watch.
	var p volsyncv1alpha1.SchedulePolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: policy}, &p); err != nil {
		t.Fatal(err)
	}
	p.Policy.Interval.Retain = ptr.To[int32](1)
	if err := k8s.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	wantChildren(t, ns, names[3])
	wantHistory(t, ms, interval, successful, names[3])
}

func TestDeletingTheScheduleDeletesItsMigrations(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	startClock()
	policy := createPolicy(t, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}})
	ms := createSchedule(t, ns, "gone", policy, false)
	wantChildren(t, ns, childName(ms.Name, "interval", ms.CreationTimestamp.Time))
	// A Migration made by hand in the same namespace is not the schedule's and must stay.
	own := &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: ns}, Spec: ms.Spec.Template.Spec}
	if err := k8s.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, ms); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := getSchedule(ms); !apierrors.IsNotFound(err) {
			return fmt.Errorf("schedule still there (%v)", err)
		}
		return nil
	})
	wantChildren(t, ns, "by-hand")
}
