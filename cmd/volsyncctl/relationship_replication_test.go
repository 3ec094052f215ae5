package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/mover"
)

func fastRelationshipPolls(t *testing.T) {
	t.Helper()
	fastTriggerPolls(t)
	was := relationshipPollInterval
	relationshipPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { relationshipPollInterval = was })
}

// pvcOf is a PVC of size and access mode ReadWriteOnce.
func pvcOf(ns, name, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

// TestReplicationRelationshipAcrossTwoClusters runs VolSync's plugin flow, create → set-source →
// set-destination → schedule → sync → delete, against two API servers that each run volsyncd's
// controller of their side, with the Jobs, Services and snapshots played by the test.
func TestReplicationRelationshipAcrossTwoClusters(t *testing.T) {
	cl := startSeedClusters(t)
	fastRelationshipPolls(t)
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	configDir := filepath.Join(t.TempDir(), "volsync")
	createNamespace(t, src, "app")
	createNamespace(t, dst, "backup")
	createAll(t, src, pvcOf("app", "datavol", "3Gi"))
	// The source Job is named after the ReplicationSource, whose name set-source picks.
	m := &movers{t: t, src: src, dst: dst, ended: map[string]bool{}, srcJob: "app/not-yet", dstJob: "backup/" + mover.ObjectName("rsync-dst", "datavol")}
	run := func(args ...string) result {
		t.Helper()
		r := m.runWhilePlaying(append([]string{"--kubeconfig", cl.kubeconfig, "--config-dir", configDir}, args...)...)
		t.Logf("volsyncctl %s:\n%s%s", strings.Join(args, " "), r.out, r.stderr)
		if r.errLine != "" {
			t.Fatalf("volsyncctl %s failed: %s", strings.Join(args, " "), r.errLine)
		}
		return r
	}
	load := func() *cli.Relationship {
		t.Helper()
		rel, err := cli.LoadRelationship(configDir, "example", cli.ReplicationRelationship)
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}

	r := run("replication", "-r", "example", "create")
	wantLines(t, r.out, `replication relationship "example" created \(`+filepath.Join(configDir, "example.yaml")+`\): set its source and destination next`)
	if rel := load(); rel.Replication.Source != nil || rel.Replication.Destination != nil || rel.ID == "" {
		t.Fatalf("a new relationship holds %+v", rel.Replication)
	}

	// The defaults of the flags are VolSync's: Clone at the source, Snapshot and ClusterIP at the
	// destination.
	r = run("replication", "-r", "example", "set-source", "--pvcname", "sourceuser/app/datavol")
	wantLines(t, r.out, `replication "example": source set to persistentvolumeclaim sourceuser/app/datavol \(copy method Clone\)`)
	run("replication", "-r", "example", "set-destination", "--destination", "destuser/backup/datavol")
	rel := load()
	s, d := rel.Replication.Source, rel.Replication.Destination
	if s.Cluster != "sourceuser" || s.Namespace != "app" || s.PVCName != "datavol" || !strings.HasPrefix(s.RSName, "datavol-") || len(s.RSName) != len("datavol-")+5 ||
		s.VolumeOptions.CopyMethod != volsyncv1alpha1.CopyMethodClone {
		t.Fatalf("source recorded as %+v", s)
	}
	if d.Cluster != "destuser" || d.Namespace != "backup" || d.RDName != "datavol" || d.VolumeOptions.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot ||
		ptr.Deref(d.ServiceType, "") != corev1.ServiceTypeClusterIP || d.VolumeOptions.Capacity != nil {
		t.Fatalf("destination recorded as %+v", d)
	}
	m.srcJob = "app/" + mover.ObjectName("rsync-src", s.RSName)

	// schedule: the destination, its keys copied to the source, the source on the schedule.
	r = run("replication", "-r", "example", "schedule", "--cronspec", "*/5 * * * *")
	wantLines(t, r.out,
		`replicationdestination backup/datavol \(context destuser\) created`,
		`replicationdestination backup/datavol \(context destuser\) listens at \S+:22`,
		`secret app/`+s.RSName+` \(context sourceuser\) created`,
		`replicationsource app/`+s.RSName+` \(context sourceuser\) created`,
		`replication "example" syncs on the schedule "\*/5 \* \* \* \*"`)
	if !strings.Contains(r.stderr, "is a ClusterIP of the destination cluster, which the source cluster may not reach") {
		t.Errorf("no warning about a ClusterIP across clusters on stderr:\n%s", r.stderr)
	}
	var rd volsyncv1alpha1.ReplicationDestination
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "backup", Name: "datavol"}, &rd); err != nil {
		t.Fatal(err)
	}
	if o := rd.Spec.Rsync; o == nil || o.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot || o.Capacity.String() != "3Gi" ||
		fmt.Sprint(o.AccessModes) != "[ReadWriteOnce]" || ptr.Deref(o.ServiceType, "") != corev1.ServiceTypeClusterIP || o.DestinationPVC != nil ||
		rd.Labels[volsyncv1alpha1.RelationshipLabel] != rel.ID {
		t.Fatalf("replicationdestination %v, spec %+v", rd.Labels, rd.Spec.Rsync)
	}
	var rs volsyncv1alpha1.ReplicationSource
	if err := src.Get(ctx, client.ObjectKey{Namespace: "app", Name: s.RSName}, &rs); err != nil {
		t.Fatal(err)
	}
	if o := rs.Spec.Rsync; rs.Spec.SourcePVC != "datavol" || o == nil || o.CopyMethod != volsyncv1alpha1.CopyMethodClone ||
		ptr.Deref(o.Address, "") != ptr.Deref(rd.Status.Rsync.Address, "-") || ptr.Deref(o.SSHKeys, "") != s.RSName ||
		rs.Spec.Trigger == nil || ptr.Deref(rs.Spec.Trigger.Schedule, "") != "*/5 * * * *" || rs.Labels[volsyncv1alpha1.RelationshipLabel] != rel.ID {
		t.Fatalf("replicationsource %v, spec %+v, trigger %+v", rs.Labels, rs.Spec.Rsync, rs.Spec.Trigger)
	}
	var published, copied corev1.Secret
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "backup", Name: ptr.Deref(rd.Status.Rsync.SSHKeys, "")}, &published); err != nil {
		t.Fatal(err)
	}
	if err := src.Get(ctx, client.ObjectKey{Namespace: "app", Name: s.RSName}, &copied); err != nil {
		t.Fatal(err)
	}
	if len(copied.Data) != 3 || string(copied.Data["source"]) != string(published.Data["source"]) ||
		string(copied.Data["destination.pub"]) != string(published.Data["destination.pub"]) || copied.Labels[volsyncv1alpha1.RelationshipLabel] != rel.ID {
		t.Fatalf("the copied Secret has keys %v (labels %v), the published one %v", keysOf(copied.Data), copied.Labels, keysOf(published.Data))
	}
	if tr := load().Replication.Source.Trigger; ptr.Deref(tr.Schedule, "") != "*/5 * * * *" {
		t.Fatalf("the file records the trigger %+v", tr)
	}

	// sync: a manual trigger, waited for; the same objects, updated.
	r = run("replication", "-r", "example", "sync")
	wantLines(t, r.out,
		`replicationdestination backup/datavol \(context destuser\) updated`,
		`replicationsource app/`+s.RSName+` \(context sourceuser\) updated`,
		`replicationsource app/`+s.RSName+` \(context sourceuser\): manual trigger set \(spec.trigger.manual: \S+\); waiting for the sync`,
		`replicationsource app/`+s.RSName+` \(context sourceuser\) synced.*`)
	if err := src.Get(ctx, client.ObjectKeyFromObject(&rs), &rs); err != nil {
		t.Fatal(err)
	}
	if rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual == "" || rs.Spec.Trigger.Schedule != nil || rs.Status.LastManualSync != rs.Spec.Trigger.Manual {
		t.Fatalf("after sync the trigger is %+v, lastManualSync %q", rs.Spec.Trigger, rs.Status.LastManualSync)
	}
	if tr := load().Replication.Source.Trigger; tr.Manual != rs.Spec.Trigger.Manual {
		t.Fatalf("the file records the trigger %+v", tr)
	}

	// delete: the source, the copied keys and the destination go; the PVCs and the file stay and go.
	r = run("replication", "-r", "example", "delete")
	wantLines(t, r.out,
		`replicationsource app/`+s.RSName+` \(context sourceuser\) deleted`,
		`secret app/`+s.RSName+` \(context sourceuser\) deleted`,
		`replicationdestination backup/datavol \(context destuser\) deleted`,
		`replication relationship "example" deleted \(\S+\); PVCs are kept`)
	gone := func(c client.Client, obj client.Object) {
		t.Helper()
		testenv.Eventually(t, 15*time.Second, func() error {
			m.step()
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			if apierrors.IsNotFound(err) || (err == nil && obj.GetDeletionTimestamp() != nil) {
				return nil
			}
			return fmt.Errorf("%T %s still exists (%v)", obj, obj.GetName(), err)
		})
	}
	gone(src, &rs)
	gone(src, &copied)
	gone(dst, &rd)
	var pvc corev1.PersistentVolumeClaim
	if err := src.Get(ctx, client.ObjectKey{Namespace: "app", Name: "datavol"}, &pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Errorf("the source PVC after delete: %v, deleting %v", err, pvc.DeletionTimestamp)
	}
	if _, err := os.Stat(filepath.Join(configDir, "example.yaml")); !os.IsNotExist(err) {
		t.Errorf("the relationship file after delete: %v", err)
	}
	r = executeAll(t, "--kubeconfig", cl.kubeconfig, "--config-dir", configDir, "replication", "-r", "example", "sync")
	if !strings.Contains(r.errLine, `relationship "example" not found`) {
		t.Errorf("sync after delete: %q", r.errLine)
	}
}

