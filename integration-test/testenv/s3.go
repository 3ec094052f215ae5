package testenv

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
)

var (
	moverToolsOnce sync.Once
	moverToolsDir  string
	moverToolsErr  error
)

// MoverTools returns the directory holding restic, rclone and versitygw, built at pinned versions
// by hack/mover-tools.sh the first time (the script caches them outside the repository, so later
// runs find them at once). A tool that cannot be built fails the test: these tests never skip.
func MoverTools(t testing.TB) string {
	t.Helper()
	moverToolsOnce.Do(func() {
		var stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join(RepoRoot(), "hack", "mover-tools.sh"))
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			moverToolsErr = fmt.Errorf("hack/mover-tools.sh: %v\n%s", err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		moverToolsDir = lines[len(lines)-1]
		for _, tool := range []string{"restic", "rclone", "versitygw"} {
			if _, err := os.Stat(filepath.Join(moverToolsDir, tool)); err != nil {
				moverToolsErr = fmt.Errorf("hack/mover-tools.sh did not build %s: %v", tool, err)
			}
		}
	})
	if moverToolsErr != nil {
		t.Fatalf("the object-store tests need restic, rclone and versitygw: %v", moverToolsErr)
	}
	return moverToolsDir
}

// S3Options says where and how StartS3 serves. The zero value is plain HTTP on loopback.
type S3Options struct {
	// Host is the address the server listens on and clients reach it by: 127.0.0.1 when empty.
	// The end-to-end tests give the host's address that pods see.
	Host string
	// CertFile and KeyFile, when set, make the server speak HTTPS with that certificate; CAFile
	// is the CA that signed it, which clients (and MakeBucket) are told to trust.
	CertFile, KeyFile, CAFile string
}

// S3Server is a real S3 server, versitygw, that a test started over a temporary directory. It
// stops at the end of the test.
type S3Server struct {
	// Endpoint is http://host:port (https with a certificate), as clients reach the server.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// CAFile is S3Options.CAFile: the CA of an HTTPS server.
	CAFile string
	// RcloneConfigFile holds RcloneConfig. It and its directory are readable by every user, as a
	// Secret volume is, so movers the tests run as unprivileged users can read it.
	RcloneConfigFile string
}

// StartS3 starts versitygw for the test, waits until it listens and stops it (its whole process
// group) when the test ends; on failure its output is logged.
func StartS3(t testing.TB, opts S3Options) *S3Server {
	t.Helper()
	bin := filepath.Join(MoverTools(t), "versitygw")
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(FreePort(t, host)))
	// A directory of its own rather than t.TempDir(), which only its owner may enter.
	dir, err := os.MkdirTemp("", "volsync-s3-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "objects")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &S3Server{Endpoint: "http://" + addr, AccessKey: "volsynctest", SecretKey: "volsync-test-secret-key",
		Region: "us-east-1", CAFile: opts.CAFile, RcloneConfigFile: filepath.Join(dir, "rclone.conf")}
	args := []string{"--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region}
	if opts.CertFile != "" {
		args = append(args, "--cert", opts.CertFile, "--key", opts.KeyFile)
		s.Endpoint = "https://" + addr
	}
	var out SyncBuffer
	cmd := exec.Command(bin, append(args, "posix", root)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + root}
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that the kill at the end reaches anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- versitygw ---\n%s", Tail(out.String(), 4000))
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
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
	if err := os.WriteFile(s.RcloneConfigFile, []byte(s.RcloneConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// RcloneConfig is an rclone.conf whose section "s3" reaches the server.
func (s *S3Server) RcloneConfig() string {
	return fmt.Sprintf("[s3]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\n"+
		"endpoint = %s\nregion = %s\nforce_path_style = true\n", s.AccessKey, s.SecretKey, s.Endpoint, s.Region)
}

// MakeBucket creates a bucket with rclone, as an admin prepares a store.
func (s *S3Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	args := []string{"mkdir", "s3:" + name}
	if s.CAFile != "" {
		args = append(args, "--ca-cert", s.CAFile)
	}
	cmd := exec.Command(filepath.Join(MoverTools(t), "rclone"), args...)
	cmd.Env = []string{"RCLONE_CONFIG=" + s.RcloneConfigFile, "HOME=" + os.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("creating bucket %s: %v: %s", name, err, out)
	}
}

// SyncBuffer is a bytes.Buffer that a child process writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail is the end of s, at most n bytes, for logging a long output.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
