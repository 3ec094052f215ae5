package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cachepolicy"
	"github.com/volsync/volsync/pkg/cli"
	"github.com/volsync/volsync/pkg/mover"
	moverjob "github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/replication"
)

// seedClusters are two control planes, each with volsyncd's replication controller for its side
// and the rsync mover's Builder: the source cluster runs the ReplicationSource controller, the
// destination cluster the ReplicationDestination controller. The kubeconfig names them as the
// manual's cross-cluster example does: context sourceuser on cluster api-source-com:6443, context
// destuser on cluster destination123.
type seedClusters struct {
	source, dest *testenv.Env
	kubeconfig   string
}

func startSeedClusters(t *testing.T) seedClusters {
	t.Helper()
	builders := []mover.Builder{&rsync.Builder{Settings: moverjob.Settings{Image: "example.com/volsync-mover:test", Clock: clock.RealClock{}}}}
	type started struct {
		env  *testenv.Env
		stop func()
		err  error
	}
	start := func(setup func(ctrl.Manager) error) started {
		env, err := testenv.Start(filepath.Join(testenv.RepoRoot(), "specs", "thirdparty", "snapshot"))
		if err != nil {
			return started{err: err}
		}
		// Other tests of the package start these controllers in managers of their own.
		_, stop, err := testenv.StartManager(env.Config, ctrl.Options{Cache: cachepolicy.Options(), NewClient: cachepolicy.NewClient,
			Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)}}, setup)
		if err != nil {
			_ = env.Stop()
			return started{err: err}
		}
		return started{env: env, stop: stop}
	}
	// The two control planes start side by side.
	destDone := make(chan started, 1)
	go func() {
		destDone <- start(func(mgr ctrl.Manager) error {
			return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"),
				Clock: clock.RealClock{}, Builders: builders}).SetupWithManager(mgr)
		})
	}()
	s := start(func(mgr ctrl.Manager) error {
		return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync"),
			Clock: clock.RealClock{}, Builders: builders}).SetupWithManager(mgr)
	})
	d := <-destDone
	for _, x := range []started{s, d} {
		if x.env != nil {
			env, stop := x.env, x.stop
			t.Cleanup(func() { stop(); _ = env.Stop() })
		}
	}
	for _, x := range []started{s, d} {
		if x.err != nil {
			t.Fatal(x.err)
		}
	}
	source, dest := s.env, d.env
	merged := clientcmdapi.NewConfig()
	for _, side := range []struct {
		env              *testenv.Env
		context, cluster string
	}{{source, "sourceuser", "api-source-com:6443"}, {dest, "destuser", "destination123"}} {
		data, err := side.env.AdminKubeconfig()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := clientcmd.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		c := raw.Contexts[raw.CurrentContext]
		merged.Clusters[side.cluster] = raw.Clusters[c.Cluster].DeepCopy()
		merged.AuthInfos[side.context] = raw.AuthInfos[c.AuthInfo].DeepCopy()
		merged.Contexts[side.context] = &clientcmdapi.Context{Cluster: side.cluster, AuthInfo: side.context}
	}
	merged.CurrentContext = "sourceuser"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	return seedClusters{source: source, dest: dest, kubeconfig: path}
}

// seedWorkdir makes a fresh current directory holding the manual's config.yaml example (from
// testdata, copied verbatim), and an empty home, so that only that file is read.
func seedWorkdir(t *testing.T, example string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "seed", example))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Chdir(dir)
	return dir
}

func fastSeedPolls(t *testing.T) {
	t.Helper()
	fastTriggerPolls(t)
	was := seedPollInterval
	seedPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { seedPollInterval = was })
}

// movers plays what envtest lacks while a command runs: the load balancer controller (an
// address for each LoadBalancer Service of the destination), the snapshot controller (every
// VolumeSnapshot becomes ready), the PVC protection controller (a deleted PVC goes) and the kubelet and Job controller of both sides: each source
// mover Job succeeds, and then the destination's listening Job, as after a transfer.
type movers struct {
	t          *testing.T
	src, dst   client.Client
	srcJob     string // namespace/name of the source's mover Job
	dstJob     string
	ended      map[string]bool // UIDs of the Jobs ended
	destToEnd  bool            // a source sync ended; the destination's Job ends next
	syncsEnded int             // source syncs ended so far
}

