package migration

import (
	"bytes"
	"context"
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

// fillNamespace creates namespace ns on cluster A with benchObjects ConfigMaps of about 1 KiB
// each, eight at a time.
func fillNamespace(tb testing.TB, ns string) {
	tb.Helper()
	ctx := context.Background()
	createOn(tb, a, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	value := strings.Repeat("x", 1024)
	var wg sync.WaitGroup
	errs := make(chan error, benchObjects)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%04d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}},
					Data:       map[string]string{"value": value},
				}
				if err := a.Create(ctx, cm); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range benchObjects {
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
		m := &volsyncv1alpha1.Migration{
			ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: suiteNamespace},
			Spec:       volsyncv1alpha1.MigrationSpec{ClusterPair: pair, Namespaces: []string{ns}, IncludeVolumes: new(bool)},
		}
		bench.StartTimer()

		start := time.Now()
		createOn(bench, a, m)
		var got volsyncv1alpha1.Migration
		deadline := start.Add(5 * time.Minute)
		for {
			if err := a.Get(ctx, client.ObjectKeyFromObject(m), &got); err != nil {
				bench.Fatal(err)
			}
			if got.Status.Status.Finished() {
				break
			}
			if time.Now().After(deadline) {
				bench.Fatalf("migration did not finish in 5m: %+v", got.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
		volsyncTime += time.Since(start)
		if got.Status.Status != volsyncv1alpha1.RunStatusSuccessful || got.Status.Summary.NumberOfMigratedResources != benchObjects+1 {
			bench.Fatalf("migration ended %s with %s resources", got.Status.Status, got.Status.Summary.Resources)
		}

		if kubectl != "" {
			start = time.Now()
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
