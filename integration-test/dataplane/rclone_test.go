package dataplane

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The rclone mover against a real rclone and a real S3 server: one source feeding two
// destinations (1:many), compared by checksum, with changes and deletes propagating.
//
// rclone carries file contents and times; the mover's manifest carries links, modes, owners and
// directories. Hard links, sparse files, FIFOs, xattrs and ACLs do not travel through an object
// store with rclone, so the tree here has every case that does.

// makeRcloneSpecial adds the awkward cases rclone's mover must carry.
func makeRcloneSpecial(t testing.TB, root string, owners bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sp := filepath.Join(root, "special")
	must(os.MkdirAll(filepath.Join(sp, "empty-dir", "nested-empty"), 0o755))
	must(os.MkdirAll(filepath.Join(sp, "private"), 0o700))
	must(os.MkdirAll(filepath.Join(sp, "group-only"), 0o750))
	must(os.WriteFile(filepath.Join(sp, "empty-file"), nil, 0o644))
	for _, m := range []fs.FileMode{0o600, 0o640, 0o755, 0o444, 0o777, 0o1755, 0o2755, 0o4755} {
		p := filepath.Join(sp, fmt.Sprintf("mode-%04o", uint32(m)))
		must(os.WriteFile(p, []byte(p), 0o644))
		must(os.Chmod(p, m&fs.ModePerm|unixBits(m)))
	}
	must(os.WriteFile(filepath.Join(sp, "private", "secret"), []byte("only the owner\n"), 0o600))
	must(os.Symlink("mode-0644-missing", filepath.Join(sp, "link-dangling")))
	must(os.Symlink("mode-0600", filepath.Join(sp, "link-relative")))
	must(os.Symlink("/etc/hostname", filepath.Join(sp, "link-absolute")))
	must(os.Symlink("empty-dir", filepath.Join(sp, "link-to-dir")))
	must(os.Symlink("../special/private/secret", filepath.Join(sp, "private", "link-up")))
	must(os.WriteFile(filepath.Join(sp, "name with spaces"), []byte("x\n"), 0o644))
	must(os.WriteFile(filepath.Join(sp, "ünïcødé-名前"), []byte("y\n"), 0o644))
	if owners && os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(sp, "mode-0600"), 1001, 1001))
		must(os.Lchown(filepath.Join(sp, "mode-0640"), 0, 1002))
		must(os.Lchown(filepath.Join(sp, "private"), 1003, 1003))
		must(os.Lchown(filepath.Join(sp, "link-relative"), 1004, 1004))
		must(os.Lchown(filepath.Join(sp, "empty-dir"), 65534, 65534))
	}
}

// TestRcloneOneSourceTwoDestinations syncs a 10,000-file tree to S3 and pulls it into two
// destinations, one privileged and one not; then changes, deletes and replaces (a link by a file,
// a file by a link, a directory by a link) and syncs again.
func TestRcloneOneSourceTwoDestinations(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "rclone")
	remote := s3.rcloneEnv(t, "rclone", "volumes/one-to-two")
	src := tempDir(t, asRoot, "rclone-src")
	makeTree(t, src, treeSpec{SmallFiles: 10000, SmallSize: 300, LargeFiles: 1, LargeSize: 8 << 20, Seed: 21})
	makeRcloneSpecial(t, src, true)

	dests := []struct {
		id   identity
		dir  string
		opts checksumOptions
	}{
		{asRoot, tempDir(t, asRoot, "rclone-dst-root"), checksumOptions{Ownership: true, DirTimes: true}},
		{asNobody, tempDir(t, asNobody, "rclone-dst-nobody"), checksumOptions{DirTimes: true}},
	}
	syncAll := func(round string) (moverSummary, []moverSummary) {
		t.Helper()
		sent := runMoverOK(t, asRoot, "rclone", "source", withEnv(remote, "DATA_DIR", src))
		var received []moverSummary
		for _, d := range dests {
			received = append(received, runMoverOK(t, d.id, "rclone", "destination", withEnv(remote, "DATA_DIR", d.dir)))
			want := checksumTree(t, src, d.opts, moverOwned)
			got := checksumTree(t, d.dir, d.opts, moverOwned)
			if diff := diffTrees(withoutTop(want), withoutTop(got)); diff != "" {
				t.Fatalf("%s: the destination run as %s differs from the source:\n%s", round, d.id.Name, diff)
			}
		}
		return sent, received
	}

	sent1, received1 := syncAll("first sync")
	if sent1.Files < 10000 || sent1.Bytes < 10000*300 {
		t.Errorf("first sync's source summary %+v: want at least 10000 files and 3,000,000 bytes", sent1)
	}
	for _, r := range received1 {
		if r.Files < 10000 {
			t.Errorf("first sync's destination summary %+v: want at least 10000 files", r)
		}
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sp := filepath.Join(src, "special")
	must(os.RemoveAll(filepath.Join(src, "small", "d019")))
	must(os.Remove(filepath.Join(sp, "link-relative")))
	must(os.WriteFile(filepath.Join(sp, "link-relative"), []byte("now a file\n"), 0o640))
	must(os.Remove(filepath.Join(sp, "name with spaces")))
	must(os.Symlink("mode-0755", filepath.Join(sp, "name with spaces")))
	must(os.RemoveAll(filepath.Join(sp, "group-only")))
	must(os.Symlink("private", filepath.Join(sp, "group-only")))
	must(os.Remove(filepath.Join(sp, "link-dangling")))
	must(os.Symlink("elsewhere", filepath.Join(sp, "link-dangling")))
	must(os.RemoveAll(filepath.Join(sp, "empty-dir", "nested-empty")))
	must(os.Chmod(filepath.Join(sp, "mode-0755"), 0o700))
	must(os.Chmod(filepath.Join(sp, "private"), 0o711))
	changeTree(t, src, 0.02, 22)

	sent2, _ := syncAll("second sync")
	if sent2.Files >= sent1.Files/4 {
		t.Errorf("the incremental sync sent %d files, the first %d: it should send only the changes", sent2.Files, sent1.Files)
	}
	for _, d := range dests {
		if _, err := os.Lstat(filepath.Join(d.dir, "small", "d019")); !os.IsNotExist(err) {
			t.Errorf("small/d019, deleted at the source, is still at the destination run as %s: %v", d.id.Name, err)
		}
	}
}