// TestReplicationRelationshipDirectDestination checks copy method None: schedule creates the
// destination PVC the ReplicationDestination writes into, and delete keeps it.
func TestReplicationRelationshipDirectDestination(t *testing.T) {
	cl := startTwoClusters(t)
	fastRelationshipPolls(t)
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	configDir := t.TempDir()
	createNamespace(t, src, "rel-direct-src")
	createNamespace(t, dst, "rel-direct-dst")
	createAll(t, src, pvcOf("rel-direct-src", "data", "2Gi"))
	base := []string{"--kubeconfig", cl.kubeconfig, "--config-dir", configDir, "replication", "-r", "direct"}
	must := func(args ...string) result {
		t.Helper()
		r := executeAll(t, append(base, args...)...)
		if r.errLine != "" {
			t.Fatalf("%v: %s", args, r.errLine)
		}
		return r
	}
	must("create")
	must("set-source", "--pvcname", "rel-direct-src/data", "--copymethod", "snapshot", "--volumesnapshotclass", "csi-snap")
	must("set-destination", "--destination", "dest/rel-direct-dst/data", "--copymethod", "None", "--capacity", "5Gi",
		"--accessmodes", "ReadWriteMany", "--servicetype", "LoadBalancer", "--storageclass", "fast")
	rel, err := cli.LoadRelationship(configDir, "direct", cli.ReplicationRelationship)
	if err != nil {
		t.Fatal(err)
	}
	rsName := rel.Replication.Source.RSName

	// Play the destination's controller: publish an address and keys once the destination exists.
	b := startCommand(t, append(base, "schedule", "--cronspec", "@hourly")...)
	var rd volsyncv1alpha1.ReplicationDestination
	testenv.Eventually(t, 15*time.Second, func() error {
		return dst.Get(ctx, client.ObjectKey{Namespace: "rel-direct-dst", Name: "data"}, &rd)
	})
	createAll(t, dst, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "rel-direct-dst", Name: "keys"},
		Data: map[string][]byte{"source": []byte("k"), "source.pub": []byte("p"), "destination.pub": []byte("d")}})
	rd.Status.Rsync = &volsyncv1alpha1.ReplicationDestinationRsyncStatus{Address: ptr.To("203.0.113.9"), Port: ptr.To(int32(22)), SSHKeys: ptr.To("keys")}
	if err := dst.Status().Update(ctx, &rd); err != nil {
		t.Fatal(err)
	}
	r := b.finished(t)
	if r.errLine != "" {
		t.Fatalf("schedule: %s\n%s", r.errLine, r.out)
	}
	wantLines(t, r.out, `persistentvolumeclaim rel-direct-dst/data \(context dest\) created`,
		`replicationdestination rel-direct-dst/data \(context dest\) listens at 203\.0\.113\.9:22`)
	if r.stderr != "" {
		t.Errorf("a LoadBalancer destination warned: %s", r.stderr)
	}
	var pvc corev1.PersistentVolumeClaim
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "rel-direct-dst", Name: "data"}, &pvc); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pvc.Spec.AccessModes) != "[ReadWriteMany]" || pvc.Spec.Resources.Requests.Storage().String() != "5Gi" || ptr.Deref(pvc.Spec.StorageClassName, "") != "fast" {
		t.Fatalf("destination PVC spec %+v", pvc.Spec)
	}
	if err := dst.Get(ctx, client.ObjectKeyFromObject(&rd), &rd); err != nil {
		t.Fatal(err)
	}
	if o := rd.Spec.Rsync; o.CopyMethod != volsyncv1alpha1.CopyMethodNone || ptr.Deref(o.DestinationPVC, "") != "data" || o.Capacity != nil ||
		ptr.Deref(o.ServiceType, "") != corev1.ServiceTypeLoadBalancer {
		t.Fatalf("replicationdestination spec %+v", o)
	}
	var rs volsyncv1alpha1.ReplicationSource
	if err := src.Get(ctx, client.ObjectKey{Namespace: "rel-direct-src", Name: rsName}, &rs); err != nil {
		t.Fatal(err)
	}
	if o := rs.Spec.Rsync; o.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot || ptr.Deref(o.VolumeSnapshotClassName, "") != "csi-snap" ||
		ptr.Deref(o.Address, "") != "203.0.113.9" || ptr.Deref(rs.Spec.Trigger.Schedule, "") != "@hourly" {
		t.Fatalf("replicationsource spec %+v, trigger %+v", o, rs.Spec.Trigger)
	}

	// set-destination again replaces the destination: what was created for the old one goes.
	r = must("set-destination", "--destination", "dest/rel-direct-dst/other")
	wantLines(t, r.out, `replicationsource rel-direct-src/`+rsName+` deleted`, `secret rel-direct-src/`+rsName+` deleted`,
		`replicationdestination rel-direct-dst/data \(context dest\) deleted`)
	r = must("delete")
	for _, c := range []struct {
		c      client.Client
		ns, nm string
	}{{dst, "rel-direct-dst", "data"}, {src, "rel-direct-src", "data"}} {
		var p corev1.PersistentVolumeClaim
		if err := c.c.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: c.nm}, &p); err != nil || p.DeletionTimestamp != nil {
			t.Errorf("pvc %s/%s after delete: %v", c.ns, c.nm, err)
		}
	}
}

