package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// successfulHistory is a schedule status with one successful migration whose data is age old.
func successfulHistory(name string, age time.Duration) volsyncv1alpha1.MigrationScheduleStatus {
	at := metav1.NewTime(time.Now().Add(-age).Truncate(time.Second))
	return volsyncv1alpha1.MigrationScheduleStatus{
		RecoveryPoint: &at,
		Items: map[volsyncv1alpha1.SchedulePolicyType][]volsyncv1alpha1.ScheduledRun{
			volsyncv1alpha1.SchedulePolicyTypeInterval: {{Name: name, Status: volsyncv1alpha1.RunStatusSuccessful, CreationTimestamp: at}},
		},
	}
}

// pairSecret is the Secret of the ClusterPair "dr" in ns: the destination's kubeconfig.
func pairSecret(ns string, kubeconfig []byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dr-kubeconfig", Namespace: ns},
		Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}}
}

func TestPerformFailover(t *testing.T) {
	cl := startTwoClusters(t)
	fastPolls(t)
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	migrationFixtures(t, src, "fo", "dr")
	createAll(t, src, pairSecret("fo", cl.destKubeconfig), drSchedule("fo", "app", []string{"fo-app"}, nil, false))
	copyNamespace(t, dst, "fo-app", "fo", "app", cl.sourceID, nil)
	createAll(t, dst, workload("Deployment", "fo-app", "web", 0, "2"))
	run := func(args ...string) result {
		return executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig, "-n", "fo", "perform", "failover", "-m", "app"}, args...)...)
	}

	t.Run("a schedule without a successful migration is refused and nothing changes", func(t *testing.T) {
		r := run()
		want := `error: migration schedule "app" has no successful migration yet: the destination holds no complete copy to fail over to: ` +
			`wait for one ('volsyncctl get migrationschedule app -n fo' shows LAST-SUCCESS-TIME), or run one with 'volsyncctl create migration ... --wait'` + "\n"
		if r.errLine != want || r.out != "" {
			t.Fatalf("error %q, out %q; want error %q", r.errLine, r.out, want)
		}
		if suspended(getSchedule(t, src, "fo", "app")) {
			t.Error("the refused failover suspended the schedule")
		}
		if _, ok := namespaceAnnotation(t, dst, "fo-app", volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
			t.Error("the refused failover activated the destination")
		}
	})

	setScheduleStatus(t, src, "fo", "app", successfulHistory("app-interval-1", time.Hour))
	ms := getSchedule(t, src, "fo", "app")
	running := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: "app-interval-2", Namespace: "fo", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: volsyncv1alpha1.GroupVersion.String(), Kind: "MigrationSchedule", Name: ms.Name, UID: ms.UID, Controller: ptr.To(true)}}},
		Spec: ms.Spec.Template.Spec,
	}
	createAll(t, src, running)
	setMigrationStatus(t, src, "fo", running.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusInProgress})

	t.Run("with the source up it suspends, waits for the running migration, runs a final one and activates", func(t *testing.T) {
		done := startCommand(t, "--kubeconfig", cl.kubeconfig, "-n", "fo", "perform", "failover", "-m", "app", "--final-migration")
		done.printed(t, "waiting for scheduled migration app-interval-2 (InProgress) to finish")
		if !suspended(getSchedule(t, src, "fo", "app")) {
			t.Error("the schedule was not suspended before the wait")
		}
		setMigrationStatus(t, src, "fo", running.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusSuccessful})
		final := awaitMigrationNamed(t, src, "fo", "app-final-")
		if final.Labels[volsyncv1alpha1.MigrationScheduleLabel] != "app" || final.Spec.ClusterPair != "dr" {
			t.Errorf("the final migration is not the schedule's run: labels %v, spec %+v", final.Labels, final.Spec)
		}
		if recorded := getSchedule(t, src, "fo", "app").Annotations[cli.FinalMigrationAnnotation]; recorded != final.Name {
			t.Errorf("the schedule records final migration %q, want %q", recorded, final.Name)
		}
		if _, ok := namespaceAnnotation(t, dst, "fo-app", volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
			t.Error("the destination was activated before the final migration succeeded")
		}
		start := metav1.NewTime(time.Now().Add(-time.Minute))
		setMigrationStatus(t, src, "fo", final.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusSuccessful, StartTimestamp: &start})
		r := done.finished(t)
		if r.errLine != "" || strings.Contains(r.stderr, "warning") {
			t.Fatalf("error %q\n%s\nstderr:\n%s", r.errLine, r.out, r.stderr)
		}
		wantLines(t, r.out,
			"migrationschedule/app suspended",
			`waiting for scheduled migration app-interval-2 \(InProgress\) to finish`,
			"migration/app-interval-2 finished: Successful",
			"migration/"+final.Name+` created \(final migration\)`,
			"migration/"+final.Name+" succeeded",
			"namespace/fo-app annotated volsync.backube/application-activated=.*",
			"deployment.apps/web scaled to 2 in namespace fo-app",
			"migrationschedule/app status.applicationActivated set to true in namespace fo",
			"event FailedOver recorded on migrationschedule/app",
			`recovery point: 1m\ds \(data of migration `+final.Name+`, taken at \S+\)`,
		)
		got := getSchedule(t, src, "fo", "app")
		if !suspended(got) || !got.Status.ApplicationActivated {
			t.Errorf("schedule suspend %v, applicationActivated %t; want both true", got.Spec.Suspend, got.Status.ApplicationActivated)
		}
		if _, ok := got.Annotations[cli.FinalMigrationAnnotation]; ok {
			t.Error("the record of the final migration was left on the schedule")
		}
		if got := replicasOf(t, dst, "fo-app", "web"); got != "2 kept:2" {
			t.Errorf("destination web %s, want 2 replicas", got)
		}
		if events := scheduleEvents(t, src, "fo", "app"); len(events) != 1 || !strings.HasPrefix(events[0], "Failover/FailedOver: activated namespace(s) fo-app") {
			t.Errorf("events %q, want one FailedOver", events)
		}
	})

	t.Run("running it again changes nothing and says so", func(t *testing.T) {
		r := run("--final-migration")
		if r.errLine != "" {
			t.Fatal(r.errLine)
		}
		wantLines(t, r.out,
			"migrationschedule/app already suspended",
			"the destination is activated already: no migration is waited for",
			"namespace/fo-app already activated at .*",
			"migrationschedule/app status.applicationActivated already true in namespace fo",
		)
		var list volsyncv1alpha1.MigrationList
		if err := src.List(ctx, &list, client.InNamespace("fo")); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 2 {
			t.Errorf("%d migrations, want the scheduled one and the final one: no new migration into an activated destination", len(list.Items))
		}
	})
}

