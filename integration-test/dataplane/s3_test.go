package dataplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The restic and rclone movers talk to an object store. These tests run a real S3 server,
// versitygw over a temporary directory, on a free loopback port, with restic, rclone and
// versitygw built at pinned versions by hack/mover-tools.sh.

func resticBin(t testing.TB) string { return filepath.Join(sharedMoverTools(t), "restic") }
func rcloneBin(t testing.TB) string { return filepath.Join(sharedMoverTools(t), "rclone") }

var (
	sharedToolsOnce sync.Once
	sharedToolsDir  string
	sharedToolsErr  error
)

// sharedMoverTools is a directory every user can reach holding restic and rclone, for the movers
// the tests run unprivileged (the build cache is under root's home). Its name follows the
// cache's, so a second run reuses it.
func sharedMoverTools(t testing.TB) string {
	t.Helper()
	cache := testenv.MoverTools(t)
	sharedToolsOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "volsync-dataplane-"+filepath.Base(cache))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			sharedToolsErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		for _, tool := range []string{"restic", "rclone"} {
			from, to := filepath.Join(cache, tool), filepath.Join(dir, tool)
			if a, err := os.Stat(from); err == nil {
				if b, err := os.Stat(to); err == nil && a.Size() == b.Size() && !b.ModTime().Before(a.ModTime()) {
					continue
				}
			}
			tmp := to + ".tmp"
			_ = os.Remove(tmp)
			if err := os.Link(from, tmp); err != nil {
				if out, err := exec.Command("cp", from, tmp).CombinedOutput(); err != nil {
					sharedToolsErr = fmt.Errorf("copying %s: %v: %s", tool, err, out)
					return
				}
			}
			_ = os.Chmod(tmp, 0o755)
			if err := os.Rename(tmp, to); err != nil {
				sharedToolsErr = err
				return
			}
		}
		sharedToolsDir = dir
	})
	if sharedToolsErr != nil {
		t.Fatalf("sharing the mover tools: %v", sharedToolsErr)
	}
	return sharedToolsDir
}

// s3Server is an S3 server serving a temporary directory on loopback.
type s3Server struct {
	*testenv.S3Server
}

// startS3 starts an S3 server for the test; it stops at the end of the test.
func startS3(t testing.TB) *s3Server {
	t.Helper()
	return &s3Server{testenv.StartS3(t, testenv.S3Options{})}
}

// startS3TLS starts an S3 server that serves HTTPS with a certificate from a private CA, whose
// certificate is then in s.CAFile.
func startS3TLS(t testing.TB) *s3Server {
	t.Helper()
	pki := tempDir(t, asRoot, "s3-pki")
	opts := testenv.S3Options{CAFile: filepath.Join(pki, "ca.crt"),
		CertFile: filepath.Join(pki, "server.crt"), KeyFile: filepath.Join(pki, "server.key")}
	writeTestPKI(t, opts.CAFile, opts.CertFile, opts.KeyFile)
	return &s3Server{testenv.StartS3(t, opts)}
}

// resticEnv is the environment of a restic mover whose repository is bucket/path on s.
func (s *s3Server) resticEnv(t testing.TB, bucket, path string) map[string]string {
	return map[string]string{
		"RESTIC_REPOSITORY":     fmt.Sprintf("s3:%s/%s/%s", s.Endpoint, bucket, path),
		"RESTIC_PASSWORD":       "volsync-test-repository-password",
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_DEFAULT_REGION":    s.Region,
		"RESTIC_BIN":            resticBin(t),
	}
}

// rcloneEnv is the environment of an rclone mover that syncs with bucket/path on s.
func (s *s3Server) rcloneEnv(t testing.TB, bucket, path string) map[string]string {
	return map[string]string{
		"RCLONE_CONFIG":         s.RcloneConfigFile,
		"RCLONE_CONFIG_SECTION": "s3",
		"RCLONE_DEST_PATH":      bucket + "/" + path,
		"RCLONE_BIN":            rcloneBin(t),
	}
}

// withEnv returns base with extra added.
func withEnv(base map[string]string, extra ...string) map[string]string {
	out := make(map[string]string, len(base)+len(extra)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = extra[i+1]
	}
	return out
}

// runMoverTo runs a mover to its end and returns its exit code and summary.
func runMoverTo(t testing.TB, id identity, mover, role string, env map[string]string, timeout time.Duration) (int, moverSummary, *moverProc) {
	t.Helper()
	p := startMover(t, id, mover, role, env)
	code := p.wait(timeout)
	return code, p.summary(), p
}

