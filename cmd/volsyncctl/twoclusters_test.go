package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// The disaster-recovery commands talk to two clusters. The package's shared control plane is the
// source; a second one, started on first use and stopped by TestMain, is the destination.
var (
	secondOnce       sync.Once
	secondCluster    *testenv.Env
	secondKubeconfig []byte
	secondErr        error
)

// clusters are the two control planes and a kubeconfig whose contexts reach them: "source" (the
// current context), "dest", and "down", which points at a port nothing listens on.
type clusters struct {
	source, dest *testenv.Env
	kubeconfig   string
	// destKubeconfig is an admin kubeconfig of dest alone, as a ClusterPair's Secret holds it.
	destKubeconfig []byte
	// sourceID is the source's cluster id, as migrations record it on their copies.
	sourceID string
}

func startTwoClusters(t *testing.T) clusters {
	t.Helper()
	source, sourceKube := startCluster(t)
	secondOnce.Do(func() {
		if secondCluster, secondErr = testenv.Start(); secondErr != nil {
			return
		}
		secondKubeconfig, secondErr = secondCluster.AdminKubeconfig()
	})
	if secondErr != nil {
		t.Fatal(fmt.Errorf("second test control plane: %w", secondErr))
	}
	first, err := clientcmd.LoadFromFile(sourceKube)
	if err != nil {
		t.Fatal(err)
	}
	second, err := clientcmd.Load(secondKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	merged := clientcmdapi.NewConfig()
	add := func(name string, raw *clientcmdapi.Config) {
		ctx := raw.Contexts[raw.CurrentContext]
		merged.Clusters[name] = raw.Clusters[ctx.Cluster].DeepCopy()
		merged.AuthInfos[name] = raw.AuthInfos[ctx.AuthInfo].DeepCopy()
		merged.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	add("source", first)
	add("dest", second)
	add("down", first)
	merged.Clusters["down"].Server = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t, "127.0.0.1")))
	merged.CurrentContext = "source"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	var kubeSystem corev1.Namespace
	if err := source.Client.Get(context.Background(), client.ObjectKey{Name: metav1.NamespaceSystem}, &kubeSystem); err != nil {
		t.Fatal(err)
	}
	return clusters{source: source, dest: secondCluster, kubeconfig: path, destKubeconfig: secondKubeconfig, sourceID: string(kubeSystem.UID)}
}

// result is what one volsyncctl run printed.
type result struct{ out, stderr, errLine string }

// executeAll runs volsyncctl like execute, and also returns what it wrote on stderr.
func executeAll(t *testing.T, args ...string) result {
	t.Helper()
	var out testenv.SyncBuffer
	return executeInto(&out, args...)
}

// executeInto is executeAll writing stdout into out as it goes.
func executeInto(out *testenv.SyncBuffer, args ...string) result {
	var errOut bytes.Buffer
	a := newApp(out, &errOut, false)
	a.root.SetArgs(args)
	var errLine bytes.Buffer
	if err := a.root.Execute(); err != nil {
		cli.PrintError(&errLine, err)
	}
	return result{out.String(), errOut.String(), errLine.String()}
}

// background is a volsyncctl run in the background, for commands that wait for a state the test
// then plays the controllers to reach.
type background struct {
	done chan result
	out  *testenv.SyncBuffer
}

func startCommand(t *testing.T, args ...string) *background {
	t.Helper()
	b := &background{done: make(chan result, 1), out: &testenv.SyncBuffer{}}
	go func() { b.done <- executeInto(b.out, args...) }()
	return b
}

// printed waits until the command has printed text.
func (b *background) printed(t *testing.T, text string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(b.out.String(), text) {
			return fmt.Errorf("no %q in the output so far:\n%s", text, b.out.String())
		}
		return nil
	})
}

// finished waits for the command to return.
func (b *background) finished(t *testing.T) result {
	t.Helper()
	select {
	case r := <-b.done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("the command did not return; it printed:\n%s", b.out.String())
		return result{}
	}
}

// fastPolls makes the commands poll Migrations every 20ms for the rest of the test.
func fastPolls(t *testing.T) {
	t.Helper()
	was := migrationPollInterval
	migrationPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { migrationPollInterval = was })
}

