package dataplane

import (
	"encoding/json"
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

	"github.com/volsync/volsync/pkg/mover/entrypoint"

	"github.com/volsync/volsync/integration-test/testenv"
)

// moverBinary is the volsync-mover binary built once for the whole package.
var moverBinary string

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// A CA bundle from the environment would make restic and rclone refuse the plain-HTTP
	// loopback S3 server's peers, or trust the wrong ones.
	os.Unsetenv("AWS_CA_BUNDLE")
	for _, tool := range []string{"rsync", "ssh", "ssh-keygen", "stunnel4", "setfacl", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "dataplane tests need %s: run 'make dataplane-tools' (hack/dataplane-tools.sh) first\n", tool)
			return 1
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		fmt.Fprintln(os.Stderr, "dataplane tests need sshd: run 'make dataplane-tools' (hack/dataplane-tools.sh) first")
		return 1
	}
	dir, err := os.MkdirTemp("", "volsync-dataplane-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by the unprivileged users the tests run the movers as.
	_ = os.Chmod(dir, 0o755)
	moverBinary = filepath.Join(dir, "volsync-mover")
	build := exec.Command("go", "build", "-o", moverBinary, "github.com/volsync/volsync/cmd/volsync-mover")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building volsync-mover: %v\n", err)
		return 1
	}
	code := m.Run()
	if benchData.Dir != "" {
		os.RemoveAll(benchData.Dir)
	}
	return code
}

// identity is who a mover process runs as: root, or an unprivileged user id.
type identity struct {
	Name     string
	UID, GID int
}

var (
	asRoot = identity{Name: "root"}
	// asNobody has a user database entry.
	asNobody = identity{Name: "nobody", UID: 65534, GID: 65534}
	// asArbitrary has none, as under OpenShift's random user ids.
	asArbitrary = identity{Name: "uid-1000770000", UID: 1000770000, GID: 0}
)

func (id identity) privileged() bool { return id.UID == 0 }

// tempDir makes a directory the identity can use, removed at the end of the test.
func tempDir(t testing.TB, id identity, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "volsync-dp-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !id.privileged() {
		chownTree(t, dir, id)
	}
	return dir
}

// chownTree gives a tree to the identity (for unprivileged runs).
func chownTree(t testing.TB, root string, id identity) {
	t.Helper()
	if out, err := runCmd("chown", "-R", "--no-dereference", fmt.Sprintf("%d:%d", id.UID, id.GID), root); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
}

// keys is a relationship's key material, laid out as the Secrets are mounted.
type keys struct {
	// Destination holds source, source.pub, destination, destination.pub and psk.txt.
	Destination string
	// Source holds source, source.pub, destination.pub and psk.txt.
	Source string
}

var keygenMu sync.Mutex

