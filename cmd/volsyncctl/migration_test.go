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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// setMigrationStatus plays the Migration controller, which does not run in this package's tests.
func setMigrationStatus(t *testing.T, c client.Client, ns, name string, st volsyncv1alpha1.MigrationStatus) {
	t.Helper()
	var m volsyncv1alpha1.Migration
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		t.Fatal(err)
	}
	m.Status = st
	if err := c.Status().Update(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
}

func TestGetAndCreateMigration(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	const ns = "migration-cli"
	migrationFixtures(t, env.Client, ns, "remotecluster")
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	}

	out, errLine := run("get", "migration")
	if errLine != "" || out != "No migrations found in namespace migration-cli.\n" {
		t.Fatalf("get with none: out %q, error %q", out, errLine)
	}
	out, errLine = run("create", "migration", "once", "-c", "remotecluster", "--namespaces", "app,app-db")
	if errLine != "" || out != "migration/once created\n" {
		t.Fatalf("create: out %q, error %q", out, errLine)
	}
	var m volsyncv1alpha1.Migration
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "once"}, &m); err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Spec.Namespaces, ",") != "app,app-db" || !*m.Spec.IncludeResources || !*m.Spec.IncludeVolumes || *m.Spec.StartApplications {
		t.Fatalf("created migration spec is %+v", m.Spec)
	}
	start := metav1.NewTime(m.CreationTimestamp.Add(5 * time.Second))
	end := metav1.NewTime(start.Add(90 * time.Second))
	setMigrationStatus(t, env.Client, ns, "once", volsyncv1alpha1.MigrationStatus{
		Stage: volsyncv1alpha1.MigrationStageFinal, Status: volsyncv1alpha1.RunStatusSuccessful,
		StartTimestamp: &start, FinishTimestamp: &end,
		Summary: &volsyncv1alpha1.MigrationSummary{TotalNumberOfResources: 7, NumberOfMigratedResources: 7, Resources: "7/7", TotalBytesMigrated: 4096},
	})
	out, errLine = run("get", "migration")
	if errLine != "" {
		t.Fatal(errLine)
	}
	want := [][]string{
		{"NAME", "CLUSTERPAIR", "STAGE", "STATUS", "VOLUMES", "RESOURCES", "CREATED", "ELAPSED", "TOTAL", "BYTES", "TRANSFERRED"},
		{"once", "remotecluster", "Final", "Successful", "0/0", "7/7", m.CreationTimestamp.UTC().Format(time.RFC3339), "1m30s", "4096"},
	}
	if got := rows(out); !equalRows(got, want) {
		t.Fatalf("get migration printed\n%s\nwant rows %q", out, want)
	}

	for _, tc := range []struct {
		name    string
		name2   string
		status  volsyncv1alpha1.MigrationStatus
		wantErr string
	}{
		{"--wait returns once the migration succeeds", "waits-ok",
			volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusSuccessful, Stage: volsyncv1alpha1.MigrationStageFinal}, ""},
		{"--wait exits non-zero with the reason when the migration fails", "waits-failed",
			volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusFailed, Stage: volsyncv1alpha1.MigrationStageApplications,
				Conditions: []metav1.Condition{{Type: volsyncv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse, Reason: "Unreachable",
					Message: "cluster pair remotecluster is unreachable", LastTransitionTime: metav1.Now()}}},
			`error: migration "waits-failed" failed: cluster pair remotecluster is unreachable: see 'volsyncctl get migration waits-failed -o yaml' for each object's outcome`},
		{"--wait exits non-zero when some objects were not migrated", "waits-partial",
			volsyncv1alpha1.MigrationStatus{Status: volsyncv1alpha1.RunStatusPartialSuccess, Stage: volsyncv1alpha1.MigrationStageFinal,
				Resources: []volsyncv1alpha1.MigrationResourceInfo{{Version: "v1", Kind: "Secret", Namespace: "app", Name: "tls",
					Status: volsyncv1alpha1.RunStatusFailed, Reason: "forbidden"}}},
			`error: migration "waits-partial" finished with some objects not migrated: Secret app/tls: forbidden: see 'volsyncctl get migration waits-partial -o yaml' for each object's outcome`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(d time.Duration) { migrationPollInterval = d }(migrationPollInterval)
			migrationPollInterval = 50 * time.Millisecond
			type result struct{ out, errLine string }
			done := make(chan result, 1)
			go func() {
				out, errLine := run("create", "migration", tc.name2, "-c", "remotecluster", "--namespaces", "app", "--wait", "--timeout", "30s")
				done <- result{out, errLine}
			}()
			deadline := time.Now().Add(20 * time.Second)
			for env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.name2}, &volsyncv1alpha1.Migration{}) != nil {
				if time.Now().After(deadline) {
					t.Fatal("the migration was not created")
				}
				time.Sleep(50 * time.Millisecond)
			}
			setMigrationStatus(t, env.Client, ns, tc.name2, tc.status)
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("--wait did not return after the migration finished")
			}
			if tc.wantErr == "" && r.errLine != "" || tc.wantErr != "" && r.errLine != tc.wantErr+"\n" {
				t.Errorf("error line %q, want %q", r.errLine, tc.wantErr)
			}
			if r.out != "migration/"+tc.name2+" created\n" {
				t.Errorf("out %q", r.out)
			}
		})
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a missing cluster pair is refused with the fix", []string{"create", "migration", "x", "-c", "nope", "--namespaces", "a"},
			`error: cluster pair "nope" not found in namespace "migration-cli": create it with 'volsyncctl generate clusterpair nope --context DESTINATION | kubectl apply -f -' or pass another -c`},
		{"no cluster pair is refused", []string{"create", "migration", "x", "--namespaces", "a"},
			"error: no cluster pair given: pass -c CLUSTERPAIR; list them with 'kubectl get clusterpairs'"},
		{"an existing name is refused", []string{"create", "migration", "once", "-c", "remotecluster", "--namespaces", "a"},
			`error: migration "once" already exists in namespace "migration-cli": delete it first or pick another name`},
		{"a missing migration says how to list them", []string{"get", "migration", "nope"},
			`error: migration "nope" not found: list them with 'volsyncctl get migration -n migration-cli'`},
		{"a mapping of a namespace not migrated is refused before anything is created",
			[]string{"create", "migration", "x", "-c", "remotecluster", "--namespaces", "a", "--namespace-mapping", "b=b-dr"},
			`error: --namespace-mapping: namespace "b" is mapped but not migrated; map only namespaces the migration migrates: fix --namespace-mapping or --namespaces`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, errLine := run(tc.args...); errLine != tc.wantErr+"\n" {
				t.Errorf("error line %q, want %q", errLine, tc.wantErr)
			}
		})
	}

	out, errLine = run("create", "migration", "renamed", "-c", "remotecluster", "--namespaces", "app,web",
		"--namespace-mapping", "app=app-dr", "--namespace-mapping", "web=web-dr")
	if errLine != "" || out != "migration/renamed created\n" {
		t.Fatalf("create with --namespace-mapping: out %q, error %q", out, errLine)
	}
	var renamed volsyncv1alpha1.Migration
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "renamed"}, &renamed); err != nil {
		t.Fatal(err)
	}
	if m := renamed.Spec.NamespaceMapping; len(m) != 2 || m["app"] != "app-dr" || m["web"] != "web-dr" {
		t.Errorf("created migration has namespaceMapping %v", m)
	}
}