func TestPerformFailoverWithTheSourceDown(t *testing.T) {
	cl := startTwoClusters(t)
	dst := cl.dest.Client
	copyNamespace(t, dst, "fod-app", "fod", "app", cl.sourceID, nil)
	copyNamespace(t, dst, "fod-db", "fod", "app", cl.sourceID, nil)
	copyNamespace(t, dst, "fod-other", "fod", "other", cl.sourceID, nil)
	createAll(t, dst, workload("Deployment", "fod-app", "web", 0, "2"), workload("StatefulSet", "fod-db", "db", 0, "1"))
	run := func(args ...string) result {
		return executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig, "--context", "down", "-n", "fod", "perform", "failover", "--source-timeout", "2s"}, args...)...)
	}
	notActivated := func(t *testing.T) {
		t.Helper()
		for _, ns := range []string{"fod-app", "fod-db", "fod-other"} {
			if _, ok := namespaceAnnotation(t, dst, ns, volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
				t.Errorf("namespace %s was activated by a refused failover", ns)
			}
		}
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"without --destination-context the destination cannot be found", []string{"-m", "app"},
			"to fail over with the destination alone, pass --destination-context NAME, the kubeconfig context of the destination cluster"},
		{"a final migration needs the source", []string{"-m", "app", "--destination-context", "dest", "--final-migration"},
			"rerun without --final-migration to fail over to the last migration that reached the destination"},
		{"a schedule with no copy on the destination is refused", []string{"-m", "nothing", "--destination-context", "dest"},
			`error: no copy of schedule "nothing" on the destination (context dest): no namespace there carries volsync.backube/migrated-by=fod/nothing: check -m, -n and --destination-context`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.args...)
			if !strings.Contains(r.errLine, tc.wantErr) {
				t.Errorf("error %q, want one with %q", r.errLine, tc.wantErr)
			}
			notActivated(t)
		})
	}

	t.Run("with --destination-context it activates the schedule's copies on the destination alone", func(t *testing.T) {
		r := run("-m", "app", "--destination-context", "dest")
		if r.errLine != "" {
			t.Fatal(r.errLine)
		}
		if !strings.HasPrefix(r.stderr, "the source cluster cannot be reached: context down (https://127.0.0.1:") ||
			!strings.Contains(r.stderr, "warning: migrationschedule fod/app was not told of the activation (the source cluster cannot be reached)") {
			t.Errorf("stderr does not say the source is down and the schedule was not told:\n%s", r.stderr)
		}
		wantLines(t, r.out,
			"namespace/fod-app annotated volsync.backube/application-activated=.*",
			"namespace/fod-db annotated volsync.backube/application-activated=.*",
			"deployment.apps/web scaled to 2 in namespace fod-app",
			"statefulset.apps/db scaled to 1 in namespace fod-db",
			`recovery point: unknown \(the source cluster cannot be reached.*`,
		)
		if _, ok := namespaceAnnotation(t, dst, "fod-other", volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
			t.Error("another schedule's copy was activated")
		}
	})
}