func (m *movers) step() {
	t, ctx := m.t, context.Background()
	var svcs corev1.ServiceList
	if err := m.dst.List(ctx, &svcs); err != nil {
		t.Fatal(err)
	}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && len(svc.Status.LoadBalancer.Ingress) == 0 {
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
			if err := m.dst.Status().Update(ctx, svc); err != nil && !apierrors.IsConflict(err) {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []client.Client{m.src, m.dst} {
		// The PVC protection controller: a deleted PVC no pod uses goes.
		var pvcs corev1.PersistentVolumeClaimList
		if err := c.List(ctx, &pvcs); err != nil {
			t.Fatal(err)
		}
		for i := range pvcs.Items {
			if p := &pvcs.Items[i]; p.DeletionTimestamp != nil && len(p.Finalizers) > 0 {
				p.Finalizers = nil
				if err := c.Update(ctx, p); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
		}
		var snaps snapv1.VolumeSnapshotList
		if err := c.List(ctx, &snaps); err != nil {
			t.Fatal(err)
		}
		for i := range snaps.Items {
			s := &snaps.Items[i]
			if s.Status == nil || !ptr.Deref(s.Status.ReadyToUse, false) {
				s.Status = &snapv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), BoundVolumeSnapshotContentName: ptr.To("content-" + s.Name),
					RestoreSize: ptr.To(resource.MustParse("1Gi"))}
				if err := c.Status().Update(ctx, s); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
		}
	}
	if job := m.unended(m.src, m.srcJob); job != nil {
		endJob(t, m.src, job, 0, `{"result":"Successful","message":"","bytes":4096,"files":2}`)
		m.ended[string(job.UID)] = true
		m.destToEnd = true
		m.syncsEnded++
	}
	if !m.destToEnd {
		return
	}
	if job := m.unended(m.dst, m.dstJob); job != nil {
		endJob(t, m.dst, job, 0, `{"result":"Successful","message":"","bytes":4096,"files":2}`)
		m.ended[string(job.UID)] = true
		m.destToEnd = false
	}
}

// unended is the Job of that key when it exists and has not been ended yet.
func (m *movers) unended(c client.Client, key string) *batchv1.Job {
	ns, name, _ := strings.Cut(key, "/")
	var job batchv1.Job
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &job); err != nil {
		if !apierrors.IsNotFound(err) {
			m.t.Fatal(err)
		}
		return nil
	}
	if m.ended[string(job.UID)] || job.DeletionTimestamp != nil {
		return nil
	}
	return &job
}

// runWhilePlaying runs volsyncctl and plays the controllers envtest lacks until it returns.
func (m *movers) runWhilePlaying(args ...string) result {
	m.t.Helper()
	b := startCommand(m.t, args...)
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-b.done:
			return r
		case <-deadline:
			var rs volsyncv1alpha1.ReplicationSourceList
			_ = m.src.List(context.Background(), &rs)
			var rd volsyncv1alpha1.ReplicationDestinationList
			_ = m.dst.List(context.Background(), &rd)
			var jobs batchv1.JobList
			_ = m.src.List(context.Background(), &jobs)
			var names []string
			for _, j := range jobs.Items {
				names = append(names, fmt.Sprintf("%s uid=%s ended=%v", j.Name, j.UID, m.ended[string(j.UID)]))
			}
			active := func(a *volsyncv1alpha1.ActiveSync) string { return fmt.Sprintf("%+v", a) }
			m.t.Fatalf("volsyncctl %v did not return; it printed:\n%s%s\nsource active sync %s, destination %s; source jobs %v",
				args, b.out.String(), "", active(rs.Items[0].Status.ActiveSync), active(rd.Items[0].Status.ActiveSync), names)
		case <-tick.C:
			m.step()
		}
	}
}

