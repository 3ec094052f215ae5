package dataplane

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The restic mover against a real restic and a real S3 server: backups, restores of the latest,
// of an older snapshot (previous, restoreAsOf), deletion on restore, retention, failing restores
// that say so, and a locked repository that fails fast with exit code 11.

// resticTreeOptions: a restore as root carries owners too; directory times are compared below
// the top (restic does not own the directory it restores into).
var resticTreeOptions = checksumOptions{Ownership: true, DirTimes: true}

// requireTree fails the test when the tree at dir differs from want.
func requireTree(t testing.TB, want treeSum, dir string, opt checksumOptions, what string) {
	t.Helper()
	got := checksumTree(t, dir, opt, moverOwned)
	if d := diffTrees(withoutTop(want), withoutTop(got)); d != "" {
		t.Fatalf("%s differs from what was backed up:\n%s", what, d)
	}
}

// withoutTop drops the top directory's own entry: the volume's root belongs to the destination.
func withoutTop(s treeSum) treeSum {
	out := make(treeSum, len(s))
	for k, v := range s {
		if k != "." {
			out[k] = v
		}
	}
	return out
}

// terminationSnapshot reads the restic snapshot id from a mover's termination log.
func terminationSnapshot(t testing.TB, p *moverProc) string {
	t.Helper()
	var s struct {
		Snapshot string `json:"snapshot"`
	}
	b, err := os.ReadFile(p.termLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("termination log %q: %v", b, err)
	}
	return s.Snapshot
}