func TestPerformFailback(t *testing.T) {
	cl := startTwoClusters(t)
	fastPolls(t)
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	migrationFixtures(t, src, "fb", "dr")
	createAll(t, src, drSchedule("fb", "app", []string{"fb-app"}, map[string]volsyncv1alpha1.NamespaceName{"fb-app": "fb-app-dr"}, false))
	st := successfulHistory("app-interval-1", time.Hour)
	st.ApplicationActivated = true
	setScheduleStatus(t, src, "fb", "app", st)
	// The source as the disaster left it: the application still defined there.
	createAll(t, src, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fb-app"}},
		workload("Deployment", "fb-app", "web", 2, ""),
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "fb-app"},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr.To(false),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "backup", Image: "busybox"}}}}}}}})
	// The recovery site runs it.
	copyNamespace(t, dst, "fb-app-dr", "fb", "app", cl.sourceID, map[string]string{volsyncv1alpha1.ApplicationActivatedAnnotation: "2025-01-01T00:00:00Z"})
	createAll(t, dst, workload("Deployment", "fb-app-dr", "web", 2, "2"),
		&volsyncv1alpha1.ClusterPair{ObjectMeta: metav1.ObjectMeta{Name: "back", Namespace: "fb-app-dr"},
			Spec: volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: "back-kubeconfig"}}})
	args := func(extra ...string) []string {
		return append([]string{"--kubeconfig", cl.kubeconfig, "-n", "fb", "perform", "failback", "-m", "app", "--destination-context", "dest"}, extra...)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := replicasOf(t, dst, "fb-app-dr", "web"); got != "2 kept:2" {
			t.Errorf("destination web %s, want it running as before", got)
		}
		if got := replicasOf(t, src, "fb-app", "web"); got != "2 kept:-" {
			t.Errorf("source web %s, want it untouched", got)
		}
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a schedule that still runs is refused", args("--reverse-clusterpair", "back"),
			"error: schedule app still runs: suspend it first with 'volsyncctl suspend migrationschedule app', or run 'volsyncctl perform failover'"},
		{"no reverse cluster pair is refused", args(),
			"error: no reverse cluster pair given: pass --reverse-clusterpair NAME: a ClusterPair on the destination cluster that reaches the source cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := executeAll(t, tc.args...); r.errLine != tc.wantErr+"\n" || r.out != "" {
				t.Errorf("error %q, out %q; want error %q", r.errLine, r.out, tc.wantErr)
			}
			unchanged(t)
		})
	}

	if err := src.Patch(ctx, getSchedule(t, src, "fb", "app"), mergePatch(map[string]any{"spec": map[string]any{"suspend": true}})); err != nil {
		t.Fatal(err)
	}
	t.Run("a reverse cluster pair that is not on the destination is refused", func(t *testing.T) {
		r := executeAll(t, args("--reverse-clusterpair", "nope")...)
		if !strings.HasPrefix(r.errLine, `error: cluster pair "nope" not found in namespace "fb-app-dr" on the destination (context dest): create it there`) {
			t.Errorf("error %q", r.errLine)
		}
		unchanged(t)
	})

	var reverse *volsyncv1alpha1.Migration
	t.Run("an interrupted failback has stopped both sites and recorded its reverse migration", func(t *testing.T) {
		r := executeAll(t, args("--reverse-clusterpair", "back", "--timeout", "1s")...)
		if !strings.HasPrefix(r.errLine, `error: reverse migration "app-failback-`) || !strings.Contains(r.errLine, "rerun 'volsyncctl perform failback' to wait for it again") {
			t.Fatalf("error %q", r.errLine)
		}
		wantLines(t, r.out,
			"step 1/6: scale the applications on the destination \\(context dest\\) to 0",
			"deployment.apps/web scaled to 0 in namespace fb-app-dr",
			"deployment.apps/web scaled to 0 in namespace fb-app on the source \\(2 replicas kept in volsync.backube/migration-replicas\\)",
			"cronjob.batch/nightly suspend set to true in namespace fb-app on the source .*",
			"migration/app-failback-\\S+ created in namespace fb-app-dr on the destination \\(back to the source\\)",
		)
		if got := replicasOf(t, dst, "fb-app-dr", "web"); got != "0 kept:2" {
			t.Errorf("destination web %s, want 0", got)
		}
		if got := replicasOf(t, src, "fb-app", "web"); got != "0 kept:2" {
			t.Errorf("source web %s, want 0 with 2 kept", got)
		}
		reverse = awaitMigrationNamed(t, dst, "fb-app-dr", "app-failback-")
		want := volsyncv1alpha1.MigrationSpec{ClusterPair: "back", Namespaces: []string{"fb-app-dr"},
			NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{"fb-app-dr": "fb-app"}}
		if s := reverse.Spec; s.ClusterPair != want.ClusterPair || strings.Join(s.Namespaces, ",") != "fb-app-dr" ||
			s.NamespaceMapping["fb-app-dr"] != "fb-app" || *s.StartApplications || *s.IncludeVolumes {
			t.Errorf("reverse migration spec %+v, want %+v with startApplications and includeVolumes false", s, want)
		}
		if got := getSchedule(t, src, "fb", "app").Annotations[cli.FailbackMigrationAnnotation]; got != "fb-app-dr/"+reverse.Name {
			t.Errorf("the schedule records %q, want fb-app-dr/%s", got, reverse.Name)
		}
		if _, ok := namespaceAnnotation(t, dst, "fb-app-dr", volsyncv1alpha1.ApplicationActivatedAnnotation); !ok {
			t.Error("the destination lost its activation before the data was back")
		}
	})

	t.Run("running it again waits for the same reverse migration and finishes the failback", func(t *testing.T) {
		done := startCommand(t, args("--reverse-clusterpair", "back")...)
		testenv.Eventually(t, 15*time.Second, func() error {
			var m volsyncv1alpha1.Migration
			return dst.Get(ctx, client.ObjectKeyFromObject(reverse), &m)
		})
		setMigrationStatus(t, dst, "fb-app-dr", reverse.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusSuccessful})
		r := done.finished(t)
		if r.errLine != "" || strings.Contains(r.stderr, "warning") {
			t.Fatalf("error %q\n%s\nstderr:\n%s", r.errLine, r.out, r.stderr)
		}
		wantLines(t, r.out,
			"carrying on with the failback of reverse migration fb-app-dr/"+reverse.Name,
			"waiting for reverse migration "+reverse.Name+" in namespace fb-app-dr on the destination",
			"migration/"+reverse.Name+" succeeded",
			"namespace/fb-app-dr annotation volsync.backube/application-activated removed",
			"migrationschedule/app status.applicationActivated set to false in namespace fb",
			"deployment.apps/web scaled to 2 in namespace fb-app",
			"cronjob.batch/nightly suspend set to false in namespace fb-app",
			"migrationschedule/app resumed",
			"event FailedBack recorded on migrationschedule/app",
		)
		var list volsyncv1alpha1.MigrationList
		if err := dst.List(ctx, &list, client.InNamespace("fb-app-dr")); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 {
			t.Errorf("%d reverse migrations, want the one the first run started", len(list.Items))
		}
		got := getSchedule(t, src, "fb", "app")
		if suspended(got) || got.Status.ApplicationActivated {
			t.Errorf("schedule suspend %v, applicationActivated %t; want it running and not activated", got.Spec.Suspend, got.Status.ApplicationActivated)
		}
		if _, ok := got.Annotations[cli.FailbackMigrationAnnotation]; ok {
			t.Error("the record of the reverse migration was left on the schedule")
		}
		if got := replicasOf(t, src, "fb-app", "web"); got != "2 kept:2" {
			t.Errorf("source web %s, want 2 replicas", got)
		}
		var cj batchv1.CronJob
		if err := src.Get(ctx, client.ObjectKey{Namespace: "fb-app", Name: "nightly"}, &cj); err != nil || *cj.Spec.Suspend {
			t.Errorf("source CronJob suspend %v (%v), want false", cj.Spec.Suspend, err)
		}
		if events := scheduleEvents(t, src, "fb", "app"); len(events) != 1 || !strings.HasPrefix(events[0], "Failback/FailedBack: ") {
			t.Errorf("events %q, want one FailedBack", events)
		}
	})

	t.Run("a failback that is done has nothing to do", func(t *testing.T) {
		r := executeAll(t, args("--reverse-clusterpair", "back")...)
		if r.errLine != "" || r.out != "nothing to fail back: migrationschedule/app runs and no destination namespace is activated\n" {
			t.Errorf("error %q, out %q", r.errLine, r.out)
		}
	})
}

