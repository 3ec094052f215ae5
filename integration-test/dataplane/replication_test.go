package dataplane

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSyncMatchesSourceByChecksum moves a tree with every awkward case and 10,000 small files,
// then changes, deletes and adds, and moves it again: each time the destination must match the
// source by checksum, with no trace of the mover's bookkeeping.
func TestSyncMatchesSourceByChecksum(t *testing.T) {
	for _, kind := range allKinds {
		for _, id := range []identity{asRoot, asNobody, asArbitrary} {
			t.Run(fmt.Sprintf("%s as %s", kind.Name, id.Name), func(t *testing.T) {
				t.Parallel()
				if kind == rsyncSSH && id == asArbitrary && !nssWrapperInstalled() {
					t.Skip("libnss_wrapper is not installed: ssh cannot run under a user id without a user entry")
				}
				src, dst := tempDir(t, id, "src"), tempDir(t, id, "dst")
				// The 10,000-file tree for the privileged runs; the unprivileged ones need fewer to
				// show the same.
				files := 10000
				if !id.privileged() {
					files = 2000
				}
				makeTree(t, src, treeSpec{SmallFiles: files, SmallSize: 300, LargeFiles: 1, LargeSize: 8 << 20,
					Special: true, Owners: id.privileged(), Seed: 1})
				if !id.privileged() {
					chownTree(t, src, id)
					// chown clears set-group-id; give it back, as the owner may.
					if err := os.Chmod(filepath.Join(src, "special", "mode-2755"), 0o755|fs.ModeSetgid); err != nil {
						t.Fatal(err)
					}
				}
				k := makeKeys(t, id)
				opt := checksumOptions{Ownership: id.privileged(), DirTimes: true}

				first := syncOnce(t, kind, id, src, dst, k)
				want := requireSameTree(t, src, dst, opt, moverOwned)
				requireNoBookkeeping(t, dst)
				if got := first.Source.summary(); got.Files < int64(files) || got.Bytes < int64(files)*300 {
					t.Errorf("first sync's summary %+v: want at least %d files and %d bytes", got, files, files*300)
				}
				// latestMoverStatus.logs: rsync's own figures, then VolSync's closing line.
				if logs := first.Source.summary().Logs; !strings.Contains(logs, "sent ") || !strings.Contains(logs, " bytes  received ") ||
					!regexp.MustCompile(`\nRsync(-tls)? completed in [0-9]+s$`).MatchString(logs) {
					t.Errorf("first sync's summary logs %q: want rsync's sent/received line and the completion line", logs)
				}
				requireSparse(t, want, "special/sparse.img")

				// Deletes (a whole directory, files), changes, additions and a mode change.
				if err := os.RemoveAll(filepath.Join(src, "small", "d019")); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(src, "special", "hard-b")); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(src, "special", "mode-0755"), 0o700); err != nil {
					t.Fatal(err)
				}
				changeTree(t, src, 0.02, 2)
				if !id.privileged() {
					chownTree(t, src, id)
				}
				second := syncOnce(t, kind, id, src, dst, k)
				requireSameTree(t, src, dst, opt, moverOwned)
				requireNoBookkeeping(t, dst)
				if f1, f2 := first.Source.summary().Files, second.Source.summary().Files; f2 >= f1/4 {
					t.Errorf("the incremental sync transferred %d files, the first %d: it should move only the changes", f2, f1)
				}
			})
		}
	}
}