// TestRcloneDestinationWithNothingToRestoreFails: pulling from a path the source never wrote must
// fail and leave the volume as it was, not empty it.
func TestRcloneDestinationWithNothingToRestoreFails(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "rclone")
	cases := []struct {
		name    string
		env     map[string]string
		message string
	}{
		{"a path the source never wrote", s3.rcloneEnv(t, "rclone", "never-written"), "nothing to restore"},
		{"a bucket that does not exist", s3.rcloneEnv(t, "no-such-bucket", "x"), "nothing to restore"},
		{"a missing config section", withEnv(s3.rcloneEnv(t, "rclone", "x"), "RCLONE_CONFIG_SECTION", ""), "RCLONE_CONFIG_SECTION is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := tempDir(t, asRoot, "rclone-dst")
			if err := os.WriteFile(filepath.Join(dst, "precious"), []byte("keep me\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, sum, p := runMoverTo(t, asRoot, "rclone", "destination", withEnv(c.env, "DATA_DIR", dst), 2*time.Minute)
			if code == 0 || sum.Result != "Failed" || !strings.Contains(sum.Message, c.message) {
				t.Fatalf("exit %d with %+v: want a failure saying %q\n%s", code, sum, c.message, testenv.Tail(p.out.String(), 3000))
			}
			if strings.Contains(p.out.String(), s3.SecretKey) {
				t.Fatalf("the mover's output shows a secret:\n%s", p.out.String())
			}
			if _, err := os.Stat(filepath.Join(dst, "precious")); err != nil {
				t.Fatalf("the failed restore touched the volume: %v", err)
			}
		})
	}
}

// The rclone rows of BenchmarkDataplane: a sync of the tree up to S3 and down into the
// destination, through the entry points and by hand with the movers' flags.
func init() {
	benchTools = append(benchTools,
		benchTool{Name: "rclone by hand", Sync: rawRcloneRoundTrip, Unverified: true},
		benchTool{Name: "rclone entry points", Raw: "rclone by hand", Sync: rcloneEntryRoundTrip},
	)
}

func rcloneEntryRoundTrip(b *testing.B, src, dst string, _ keys) {
	r := benchRemoteFor(b, dst)
	env := r.s3.rcloneEnv(b, "bench", "entry")
	r.timePhase("up", func() { runMoverOK(b, asRoot, "rclone", "source", withEnv(env, "DATA_DIR", src)) })
	r.timePhase("down", func() { runMoverOK(b, asRoot, "rclone", "destination", withEnv(env, "DATA_DIR", dst)) })
	r.printPhases("rclone entry points")
}

// rawRcloneRoundTrip is rclone sync with the flags VolSync has always used (--checksum
// --transfers 10), with --metadata and --links so that modes and links travel as well as rclone
// alone can carry them. Its destination is not compared: rclone alone cannot restore what the
// entry points' manifest does.
func rawRcloneRoundTrip(b *testing.B, src, dst string, _ keys) {
	r := benchRemoteFor(b, dst)
	env := map[string]string{"RCLONE_CONFIG": r.s3.RcloneConfigFile}
	rclone := rcloneBin(b)
	flags := []string{"--checksum", "--transfers", "10", "--links", "--metadata", "--create-empty-src-dirs", "--retries", "1"}
	r.timePhase("up", func() { rawCmd(b, r.dir, env, rclone, append([]string{"sync", src, "s3:bench/raw"}, flags...)...) })
	r.timePhase("down", func() {
		// Links come back with a user.content-type xattr that Linux refuses on links; rclone
		// reports it, so a failure here is tolerated as long as the data arrived.
		cmd := exec.Command(rclone, append([]string{"sync", "s3:bench/raw", dst}, flags...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir(), "RCLONE_CONFIG=" + r.s3.RcloneConfigFile}
		_ = cmd.Run()
	})
	r.printPhases("rclone by hand")
}