// makeKeys generates a relationship's keys: ed25519 OpenSSH keys and a pre-shared key.
func makeKeys(t testing.TB, id identity) keys {
	t.Helper()
	keygenMu.Lock()
	defer keygenMu.Unlock()
	gen := tempDir(t, asRoot, "keygen")
	for _, name := range []string{"source", "destination"} {
		if out, err := runCmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", filepath.Join(gen, name)); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	psk := make([]byte, 32)
	f, _ := os.Open("/dev/urandom")
	_, _ = f.Read(psk)
	f.Close()
	pskLine := fmt.Sprintf("volsync:%x\n", psk)
	k := keys{Destination: tempDir(t, id, "keys-dst"), Source: tempDir(t, id, "keys-src")}
	copyKey := func(dir, name string) {
		b, err := os.ReadFile(filepath.Join(gen, name))
		if err != nil {
			t.Fatal(err)
		}
		// Secret volumes are world-readable by default: the movers must cope.
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"source", "source.pub", "destination", "destination.pub"} {
		copyKey(k.Destination, n)
	}
	for _, n := range []string{"source", "source.pub", "destination.pub"} {
		copyKey(k.Source, n)
	}
	for _, dir := range []string{k.Destination, k.Source} {
		if err := os.WriteFile(filepath.Join(dir, "psk.txt"), []byte(pskLine), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int { return testenv.FreePort(t, "127.0.0.1") }

// moverProc is a running volsync-mover process.
type moverProc struct {
	t        testing.TB
	cmd      *exec.Cmd
	out      *testenv.SyncBuffer
	termLog  string
	done     chan struct{}
	exitCode int
}

// startMover runs volsync-mover <mover> <role> as id with env.
func startMover(t testing.TB, id identity, mover, role string, env map[string]string) *moverProc {
	t.Helper()
	state := tempDir(t, id, "term")
	p := &moverProc{t: t, out: &testenv.SyncBuffer{}, termLog: filepath.Join(state, "termination-log"), done: make(chan struct{})}
	args := []string{mover, role}
	name := moverBinary
	if !id.privileged() {
		name = "setpriv"
		args = append([]string{"--reuid=" + strconv.Itoa(id.UID), "--regid=" + strconv.Itoa(id.GID), "--clear-groups",
			"--inh-caps=-all", moverBinary}, args...)
	}
	p.cmd = exec.Command(name, args...)
	// A TMPDIR of its own, removed with the test even when the mover is killed.
	p.cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "TMPDIR=" + tempDir(t, id, "tmp"),
		"TERMINATION_LOG=" + p.termLog, "HOME=" + state}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Its own process group, so that a kill reaches ssh and rsync too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", mover, role, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitCode = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.exitCode = ee.ExitCode()
		} else if err != nil {
			p.exitCode = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", mover, role, p.out.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *moverProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		p.kill()
		p.t.Fatalf("mover did not exit within %s; output:\n%s", timeout, p.out.String())
		return -1
	}
}

// kill sends SIGKILL to the mover's whole process group.
func (p *moverProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// summary reads the termination log.
func (p *moverProc) summary() moverSummary {
	p.t.Helper()
	var s moverSummary
	b, err := os.ReadFile(p.termLog)
	if err != nil {
		p.t.Fatalf("no termination log: %v; output:\n%s", err, p.out.String())
	}
	if err := json.Unmarshal(b, &s); err != nil {
		p.t.Fatalf("termination log %q is not JSON: %v", b, err)
	}
	return s
}

type moverSummary = entrypoint.Summary

// moverKind describes one mover under test.
type moverKind struct {
	Name string
}

var (
	rsyncSSH = moverKind{Name: "rsync"}
	rsyncTLS = moverKind{Name: "rsync-tls"}
	allKinds = []moverKind{rsyncSSH, rsyncTLS}
)

// syncRun is one source/destination pair run to completion.
type syncRun struct {
	Source, Destination *moverProc
}

// startDestination starts a destination on a free loopback port and returns it with its port.
func startDestination(t testing.TB, kind moverKind, id identity, data string, k keys, extra map[string]string) (*moverProc, int) {
	t.Helper()
	port := freePort(t)
	env := map[string]string{"DATA_DIR": data, "KEYS_DIR": k.Destination, "LISTEN_PORT": strconv.Itoa(port),
		"LISTEN_ADDRESS": "127.0.0.1", "DESTINATION_TIMEOUT": "5m"}
	for k, v := range extra {
		env[k] = v
	}
	return startMover(t, id, kind.Name, "destination", env), port
}

func startSource(t testing.TB, kind moverKind, id identity, data string, keysDir string, port int, extra map[string]string) *moverProc {
	t.Helper()
	env := map[string]string{"DATA_DIR": data, "KEYS_DIR": keysDir, "DESTINATION_ADDRESS": "127.0.0.1",
		"DESTINATION_PORT": strconv.Itoa(port), "CONNECT_TIMEOUT": "60s"}
	for k, v := range extra {
		env[k] = v
	}
	return startMover(t, id, kind.Name, "source", env)
}

// syncOnce runs a destination and a source to completion and requires both to succeed.
func syncOnce(t testing.TB, kind moverKind, id identity, src, dst string, k keys) syncRun {
	t.Helper()
	d, port := startDestination(t, kind, id, dst, k, nil)
	s := startSource(t, kind, id, src, k.Source, port, nil)
	if code := s.wait(5 * time.Minute); code != 0 {
		t.Fatalf("source exited %d: %+v\noutput:\n%s\ndestination output:\n%s", code, s.summary(), s.out.String(), d.out.String())
	}
	if code := d.wait(time.Minute); code != 0 {
		t.Fatalf("destination exited %d: %+v\noutput:\n%s", code, d.summary(), d.out.String())
	}
	for _, p := range []*moverProc{s, d} {
		if sum := p.summary(); sum.Result != "Successful" {
			t.Fatalf("summary %+v", sum)
		}
	}
	return syncRun{Source: s, Destination: d}
}

// moverOwned reports whether a top-level name on a destination belongs to the mover, not the
// image.
func moverOwned(name string) bool {
	return strings.HasPrefix(name, ".volsync-") || name == "lost+found"
}

func dialLocal(port int) (net.Conn, error) {
	return net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
}