// TestKilledSyncKeepsPreviousImage kills a sync half-way through a large file, on either side:
// the destination must still hold the previous image, whole and readable, and the next sync must
// complete it.
func TestKilledSyncKeepsPreviousImage(t *testing.T) {
	for _, kind := range allKinds {
		for _, victim := range []string{"source", "destination"} {
			t.Run(fmt.Sprintf("%s with the %s killed", kind.Name, victim), func(t *testing.T) {
				id := asRoot
				src, dst := tempDir(t, id, "src"), tempDir(t, id, "dst")
				makeTree(t, src, treeSpec{SmallFiles: 500, SmallSize: 1000, Special: true, Owners: true, Seed: 3})
				k := makeKeys(t, id)
				opt := checksumOptions{Ownership: true, DirTimes: true}
				syncOnce(t, kind, id, src, dst, k)
				previous := requireSameTree(t, src, dst, opt, moverOwned)

				// The next image: a large new file, changes and deletes.
				writeRandomFile(t, filepath.Join(src, "huge.bin"), 192<<20, 9)
				changeTree(t, src, 0.2, 4)
				if err := os.RemoveAll(filepath.Join(src, "special")); err != nil {
					t.Fatal(err)
				}

				d, port := startDestination(t, kind, id, dst, k, nil)
				s := startSource(t, kind, id, src, k.Source, port, nil)
				waitForPartialTransfer(t, dst, 16<<20, s)
				if victim == "source" {
					s.kill()
				} else {
					d.kill()
				}
				got := checksumTree(t, dst, opt, moverOwned)
				if diff := diffTrees(previous, got); diff != "" {
					t.Fatalf("after the kill the destination is not its previous image:\n%s", diff)
				}

				// The next sync completes, whichever side survived.
				if victim == "destination" {
					s.kill()
					d, port = startDestination(t, kind, id, dst, k, nil)
				}
				s = startSource(t, kind, id, src, k.Source, port, nil)
				if code := s.wait(5 * time.Minute); code != 0 {
					t.Fatalf("the sync after the kill failed (%d): %+v", code, s.summary())
				}
				if code := d.wait(time.Minute); code != 0 {
					t.Fatalf("the destination failed (%d): %+v", code, d.summary())
				}
				requireSameTree(t, src, dst, opt, moverOwned)
				requireNoBookkeeping(t, dst)
			})
		}
	}
}

// waitForPartialTransfer waits until the destination's staging area holds at least size bytes of
// a file in transfer.
func waitForPartialTransfer(t *testing.T, dst string, size int64, s *moverProc) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var biggest int64
		_ = filepath.WalkDir(filepath.Join(dst, ".volsync-staging"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil && info.Size() > biggest {
					biggest = info.Size()
				}
			}
			return nil
		})
		if biggest >= size {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("the source finished before it could be killed half-way: %s", s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the transfer never got under way")
}

// TestWrongKeysFailClearly: a source with the wrong credentials fails at once with a message that
// says so, and the destination keeps waiting for the right source.
func TestWrongKeysFailClearly(t *testing.T) {
	cases := []struct {
		name    string
		kind    moverKind
		corrupt func(t *testing.T, right, other keys) string // returns the source's keys dir
		message string
	}{
		{"an ssh key of another relationship is refused", rsyncSSH, func(t *testing.T, right, other keys) string {
			dir := tempDir(t, asRoot, "mixed-keys")
			for _, n := range []string{"source", "source.pub"} {
				copyFile(t, filepath.Join(other.Source, n), filepath.Join(dir, n))
			}
			copyFile(t, filepath.Join(right.Source, "destination.pub"), filepath.Join(dir, "destination.pub"))
			return dir
		}, "refused the source's ssh key"},
		{"a destination whose host key is not destination.pub is not trusted", rsyncSSH, func(t *testing.T, right, other keys) string {
			dir := tempDir(t, asRoot, "mixed-keys")
			for _, n := range []string{"source", "source.pub"} {
				copyFile(t, filepath.Join(right.Source, n), filepath.Join(dir, n))
			}
			copyFile(t, filepath.Join(other.Source, "destination.pub"), filepath.Join(dir, "destination.pub"))
			return dir
		}, "host key does not match"},
		{"a pre-shared key of another relationship fails the handshake", rsyncTLS, func(t *testing.T, right, other keys) string {
			return other.Source
		}, "pre-shared key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := tempDir(t, asRoot, "src"), tempDir(t, asRoot, "dst")
			makeTree(t, src, treeSpec{SmallFiles: 10, SmallSize: 100, Seed: 5})
			right, other := makeKeys(t, asRoot), makeKeys(t, asRoot)
			d, port := startDestination(t, c.kind, asRoot, dst, right, nil)
			start := time.Now()
			s := startSource(t, c.kind, asRoot, src, c.corrupt(t, right, other), port, nil)
			if code := s.wait(time.Minute); code == 0 {
				t.Fatalf("the source succeeded with the wrong keys")
			}
			sum := s.summary()
			if sum.Result != "Failed" || !strings.Contains(sum.Message, c.message) {
				t.Fatalf("summary %+v: want a failure saying %q", sum, c.message)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("failing took %s: a wrong key must not be retried", took)
			}
			select {
			case <-d.done:
				t.Fatalf("the destination exited after a failed login: %s", d.out.String())
			default:
			}
			if entries, _ := os.ReadDir(dst); len(entries) > 0 && entries[0].Name() != ".volsync-staging" {
				t.Errorf("the destination received data: %v", entries)
			}
			for _, secret := range []string{"PRIVATE KEY", "volsync:"} {
				if strings.Contains(s.out.String(), secret) || strings.Contains(d.out.String(), secret) {
					t.Errorf("a mover logged key material (%q)", secret)
				}
			}
		})
	}
}

