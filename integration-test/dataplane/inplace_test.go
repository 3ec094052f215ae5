package dataplane

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// inPlace is the destination environment volsyncd sets when the ReplicationDestination keeps
// Snapshots.
var inPlace = map[string]string{"RECEIVE_IN_PLACE": "true"}

// TestInPlaceReceiveMatchesTheSourceAndResumesAfterAKill: a destination that keeps Snapshots
// receives into the volume itself. The first sync, the incremental (deletes, changes, a mode
// change) and one that resumes after the source was killed half-way through a large file each
// leave a volume equal to the source by checksum, with no staging area. What protects the
// previous image there is the snapshot taken after the last good sync, which a sync cut off never
// touches: the test keeps a copy of the volume as that snapshot and checks it after the kill.
// A staging area left by an earlier run with copyMethod Direct is removed.
func TestInPlaceReceiveMatchesTheSourceAndResumesAfterAKill(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			id := asRoot
			src, dst := tempDir(t, id, "src"), tempDir(t, id, "dst")
			makeTree(t, src, treeSpec{SmallFiles: 500, SmallSize: 1000, LargeFiles: 1, LargeSize: 4 << 20, Special: true, Owners: true, Seed: 21})
			k := makeKeys(t, id)
			opt := checksumOptions{Ownership: true, DirTimes: true}
			// What a run with copyMethod Direct, cut off, leaves behind.
			if err := os.MkdirAll(filepath.Join(dst, ".volsync-staging", "old"), 0o700); err != nil {
				t.Fatal(err)
			}

			syncInPlace(t, kind, id, src, dst, k)
			requireSameTree(t, src, dst, opt, moverOwned)
			requireNoBookkeeping(t, dst)

			changeTree(t, src, 0.05, 22)
			if err := os.RemoveAll(filepath.Join(src, "small", "d003")); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(src, "special", "mode-0755"), 0o700); err != nil {
				t.Fatal(err)
			}
			second := syncInPlace(t, kind, id, src, dst, k)
			snapshot := requireSameTree(t, src, dst, opt, moverOwned)
			requireNoBookkeeping(t, dst)
			if got := second.Source.summary().Files; got >= 250 {
				t.Errorf("the incremental sync transferred %d files: it should move only the changes", got)
			}
			kept := filepath.Join(t.TempDir(), "snapshot")
			if out, err := exec.Command("cp", "-a", dst, kept).CombinedOutput(); err != nil {
				t.Fatalf("keeping the snapshot: %v: %s", err, out)
			}

			// Killed half-way through a large new file, written in place.
			writeRandomFile(t, filepath.Join(src, "huge.bin"), 192<<20, 23)
			changeTree(t, src, 0.1, 24)
			d, port := startDestination(t, kind, id, dst, k, inPlace)
			s := startSource(t, kind, id, src, k.Source, port, nil)
			waitForFileSize(t, filepath.Join(dst, "huge.bin"), 16<<20, s)
			s.kill()
			if diff := diffTrees(snapshot, checksumTree(t, kept, opt, moverOwned)); diff != "" {
				t.Fatalf("the snapshot changed:\n%s", diff)
			}
			s = startSource(t, kind, id, src, k.Source, port, nil)
			if code := s.wait(5 * time.Minute); code != 0 {
				t.Fatalf("the sync after the kill failed (%d): %+v\n%s", code, s.summary(), d.out.String())
			}
			if code := d.wait(time.Minute); code != 0 {
				t.Fatalf("the destination failed (%d): %+v", code, d.summary())
			}
			requireSameTree(t, src, dst, opt, moverOwned)
			requireNoBookkeeping(t, dst)
		})
	}
}

// syncInPlace is syncOnce with a destination that receives in place.
func syncInPlace(t testing.TB, kind moverKind, id identity, src, dst string, k keys) syncRun {
	t.Helper()
	d, port := startDestination(t, kind, id, dst, k, inPlace)
	s := startSource(t, kind, id, src, k.Source, port, nil)
	if code := s.wait(5 * time.Minute); code != 0 {
		t.Fatalf("source exited %d: %+v\ndestination output:\n%s", code, s.summary(), d.out.String())
	}
	if code := d.wait(time.Minute); code != 0 {
		t.Fatalf("destination exited %d: %+v", code, d.summary())
	}
	for _, p := range []*moverProc{s, d} {
		if sum := p.summary(); sum.Result != "Successful" {
			t.Fatalf("summary %+v", sum)
		}
	}
	return syncRun{Source: s, Destination: d}
}

// waitForFileSize waits until path holds at least size bytes while s still runs.
func waitForFileSize(t *testing.T, path string, size int64, s *moverProc) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(path); err == nil && info.Size() >= size {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("the source finished before it could be killed half-way: %s", s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s never reached %d bytes", path, size)
}