// awaitMigrationNamed waits until a Migration whose name starts with prefix exists and returns it.
func awaitMigrationNamed(t *testing.T, c client.Client, ns, prefix string) *volsyncv1alpha1.Migration {
	t.Helper()
	var found *volsyncv1alpha1.Migration
	testenv.Eventually(t, 15*time.Second, func() error {
		var list volsyncv1alpha1.MigrationList
		if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for i := range list.Items {
			if strings.HasPrefix(list.Items[i].Name, prefix) && list.Items[i].DeletionTimestamp == nil {
				found = &list.Items[i]
				return nil
			}
		}
		return fmt.Errorf("no migration %s* in namespace %s", prefix, ns)
	})
	return found
}

// copyNamespace creates a namespace as a migration by the schedule scheduleNS/schedule leaves it
// on the destination, with the given extra annotations.
func copyNamespace(t *testing.T, c client.Client, name, scheduleNS, schedule, sourceID string, extra map[string]string) {
	t.Helper()
	annotations := map[string]string{
		volsyncv1alpha1.MigratedByAnnotation:              scheduleNS + "/" + schedule,
		volsyncv1alpha1.MigratedByKindAnnotation:          "MigrationSchedule",
		volsyncv1alpha1.MigratedWithClusterPairAnnotation: "dr",
	}
	for k, v := range extra {
		annotations[k] = v
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations,
		Labels: map[string]string{volsyncv1alpha1.MigratedFromLabel: sourceID}}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

// createAll creates the objects, failing the test on the first error.
func createAll(t *testing.T, c client.Client, objects ...client.Object) {
	t.Helper()
	for _, o := range objects {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// namespaceAnnotation is one annotation of a namespace, and whether it is set.
func namespaceAnnotation(t *testing.T, c client.Client, name, key string) (string, bool) {
	t.Helper()
	var ns corev1.Namespace
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, &ns); err != nil {
		t.Fatal(err)
	}
	v, ok := ns.Annotations[key]
	return v, ok
}

// getSchedule reads a MigrationSchedule.
func getSchedule(t *testing.T, c client.Client, ns, name string) *volsyncv1alpha1.MigrationSchedule {
	t.Helper()
	var ms volsyncv1alpha1.MigrationSchedule
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &ms); err != nil {
		t.Fatal(err)
	}
	return &ms
}

// setScheduleStatus plays the MigrationSchedule controller.
func setScheduleStatus(t *testing.T, c client.Client, ns, name string, st volsyncv1alpha1.MigrationScheduleStatus) {
	t.Helper()
	ms := getSchedule(t, c, ns, name)
	ms.Status = st
	if err := c.Status().Update(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
}

// drSchedule is a MigrationSchedule of the namespaces through the cluster pair "dr".
func drSchedule(ns, name string, namespaces []string, mapping map[string]volsyncv1alpha1.NamespaceName, suspend bool) *volsyncv1alpha1.MigrationSchedule {
	return &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: "every-30m",
			Suspend:            &suspend,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair: "dr", Namespaces: namespaces, NamespaceMapping: mapping,
				IncludeResources: ptr.To(true), IncludeVolumes: ptr.To(false), StartApplications: ptr.To(false),
			}},
		},
	}
}

// workloadReplicas is the spec.replicas of a Deployment or StatefulSet.
func workloadReplicas(o client.Object) *int32 {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return w.Spec.Replicas
	case *appsv1.StatefulSet:
		return w.Spec.Replicas
	}
	return nil
}

// replicasOf is the spec.replicas of a Deployment and its migration-replicas annotation.
func replicasOf(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	d := workload("Deployment", ns, name, 0, "")
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatal(err)
	}
	kept, ok := d.GetAnnotations()[volsyncv1alpha1.MigrationReplicasAnnotation]
	if !ok {
		kept = "-"
	}
	return fmt.Sprintf("%d kept:%s", *workloadReplicas(d), kept)
}

// scheduleEvents are the Events recorded on a schedule, as "action/reason: note".
func scheduleEvents(t *testing.T, c client.Client, ns, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "MigrationSchedule" && e.Regarding.Name == name && e.ReportingController == "volsyncctl" {
			out = append(out, e.Action+"/"+e.Reason+": "+e.Note)
		}
	}
	return out
}

// timestamps are RFC 3339 times in output, replaced by T so that lines compare.
var timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func withoutTimes(s string) string { return timestamps.ReplaceAllString(s, "T") }

// hasLine says whether out has a line that matches the regular expression, start to end.
// wantLines fails the test for each pattern no whole line of out matches.
func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !hasLine(out, p) {
			t.Errorf("no line %q in\n%s", p, out)
		}
	}
}

func hasLine(out, pattern string) bool {
	return regexp.MustCompile(`(?m)^` + pattern + `$`).MatchString(out)
}