func TestPerformDrill(t *testing.T) {
	cl := startTwoClusters(t)
	fastPolls(t)
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	migrationFixtures(t, src, "drl", "dr")
	createAll(t, src, drSchedule("drl", "app", []string{"drl-app"}, nil, false))
	setScheduleStatus(t, src, "drl", "app", successfulHistory("app-interval-1", 2*time.Hour))
	// The real DR copy, which a drill must never touch.
	copyNamespace(t, dst, "drl-app", "drl", "app", cl.sourceID, nil)
	createAll(t, dst, workload("Deployment", "drl-app", "web", 0, "2"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drl-app-taken"}})
	args := func(extra ...string) []string {
		return append([]string{"--kubeconfig", cl.kubeconfig, "-n", "drl", "perform", "drill", "-m", "app", "--destination-context", "dest", "--cleanup-timeout", "0"}, extra...)
	}
	realCopyUntouched := func(t *testing.T) {
		t.Helper()
		if got := replicasOf(t, dst, "drl-app", "web"); got != "0 kept:2" {
			t.Errorf("the real DR copy's web is %s, want it untouched", got)
		}
		if _, ok := namespaceAnnotation(t, dst, "drl-app", volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
			t.Error("the drill activated the real DR copy")
		}
	}
	noMigrations := func(t *testing.T) {
		t.Helper()
		var list volsyncv1alpha1.MigrationList
		if err := src.List(ctx, &list, client.InNamespace("drl")); err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Items {
			if m.DeletionTimestamp == nil {
				t.Errorf("migration %s is left", m.Name)
			}
		}
	}
	deleted := func(t *testing.T, ns string) {
		t.Helper()
		var got corev1.Namespace
		if err := dst.Get(ctx, client.ObjectKey{Name: ns}, &got); !apierrors.IsNotFound(err) && got.DeletionTimestamp == nil {
			t.Errorf("scratch namespace %s is not being deleted (%v)", ns, err)
		}
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a drill into a namespace that exists is refused", args("--drill-suffix", "-taken"),
			`error: namespace "drl-app-taken" already exists on the destination (context dest): a drill copies only into namespaces it creates: pass another --drill-suffix`},
		{"a suffix that makes no namespace name is refused", args("--drill-suffix", "_X"),
			`error: drill namespace "drl-app_X" (namespace drl-app with suffix "_X") is not a valid namespace name`},
		{"an empty suffix is refused", args("--drill-suffix", ""),
			"error: --drill-suffix is empty: the drill would write into the destination namespaces themselves: pass a suffix such as --drill-suffix -drill"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := executeAll(t, tc.args...)
			if !strings.HasPrefix(r.errLine, tc.wantErr) || r.out != "" {
				t.Errorf("error %q, out %q; want error %q", r.errLine, r.out, tc.wantErr)
			}
			noMigrations(t)
			realCopyUntouched(t)
		})
	}

	t.Run("a drill copies, activates and times the scratch copy, then deletes it", func(t *testing.T) {
		done := startCommand(t, args()...)
		m := awaitMigrationNamed(t, src, "drl", "app-drill-")
		if m.Spec.NamespaceMapping["drl-app"] != "drl-app-drill" || *m.Spec.StartApplications || m.Annotations[volsyncv1alpha1.DrillAnnotation] != "true" {
			t.Errorf("drill migration %v %+v, want drl-app mapped to drl-app-drill, startApplications false", m.Annotations, m.Spec)
		}
		if got, _ := namespaceAnnotation(t, dst, "drl-app-drill", volsyncv1alpha1.DrillAnnotation); got != m.Name {
			t.Errorf("scratch namespace annotated drill=%q, want %q", got, m.Name)
		}
		// Play the Migration controller: the copy lands, stopped, in the scratch namespace.
		createAll(t, dst, workload("Deployment", "drl-app-drill", "web", 0, "2"))
		start := metav1.NewTime(time.Now().Add(-time.Minute))
		end := metav1.NewTime(start.Add(40 * time.Second))
		setMigrationStatus(t, src, "drl", m.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusSuccessful, StartTimestamp: &start, FinishTimestamp: &end})
		// Play the Deployment controller once it is scaled up.
		var web appsv1.Deployment
		testenv.Eventually(t, 15*time.Second, func() error {
			if err := dst.Get(ctx, client.ObjectKey{Namespace: "drl-app-drill", Name: "web"}, &web); err != nil {
				return err
			}
			if *web.Spec.Replicas != 2 {
				return fmt.Errorf("web has %d replicas", *web.Spec.Replicas)
			}
			return nil
		})
		web.Status = appsv1.DeploymentStatus{ObservedGeneration: web.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
		if err := dst.Status().Update(ctx, &web); err != nil {
			t.Fatal(err)
		}
		r := done.finished(t)
		if r.errLine != "" || strings.Contains(r.stderr, "warning") {
			t.Fatalf("error %q\n%s\nstderr:\n%s", r.errLine, r.out, r.stderr)
		}
		wantLines(t, r.out,
			"namespace/drl-app-drill created on the destination \\(context dest\\) for the drill",
			"migration/"+m.Name+" created \\(drill copy into drl-app-drill\\)",
			"namespace/drl-app-drill annotated volsync.backube/application-activated=.*",
			"deployment.apps/web scaled to 2 in namespace drl-app-drill",
			`recovery point: 2h0m\ds \(data of migration app-interval-1, taken at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)`,
			`recovery time: \S+ \(activation until every Deployment and StatefulSet was ready\)`,
			`drill copy: 40s \(migration `+m.Name+`\)`,
			"migration/"+m.Name+" deleted",
			"namespace/drl-app-drill deleted on the destination \\(context dest\\)",
			"event DrillSucceeded recorded on migrationschedule/app",
		)
		noMigrations(t)
		deleted(t, "drl-app-drill")
		realCopyUntouched(t)
		if events := scheduleEvents(t, src, "drl", "app"); len(events) != 1 || !strings.HasPrefix(events[0], "Drill/DrillSucceeded: ") || !strings.Contains(events[0], "recovery time: ") {
			t.Errorf("events %q, want one DrillSucceeded with the figures", events)
		}
		if suspended(getSchedule(t, src, "drl", "app")) {
			t.Error("the drill suspended the schedule")
		}
	})

	t.Run("a drill whose scratch namespace is still being deleted is refused", func(t *testing.T) {
		r := executeAll(t, args()...)
		if !strings.HasPrefix(r.errLine, `error: namespace "drl-app-drill" of drill app-drill-`) || !strings.Contains(r.errLine, "is still being deleted") || r.out != "" {
			t.Errorf("error %q, out %q", r.errLine, r.out)
		}
		noMigrations(t)
	})

	t.Run("a drill whose copy fails cleans up and says why", func(t *testing.T) {
		done := startCommand(t, args("--drill-suffix", "-drill2")...)
		var m *volsyncv1alpha1.Migration
		testenv.Eventually(t, 15*time.Second, func() error {
			m = awaitMigrationNamed(t, src, "drl", "app-drill-")
			if m.Spec.NamespaceMapping["drl-app"] != "drl-app-drill2" {
				return fmt.Errorf("migration %s is an earlier drill's", m.Name)
			}
			return nil
		})
		setMigrationStatus(t, src, "drl", m.Name, volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusFailed,
			Conditions: []metav1.Condition{{Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse, Reason: "Unreachable",
				Message: "cluster pair dr is unreachable", LastTransitionTime: metav1.Now()}}})
		r := done.finished(t)
		want := `error: drill migration "` + m.Name + `" failed: cluster pair dr is unreachable: a failover now would miss the same; the drill cleaned up` + "\n"
		if r.errLine != want {
			t.Errorf("error %q, want %q", r.errLine, want)
		}
		noMigrations(t)
		deleted(t, "drl-app-drill2")
		realCopyUntouched(t)
		if events := scheduleEvents(t, src, "drl", "app"); len(events) != 2 || !containsPrefix(events, "Drill/DrillFailed: drill "+m.Name+" failed: ") {
			t.Errorf("events %q, want a DrillFailed after the DrillSucceeded", events)
		}
	})
}