// workload is a Deployment or StatefulSet as a migration with startApplications=false leaves it
// on the destination: scaled to 0, with the source's count in the annotation (when annotated).
func workload(kind, ns, name string, replicas int32, annotation string) client.Object {
	labels := map[string]string{"app": name}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	if annotation != "" {
		meta.Annotations = map[string]string{volsyncv1alpha1.MigrationReplicasAnnotation: annotation}
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}
	if kind == "StatefulSet" {
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
	}
	return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
}

func TestActivateAndDeactivateMigration(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	for _, ns := range []string{"dest-app", "dest-db", "dest-empty", "dest-bad"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	objects := []client.Object{
		workload("Deployment", "dest-app", "web", 0, "3"),
		workload("Deployment", "dest-app", "sidecar-free", 1, ""), // not migrated: left alone
		workload("StatefulSet", "dest-db", "db", 0, "2"),
		workload("Deployment", "dest-empty", "plain", 1, ""),
		workload("Deployment", "dest-bad", "broken", 0, "many"),
		// Running on the source, so suspended here until it is activated.
		&batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "dest-db",
				Annotations: map[string]string{volsyncv1alpha1.MigrationSuspendAnnotation: "false"}},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr.To(true),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "backup", Image: "busybox"}},
				}}}}},
		},
	}
	for _, o := range objects {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func() string {
		var parts []string
		for _, o := range objects {
			obj := o.DeepCopyObject().(client.Object)
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), obj); err != nil {
				t.Fatal(err)
			}
			var n int32
			switch w := obj.(type) {
			case *appsv1.Deployment:
				n = *w.Spec.Replicas
			case *appsv1.StatefulSet:
				n = *w.Spec.Replicas
			case *batchv1.CronJob:
				parts = append(parts, fmt.Sprintf("%s=suspend:%t", o.GetName(), *w.Spec.Suspend))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s=%d", o.GetName(), n))
		}
		return strings.Join(parts, " ")
	}
	run := func(args ...string) (string, string) {
		return execute(t, false, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}
	activated := func() string {
		var names []string
		for _, ns := range []string{"dest-app", "dest-db", "dest-empty", "dest-bad"} {
			if _, ok := namespaceAnnotation(t, env.Client, ns, volsyncv1alpha1.ApplicationActivatedAnnotation); ok {
				names = append(names, ns)
			}
		}
		return strings.Join(names, " ")
	}

	for _, tc := range []struct {
		name         string
		args         []string
		wantOut      string
		wantErr      string
		wantReplicas string
		wantActive   string
	}{
		{"activate records the activation first, then restores the source's counts from the annotation",
			[]string{"activate", "migration", "--namespaces", "dest-app,dest-db"},
			"namespace/dest-app annotated volsync.backube/application-activated=T\nnamespace/dest-db annotated volsync.backube/application-activated=T\n" +
				"deployment.apps/web scaled to 3 in namespace dest-app\nstatefulset.apps/db scaled to 2 in namespace dest-db\ncronjob.batch/nightly suspend set to false in namespace dest-db\n", "",
			"web=3 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-app dest-db"},
		{"deactivate scales them to 0, leaves the rest alone, then removes the activation",
			[]string{"deactivate", "migrations", "--namespaces", "dest-app,dest-db"},
			"deployment.apps/web scaled to 0 in namespace dest-app\nstatefulset.apps/db scaled to 0 in namespace dest-db\ncronjob.batch/nightly suspend set to true in namespace dest-db\n" +
				"namespace/dest-app annotation volsync.backube/application-activated removed\nnamespace/dest-db annotation volsync.backube/application-activated removed\n", "",
			"web=0 sidecar-free=1 db=0 plain=1 broken=0 nightly=suspend:true", ""},
		{"the namespace defaults to -n", []string{"-n", "dest-db", "activate", "migration"},
			"namespace/dest-db annotated volsync.backube/application-activated=T\nstatefulset.apps/db scaled to 2 in namespace dest-db\ncronjob.batch/nightly suspend set to false in namespace dest-db\n", "",
			"web=0 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-db"},
		{"activating twice keeps the first activation and says so",
			[]string{"-n", "dest-db", "activate", "migration"},
			"namespace/dest-db already activated at T\nstatefulset.apps/db scaled to 2 in namespace dest-db\ncronjob.batch/nightly suspend set to false in namespace dest-db\n", "",
			"web=0 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-db"},
		{"a namespace without migrated applications is an error that says where to run it, and is not marked",
			[]string{"activate", "migration", "--namespaces", "dest-empty"}, "",
			"error: no workload in namespace(s) dest-empty was migrated with startApplications=false: no Deployment, StatefulSet, ReplicaSet, CronJob or Job carries the volsync.backube/migration-replicas or volsync.backube/migration-suspend annotation, and no DaemonSet is a copy: run this against the destination cluster (--context) after a migration with startApplications=false",
			"web=0 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-db"},
		{"an annotation that is not a count names the object, and nothing is changed",
			[]string{"activate", "migration", "--namespaces", "dest-app,dest-bad"}, "",
			`error: deployment.apps dest-bad/broken: annotation volsync.backube/migration-replicas="many" is not a replica count: set it to the replica count the application should run with`,
			"web=0 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-db"},
		{"a namespace that is not there is named",
			[]string{"activate", "migration", "--namespaces", "dest-nowhere"}, "",
			`error: namespace "dest-nowhere" not found on the current context: name the namespaces as they are on the destination cluster, and point --context at it`,
			"web=0 sidecar-free=1 db=2 plain=1 broken=0 nightly=suspend:false", "dest-db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errLine := run(tc.args...)
			if tc.wantErr == "" && errLine != "" || tc.wantErr != "" && errLine != tc.wantErr+"\n" {
				t.Errorf("error line %q, want %q", errLine, tc.wantErr)
			}
			if withoutTimes(out) != tc.wantOut {
				t.Errorf("out %q, want %q", out, tc.wantOut)
			}
			if got := replicas(); got != tc.wantReplicas {
				t.Errorf("replicas %s, want %s", got, tc.wantReplicas)
			}
			if got := activated(); got != tc.wantActive {
				t.Errorf("activated namespaces %q, want %q", got, tc.wantActive)
			}
		})
	}
}

