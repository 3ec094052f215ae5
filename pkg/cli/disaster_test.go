package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestRunName(t *testing.T) {
	at := time.Date(2025, 3, 9, 14, 5, 7, 0, time.FixedZone("CET", 3600))
	long := strings.Repeat("a", 250)
	for _, tc := range []struct {
		name, schedule, purpose, want string
	}{
		{"the name is the schedule, the purpose and the UTC time", "mysql", "final", "mysql-final-20250309-130507"},
		{"a long schedule name is cut to fit an object name", long, "drill", strings.Repeat("a", 253-len("-drill-20250309-130507")) + "-drill-20250309-130507"},
		{"a cut that ends on a dash drops it", strings.Repeat("a", 227) + "-" + long, "failback",
			strings.Repeat("a", 227) + "-failback-20250309-130507"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RunName(tc.schedule, tc.purpose, at)
			if got != tc.want {
				t.Errorf("RunName = %q, want %q", got, tc.want)
			}
			if len(got) > 253 {
				t.Errorf("%d characters, more than an object name may have", len(got))
			}
		})
	}
}

func TestDestinationAndScratchNamespaces(t *testing.T) {
	spec := volsyncv1alpha1.MigrationSpec{Namespaces: []string{"app", "db"},
		NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{"db": "db-dr"}}
	if got := strings.Join(DestinationNamespaces(spec), ","); got != "app,db-dr" {
		t.Errorf("DestinationNamespaces = %s, want app,db-dr (a namespace without mapping keeps its name)", got)
	}
	for _, tc := range []struct {
		name    string
		dest    []string
		suffix  string
		want    string
		wantErr string
	}{
		{"each namespace gets the suffix", []string{"app", "db-dr"}, "-drill", "app-drill,db-dr-drill", ""},
		{"a name longer than a namespace name may be is refused", []string{strings.Repeat("n", 60)}, "-drill", "",
			"is not a valid namespace name"},
		{"a suffix with characters a namespace may not have is refused", []string{"app"}, "_Drill", "", "pass a shorter --drill-suffix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScratchNamespaces(tc.dest, tc.suffix)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tc.want {
				t.Fatalf("ScratchNamespaces = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestRecoveryPoint(t *testing.T) {
	now := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	point := at(90 * time.Minute)
	for _, tc := range []struct {
		name        string
		status      volsyncv1alpha1.MigrationScheduleStatus
		wantSuccess bool
		wantLine    string
	}{
		{"a schedule that never succeeded has no recovery point", volsyncv1alpha1.MigrationScheduleStatus{
			Items: map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{
				volsyncv1alpha1.SchedulePolicyTypeInterval: {{Name: "s-1", Status: volsyncv1alpha1.RunStatusFailed, CreationTimestamp: at(time.Hour)}}}},
			false, "recovery point: none yet (the schedule has no successful migration)"},
		{"the recovery point is status.recoveryPoint with the newest successful migration of any type", volsyncv1alpha1.MigrationScheduleStatus{
			RecoveryPoint: &point,
			Items: map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{
				volsyncv1alpha1.SchedulePolicyTypeInterval: {
					{Name: "s-old", Status: volsyncv1alpha1.RunStatusSuccessful, CreationTimestamp: at(3 * time.Hour)},
					{Name: "s-failed", Status: volsyncv1alpha1.RunStatusFailed, CreationTimestamp: at(time.Minute)}},
				volsyncv1alpha1.SchedulePolicyTypeDaily: {{Name: "s-daily", Status: volsyncv1alpha1.RunStatusSuccessful, CreationTimestamp: at(90 * time.Minute)}}}},
			true, "recovery point: 1h30m0s (data of migration s-daily, taken at 2025-03-09T10:30:00Z)"},
		{"without status.recoveryPoint the migration's creation stands in", volsyncv1alpha1.MigrationScheduleStatus{
			Items: map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{
				volsyncv1alpha1.SchedulePolicyTypeInterval: {{Name: "s-1", Status: volsyncv1alpha1.RunStatusSuccessful, CreationTimestamp: at(2 * time.Minute)}}}},
			true, "recovery point: 2m0s (data of migration s-1, taken at 2025-03-09T11:58:00Z)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := &volsyncv1alpha1.MigrationSchedule{Status: tc.status}
			if got := HasSuccessfulMigration(ms); got != tc.wantSuccess {
				t.Errorf("HasSuccessfulMigration = %t, want %t", got, tc.wantSuccess)
			}
			name, takenAt := NewestSuccess(ms)
			if got := RecoveryPointLine(name, takenAt, now); got != tc.wantLine {
				t.Errorf("line %q, want %q", got, tc.wantLine)
			}
		})
	}
}

func TestFeedingSchedule(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"a namespace a schedule wrote names it", map[string]string{
			"volsync.backube/migrated-by": "prod/mysql", volsyncv1alpha1.MigratedByKindAnnotation: "MigrationSchedule"}, "prod/mysql"},
		{"a namespace a single Migration wrote names no schedule", map[string]string{
			"volsync.backube/migrated-by": "prod/once", volsyncv1alpha1.MigratedByKindAnnotation: "Migration"}, ""},
		{"a malformed migrated-by names no schedule", map[string]string{
			"volsync.backube/migrated-by": "mysql", volsyncv1alpha1.MigratedByKindAnnotation: "MigrationSchedule"}, ""},
		{"a namespace nobody migrated names no schedule", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, name, ok := FeedingSchedule(tc.annotations)
			got := ""
			if ok {
				got = ns + "/" + name
			}
			if got != tc.want {
				t.Errorf("FeedingSchedule = %q, want %q", got, tc.want)
			}
			n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}}
			if IsCopyOf(n, "prod", "mysql") != (tc.want == "prod/mysql") {
				t.Errorf("IsCopyOf disagrees with FeedingSchedule")
			}
		})
	}
}

