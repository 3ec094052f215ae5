package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// restoredPVC finds the PVC set-replication made from the latest snapshot in its output.
var restoredPVC = regexp.MustCompile(`persistentvolumeclaim \S+?/(\S+) .*created from the latest snapshot`)

// TestSeedManualWorkflow runs the seed manual's replication workflow with volsyncctl on the
// cluster, with its config.yaml keys: start, set (the final sync, then a PVC from the latest
// snapshot, checked by checksum from a pod), continue, set again after new writes, remove.
func TestSeedManualWorkflow(t *testing.T) {
	ctx := context.Background()
	src := newNamespace(t, "seed-src")
	dst := newNamespace(t, "seed-dst")
	privilegedMovers(t, src)
	privilegedMovers(t, dst)
	newPVC(t, src, "data", nil)
	want := writeTree(t, src, "data", "seed-first")

	config := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("dest-access-mode: ReadWriteOnce\ndest-copy-method: Snapshot\ndest-namespace: %s\nsource-namespace: %s\nsource-pvc: data\nsource-copy-method: Snapshot\n", dst, src)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := func(verb string) string {
		t.Helper()
		out := volsyncctl(t, verb, "--config", config)
		t.Logf("volsyncctl %s:\n%s", verb, out)
		return out
	}
	check := func(out, want, what string) {
		t.Helper()
		m := restoredPVC.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("set-replication named no restored PVC:\n%s", out)
		}
		requireSameTree(t, what, want, treeSum(t, dst, m[1], "check-"+sanitize(m[1])))
	}

	seed("start-replication")
	check(seed("set-replication"), want, "the PVC set-replication made from the latest snapshot")
	seed("continue-replication")
	want = writeTree(t, src, "data", "seed-second")
	check(seed("set-replication"), want, "the PVC of the second set-replication")
	seed("remove-replication")

	var sources volsyncv1alpha1.ReplicationSourceList
	if err := k8s.List(ctx, &sources, client.InNamespace(src)); err != nil || len(sources.Items) != 0 {
		t.Errorf("after remove-replication: %d sources (%v)", len(sources.Items), err)
	}
	var dests volsyncv1alpha1.ReplicationDestinationList
	if err := k8s.List(ctx, &dests, client.InNamespace(dst)); err != nil || len(dests.Items) != 0 {
		t.Errorf("after remove-replication: %d destinations (%v)", len(dests.Items), err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: src, Name: "data"}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("remove-replication took the source PVC: %v", err)
	}
}

// TestMigrationRelationshipRsyncIntoAPVC runs VolSync's `migration -r` flow: create provisions a
// PVC and its rsync destination, rsync copies a local directory into it over ssh from this host,
// and a pod checks the PVC by checksum; delete keeps the PVC.
func TestMigrationRelationshipRsyncIntoAPVC(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "mig-rel")
	privilegedMovers(t, ns)
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	if err := os.MkdirAll(filepath.Join(local, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("sub/file-%d", i)
		if err := os.WriteFile(filepath.Join(local, name), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), i*100)), 0o644); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, name)
	}
	configDir := filepath.Join(dir, "relationships")
	base := []string{"--config-dir", configDir, "migration", "-r", "e2e"}
	volsyncctl(t, append(base, "create", "--pvcname", ns+"/data", "--capacity", "1Gi", "--storageclass", storageClass, "--servicetype", "ClusterIP")...)
	out := volsyncctl(t, append(base, "rsync", "--source", local+"/")...)
	t.Logf("migration rsync:\n%s", out)

	// Every file of the directory, and nothing else, with the same content.
	got := runPod(t, ns, "check-rsynced", "data", `cd /data && find . -path ./lost+found -prune -o -path './.volsync*' -prune -o -type f -print | sed 's|^\./||' | sort | while read -r p; do sha256sum "$p"; done`, asRoot())
	sort.Strings(lines)
	var want []string
	for _, name := range lines {
		data, err := os.ReadFile(filepath.Join(local, name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%x  %s", sha256.Sum256(data), name))
	}
	requireSameTree(t, "the PVC migration rsync filled", strings.Join(want, "\n"), strings.TrimSpace(got))
	volsyncctl(t, append(base, "delete")...)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data"}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("delete took the PVC: %v", err)
	}
	var rds volsyncv1alpha1.ReplicationDestinationList
	if err := k8s.List(ctx, &rds, client.InNamespace(ns)); err != nil && !apierrors.IsNotFound(err) || len(rds.Items) != 0 {
		t.Errorf("after delete: %d destinations (%v)", len(rds.Items), err)
	}
}