// The kinds a migration stops besides Deployments, StatefulSets and CronJobs come back with
// activate and stop again with deactivate: an unowned ReplicaSet by its replica annotation, a
// Job by its suspend annotation, and a copied DaemonSet by the node selector that keeps its Pods
// off every node, while its own node selector stays as the source had it.
func TestActivateAndDeactivateReplicaSetsJobsAndDaemonSets(t *testing.T) {
	env, kubeconfig := startCluster(t)
	ctx := context.Background()
	const ns = "dest-kinds"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "agent"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns,
		Annotations: map[string]string{volsyncv1alpha1.MigrationReplicasAnnotation: "2"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
	jobTmpl := tmpl.DeepCopy()
	jobTmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "seed", Namespace: ns,
		Annotations: map[string]string{volsyncv1alpha1.MigrationSuspendAnnotation: "false"}},
		Spec: batchv1.JobSpec{Suspend: ptr.To(true), Template: *jobTmpl}}
	dsTmpl := tmpl.DeepCopy()
	dsTmpl.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux", volsyncv1alpha1.MigrationStoppedNodeLabel: "true"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns,
		Labels: map[string]string{volsyncv1alpha1.MigratedFromLabel: "source"}},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: *dsTmpl}}
	own := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: ns}, // not a copy: left alone
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
	for _, o := range []client.Object{rs, job, ds, own} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		var gotRS appsv1.ReplicaSet
		var gotJob batchv1.Job
		var gotDS, gotOwn appsv1.DaemonSet
		for o, obj := range map[client.Object]client.Object{rs: &gotRS, job: &gotJob, ds: &gotDS, own: &gotOwn} {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), obj); err != nil {
				t.Fatal(err)
			}
		}
		return fmt.Sprintf("bare=%d seed=suspend:%t agent=%v own=%v", *gotRS.Spec.Replicas, *gotJob.Spec.Suspend,
			gotDS.Spec.Template.Spec.NodeSelector, gotOwn.Spec.Template.Spec.NodeSelector)
	}
	for _, tc := range []struct {
		verb, wantOut, wantState string
	}{
		{"activate",
			"namespace/dest-kinds annotated volsync.backube/application-activated=T\n" +
				"replicaset.apps/bare scaled to 2 in namespace dest-kinds\njob.batch/seed suspend set to false in namespace dest-kinds\n" +
				"daemonset.apps/agent may run on the nodes again in namespace dest-kinds\n",
			"bare=2 seed=suspend:false agent=map[kubernetes.io/os:linux] own=map[]"},
		{"deactivate",
			"replicaset.apps/bare scaled to 0 in namespace dest-kinds\njob.batch/seed suspend set to true in namespace dest-kinds\n" +
				"daemonset.apps/agent kept off every node in namespace dest-kinds\n" +
				"namespace/dest-kinds annotation volsync.backube/application-activated removed\n",
			"bare=0 seed=suspend:true agent=map[kubernetes.io/os:linux volsync.backube/migration-stopped:true] own=map[]"},
	} {
		out, errLine := execute(t, false, "--kubeconfig", kubeconfig, "-n", ns, tc.verb, "migration")
		if errLine != "" {
			t.Fatalf("%s: %s", tc.verb, errLine)
		}
		if withoutTimes(out) != tc.wantOut {
			t.Errorf("%s printed %q, want %q", tc.verb, out, tc.wantOut)
		}
		if got := state(); got != tc.wantState {
			t.Errorf("after %s: %s, want %s", tc.verb, got, tc.wantState)
		}
	}
}
