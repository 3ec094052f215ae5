package migration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// benchObjects is the size of the namespace the benchmark migrates.
const benchObjects = 1000

// largeNamespaceObjects is the size of the namespace whose status must stay bounded.
const largeNamespaceObjects = 20000

// fillNamespace creates namespace ns on cluster A with benchObjects ConfigMaps of about 1 KiB
// each.
func fillNamespace(tb testing.TB, ns string) {
	fillNamespaceWith(tb, ns, benchObjects, 1024)
}

// fillNamespaceWith creates namespace ns on cluster A with n ConfigMaps of size bytes each,
// sixteen at a time.
func fillNamespaceWith(tb testing.TB, ns string, n, size int) {
	tb.Helper()
	ctx := context.Background()
	createOn(tb, a, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	value := strings.Repeat("x", size)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}},
					Data:       map[string]string{"value": value},
				}
				if err := a.Create(ctx, cm); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// BenchmarkMigrateNamespace migrates a namespace of 1,000 ConfigMaps from cluster A to cluster B
// with a Migration, and, when kubectl is among the test binaries, copies an identical namespace
// with `kubectl get -o yaml | kubectl apply -f -` in the same iteration, and reports both rates.
// Each iteration copies into namespaces cluster B has never seen, so both create every object.
func BenchmarkMigrateNamespace(bench *testing.B) {
	ctx := context.Background()
	pair := pairToB(bench)
	assets, err := testenv.AssetsDir()
	if err != nil {
		bench.Fatal(err)
	}
	kubectl := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		kubectl = ""
	}
	dir := bench.TempDir()
	kubeconfigA, err := kubeconfigFor(clusterA.Config)
	if err != nil {
		bench.Fatal(err)
	}
	pathA, pathB := filepath.Join(dir, "a.kubeconfig"), filepath.Join(dir, "b.kubeconfig")
	if err := os.WriteFile(pathA, kubeconfigA, 0o600); err != nil {
		bench.Fatal(err)
	}
	if err := os.WriteFile(pathB, kubeconfigB, 0o600); err != nil {
		bench.Fatal(err)
	}

	var volsyncTime, kubectlTime time.Duration
	for i := 0; i < bench.N; i++ {
		bench.StopTimer()
		ns := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()%1e6, i)
		fillNamespace(bench, ns)
		if kubectl != "" {
			fillNamespace(bench, ns+"-kubectl")
			// `kubectl get configmaps` does not include the namespace; the Migration makes its own.
			createOn(bench, b, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-kubectl"}})
		}
		m := namespaceMigration(ns, pair)
		bench.StartTimer()

		got, took := runMigration(bench, m, 5*time.Minute)
		volsyncTime += took
		if got.Status.Status != volsyncv1alpha1.RunStatusSuccessful || got.Status.Summary.NumberOfMigratedResources != benchObjects+1 {
			bench.Fatalf("migration ended %s with %s resources", got.Status.Status, got.Status.Summary.Resources)
		}

		if kubectl != "" {
			start := time.Now()
			var stderr bytes.Buffer
			cmd := exec.Command("bash", "-o", "pipefail", "-c",
				`"$KUBECTL" --kubeconfig "$A" get configmaps -n "$NS" -o yaml | "$KUBECTL" --kubeconfig "$B" apply -f - >/dev/null`)
			cmd.Env = append(os.Environ(), "KUBECTL="+kubectl, "A="+pathA, "B="+pathB, "NS="+ns+"-kubectl")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				bench.Fatalf("kubectl get | kubectl apply: %v: %s", err, stderr.String())
			}
			kubectlTime += time.Since(start)
			var copied corev1.ConfigMapList
			if err := b.List(ctx, &copied, client.InNamespace(ns+"-kubectl")); err != nil {
				bench.Fatal(err)
			}
			if len(copied.Items) != benchObjects {
				bench.Fatalf("kubectl copied %d ConfigMaps, want %d", len(copied.Items), benchObjects)
			}
		}
	}
	objects := float64(benchObjects * bench.N)
	volsyncRate := objects / volsyncTime.Seconds()
	bench.ReportMetric(volsyncRate, "volsync-objects/s")
	line := fmt.Sprintf("migrate %d ConfigMaps between two API servers: volsync Migration %.0f objects/s (%s per namespace)",
		benchObjects, volsyncRate, (volsyncTime / time.Duration(bench.N)).Round(time.Millisecond))
	if kubectl != "" {
		kubectlRate := objects / kubectlTime.Seconds()
		bench.ReportMetric(kubectlRate, "kubectl-objects/s")
		line += fmt.Sprintf("; kubectl get -o yaml | kubectl apply -f - %.0f objects/s (%s per namespace)",
			kubectlRate, (kubectlTime / time.Duration(bench.N)).Round(time.Millisecond))
	}
	bench.Log(line)
}