// TestUnreachableDestinationFailsWithinTheBound: nobody listens; the source gives up after
// CONNECT_TIMEOUT with a message that names the destination.
func TestUnreachableDestinationFailsWithinTheBound(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.Name, func(t *testing.T) {
			src := tempDir(t, asRoot, "src")
			k := makeKeys(t, asRoot)
			port := freePort(t)
			start := time.Now()
			s := startSource(t, kind, asRoot, src, k.Source, port, map[string]string{"CONNECT_TIMEOUT": "3s"})
			if code := s.wait(time.Minute); code == 0 {
				t.Fatal("the source succeeded without a destination")
			}
			took := time.Since(start)
			sum := s.summary()
			want := fmt.Sprintf("127.0.0.1:%d did not answer", port)
			if sum.Result != "Failed" || !strings.Contains(sum.Message, want) {
				t.Fatalf("summary %+v: want a failure saying %q", sum, want)
			}
			if took < 3*time.Second || took > 20*time.Second {
				t.Errorf("gave up after %s; want about CONNECT_TIMEOUT (3s)", took)
			}
		})
	}
}

func requireNoBookkeeping(t *testing.T, dst string) {
	t.Helper()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".volsync-") {
			t.Errorf("the mover left %s in the volume", e.Name())
		}
	}
}

func requireSparse(t *testing.T, sum treeSum, path string) {
	t.Helper()
	if e, ok := sum[path]; !ok || !e.Sparse {
		t.Errorf("%s is not sparse on both sides: %+v", path, e)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func nssWrapperInstalled() bool {
	m, _ := filepath.Glob("/usr/lib/*/libnss_wrapper.so")
	return len(m) > 0
}

// TestSourceWaitsForALateDestination: the source's Job may start before the destination's; it
// waits for the destination (within CONNECT_TIMEOUT) and then syncs as usual.
func TestSourceWaitsForALateDestination(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			src, dst := tempDir(t, asRoot, "src"), tempDir(t, asRoot, "dst")
			makeTree(t, src, treeSpec{SmallFiles: 100, SmallSize: 1000, Special: true, Owners: true, Seed: 13})
			k := makeKeys(t, asRoot)
			port := freePort(t)
			s := startSource(t, kind, asRoot, src, k.Source, port, map[string]string{"CONNECT_TIMEOUT": "2m"})
			time.Sleep(3 * time.Second)
			select {
			case <-s.done:
				t.Fatalf("the source gave up before the destination started: %s", s.out.String())
			default:
			}
			d, _ := startDestination(t, kind, asRoot, dst, k, map[string]string{"LISTEN_PORT": fmt.Sprint(port)})
			if code := s.wait(2 * time.Minute); code != 0 {
				t.Fatalf("source exited %d: %+v\ndestination output:\n%s", code, s.summary(), d.out.String())
			}
			if code := d.wait(time.Minute); code != 0 {
				t.Fatalf("destination exited %d: %+v", code, d.summary())
			}
			requireSameTree(t, src, dst, checksumOptions{Ownership: true, DirTimes: true}, moverOwned)
			if !strings.Contains(s.out.String(), "waiting for the destination") {
				t.Errorf("the source did not say that it was waiting:\n%s", s.out.String())
			}
		})
	}
}