func containsPrefix(items []string, prefix string) bool {
	for _, s := range items {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestPerformRefusesBadInput(t *testing.T) {
	cl := startTwoClusters(t)
	migrationFixtures(t, cl.source.Client, "perform-bad")
	run := func(args ...string) result {
		return executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig, "-n", "perform-bad", "perform"}, args...)...)
	}
	unknown := `error: migration schedule "nope" not found in namespace "perform-bad": list them with 'volsyncctl get migrationschedule -n perform-bad'`
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"failover of an unknown schedule names it", []string{"failover", "-m", "nope"}, unknown},
		{"failback of an unknown schedule names it", []string{"failback", "-m", "nope", "--reverse-clusterpair", "back"}, unknown},
		{"a drill of an unknown schedule names it", []string{"drill", "-m", "nope"}, unknown},
		{"no schedule says how to list them", []string{"failover"},
			"error: no migration schedule given: pass -m NAME; list them with 'volsyncctl get migrationschedule'"},
		{"a drill that needs the source refuses a source that is down", []string{"--context", "down", "drill", "-m", "app"},
			"error: perform drill needs the source cluster, which cannot be reached: context down (https://127.0.0.1:"},
		{"a failback that needs the source refuses a source that is down", []string{"--context", "down", "failback", "-m", "app", "--reverse-clusterpair", "back"},
			"error: perform failback needs the source cluster, which cannot be reached: context down (https://127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.args...)
			if !strings.HasPrefix(r.errLine, tc.wantErr) || r.out != "" {
				t.Errorf("error %q, out %q; want error %q", r.errLine, r.out, tc.wantErr)
			}
		})
	}
}