// runMigration creates m and times it until it has finished, looking every 50 ms (a benchmark
// measures the wait, so it polls finely rather than waiting on an event).
func runMigration(bench *testing.B, m *volsyncv1alpha1.Migration, limit time.Duration) (*volsyncv1alpha1.Migration, time.Duration) {
	bench.Helper()
	start := time.Now()
	createOn(bench, a, m)
	var got volsyncv1alpha1.Migration
	for {
		if err := a.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			bench.Fatal(err)
		}
		if got.Status.Status.Finished() {
			return &got, time.Since(start)
		}
		if time.Since(start) > limit {
			bench.Fatalf("migration did not finish in %s: %+v", limit, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkMigrateLargeNamespace migrates a namespace of 20,000 ConfigMaps and reports the rate
// and the size of the Migration's status, which must stay far below the API server's 1.5 MiB
// object limit however many objects the namespace holds. One iteration is enough: -benchtime=1x.
func BenchmarkMigrateLargeNamespace(bench *testing.B) {
	pair := pairToB(bench)
	var took time.Duration
	var statusBytes, objectBytes, listed int
	for i := 0; i < bench.N; i++ {
		bench.StopTimer()
		ns := fmt.Sprintf("large-%d-%d", time.Now().UnixNano()%1e6, i)
		fillNamespaceWith(bench, ns, largeNamespaceObjects, 256)
		m := namespaceMigration(ns, pair)
		bench.StartTimer()
		got, d := runMigration(bench, m, 20*time.Minute)
		took += d
		bench.StopTimer()
		if got.Status.Status != volsyncv1alpha1.RunStatusSuccessful || got.Status.Summary.NumberOfMigratedResources != largeNamespaceObjects+1 {
			bench.Fatalf("migration ended %s with %s resources", got.Status.Status, got.Status.Summary.Resources)
		}
		var copied metav1.PartialObjectMetadataList
		copied.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
		if err := b.List(context.Background(), &copied, client.InNamespace(ns), client.HasLabels{volsyncv1alpha1.MigratedFromLabel}); err != nil {
			bench.Fatal(err)
		}
		if len(copied.Items) != largeNamespaceObjects {
			bench.Fatalf("cluster B holds %d copied ConfigMaps, want %d", len(copied.Items), largeNamespaceObjects)
		}
		listed = len(got.Status.Resources)
		if int64(listed)+got.Status.ResourcesNotListed != largeNamespaceObjects+1 {
			bench.Fatalf("%d listed and %d not listed, want %d in all", listed, got.Status.ResourcesNotListed, largeNamespaceObjects+1)
		}
		status, err := json.Marshal(got.Status)
		if err != nil {
			bench.Fatal(err)
		}
		object, err := json.Marshal(got)
		if err != nil {
			bench.Fatal(err)
		}
		statusBytes, objectBytes = max(statusBytes, len(status)), max(objectBytes, len(object))
		bench.StartTimer()
	}
	rate := float64(largeNamespaceObjects*bench.N) / took.Seconds()
	bench.ReportMetric(rate, "objects/s")
	bench.ReportMetric(float64(statusBytes), "status-bytes")
	bench.Logf("migrate %d ConfigMaps between two API servers: %.0f objects/s (%s per namespace); the finished Migration is %d bytes, its status %d bytes (%d entries listed)",
		largeNamespaceObjects, rate, (took / time.Duration(bench.N)).Round(time.Millisecond), objectBytes, statusBytes, listed)
}

// namespaceMigration is a Migration of namespace ns, without its volumes, through pair.
func namespaceMigration(ns, pair string) *volsyncv1alpha1.Migration {
	return &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: suiteNamespace},
		Spec:       volsyncv1alpha1.MigrationSpec{ClusterPair: pair, Namespaces: []string{ns}, IncludeVolumes: new(bool)},
	}
}