// runMoverOK runs a mover and requires success.
func runMoverOK(t testing.TB, id identity, mover, role string, env map[string]string) moverSummary {
	t.Helper()
	code, sum, p := runMoverTo(t, id, mover, role, env, 10*time.Minute)
	if code != 0 || sum.Result != "Successful" {
		t.Fatalf("%s %s exited %d with %+v; output:\n%s", mover, role, code, sum, testenv.Tail(p.out.String(), 4000))
	}
	// latestMoverStatus.logs: the lines a person looks for, then VolSync's closing line.
	want := map[string][]string{"restic source": {"processed ", "snapshot ", " saved"}, "rclone source": {"Transferred: ", "Elapsed time: "}}[mover+" "+role]
	for _, w := range append(want, "completed in ") {
		if !strings.Contains(sum.Logs, w) {
			t.Fatalf("%s %s: summary logs %q lack %q", mover, role, sum.Logs, w)
		}
	}
	return sum
}

// benchRemote is the object store of one benchmark row: the row syncs into the same destination
// twice (initial, then incremental), and both runs must reach the same repository or path.
type benchRemote struct {
	s3    *s3Server
	dir   string // caches and the stable source path
	phase []string
}

var benchRemotes sync.Map // destination directory -> *benchRemote

func benchRemoteFor(b *testing.B, dst string) *benchRemote {
	if r, ok := benchRemotes.Load(dst); ok {
		return r.(*benchRemote)
	}
	r := &benchRemote{s3: startS3(b), dir: tempDir(b, asRoot, "bench-remote")}
	r.s3.MakeBucket(b, "bench")
	benchRemotes.Store(dst, r)
	b.Cleanup(func() { benchRemotes.Delete(dst) })
	return r
}

// stableSource points one path at src, whichever tree the benchmark hands over, as a volume is
// always mounted at /data: restic picks the parent snapshot by path.
func (r *benchRemote) stableSource(b *testing.B, src string) string {
	link := filepath.Join(r.dir, "data")
	_ = os.Remove(link)
	if err := os.Symlink(src, link); err != nil {
		b.Fatal(err)
	}
	return link
}

// timePhase runs f and records how long it took under name, for the line printed after the row.
func (r *benchRemote) timePhase(name string, f func()) {
	start := time.Now()
	f()
	r.phase = append(r.phase, fmt.Sprintf("%s %.2fs", name, time.Since(start).Seconds()))
}

// printPhases prints the row's phases (the table shows their sum).
func (r *benchRemote) printPhases(row string) {
	fmt.Printf("  %-28s %s\n", row+":", strings.Join(r.phase, ", "))
	r.phase = nil
}

// rawCmd runs a tool by hand, as a person would, in dir (PWD set, so a symlinked path stays).
func rawCmd(b *testing.B, dir string, env map[string]string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir(), "PWD=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, testenv.Tail(string(out), 3000))
	}
}

// writeTestPKI writes a CA certificate and a server certificate for 127.0.0.1 that it signed.
func writeTestPKI(t testing.TB, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "volsync test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, block := range map[string]*pem.Block{caFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCustomCAReachesAnS3ServerWithAPrivateCA: restic and rclone reach an HTTPS object store
// whose certificate a private CA signed when CUSTOM_CA names that CA, and refuse it without.
func TestCustomCAReachesAnS3ServerWithAPrivateCA(t *testing.T) {
	s3 := startS3TLS(t)
	s3.MakeBucket(t, "tls")
	src := tempDir(t, asRoot, "tls-src")
	makeTree(t, src, treeSpec{SmallFiles: 20, SmallSize: 100, Seed: 31})
	opt := checksumOptions{Ownership: true, DirTimes: true}
	for _, mover := range []string{"restic", "rclone"} {
		t.Run(mover, func(t *testing.T) {
			env := s3.resticEnv(t, "tls", "restic")
			if mover == "rclone" {
				env = s3.rcloneEnv(t, "tls", "rclone")
			}
			env = withEnv(env, "CACHE_DIR", tempDir(t, asRoot, "cache"))
			// Both tools retry an untrusted server for many minutes; CONNECT_TIMEOUT cuts that short.
			start := time.Now()
			code, sum, _ := runMoverTo(t, asRoot, mover, "source", withEnv(env, "DATA_DIR", src, "CONNECT_TIMEOUT", "10s"), 2*time.Minute)
			if code == 0 || !strings.Contains(sum.Message, "certificate signed by unknown authority") {
				t.Fatalf("without CUSTOM_CA: exit %d, %+v; want a failure naming the certificate", code, sum)
			}
			if took := time.Since(start); took > time.Minute {
				t.Errorf("failing on an untrusted server took %s", took)
			}
			env = withEnv(env, "CUSTOM_CA", s3.CAFile)
			runMoverOK(t, asRoot, mover, "source", withEnv(env, "DATA_DIR", src))
			dst := tempDir(t, asRoot, "tls-dst")
			runMoverOK(t, asRoot, mover, "destination", withEnv(env, "DATA_DIR", dst))
			requireTree(t, checksumTree(t, src, opt, moverOwned), dst, opt, "the tree restored over HTTPS")
		})
	}
}