// resticCmd runs restic by hand against the repository of env.
func resticCmd(t testing.TB, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(resticBin(t), append([]string{"--cache-dir", filepath.Join(tempDir(t, asRoot, "restic-cache"))}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// resticSnapshots lists the repository's snapshots, by hand.
func resticSnapshots(t testing.TB, env map[string]string) []struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
} {
	t.Helper()
	out, err := resticCmd(t, env, "snapshots", "--json", "--no-lock").Output()
	if err != nil {
		t.Fatalf("restic snapshots: %v", err)
	}
	var snaps []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("restic snapshots: %v: %s", err, out)
	}
	return snaps
}

// TestResticRestoresLatestPreviousAndAsOf backs up a 10,000-file tree with every awkward case,
// changes it and backs it up again, then restores the latest, the previous and the one as of a
// time between the two backups, each compared by checksum with the tree that was backed up.
func TestResticRestoresLatestPreviousAndAsOf(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	repo := s3.resticEnv(t, "restic", "latest-previous-asof")
	src := tempDir(t, asRoot, "restic-src")
	makeTree(t, src, treeSpec{SmallFiles: 10000, SmallSize: 300, LargeFiles: 1, LargeSize: 8 << 20,
		Special: true, Owners: true, Seed: 11})
	source := withEnv(repo, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asRoot, "restic-cache-src"))

	first := startMover(t, asRoot, "restic", "source", source)
	if code := first.wait(10 * time.Minute); code != 0 {
		t.Fatalf("first backup exited %d: %+v\n%s", code, first.summary(), testenv.Tail(first.out.String(), 4000))
	}
	if sum := first.summary(); sum.Result != "Successful" || sum.Files < 10000 || sum.Bytes < 10000*300 {
		t.Fatalf("first backup's summary %+v: want Successful with at least 10000 files and 3,000,000 bytes", sum)
	}
	firstID := terminationSnapshot(t, first)
	if len(firstID) != 64 {
		t.Fatalf("first backup reported snapshot %q, want a 64-hex-digit restic id", firstID)
	}
	v1 := checksumTree(t, src, resticTreeOptions, moverOwned)

	// A time strictly between the two snapshots, at whole seconds as a person would write it.
	asOf := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(asOf.Add(1100 * time.Millisecond)))

	if err := os.RemoveAll(filepath.Join(src, "small", "d019")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "special", "mode-0755"), 0o700); err != nil {
		t.Fatal(err)
	}
	changeTree(t, src, 0.02, 12)
	second := startMover(t, asRoot, "restic", "source", source)
	if code := second.wait(10 * time.Minute); code != 0 {
		t.Fatalf("second backup exited %d: %+v\n%s", code, second.summary(), testenv.Tail(second.out.String(), 4000))
	}
	secondID := terminationSnapshot(t, second)
	v2 := checksumTree(t, src, resticTreeOptions, moverOwned)
	if secondID == firstID || secondID == "" {
		t.Fatalf("second backup reported snapshot %q after %q", secondID, firstID)
	}

	cases := []struct {
		name     string
		env      []string
		want     treeSum
		snapshot string
	}{
		{"the latest snapshot by default", nil, v2, secondID},
		{"previous 1 restores the snapshot before the latest", []string{"SELECT_PREVIOUS", "1"}, v1, firstID},
		{"restoreAsOf between the backups restores the first", []string{"RESTORE_AS_OF", asOf.Format(time.RFC3339)}, v1, firstID},
		{"restoreAsOf after both restores the latest", []string{"RESTORE_AS_OF", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}, v2, secondID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := tempDir(t, asRoot, "restic-dst")
			env := withEnv(repo, append([]string{"DATA_DIR", dst, "CACHE_DIR", tempDir(t, asRoot, "restic-cache-dst")}, c.env...)...)
			p := startMover(t, asRoot, "restic", "destination", env)
			if code := p.wait(10 * time.Minute); code != 0 {
				t.Fatalf("restore exited %d: %+v\n%s", code, p.summary(), testenv.Tail(p.out.String(), 4000))
			}
			if got := terminationSnapshot(t, p); got != c.snapshot {
				t.Fatalf("restored snapshot %s, want %s", got, c.snapshot)
			}
			if sum := p.summary(); sum.Files < 9000 || !strings.Contains(sum.Message, c.snapshot[:8]) {
				t.Fatalf("restore summary %+v: want the file count and the snapshot named", sum)
			}
			requireTree(t, c.want, dst, resticTreeOptions, "the restored tree")
			requireSparse(t, c.want, "special/sparse.img")
		})
	}

	t.Run("enableFileDeletion removes what the snapshot lacks, and only then", func(t *testing.T) {
		dst := tempDir(t, asRoot, "restic-dst")
		base := withEnv(repo, "DATA_DIR", dst, "CACHE_DIR", tempDir(t, asRoot, "restic-cache-dst"))
		runMoverOK(t, asRoot, "restic", "destination", withEnv(base, "SELECT_PREVIOUS", "1"))
		requireTree(t, v1, dst, resticTreeOptions, "the first restore")

		// Without deletion, files of the older snapshot stay beside the newer one's.
		runMoverOK(t, asRoot, "restic", "destination", base)
		if _, err := os.Stat(filepath.Join(dst, "small", "d019")); err != nil {
			t.Fatalf("without enableFileDeletion, small/d019 (only in the first snapshot) should stay: %v", err)
		}
		sum := runMoverOK(t, asRoot, "restic", "destination", withEnv(base, "ENABLE_FILE_DELETION", "1"))
		requireTree(t, v2, dst, resticTreeOptions, "the restore with enableFileDeletion")
		if !strings.Contains(sum.Message, "deleted") {
			t.Errorf("summary %q should count the deleted files", sum.Message)
		}
	})
}