func TestWorkloadReady(t *testing.T) {
	deployment := func(replicas *int32, generation, observed int64, ready int32) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: generation},
			Spec:   appsv1.DeploymentSpec{Replicas: replicas},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, ReadyReplicas: ready}}
	}
	for _, tc := range []struct {
		name        string
		obj         any
		wantReady   bool
		wantWaiting string
	}{
		{"every replica ready at the current generation is ready", deployment(ptr.To[int32](3), 2, 2, 3), true, ""},
		{"a generation the controller has not seen is not ready", deployment(ptr.To[int32](3), 3, 2, 3), false,
			"deployment.apps/web: its controller has not seen generation 3 yet"},
		{"missing replicas are not ready", deployment(ptr.To[int32](3), 2, 2, 1), false, "deployment.apps/web: 1 of 3 replicas ready"},
		{"unset replicas mean one", deployment(nil, 1, 1, 1), true, ""},
		{"a StatefulSet is judged the same way", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 1},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 0}},
			false, "statefulset.apps/db: 0 of 2 replicas ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, waiting := WorkloadReady(tc.obj)
			if ready != tc.wantReady || waiting != tc.wantWaiting {
				t.Errorf("WorkloadReady = %t, %q; want %t, %q", ready, waiting, tc.wantReady, tc.wantWaiting)
			}
		})
	}
}

func TestIsUnreachable(t *testing.T) {
	gr := schema.GroupResource{Group: "volsync.backube", Resource: "migrationschedules"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a refused connection is unreachable", &url.Error{Op: "Get", URL: "https://prod", Err: syscall.ECONNREFUSED}, true},
		{"no answer in time is unreachable", fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{"an API server that says it is unavailable is unreachable", apierrors.NewServiceUnavailable("etcd is down"), true},
		{"a missing schedule is the user's to fix", apierrors.NewNotFound(gr, "mysql"), false},
		{"refused credentials are the user's to fix", apierrors.NewUnauthorized("expired"), false},
		{"a forbidden request is the user's to fix", apierrors.NewForbidden(gr, "mysql", errors.New("no RBAC")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsUnreachable(tc.err); got != tc.want {
				t.Errorf("IsUnreachable(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}

func TestScheduleEventIsAValidRecord(t *testing.T) {
	ms := &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Name: "mysql", Namespace: "prod", UID: "u-1"}}
	ev := ScheduleEvent(ms, corev1.EventTypeNormal, ActionDrill, ReasonDrillSucceeded, strings.Repeat("x", 2000), time.Now())
	if ev.Namespace != "prod" || ev.Regarding.Name != "mysql" || ev.Regarding.Kind != "MigrationSchedule" || ev.Regarding.UID != "u-1" {
		t.Errorf("the event is not about the schedule: %+v", ev.Regarding)
	}
	if ev.ReportingController != "volsyncctl" || ev.ReportingInstance == "" || ev.EventTime.IsZero() {
		t.Errorf("the API server refuses an event without reporter and time: %+v", ev)
	}
	if len(ev.Note) > eventNoteLimit {
		t.Errorf("note of %d characters, the API server takes at most %d", len(ev.Note), eventNoteLimit)
	}
}

func TestDestinationRecoveryPoint(t *testing.T) {
	ns := func(name, at, migration string) *corev1.Namespace {
		a := map[string]string{}
		if at != "" {
			a[volsyncv1alpha1.RecoveryPointAnnotation] = at
			a[volsyncv1alpha1.RecoveryPointMigrationAnnotation] = migration
		}
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: a}}
	}
	for _, tc := range []struct {
		name          string
		namespaces    []*corev1.Namespace
		wantMigration string
		wantAt        string
	}{
		{"one namespace gives its own", []*corev1.Namespace{ns("a", "2026-12-02T06:00:00Z", "ops/s-1")}, "ops/s-1", "2026-12-02T06:00:00Z"},
		{"several give the oldest", []*corev1.Namespace{ns("a", "2026-12-02T06:00:00Z", "ops/s-2"), ns("b", "2026-12-02T05:00:00Z", "ops/s-1")}, "ops/s-1", "2026-12-02T05:00:00Z"},
		{"one without a record makes it unknown", []*corev1.Namespace{ns("a", "2026-12-02T06:00:00Z", "ops/s-2"), ns("b", "", "")}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, at := DestinationRecoveryPoint(tc.namespaces)
			got := ""
			if at != nil {
				got = at.UTC().Format(time.RFC3339)
			}
			if m != tc.wantMigration || got != tc.wantAt {
				t.Errorf("got %q at %q, want %q at %q", m, got, tc.wantMigration, tc.wantAt)
			}
		})
	}
}