// until plays the controllers until check passes.
func (m *movers) until(what string, check func() error) {
	m.t.Helper()
	testenv.Eventually(m.t, 30*time.Second, func() error {
		m.step()
		if err := check(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

func TestSeedReplicationWorkflowAcrossTwoClusters(t *testing.T) {
	start := time.Now()
	cl := startSeedClusters(t)
	t.Logf("two control planes with their controllers started in %s", time.Since(start).Round(time.Millisecond))
	fastSeedPolls(t)
	seedWorkdir(t, "cross-cluster-config.yaml")
	ctx := context.Background()
	src, dst := cl.source.Client, cl.dest.Client
	createNamespace(t, src, "source")
	createAll(t, src, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "mysql-pv-claim", Namespace: "source"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("3Gi")}}}})
	m := &movers{t: t, src: src, dst: dst, ended: map[string]bool{},
		srcJob: "source/" + mover.ObjectName("rsync-src", "source-source"), dstJob: "dest/" + mover.ObjectName("rsync-dst", "dest-destination")}
	run := func(args ...string) result {
		t.Helper()
		began := time.Now()
		r := m.runWhilePlaying(append([]string{"--kubeconfig", cl.kubeconfig}, args...)...)
		t.Logf("volsyncctl %s took %s:\n%s%s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond), r.out, r.stderr)
		if r.errLine != "" {
			t.Fatalf("volsyncctl %s failed: %s", strings.Join(args, " "), r.errLine)
		}
		return r
	}

	// start-replication: the destination namespace, the destination, the keys, the source.
	r := run("start-replication")
	wantLines(t, r.out,
		`namespace dest created \(context destuser\)`,
		`replicationdestination dest/dest-destination \(context destuser\) created`,
		`replicationdestination dest/dest-destination \(context destuser\) listens at 203\.0\.113\.7:22`,
		`secret source/volsync-rsync-dst-src-dest-destination \(context sourceuser\) created`,
		`secret source/volsync-rsync-dst-src-dest-destination \(context sourceuser\) holds the ssh keys of dest/volsync-rsync-dst-src-dest-destination \(context destuser\)`,
		`replicationsource source/source-source \(context sourceuser\) created`,
		`replication of source/mysql-pv-claim \(context sourceuser\) started: the schedule "\*/3 \* \* \* \*" resumes`)
	var rd volsyncv1alpha1.ReplicationDestination
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "dest", Name: "dest-destination"}, &rd); err != nil {
		t.Fatal(err)
	}
	if o := rd.Spec.Rsync; o == nil || o.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot || o.Capacity.String() != "3Gi" ||
		fmt.Sprint(o.AccessModes) != "[ReadWriteOnce]" || ptr.Deref(o.ServiceType, "") != corev1.ServiceTypeLoadBalancer || o.DestinationPVC != nil {
		t.Fatalf("replicationdestination spec %+v", rd.Spec.Rsync)
	}
	var rs volsyncv1alpha1.ReplicationSource
	if err := src.Get(ctx, client.ObjectKey{Namespace: "source", Name: "source-source"}, &rs); err != nil {
		t.Fatal(err)
	}
	if o := rs.Spec.Rsync; rs.Spec.SourcePVC != "mysql-pv-claim" || o == nil || o.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot ||
		ptr.Deref(o.Address, "") != "203.0.113.7" || ptr.Deref(o.Port, 0) != 22 || ptr.Deref(o.SSHKeys, "") != "volsync-rsync-dst-src-dest-destination" ||
		ptr.Deref(o.ServiceType, "") != corev1.ServiceTypeLoadBalancer || rs.Spec.Trigger == nil || ptr.Deref(rs.Spec.Trigger.Schedule, "") != "*/3 * * * *" {
		t.Fatalf("replicationsource spec %+v, trigger %+v", rs.Spec.Rsync, rs.Spec.Trigger)
	}
	var published, copied corev1.Secret
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "dest", Name: "volsync-rsync-dst-src-dest-destination"}, &published); err != nil {
		t.Fatal(err)
	}
	if err := src.Get(ctx, client.ObjectKey{Namespace: "source", Name: "volsync-rsync-dst-src-dest-destination"}, &copied); err != nil {
		t.Fatal(err)
	}
	if len(copied.Data) != 3 || string(copied.Data["source"]) != string(published.Data["source"]) ||
		string(copied.Data["destination.pub"]) != string(published.Data["destination.pub"]) {
		t.Fatalf("the copied Secret has keys %v, the published one %v", keysOf(copied.Data), keysOf(published.Data))
	}

	// A second start changes nothing and says so; the source's first (cron) sync runs meanwhile.
	r = run("start-replication")
	wantLines(t, r.out, `replicationsource source/source-source \(context sourceuser\) updated`)
	image := func() string {
		if err := dst.Get(ctx, client.ObjectKeyFromObject(&rd), &rd); err != nil {
			t.Fatal(err)
		}
		if rd.Status.LatestImage == nil {
			return ""
		}
		return rd.Status.LatestImage.Name
	}
	m.until("the first sync", func() error {
		if image() == "" {
			return fmt.Errorf("no latest image yet")
		}
		return nil
	})
	first := image()

	// set-replication: a manual trigger, the final sync, a PVC from the latest snapshot.
	pvcLine := regexp.MustCompile(`persistentvolumeclaim dest/(mysql-pv-claim-\d{14}(?:-\d+)?) \(context destuser\) created from the latest snapshot (\S+): point the destination application at it`)
	setAndCheck := func(before string) string {
		t.Helper()
		r := run("set-replication")
		wantLines(t, r.out,
			`replicationsource source/source-source \(context sourceuser\): manual trigger set \(spec.trigger.manual: \S+\); waiting for the final sync`,
			`replicationsource source/source-source \(context sourceuser\): final sync done`)
		got := pvcLine.FindStringSubmatch(r.out)
		if got == nil {
			t.Fatalf("no PVC created:\n%s", r.out)
		}
		latest := image()
		if got[2] != latest || latest == before {
			t.Fatalf("the PVC was made from %s; the latest image is %s, the one before the sync %s", got[2], latest, before)
		}
		var pvc corev1.PersistentVolumeClaim
		if err := dst.Get(ctx, client.ObjectKey{Namespace: "dest", Name: got[1]}, &pvc); err != nil {
			t.Fatal(err)
		}
		if ds := pvc.Spec.DataSource; ds == nil || ds.Kind != "VolumeSnapshot" || ptr.Deref(ds.APIGroup, "") != snapv1.GroupName || ds.Name != latest ||
			fmt.Sprint(pvc.Spec.AccessModes) != "[ReadWriteOnce]" || pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
			t.Fatalf("pvc %s: dataSource %+v, spec %+v", pvc.Name, pvc.Spec.DataSource, pvc.Spec)
		}
		// Two images of the same second (this test is fast) get -1 after the stamp.
		if stamp := strings.TrimPrefix(pvc.Name, "mysql-pv-claim-")[:14]; stamp != rd.Status.LastSyncTime.UTC().Format("20060102150405") {
			t.Errorf("pvc %s is not stamped with the sync's time %s", pvc.Name, rd.Status.LastSyncTime.UTC())
		}
		if err := src.Get(ctx, client.ObjectKeyFromObject(&rs), &rs); err != nil {
			t.Fatal(err)
		}
		if rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual == "" || rs.Status.LastManualSync != rs.Spec.Trigger.Manual {
			t.Fatalf("after set-replication the trigger is %+v, lastManualSync %q", rs.Spec.Trigger, rs.Status.LastManualSync)
		}
		return got[1]
	}
	firstPVC := setAndCheck(first)

	// continue-replication: the manual trigger goes, the schedule stays.
	r = run("continue-replication")
	wantLines(t, r.out, `replicationsource source/source-source \(context sourceuser\): manual trigger removed; the schedule "\*/3 \* \* \* \*" resumes`)
	if err := src.Get(ctx, client.ObjectKeyFromObject(&rs), &rs); err != nil {
		t.Fatal(err)
	}
	if rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual != "" || ptr.Deref(rs.Spec.Trigger.Schedule, "") != "*/3 * * * *" {
		t.Fatalf("after continue-replication the trigger is %+v", rs.Spec.Trigger)
	}
	r = run("continue-replication")
	wantLines(t, r.out, `replicationsource source/source-source \(context sourceuser\) has no manual trigger; the schedule "\*/3 \* \* \* \*" resumes`)

	// set-replication again: a newer image, a new dated PVC; the first one stays.
	secondPVC := setAndCheck(image())
	if secondPVC == firstPVC {
		t.Fatalf("the second set-replication reused %s", firstPVC)
	}

	// remove-replication: source, copied Secret and destination go; every PVC stays.
	r = run("remove-replication")
	wantLines(t, r.out,
		`replicationsource source/source-source \(context sourceuser\) removed`,
		`secret source/volsync-rsync-dst-src-dest-destination \(context sourceuser\) removed`,
		`replicationdestination dest/dest-destination \(context destuser\) removed`,
		`PVCs are kept; list them with 'kubectl --context destuser -n dest get pvc' and prune stale ones yourself`)
	gone := func(c client.Client, obj client.Object) {
		t.Helper()
		testenv.Eventually(t, 15*time.Second, func() error {
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
	for _, name := range []string{firstPVC, secondPVC} {
		var pvc corev1.PersistentVolumeClaim
		if err := dst.Get(ctx, client.ObjectKey{Namespace: "dest", Name: name}, &pvc); err != nil || pvc.DeletionTimestamp != nil {
			t.Errorf("pvc %s after remove-replication: %v, deleting %v", name, err, pvc.DeletionTimestamp)
		}
	}
	var srcPVC corev1.PersistentVolumeClaim
	if err := src.Get(ctx, client.ObjectKey{Namespace: "source", Name: "mysql-pv-claim"}, &srcPVC); err != nil || srcPVC.DeletionTimestamp != nil {
		t.Errorf("the source PVC after remove-replication: %v", err)
	}
	r = run("remove-replication")
	wantLines(t, r.out, `replicationsource source/source-source \(context sourceuser\) not found; nothing to remove`)
	t.Logf("the whole workflow took %s, %d source syncs", time.Since(start).Round(time.Millisecond), m.syncsEnded)
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSeedReplicationRefusesBadInputAndChangesNothing(t *testing.T) {
	cl := startTwoClusters(t)
	fastSeedPolls(t)
	dir := seedWorkdir(t, "config.yaml")
	ctx := context.Background()
	const srcNS, dstNS = "seed-bad-src", "seed-bad-dst"
	createNamespace(t, cl.source.Client, srcNS)
	createNamespace(t, cl.dest.Client, dstNS)
	createAll(t, cl.source.Client, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "mysql-pv-claim", Namespace: srcNS},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
	// Someone else's destination of the name the workflow would use.
	foreign := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Name: "taken-destination", Namespace: dstNS},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{}}}
	createAll(t, cl.dest.Client, foreign)
	// And someone else's Secret where the keys of the destination "other-destination" would be copied.
	createAll(t, cl.source.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: srcNS, Name: "volsync-rsync-dst-src-other-destination"}})
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	noPVC := write("no-pvc.yaml", "dest-copy-method: Snapshot\nsource-copy-method: Snapshot\ndest-access-mode: ReadWriteOnce\n")
	typo := write("typo.yaml", "dest-namespce: dest\n")
	clone := write("clone.yaml", "dest-copy-method: Clone\n")
	sides := []string{"--source-kube-context", "source", "--dest-kube-context", "dest", "--source-namespace", srcNS, "--dest-namespace", dstNS}
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"a missing key names the key and the file",
			`error: the option source-pvc is not set: add 'source-pvc: <value>' to the config file ` + noPVC + `, or pass --source-pvc`,
			append([]string{"start-replication", "--config", noPVC}, sides...)},
		{"an unknown key suggests the right one",
			`error: config file ` + typo + `: unknown key "dest-namespce" (did you mean "dest-namespace"?): fix the file: one key: value per line, keys as in 'volsyncctl start-replication --help'`,
			[]string{"start-replication", "--config", typo}},
		{"a missing --config file names the flag",
			`error: reading --config ` + filepath.Join(dir, "nope.yaml") + `: open ` + filepath.Join(dir, "nope.yaml") + `: no such file or directory: check the --config path`,
			[]string{"set-replication", "--config", filepath.Join(dir, "nope.yaml")}},
		{"a destination cannot clone",
			`error: dest-copy-method in ` + clone + `: "Clone" is not a copy method of a destination: use None or Snapshot`,
			[]string{"start-replication", "--config", clone}},
		{"an unknown context names the key",
			`error: dest-kube-context "nope" is not a context of the kubeconfig: set it to one of the contexts: list them with 'kubectl config get-contexts'`,
			append(append([]string{"start-replication"}, sides...), "--dest-kube-context", "nope")},
		{"a context on another cluster than the cluster name",
			`error: source-kube-context "source" points at cluster "source", not source-kube-clustername "api-source-com:6443": fix one of the two keys: 'kubectl config get-contexts' shows each context's cluster`,
			append(append([]string{"start-replication"}, sides...), "--source-kube-clustername", "api-source-com:6443")},
		{"a source PVC that does not exist",
			`error: source-pvc "mysql" not found in namespace "` + srcNS + `" of context source: check source-pvc and source-namespace; list the PVCs with 'kubectl --context source -n ` + srcNS + ` get pvc'`,
			append(append([]string{"start-replication"}, sides...), "--source-pvc", "mysql")},
		{"an object of the same name that is not ours",
			`error: replicationdestination ` + dstNS + `/taken-destination (context dest) already exists and was not made by this replication workflow: set dest-name to another name, or delete it with 'kubectl --context dest -n ` + dstNS + ` delete replicationdestination taken-destination'`,
			append(append([]string{"start-replication"}, sides...), "--dest-name", "taken-destination")},
		{"a Secret of the copy's name that is not ours",
			`error: secret ` + srcNS + `/volsync-rsync-dst-src-other-destination (context source) already exists and was not made by this replication workflow: set ssh-keys-secret to another name, or delete it with 'kubectl --context source -n ` + srcNS + ` delete secret volsync-rsync-dst-src-other-destination'`,
			append(append([]string{"start-replication"}, sides...), "--dest-name", "other-destination")},
		{"set before start says to start first",
			`error: replicationsource ` + srcNS + `/` + srcNS + `-source (context source) does not exist: start the replication first with 'volsyncctl start-replication', or check source-namespace and source-kube-context`,
			append([]string{"set-replication"}, sides...)},
		{"continue before start says to start first",
			`error: replicationsource ` + srcNS + `/` + srcNS + `-source (context source) does not exist: start the replication first with 'volsyncctl start-replication', or check source-namespace and source-kube-context`,
			append([]string{"continue-replication"}, sides...)},
		{"remove refuses someone else's destination",
			`error: replicationdestination ` + dstNS + `/taken-destination (context dest) already exists and was not made by this replication workflow: set dest-name to another name, or delete it with 'kubectl --context dest -n ` + dstNS + ` delete replicationdestination taken-destination'`,
			append(append([]string{"remove-replication"}, sides...), "--dest-name", "taken-destination")},
		{"a bad schedule is refused before anything is written",
			`error: --source-cron-spec: "every 3 minutes" is not a cron schedule: use 5 fields such as "*/3 * * * *", or a descriptor such as @hourly`,
			append(append([]string{"start-replication"}, sides...), "--source-cron-spec", "every 3 minutes")},
		{"arguments are refused",
			`error: volsyncctl start-replication takes no arguments, got ["now"]: put the options in config.yaml or pass them as flags, such as --source-pvc`,
			[]string{"start-replication", "now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := executeAll(t, append([]string{"--kubeconfig", cl.kubeconfig}, tc.args...)...)
			if r.errLine != tc.want+"\n" || r.out != "" {
				t.Fatalf("out %q\nerror %q\nwant  %q", r.out, r.errLine, tc.want)
			}
		})
	}
	var rds volsyncv1alpha1.ReplicationDestinationList
	if err := cl.dest.Client.List(ctx, &rds, client.InNamespace(dstNS)); err != nil {
		t.Fatal(err)
	}
	var rss volsyncv1alpha1.ReplicationSourceList
	if err := cl.source.Client.List(ctx, &rss, client.InNamespace(srcNS)); err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	if err := cl.source.Client.List(ctx, &secrets, client.InNamespace(srcNS)); err != nil {
		t.Fatal(err)
	}
	if len(rds.Items) != 1 || rds.Items[0].ResourceVersion != foreign.ResourceVersion || len(rss.Items) != 0 || len(secrets.Items) != 1 {
		t.Fatalf("refused commands changed the clusters: %d destinations (rv %s, was %s), %d sources, %d secrets",
			len(rds.Items), rds.Items[0].ResourceVersion, foreign.ResourceVersion, len(rss.Items), len(secrets.Items))
	}
	if err := cl.dest.Client.Get(ctx, client.ObjectKey{Name: "dest"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused start-replication created the namespace of config.yaml: %v", err)
	}

	// A destination that never publishes its address: the run gives up and removes what it made
	// (the namespace it created, the destination), and never reaches the source.
	r := executeAll(t, "--kubeconfig", cl.kubeconfig, "start-replication", "--source-kube-context", "source", "--dest-kube-context", "dest",
		"--source-namespace", srcNS, "--dest-namespace", "seed-bad-new", "--timeout", "300ms")
	want := `error: replicationdestination seed-bad-new/seed-bad-new-destination (context dest) published no address and ssh keys within 300ms: ` +
		`check that volsyncd runs there and see 'kubectl --context dest -n seed-bad-new describe replicationdestination seed-bad-new-destination'; with a LoadBalancer that gets no address, set dest-address` + "\n"
	if r.errLine != want {
		t.Fatalf("error %q\nwant  %q", r.errLine, want)
	}
	wantLines(t, r.out, `namespace seed-bad-new created \(context dest\)`, `replicationdestination seed-bad-new/seed-bad-new-destination \(context dest\) created`)
	testenv.Eventually(t, 15*time.Second, func() error {
		var ns corev1.Namespace
		err := cl.dest.Client.Get(ctx, client.ObjectKey{Name: "seed-bad-new"}, &ns)
		if apierrors.IsNotFound(err) || (err == nil && ns.DeletionTimestamp != nil) {
			return nil
		}
		return fmt.Errorf("namespace seed-bad-new still there (%v)", err)
	})
	var rd volsyncv1alpha1.ReplicationDestination
	err := cl.dest.Client.Get(ctx, client.ObjectKey{Namespace: "seed-bad-new", Name: "seed-bad-new-destination"}, &rd)
	if !apierrors.IsNotFound(err) && (err != nil || rd.DeletionTimestamp == nil) {
		t.Fatalf("the destination of the failed run stays: %v", err)
	}
	if err := cl.source.Client.List(ctx, &rss, client.InNamespace(srcNS)); err != nil || len(rss.Items) != 0 {
		t.Fatalf("the failed run made a source: %v %d", err, len(rss.Items))
	}
}