// TestResticRestoreWithNothingToRestoreCompletesEmpty: a restore that selects nothing (a new or
// empty repository, previous beyond the history, restoreAsOf before the first snapshot)
// completes as an empty restore, as in VolSync, so that automation waiting for lastManualSync
// goes on; it says why in the log, the message and a Warning, and writes nothing. A new
// repository is initialised. Wrong passwords and malformed settings still fail.
func TestResticRestoreWithNothingToRestoreCompletesEmpty(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	empty := s3.resticEnv(t, "restic", "initialized-but-empty")
	if out, err := resticCmd(t, empty, "init").CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v: %s", err, out)
	}
	one := s3.resticEnv(t, "restic", "one-snapshot")
	src := tempDir(t, asRoot, "restic-src")
	makeTree(t, src, treeSpec{SmallFiles: 10, SmallSize: 100, Seed: 3})
	runMoverOK(t, asRoot, "restic", "source", withEnv(one, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asRoot, "cache")))
	never := s3.resticEnv(t, "restic", "never-written")

	cases := []struct {
		name    string
		env     map[string]string
		ok      bool
		message string
	}{
		{"a repository that does not exist", never, true, "did not exist (no backup was ever written to it) and was initialized"},
		{"a repository without snapshots", empty, true, "has no snapshots"},
		{"previous beyond the oldest snapshot", withEnv(one, "SELECT_PREVIOUS", "1"), true, "holds only 1"},
		{"restoreAsOf before the first snapshot", withEnv(one, "RESTORE_AS_OF", "2001-01-01T00:00:00Z"), true, "no snapshot was taken at or before 2001-01-01T00:00:00Z"},
		{"a wrong password", withEnv(one, "RESTIC_PASSWORD", "not-the-password"), false, "wrong repository password"},
		{"a malformed restoreAsOf", withEnv(one, "RESTORE_AS_OF", "yesterday"), false, "not an RFC 3339 time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := tempDir(t, asRoot, "restic-dst")
			env := withEnv(c.env, "DATA_DIR", dst, "CACHE_DIR", tempDir(t, asRoot, "cache"))
			code, sum, p := runMoverTo(t, asRoot, "restic", "destination", env, 5*time.Minute)
			switch {
			case c.ok && (code != 0 || sum.Result != "Successful" || !strings.Contains(sum.Warning, c.message) ||
				!strings.Contains(sum.Message, "no data will be restored")):
				t.Fatalf("exit %d with %+v: want an empty restore that says %q\n%s", code, sum, c.message, testenv.Tail(p.out.String(), 3000))
			case c.ok && !strings.Contains(p.out.String(), "no data will be restored"):
				t.Fatalf("the mover's log does not say that no data will be restored:\n%s", p.out.String())
			case !c.ok && (code == 0 || sum.Result != "Failed" || !strings.Contains(sum.Message, c.message)):
				t.Fatalf("exit %d with %+v: want a failure that says %q\n%s", code, sum, c.message, testenv.Tail(p.out.String(), 3000))
			}
			if strings.Contains(p.out.String(), env["RESTIC_PASSWORD"]) || strings.Contains(p.out.String(), s3.SecretKey) {
				t.Fatalf("the mover's output shows a secret:\n%s", p.out.String())
			}
			if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Fatalf("a restore of nothing wrote %d entries into the volume", len(entries))
			}
		})
	}
	// The repository that did not exist was initialised: a second restore finds it empty.
	code, sum, _ := runMoverTo(t, asRoot, "restic", "destination",
		withEnv(never, "DATA_DIR", tempDir(t, asRoot, "restic-dst"), "CACHE_DIR", tempDir(t, asRoot, "cache")), 5*time.Minute)
	if code != 0 || !strings.Contains(sum.Warning, "has no snapshots") {
		t.Fatalf("second restore: exit %d with %+v; want the initialised repository found empty", code, sum)
	}
}

// TestResticLockedRepositoryFailsFastThenUnlocks: a repository locked by another process (here
// restic itself, holding an exclusive lock while it waits for a new password that never comes:
// to restic it looks exactly like a mover killed on another node) makes both directions fail at
// once with exit code 11 and a message that names spec.restic.unlock; UNLOCK=1 then succeeds.
func TestResticLockedRepositoryFailsFastThenUnlocks(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	repo := s3.resticEnv(t, "restic", "locked")
	src := tempDir(t, asRoot, "restic-src")
	makeTree(t, src, treeSpec{SmallFiles: 100, SmallSize: 100, Special: true, Seed: 5})
	source := withEnv(repo, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asRoot, "cache"))
	runMoverOK(t, asRoot, "restic", "source", source)

	fifo := filepath.Join(tempDir(t, asRoot, "lock"), "new-password")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	holder := resticCmd(t, repo, "key", "passwd", "--new-password-file", fifo)
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
		_ = holder.Wait()
	})
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := resticCmd(t, repo, "list", "locks", "--no-lock").Output()
		if strings.TrimSpace(string(out)) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock holder did not lock the repository within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, role := range []string{"source", "destination"} {
		t.Run(role+" fails fast with exit code 11", func(t *testing.T) {
			env := source
			if role == "destination" {
				env = withEnv(repo, "DATA_DIR", tempDir(t, asRoot, "restic-dst"), "CACHE_DIR", tempDir(t, asRoot, "cache"))
			}
			start := time.Now()
			code, sum, p := runMoverTo(t, asRoot, "restic", role, env, 2*time.Minute)
			took := time.Since(start)
			if code != 11 || sum.Result != "Failed" {
				t.Fatalf("exit %d with %+v: want exit code 11\n%s", code, sum, testenv.Tail(p.out.String(), 3000))
			}
			for _, want := range []string{"repository is locked by another process", "set spec.restic.unlock to remove stale locks"} {
				if !strings.Contains(sum.Message, want) {
					t.Errorf("message %q should contain %q", sum.Message, want)
				}
			}
			if took > 30*time.Second {
				t.Errorf("failing on a locked repository took %s: it must not wait for the lock", took)
			}
		})
	}

	t.Run("UNLOCK=1 removes the stale lock and the backup succeeds", func(t *testing.T) {
		sum := runMoverOK(t, asRoot, "restic", "source", withEnv(source, "UNLOCK", "1"))
		if sum.Files < 100 {
			t.Fatalf("summary %+v", sum)
		}
		out, _ := resticCmd(t, repo, "list", "locks", "--no-lock").Output()
		if strings.TrimSpace(string(out)) != "" {
			t.Fatalf("locks left after the backup: %s", out)
		}
	})
}

