package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// rsyncDestinationTools reports why the loopback rsync destination cannot run here, "" when it can.
func rsyncDestinationTools() string {
	for _, tool := range []string{"rsync", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (hack/dataplane-tools.sh installs it)"
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return "sshd is not installed (hack/dataplane-tools.sh installs it)"
	}
	return ""
}

// relationshipKeys generates a relationship's ssh keys, as the rsync destination does: the
// destination's directory (its host key and the source's public key) and the Secret data it
// publishes for the source.
func relationshipKeys(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	gen := t.TempDir()
	for _, name := range []string{"source", "destination"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", filepath.Join(gen, name)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(gen, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dstKeys := t.TempDir()
	for _, name := range []string{"destination", "destination.pub", "source.pub"} {
		if err := os.WriteFile(filepath.Join(dstKeys, name), read(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dstKeys, map[string][]byte{"source": read("source"), "source.pub": read("source.pub"), "destination.pub": read("destination.pub")}
}

// TestMigrationRelationshipCreateRsyncDelete runs VolSync's migration flow: create provisions the
// namespace, the PVC and the ReplicationDestination (the test publishes its address, as
// volsyncd would); rsync copies a local directory into a real rsync destination that listens on
// loopback (the volsync-mover binary with sshd); delete keeps the PVC.
func TestMigrationRelationshipCreateRsyncDelete(t *testing.T) {
	cl := startTwoClusters(t)
	fastRelationshipPolls(t)
	ctx := context.Background()
	dst := cl.dest.Client
	configDir := t.TempDir()
	base := []string{"--kubeconfig", cl.kubeconfig, "--config-dir", configDir, "migration", "-r", "mig-example"}

	r := executeAll(t, append(base, "create", "--pvcname", "dest/mig-dst/mydata")...)
	if want := `error: persistentvolumeclaim mig-dst/mydata (context dest) not found, and --capacity is not set: pass --capacity, such as 10Gi, to have it created, or name an existing PVC`; strings.TrimSpace(r.errLine) != want {
		t.Fatalf("create of a missing PVC without --capacity: %q", r.errLine)
	}

	port := testenv.FreePort(t, "127.0.0.1")
	dstKeys, published := relationshipKeys(t)
	b := startCommand(t, append(base, "create", "--pvcname", "dest/mig-dst/mydata", "--capacity", "2Gi", "--storageclass", "standard-csi")...)
	var rd volsyncv1alpha1.ReplicationDestination
	testenv.Eventually(t, 15*time.Second, func() error {
		return dst.Get(ctx, client.ObjectKey{Namespace: "mig-dst", Name: "mydata-mig-dst"}, &rd)
	})
	if o := rd.Spec.Rsync; o == nil || o.CopyMethod != volsyncv1alpha1.CopyMethodDirect || ptr.Deref(o.DestinationPVC, "") != "mydata" ||
		ptr.Deref(o.ServiceType, "") != corev1.ServiceTypeLoadBalancer || rd.Labels[volsyncv1alpha1.RelationshipLabel] == "" {
		t.Fatalf("replicationdestination %v, spec %+v", rd.Labels, rd.Spec.Rsync)
	}
	createAll(t, dst, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "mig-dst", Name: "volsync-rsync-dst-src-mydata-mig-dst"}, Data: published})
	rd.Status.Rsync = &volsyncv1alpha1.ReplicationDestinationRsyncStatus{Address: ptr.To("127.0.0.1"), Port: ptr.To(int32(port)),
		SSHKeys: ptr.To("volsync-rsync-dst-src-mydata-mig-dst")}
	if err := dst.Status().Update(ctx, &rd); err != nil {
		t.Fatal(err)
	}
	r = b.finished(t)
	if r.errLine != "" {
		t.Fatalf("create: %s\n%s", r.errLine, r.out)
	}
	wantLines(t, r.out, `namespace mig-dst created`, `persistentvolumeclaim mig-dst/mydata \(context dest\) created`,
		`replicationdestination mig-dst/mydata-mig-dst \(context dest\) created`,
		`replicationdestination mig-dst/mydata-mig-dst \(context dest\) listens at 127\.0\.0\.1:`+strconv.Itoa(port),
		`migration relationship "mig-example" created \(\S+\): copy a directory into the PVC with 'volsyncctl migration -r mig-example rsync --source DIR'`)
	var pvc corev1.PersistentVolumeClaim
	if err := dst.Get(ctx, client.ObjectKey{Namespace: "mig-dst", Name: "mydata"}, &pvc); err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce || pvc.Spec.Resources.Requests.Storage().String() != "2Gi" || ptr.Deref(pvc.Spec.StorageClassName, "") != "standard-csi" {
		t.Fatalf("the PVC's spec %+v", pvc.Spec)
	}

	r = executeAll(t, append(base, "rsync", "--source", filepath.Join(configDir, "nope"))...)
	if !strings.Contains(r.errLine, "nope: no such file or directory: name a local directory") {
		t.Errorf("rsync of a missing directory: %q", r.errLine)
	}

	// rsync into a real destination on loopback, when the tools are here.
	if why := rsyncDestinationTools(); why != "" {
		t.Logf("migration rsync not run against a destination: %s", why)
	} else {
		mover := filepath.Join(t.TempDir(), "volsync-mover")
		if out, err := exec.Command("go", "build", "-o", mover, "github.com/volsync/volsync/cmd/volsync-mover").CombinedOutput(); err != nil {
			t.Fatalf("building volsync-mover: %v\n%s", err, out)
		}
		data, source := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(data, "stale.txt"), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(source, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"hello.txt": "hello\n", "dir/nested.txt": "nested\n"} {
			if err := os.WriteFile(filepath.Join(source, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var destOut testenv.SyncBuffer
		d := exec.Command(mover, "rsync", "destination")
		d.Env = append(os.Environ(), "DATA_DIR="+data, "KEYS_DIR="+dstKeys, "LISTEN_PORT="+strconv.Itoa(port), "LISTEN_ADDRESS=127.0.0.1",
			"DESTINATION_TIMEOUT=2m", "TERMINATION_LOG="+filepath.Join(t.TempDir(), "termination-log"))
		d.Stdout, d.Stderr = &destOut, &destOut
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- d.Wait() }()
		t.Cleanup(func() { _ = d.Process.Kill() })

		r = executeAll(t, append(base, "rsync", "--source", source, "--timeout", "1m")...)
		if r.errLine != "" {
			t.Fatalf("rsync: %s\n%s\ndestination:\n%s", r.errLine, r.out, destOut.String())
		}
		wantLines(t, r.out, `copying `+source+` into persistentvolumeclaim mig-dst/mydata \(context dest\) through 127\.0\.0\.1:`+strconv.Itoa(port),
			`persistentvolumeclaim mig-dst/mydata \(context dest\) now holds `+source+`: synchronized 2 of \d+ files .*`)
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("the destination exited with %v:\n%s", err, destOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the destination did not exit after the commit:\n%s", destOut.String())
		}
		for name, text := range map[string]string{"hello.txt": "hello\n", "dir/nested.txt": "nested\n"} {
			if got, err := os.ReadFile(filepath.Join(data, name)); err != nil || string(got) != text {
				t.Errorf("%s in the PVC: %q, %v", name, got, err)
			}
		}
		if _, err := os.Stat(filepath.Join(data, "stale.txt")); !os.IsNotExist(err) {
			t.Errorf("a file the source lacks is still in the PVC: %v", err)
		}
	}

	r = executeAll(t, append(base, "delete")...)
	if r.errLine != "" {
		t.Fatalf("delete: %s", r.errLine)
	}
	wantLines(t, r.out, `replicationdestination mig-dst/mydata-mig-dst \(context dest\) deleted`,
		`migration relationship "mig-example" deleted \(\S+\)`, `persistentvolumeclaim mig-dst/mydata \(context dest\) is kept`)
	testenv.Eventually(t, 15*time.Second, func() error {
		err := dst.Get(ctx, client.ObjectKeyFromObject(&rd), &rd)
		if apierrors.IsNotFound(err) || (err == nil && rd.DeletionTimestamp != nil) {
			return nil
		}
		return err
	})
	if err := dst.Get(ctx, client.ObjectKeyFromObject(&pvc), &pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Errorf("the PVC after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(configDir, "mig-example.yaml")); !os.IsNotExist(err) {
		t.Errorf("the relationship file after delete: %v", err)
	}
}