func TestReplicationRelationshipRefusesBadInput(t *testing.T) {
	cl := startTwoClusters(t)
	ctx := context.Background()
	configDir := t.TempDir()
	createNamespace(t, cl.source.Client, "rel-bad")
	createAll(t, cl.source.Client, pvcOf("rel-bad", "data", "1Gi"))
	// Someone else's destination of the name the relationship would use.
	createAll(t, cl.dest.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rel-bad"}},
		&volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: "rel-bad"},
			Spec: volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{}}})
	base := []string{"--kubeconfig", cl.kubeconfig, "--config-dir", configDir}
	for _, args := range [][]string{
		{"replication", "-r", "ready", "create"},
		{"replication", "-r", "ready", "set-source", "--pvcname", "rel-bad/data"},
		{"replication", "-r", "ready", "set-destination", "--destination", "dest/rel-bad/taken"},
		{"replication", "-r", "nodest", "create"},
		{"replication", "-r", "nodest", "set-source", "--pvcname", "rel-bad/data"},
		{"replication", "-r", "nsmissing", "create"},
		{"replication", "-r", "nsmissing", "set-source", "--pvcname", "rel-bad/data"},
		{"replication", "-r", "nsmissing", "set-destination", "--destination", "dest/nowhere/data"},
	} {
		if r := executeAll(t, append(base, args...)...); r.errLine != "" {
			t.Fatalf("%v: %s", args, r.errLine)
		}
	}
	if err := os.WriteFile(filepath.Join(configDir, "old.yaml"), []byte("type: replication\nid: x1\ndata:\n  version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"an unknown relationship says how to create it",
			`error: relationship "nope" not found: there is no ` + filepath.Join(configDir, "nope.yaml") + `: create it with 'volsyncctl replication -r nope create', or pass the --config-dir it was created in`,
			[]string{"replication", "-r", "nope", "sync"}},
		{"no -r says how to name one",
			`error: --relationship (-r) is not set: name the relationship, such as 'volsyncctl replication create -r example'`,
			[]string{"replication", "create"}},
		{"a relationship that exists is not created again",
			`error: relationship "ready" already exists (` + filepath.Join(configDir, "ready.yaml") + `): pick another name, or remove it first with 'volsyncctl replication -r ready delete'`,
			[]string{"replication", "-r", "ready", "create"}},
		{"a malformed address says the form",
			`error: --pvcname "data" is not [context/]namespace/name: write it as namespace/name, or context/namespace/name for another kubeconfig context, such as --pvcname kind/source/datavol`,
			[]string{"replication", "-r", "ready", "set-source", "--pvcname", "data"}},
		{"a missing PVC is named, with how to list them",
			`error: persistentvolumeclaim rel-bad/missing (context dest) not found: check --pvcname; list the PVCs with 'kubectl --context dest -n rel-bad get pvc'`,
			[]string{"replication", "-r", "ready", "set-source", "--pvcname", "dest/rel-bad/missing"}},
		{"an unknown context is named",
			`error: context "nope" is not in the kubeconfig: list the contexts with 'kubectl config get-contexts'`,
			[]string{"replication", "-r", "ready", "set-source", "--pvcname", "nope/rel-bad/data"}},
		{"a destination cannot clone",
			`error: --copymethod: "Clone" is not a copy method of a destination: use None, Direct or Snapshot`,
			[]string{"replication", "-r", "ready", "set-destination", "--destination", "rel-bad/x", "--copymethod", "Clone"}},
		{"a bad service type",
			`error: --servicetype "NodePort" is not a service type: use ClusterIP or LoadBalancer`,
			[]string{"replication", "-r", "ready", "set-destination", "--destination", "rel-bad/x", "--servicetype", "NodePort"}},
		{"a bad cron schedule",
			`error: --cronspec "every day" is not a cron schedule: use 5 fields such as '*/5 * * * *', or a descriptor such as @hourly`,
			[]string{"replication", "-r", "ready", "schedule", "--cronspec", "every day"}},
		{"schedule without a destination says to set one",
			`error: replication "nodest" has no destination: set it first with 'volsyncctl replication -r nodest set-destination --destination [context/]namespace/name'`,
			[]string{"replication", "-r", "nodest", "schedule", "--cronspec", "@daily"}},
		{"a destination namespace that does not exist",
			`error: destination namespace nowhere not found: create it with 'kubectl --context dest create namespace nowhere'`,
			[]string{"replication", "-r", "nsmissing", "sync"}},
		{"someone else's object of the destination's name stops it before anything is written",
			`error: replicationdestination rel-bad/taken (context dest) already exists and was not created by relationship "ready": choose another name, or delete it with 'kubectl --context dest -n rel-bad delete replicationdestination taken'`,
			[]string{"replication", "-r", "ready", "schedule", "--cronspec", "@daily"}},
		{"a file of an older version",
			`error: relationship file ` + filepath.Join(configDir, "old.yaml") + ` has data.version 1; this volsyncctl reads version 2: delete the relationship with the tool that wrote it, then create it again with 'volsyncctl replication -r old create'`,
			[]string{"replication", "-r", "old", "sync"}},
		{"a replication is not a migration",
			`error: relationship "ready" is a replication relationship, not a migration one: manage it with 'volsyncctl replication -r ready ...'`,
			[]string{"migration", "-r", "ready", "delete"}},
		{"rsync-tls is refused",
			`error: --rsynctls is not supported: volsyncctl relationships replicate with rsync over ssh: drop --rsynctls; for rsync-tls, create the ReplicationSource and ReplicationDestination yourself`,
			[]string{"replication", "-r", "tls", "create", "--rsynctls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := executeAll(t, append(base, tc.args...)...)
			if strings.TrimSpace(r.errLine) != tc.want {
				t.Fatalf("error line\n%s\nwant\n%s", r.errLine, tc.want)
			}
		})
	}
	// Nothing was written by the failed runs: no source at all, and the foreign destination as it was.
	var sources volsyncv1alpha1.ReplicationSourceList
	if err := cl.source.Client.List(ctx, &sources, client.InNamespace("rel-bad")); err != nil || len(sources.Items) != 0 {
		t.Fatalf("replication sources after the failures: %d, %v", len(sources.Items), err)
	}
	var rd volsyncv1alpha1.ReplicationDestination
	if err := cl.dest.Client.Get(ctx, client.ObjectKey{Namespace: "rel-bad", Name: "taken"}, &rd); err != nil || rd.Labels[volsyncv1alpha1.RelationshipLabel] != "" {
		t.Fatalf("the foreign destination after the failures: %v, labels %v", err, rd.Labels)
	}
	if _, err := os.Stat(filepath.Join(configDir, "tls.yaml")); !os.IsNotExist(err) {
		t.Errorf("a refused create left a file: %v", err)
	}
}

// TestRelationshipVerbsLeaveTheOtherMigrationCommands checks that the top-level migration verb
// (VolSync's) and create/get/delete migration (application migration) stay apart.
func TestRelationshipVerbsLeaveTheOtherMigrationCommands(t *testing.T) {
	out, errLine := execute(t, true, "migration", "--help")
	if errLine != "" || !strings.Contains(out, "This is not application migration") || !strings.Contains(out, "kubectl volsync migration -r NAME COMMAND") {
		t.Fatalf("migration --help: %s\n%s", errLine, out)
	}
	out, errLine = execute(t, false, "create", "migration", "--help")
	if errLine != "" || !strings.Contains(out, "Create a Migration that copies whole applications") || !strings.Contains(out, "volsyncctl migration -r NAME create|rsync|delete") {
		t.Fatalf("create migration --help: %s\n%s", errLine, out)
	}
	_, errLine = execute(t, false, "migration", "bogus")
	if !strings.Contains(errLine, `unknown command "bogus" for "volsyncctl migration"`) {
		t.Fatalf("an unknown migration verb: %s", errLine)
	}
}