// TestResticRetentionForgetsAndPrunes: FORGET_OPTIONS applies retention after each backup and
// PRUNE=1 prunes.
func TestResticRetentionForgetsAndPrunes(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	repo := s3.resticEnv(t, "restic", "retention")
	src := tempDir(t, asRoot, "restic-src")
	makeTree(t, src, treeSpec{SmallFiles: 50, SmallSize: 100, Seed: 7})
	source := withEnv(repo, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asRoot, "cache"))

	for i := 0; i < 3; i++ {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("run-%d", i)), []byte(fmt.Sprintln(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		runMoverOK(t, asRoot, "restic", "source", source)
	}
	if n := len(resticSnapshots(t, repo)); n != 3 {
		t.Fatalf("%d snapshots after 3 backups without retention, want 3", n)
	}
	sum := runMoverOK(t, asRoot, "restic", "source", withEnv(source, "FORGET_OPTIONS", "--keep-last 2", "PRUNE", "1"))
	if !strings.Contains(sum.Message, "retention applied") || !strings.Contains(sum.Message, "pruned") {
		t.Errorf("summary %q should say that retention and prune ran", sum.Message)
	}
	snaps := resticSnapshots(t, repo)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots after --keep-last 2, want 2", len(snaps))
	}
	// The one kept last is the backup just made, and it restores.
	dst := tempDir(t, asRoot, "restic-dst")
	runMoverOK(t, asRoot, "restic", "destination", withEnv(repo, "DATA_DIR", dst, "CACHE_DIR", tempDir(t, asRoot, "cache")))
	requireTree(t, checksumTree(t, src, resticTreeOptions, moverOwned), dst, resticTreeOptions, "the restore after retention")

	t.Run("a FORGET_OPTIONS that is not a retention policy is refused", func(t *testing.T) {
		code, sum, _ := runMoverTo(t, asRoot, "restic", "source", withEnv(source, "FORGET_OPTIONS", "--keep-last 1 --prune"), time.Minute)
		if code == 0 || !strings.Contains(sum.Message, "only --keep-* retention flags") {
			t.Fatalf("exit %d, %+v: want a refusal", code, sum)
		}
	})
}

// TestResticExcludes: RESTIC_EXCLUDES keeps paths out of the backup; a leading "/" means the top
// of the volume.
func TestResticExcludes(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	repo := s3.resticEnv(t, "restic", "excludes")
	src := tempDir(t, asRoot, "restic-src")
	for _, p := range []string{"keep/a", "cache/b", "keep/cache/c", "x.tmp", "keep/y.tmp"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runMoverOK(t, asRoot, "restic", "source", withEnv(repo, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asRoot, "cache"),
		"RESTIC_EXCLUDES", "/cache\n*.tmp\n"))
	dst := tempDir(t, asRoot, "restic-dst")
	runMoverOK(t, asRoot, "restic", "destination", withEnv(repo, "DATA_DIR", dst, "CACHE_DIR", tempDir(t, asRoot, "cache")))
	var got []string
	_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, rel)
		}
		return nil
	})
	if strings.Join(got, ",") != "keep/a,keep/cache/c" {
		t.Fatalf("restored %v, want [keep/a keep/cache/c]", got)
	}
}

