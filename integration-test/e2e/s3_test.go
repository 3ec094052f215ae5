package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The restic and rclone scenarios need an object store the mover pods reach. The test starts a
// real S3 server, versitygw over a temporary directory, on the host at the address pods see it
// by (VOLSYNC_E2E_HOST_IP), with restic, rclone and versitygw built at pinned versions by
// hack/mover-tools.sh, the tools the data-plane tests use.

// objectStore is a versitygw the test started on the host.
type objectStore struct {
	// Endpoint is http://<host IP>:<port>, as the movers reach it.
	Endpoint  string
	AccessKey string
	SecretKey string
	// rcloneConf is an rclone.conf whose section "s3" reaches the server, for the host's rclone.
	rcloneConf string
}

var (
	e2eToolsOnce sync.Once
	e2eToolsDir  string
	e2eToolsErr  error
)

// objectStoreTools returns the directory holding restic, rclone and versitygw, building them the
// first time (hack/mover-tools.sh caches them, so later runs find them at once).
func objectStoreTools(t *testing.T) string {
	t.Helper()
	e2eToolsOnce.Do(func() {
		var stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join(repoRoot(), "hack", "mover-tools.sh"))
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			e2eToolsErr = fmt.Errorf("hack/mover-tools.sh: %v\n%s", err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		e2eToolsDir = lines[len(lines)-1]
		for _, tool := range []string{"rclone", "versitygw"} {
			if _, err := os.Stat(filepath.Join(e2eToolsDir, tool)); err != nil {
				e2eToolsErr = fmt.Errorf("hack/mover-tools.sh did not build %s: %v", tool, err)
			}
		}
	})
	if e2eToolsErr != nil {
		t.Fatalf("the object store scenarios need their tools: %v", e2eToolsErr)
	}
	return e2eToolsDir
}

// startObjectStore starts an S3 server on the host for the test; it stops at the end of the test.
func startObjectStore(t *testing.T) *objectStore {
	t.Helper()
	if hostIP == "" {
		t.Fatal("VOLSYNC_E2E_HOST_IP is not set: the object store listens on the host at the address pods reach it by")
	}
	bin := filepath.Join(objectStoreTools(t), "versitygw")
	root := t.TempDir()
	port := freeHostPort(t)
	s := &objectStore{Endpoint: "http://" + net.JoinHostPort(hostIP, strconv.Itoa(port)), AccessKey: "volsynce2e",
		SecretKey: "volsync-e2e-secret-key"}
	var out lockedBuffer
	cmd := exec.Command(bin, "--port", net.JoinHostPort(hostIP, strconv.Itoa(port)), "--access", s.AccessKey,
		"--secret", s.SecretKey, "--region", "us-east-1", "posix", root)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + root}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- versitygw ---\n%s", tailString(out.String(), 4000))
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	addr := net.JoinHostPort(hostIP, strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("versitygw exited at start:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s within 30s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.rcloneConf = filepath.Join(t.TempDir(), "rclone.conf")
	if err := os.WriteFile(s.rcloneConf, []byte(s.rcloneConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// rcloneConfig is an rclone.conf whose section "s3" reaches the server.
func (s *objectStore) rcloneConfig() string {
	return fmt.Sprintf("[s3]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\n"+
		"endpoint = %s\nregion = us-east-1\nforce_path_style = true\n", s.AccessKey, s.SecretKey, s.Endpoint)
}

// makeBucket creates a bucket with the host's rclone, as an admin prepares a store.
func (s *objectStore) makeBucket(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(objectStoreTools(t), "rclone"), "mkdir", "s3:"+name)
	cmd.Env = []string{"RCLONE_CONFIG=" + s.rcloneConf, "HOME=" + os.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("creating bucket %s: %v: %s", name, err, out)
	}
}

// resticRepositorySecret makes the Secret a restic mover reads its repository from: bucket/path
// on the store.
func (s *objectStore) resticRepositorySecret(t *testing.T, ns, name, bucket, path string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: objectMeta(ns, name), StringData: map[string]string{
		"RESTIC_REPOSITORY":     fmt.Sprintf("s3:%s/%s/%s", s.Endpoint, bucket, path),
		"RESTIC_PASSWORD":       "volsync-e2e-repository-password",
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_DEFAULT_REGION":    "us-east-1",
	}})
}

// rcloneConfigSecret makes the Secret an rclone mover reads rclone.conf from.
func (s *objectStore) rcloneConfigSecret(t *testing.T, ns, name string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: objectMeta(ns, name), StringData: map[string]string{
		"rclone.conf": s.rcloneConfig(),
	}})
}

// freeHostPort is a TCP port free on the host address pods reach.
func freeHostPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		t.Fatalf("finding a free port on %s: %v", hostIP, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer a child process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tailString is the end of s, at most n bytes.
func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