func TestSeedConfigKeysOfTheManualExamples(t *testing.T) {
	for _, example := range []string{"config.yaml", "cross-cluster-config.yaml"} {
		values, path, err := cli.ReadSeedConfig(filepath.Join("testdata", "seed", example))
		if err != nil || path == "" || values["source-pvc"] != "mysql-pv-claim" || values["dest-copy-method"] != "Snapshot" {
			t.Fatalf("%s: %v %q %v", example, values, path, err)
		}
		if _, err := cli.NewSeedReplication(values, path, nil); err != nil {
			t.Fatalf("%s: %v", example, err)
		}
	}
	values, _, _ := cli.ReadSeedConfig(filepath.Join("testdata", "seed", "cross-cluster-config.yaml"))
	if values["source-kube-clustername"] != "api-source-com:6443" {
		t.Fatalf("source-kube-clustername %q", values["source-kube-clustername"])
	}
}

func TestSeedReplicationWithCopyMethodNoneWritesIntoAPVCItCreates(t *testing.T) {
	cl := startTwoClusters(t)
	fastSeedPolls(t)
	seedWorkdir(t, "config.yaml")
	ctx := context.Background()
	const srcNS, dstNS = "seed-none-src", "seed-none-dst"
	createNamespace(t, cl.source.Client, srcNS)
	createAll(t, cl.source.Client, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "mysql-pv-claim", Namespace: srcNS},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}}})
	// config.yaml says Snapshot; the flags win.
	args := []string{"--kubeconfig", cl.kubeconfig, "--source-kube-context", "source", "--dest-kube-context", "dest",
		"--source-namespace", srcNS, "--dest-namespace", dstNS, "--dest-copy-method", "None", "--source-cron-spec", "", "--dest-address", "rsync.example.com"}

	b := startCommand(t, append(args, "start-replication")...)
	// Play the destination controller: publish the keys Secret and its name (no address: dest-address is given).
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: metav1.ObjectMeta{Namespace: dstNS, Name: dstNS + "-destination"}}
	testenv.Eventually(t, 15*time.Second, func() error { return cl.dest.Client.Get(ctx, client.ObjectKeyFromObject(rd), rd) })
	createAll(t, cl.dest.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dstNS, Name: "keys-for-source"},
		Data: map[string][]byte{"source": []byte("private"), "source.pub": []byte("pub"), "destination.pub": []byte("dpub")}})
	rd.Status.Rsync = &volsyncv1alpha1.ReplicationDestinationRsyncStatus{SSHKeys: ptr.To("keys-for-source"), Port: ptr.To[int32](22)}
	if err := cl.dest.Client.Status().Update(ctx, rd); err != nil {
		t.Fatal(err)
	}
	r := b.finished(t)
	if r.errLine != "" {
		t.Fatalf("start-replication: %s\n%s", r.errLine, r.out)
	}
	wantLines(t, r.out,
		`namespace seed-none-dst created \(context dest\)`,
		`persistentvolumeclaim seed-none-dst/mysql-pv-claim \(context dest\) created`,
		`replicationdestination seed-none-dst/seed-none-dst-destination \(context dest\) listens at rsync\.example\.com:22`,
		`secret seed-none-src/keys-for-source \(context source\) created`,
		`replication of seed-none-src/mysql-pv-claim \(context source\) started: it syncs continuously again`)
	var pvc corev1.PersistentVolumeClaim
	if err := cl.dest.Client.Get(ctx, client.ObjectKey{Namespace: dstNS, Name: "mysql-pv-claim"}, &pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.Resources.Requests.Storage().String() != "2Gi" || fmt.Sprint(pvc.Spec.AccessModes) != "[ReadWriteOnce]" {
		t.Fatalf("destination PVC spec %+v", pvc.Spec)
	}
	if err := cl.dest.Client.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
		t.Fatal(err)
	}
	if o := rd.Spec.Rsync; o == nil || ptr.Deref(o.DestinationPVC, "") != "mysql-pv-claim" || o.Capacity != nil || o.CopyMethod != volsyncv1alpha1.CopyMethodNone {
		t.Fatalf("replicationdestination spec %+v", rd.Spec.Rsync)
	}
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: srcNS, Name: srcNS + "-source"}}
	if err := cl.source.Client.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
		t.Fatal(err)
	}
	if rs.Spec.Trigger != nil || ptr.Deref(rs.Spec.Rsync.Address, "") != "rsync.example.com" || ptr.Deref(rs.Spec.Rsync.SSHKeys, "") != "keys-for-source" {
		t.Fatalf("replicationsource trigger %+v, rsync %+v", rs.Spec.Trigger, rs.Spec.Rsync)
	}

	// set-replication with None: the destination PVC itself holds the data; no dated PVC.
	b = startCommand(t, append(args, "set-replication")...)
	value := manualOf(t, cl.source.Client, rs)
	setReplicationStatus(t, cl.source.Client, rs, func(st *volsyncv1alpha1.ReplicationStatus) { st.LastManualSync = value })
	r = b.finished(t)
	if r.errLine != "" {
		t.Fatalf("set-replication: %s\n%s", r.errLine, r.out)
	}
	wantLines(t, r.out, `persistentvolumeclaim seed-none-dst/mysql-pv-claim \(context dest\) holds the synced data; syncs stay stopped until continue-replication`)

	// remove-replication leaves the PVC it created.
	r = executeAll(t, append(args, "remove-replication")...)
	if r.errLine != "" {
		t.Fatalf("remove-replication: %s", r.errLine)
	}
	if err := cl.dest.Client.Get(ctx, client.ObjectKeyFromObject(&pvc), &pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Fatalf("the destination PVC after remove-replication: %v", err)
	}
}