// The restic rows of BenchmarkDataplane: a backup of the tree and a restore of it into the
// destination, through the entry points and by hand with the same restic flags. The row by hand
// is not compared: restic alone does not restore the top directory's mode and time.
func init() {
	benchTools = append(benchTools,
		benchTool{Name: "restic by hand", Sync: rawResticRoundTrip, Unverified: true},
		benchTool{Name: "restic entry points", Raw: "restic by hand", Sync: resticEntryRoundTrip},
	)
}

func resticEntryRoundTrip(b *testing.B, src, dst string, _ keys) {
	r := benchRemoteFor(b, dst)
	env := r.s3.resticEnv(b, "bench", "entry")
	data := r.stableSource(b, src)
	r.timePhase("backup", func() {
		runMoverOK(b, asRoot, "restic", "source", withEnv(env, "DATA_DIR", data, "CACHE_DIR", filepath.Join(r.dir, "cache-src")))
	})
	r.timePhase("restore", func() {
		runMoverOK(b, asRoot, "restic", "destination", withEnv(env, "DATA_DIR", dst, "CACHE_DIR", filepath.Join(r.dir, "cache-dst"),
			"ENABLE_FILE_DELETION", "1"))
	})
	r.printPhases("restic entry points")
}

func rawResticRoundTrip(b *testing.B, src, dst string, _ keys) {
	r := benchRemoteFor(b, dst)
	env := r.s3.resticEnv(b, "bench", "raw")
	data := r.stableSource(b, src)
	restic := env["RESTIC_BIN"]
	if _, err := os.Stat(filepath.Join(r.dir, "initialized")); err != nil {
		rawCmd(b, r.dir, env, restic, "init")
		_ = os.WriteFile(filepath.Join(r.dir, "initialized"), nil, 0o644)
	}
	r.timePhase("backup", func() {
		rawCmd(b, data, env, restic, "--cache-dir", filepath.Join(r.dir, "cache-src"), "backup", "--host", "volsync",
			"--one-file-system", "--ignore-inode", ".")
	})
	r.timePhase("restore", func() {
		rawCmd(b, r.dir, env, restic, "--cache-dir", filepath.Join(r.dir, "cache-dst"), "restore", "--sparse", "--delete",
			"latest", "--target", dst)
	})
	r.printPhases("restic by hand")
}

// TestResticRunsUnprivileged: both directions as a user without privileges, on data that user
// owns, restore what they can (everything but owners).
func TestResticRunsUnprivileged(t *testing.T) {
	s3 := startS3(t)
	s3.MakeBucket(t, "restic")
	repo := s3.resticEnv(t, "restic", "unprivileged")
	src := tempDir(t, asNobody, "restic-src")
	makeTree(t, src, treeSpec{SmallFiles: 200, SmallSize: 100, Seed: 9})
	makeRcloneSpecial(t, src, false)
	chownTree(t, src, asNobody)
	// chown clears set-user-id and set-group-id; give them back, as the owner may.
	for name, mode := range map[string]fs.FileMode{"mode-2755": 0o755 | fs.ModeSetgid, "mode-4755": 0o755 | fs.ModeSetuid} {
		if err := os.Chmod(filepath.Join(src, "special", name), mode); err != nil {
			t.Fatal(err)
		}
	}
	runMoverOK(t, asNobody, "restic", "source", withEnv(repo, "DATA_DIR", src, "CACHE_DIR", tempDir(t, asNobody, "cache")))
	dst := tempDir(t, asNobody, "restic-dst")
	runMoverOK(t, asNobody, "restic", "destination", withEnv(repo, "DATA_DIR", dst, "CACHE_DIR", tempDir(t, asNobody, "cache")))
	opt := checksumOptions{DirTimes: true}
	requireTree(t, checksumTree(t, src, opt, moverOwned), dst, opt, "the unprivileged restore")
}
