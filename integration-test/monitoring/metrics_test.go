package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

const (
	systemNamespace = "volsync-system"
	appNamespace    = "app"
	moverImage      = "volsync-mover:latest"
)

// metricName is a volsync metric in a PromQL query. Only volsync's own are checked: the
// dashboard and the alerts name no other.
var metricName = regexp.MustCompile(`\bvolsync_[a-z0-9_]+`)

// TestAlertsAndDashboardNameOnlyMetricsVolsyncdServes starts volsyncd as its Deployment runs it,
// against a real API server, gives it one object of every kind the alerts and panels are about
// (a ReplicationSource whose sync completes, one on a SchedulePolicy, a ClusterPair, a
// MigrationSchedule and a finished Migration), and reads the metric names from its /metrics. Vectors show there only once they have
// a series, hence the objects.
func TestAlertsAndDashboardNameOnlyMetricsVolsyncdServes(t *testing.T) {
	used := map[string][]string{} // metric -> where it is used
	for _, q := range ruleQueries(t) {
		for _, m := range metricName.FindAllString(q.expr, -1) {
			used[m] = append(used[m], q.where)
		}
	}
	for _, q := range dashboardQueries(t) {
		for _, m := range metricName.FindAllString(q.expr, -1) {
			used[m] = append(used[m], q.where)
		}
	}
	if len(used) == 0 {
		t.Fatal("no volsync metric found in the rules or the dashboard")
	}

	env, err := testenv.Start(filepath.Join(testenv.RepoRoot(), "specs", "thirdparty", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := env.Client
	kubeconfig, err := env.AdminKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{systemNamespace, appNamespace} {
		create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	addr := startVolsyncd(t, kubeconfig)

	// A ReplicationSource whose one manual sync completes: duration, out-of-sync, failures.
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "restic-repo", Namespace: appNamespace},
		StringData: map[string]string{"RESTIC_REPOSITORY": "s3:http://minio.example:9000/b", "RESTIC_PASSWORD": "pw"}})
	create(t, c, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: appNamespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}})
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: appNamespace},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "data",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "once"},
			Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{Repository: "restic-repo",
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodDirect}},
		}}
	create(t, c, rs)
	// One on a policy besides: the policy's period.
	create(t, c, &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "hourly"},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}}})
	onPolicy := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace}, Spec: *rs.Spec.DeepCopy()}
	onPolicy.Name, onPolicy.Spec.Trigger = "web", &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: "hourly"}
	create(t, c, onPolicy)

	// A ClusterPair back to this API server, a MigrationSchedule on it and a Migration through it.
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "loopback-kubeconfig", Namespace: appNamespace},
		Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}})
	create(t, c, &volsyncv1alpha1.ClusterPair{ObjectMeta: metav1.ObjectMeta{Name: "loopback", Namespace: appNamespace},
		Spec: volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: "loopback-kubeconfig"}}})
	migration := volsyncv1alpha1.MigrationSpec{
		ClusterPair:      "loopback",
		Namespaces:       []string{appNamespace},
		NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{appNamespace: appNamespace + "-dr"},
		IncludeVolumes:   ptr.To(false),
	}
	create(t, c, &volsyncv1alpha1.MigrationSchedule{ObjectMeta: metav1.ObjectMeta{Name: "app-dr", Namespace: appNamespace},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{SchedulePolicyName: "hourly",
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: migration}}})
	create(t, c, &volsyncv1alpha1.Migration{ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: appNamespace}, Spec: migration})

	job := waitJob(t, c, mover.ObjectName("restic-src", rs.Name))
	testenv.FinishJob(t, c, job, moverImage, 0, `{"result":"Successful","message":"","bytes":1,"files":1}`, "")

	// Wait until every name in use is served, or the deadline says which are not.
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		served := servedMetrics(t, addr)
		missing = missing[:0]
		for m := range used {
			if !served[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s is used by %s but volsyncd does not serve it", m, strings.Join(used[m], ", "))
	}
}

// query is one PromQL expression and where it is written.
type query struct{ where, expr string }

// ruleQueries are the expressions of the PrometheusRule's alerts.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "specs", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert, Record, Expr string
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &pr); err != nil {
		t.Fatal(err)
	}
	var out []query
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			out = append(out, query{"alert " + r.Alert + r.Record, r.Expr})
		}
	}
	return out
}

// dashboardQueries are the panels' target expressions and the template variables' queries.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "specs", "prometheus", "dashboard", "volsync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var out []query
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, query{fmt.Sprintf("panel %q", p.Title), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		out = append(out, query{fmt.Sprintf("variable %q", v.Name), v.Definition})
	}
	return out
}

// servedMetrics are the sample names volsyncd's /metrics shows now (histograms with their
// _bucket, _sum and _count).
func servedMetrics(t *testing.T, addr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil // not listening yet
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func waitJob(t *testing.T, c client.Client, name string) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Get(context.Background(), client.ObjectKey{Namespace: appNamespace, Name: name}, &job)
		if err == nil {
			return &job
		}
		if time.Now().After(deadline) {
			t.Fatalf("mover Job %s not created: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startVolsyncd builds cmd/volsyncd and runs it against kubeconfig, as specs/manager does, and
// returns its metrics address. Its log is shown when the test fails.
func startVolsyncd(t *testing.T, kubeconfig []byte) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "volsyncd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/volsyncd")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building volsyncd: %v\n%s", err, out)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr, probeAddr := freePort(t), freePort(t)
	logPath := filepath.Join(dir, "volsyncd.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kc, "--admin-namespace", systemNamespace,
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", probeAddr,
		"--mover-image", moverImage)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				t.Logf("volsyncd's last lines:\n%s", strings.Join(lines[max(len(lines)-30, 0):], "\n"))
			}
		}
	})
	return metricsAddr
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
