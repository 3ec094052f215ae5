package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStoreVolumesSnapshotsAndClones(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if _, err := s.CreateVolume("pvc-a", 1<<20, "", ""); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(s.VolumePath("pvc-a"), "data.txt")
	if err := os.WriteFile(file, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := s.CreateSnapshot("snapshot-1", "pvc-a", now)
	if err != nil {
		t.Fatal(err)
	}
	if snap.SizeBytes != 5 || !snap.CreationTime.Equal(now) {
		t.Fatalf("snapshot meta = %+v", snap)
	}
	// A change after the snapshot is not in it.
	if err := os.WriteFile(file, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The volume's root keeps its owner and mode, setgid included (an fsGroup volume has it).
	if err := os.Chmod(s.VolumePath("pvc-a"), os.ModeSetgid|0o775); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSnapshot("snapshot-mode", "pvc-a", now); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(s.snapshotPath("snapshot-mode")); err != nil || info.Mode()&(os.ModePerm|os.ModeSetgid) != os.ModeSetgid|0o775 {
		t.Errorf("snapshot root mode %v (%v), want setgid and 0775", info.Mode(), err)
	}
	if err := s.DeleteSnapshot("snapshot-mode"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateVolume("pvc-from-snap", 1<<20, "snapshot-1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateVolume("pvc-clone", 1<<20, "", "pvc-a"); err != nil {
		t.Fatal(err)
	}
	for vol, want := range map[string]string{"pvc-from-snap": "first", "pvc-clone": "second"} {
		got, err := os.ReadFile(filepath.Join(s.VolumePath(vol), "data.txt"))
		if err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want %q", vol, got, err, want)
		}
	}

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"asking again for the same volume returns it", second(s.CreateVolume("pvc-a", 1<<20, "", "")), nil},
		{"asking for the same name with more capacity conflicts", second(s.CreateVolume("pvc-a", 2<<20, "", "")), ErrConflict},
		{"a clone of a missing volume is not found", second(s.CreateVolume("pvc-x", 1, "", "pvc-missing")), ErrNotFound},
		{"a volume from a missing snapshot is not found", second(s.CreateVolume("pvc-y", 1, "snapshot-missing", "")), ErrNotFound},
		{"a snapshot of a missing volume is not found", second(s.CreateSnapshot("snapshot-2", "pvc-missing", now)), ErrNotFound},
		{"asking again for the same snapshot returns it", second(s.CreateSnapshot("snapshot-1", "pvc-a", now)), nil},
		{"the same snapshot name from another volume conflicts", second(s.CreateSnapshot("snapshot-1", "pvc-clone", now)), ErrConflict},
		{"a path in an id is refused", second(s.CreateVolume("../etc", 1, "", "")), ErrBadID},
		{"deleting a missing volume succeeds", s.DeleteVolume("pvc-gone"), nil},
		{"deleting a missing snapshot succeeds", s.DeleteSnapshot("snapshot-gone"), nil},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) && !(tt.want == nil && tt.err == nil) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := os.Stat(s.VolumePath("pvc-x")); !os.IsNotExist(err) {
		t.Errorf("a failed clone left a volume behind: %v", err)
	}

	if err := s.DeleteSnapshot("snapshot-1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.Snapshots(); len(list) != 0 {
		t.Errorf("snapshots after delete: %+v", list)
	}
	if err := s.DeleteVolume("pvc-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Volume("pvc-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted volume: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// blockUsage is the bytes the file system holds for a file, and its apparent size.
func blockUsage(t *testing.T, path string) (allocated, size int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Blocks * 512, info.Size()
}

func TestStoreBlockVolumesSnapshotsAndClones(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	const capacity = 64 << 20
	if _, err := s.CreateBlockVolume("pvc-b", capacity, "", ""); err != nil {
		t.Fatal(err)
	}
	// An empty block volume is a sparse image of the claim's size.
	if used, size := blockUsage(t, s.ImagePath("pvc-b")); size != capacity || used > 1<<20 {
		t.Fatalf("new image: %d bytes, %d allocated; want %d, sparse", size, used, capacity)
	}
	write := func(vol, text string, at int64) {
		f, err := os.OpenFile(s.ImagePath(vol), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(text), at); err != nil {
			t.Fatal(err)
		}
	}
	read := func(vol string, n int, at int64) string {
		f, err := os.Open(s.ImagePath(vol))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, n)
		if _, err := f.ReadAt(b, at); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("pvc-b", "first", 32<<20)
	snap, err := s.CreateSnapshot("snapshot-b", "pvc-b", now)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Block || snap.SizeBytes != capacity {
		t.Fatalf("block snapshot meta = %+v, want block of %d bytes", snap, capacity)
	}
	// The copy keeps the holes.
	if used, _ := blockUsage(t, filepath.Join(s.snapshotPath("snapshot-b"), BlockImage)); used > 1<<20 {
		t.Errorf("the snapshot's image allocates %d bytes, want it sparse", used)
	}
	write("pvc-b", "second", 32<<20)

	if _, err := s.CreateBlockVolume("pvc-b-from-snap", capacity, "snapshot-b", ""); err != nil {
		t.Fatal(err)
	}
	// A clone may be larger than its source: the image grows to the claim's size.
	if _, err := s.CreateBlockVolume("pvc-b-clone", 2*capacity, "", "pvc-b"); err != nil {
		t.Fatal(err)
	}
	if got := read("pvc-b-from-snap", 5, 32<<20); got != "first" {
		t.Errorf("volume from the snapshot holds %q, want first", got)
	}
	if got := read("pvc-b-clone", 6, 32<<20); got != "second" {
		t.Errorf("clone holds %q, want second", got)
	}
	if _, size := blockUsage(t, s.ImagePath("pvc-b-clone")); size != 2*capacity {
		t.Errorf("clone image is %d bytes, want %d", size, 2*capacity)
	}

	if _, err := s.CreateVolume("pvc-fs", capacity, "", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"asking again for the same block volume returns it", second(s.CreateBlockVolume("pvc-b", capacity, "", "")), nil},
		{"the same name as a filesystem volume conflicts", second(s.CreateVolume("pvc-b", capacity, "", "")), ErrConflict},
		{"a filesystem volume from a block snapshot conflicts", second(s.CreateVolume("pvc-x", capacity, "snapshot-b", "")), ErrConflict},
		{"a block clone of a filesystem volume conflicts", second(s.CreateBlockVolume("pvc-y", capacity, "", "pvc-fs")), ErrConflict},
		{"a block volume smaller than its snapshot conflicts", second(s.CreateBlockVolume("pvc-z", capacity/2, "snapshot-b", "")), ErrConflict},
		{"a block clone smaller than its source conflicts", second(s.CreateBlockVolume("pvc-w", capacity/2, "", "pvc-b")), ErrConflict},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) && !(tt.want == nil && tt.err == nil) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	for _, vol := range []string{"pvc-x", "pvc-y", "pvc-z", "pvc-w"} {
		if _, err := os.Stat(s.VolumePath(vol)); !os.IsNotExist(err) {
			t.Errorf("a refused create left %s behind: %v", vol, err)
		}
	}
	for _, vol := range []string{"pvc-b", "pvc-b-from-snap", "pvc-b-clone", "pvc-fs"} {
		if err := s.DeleteVolume(vol); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSnapshot("snapshot-b"); err != nil {
		t.Fatal(err)
	}
}

// TestBlockVolumeLoopDevices attaches a block volume's image as the node does on publish, and
// checks that a retry reuses the device and that deleting the volume detaches it. It needs root
// and loop devices.
func TestBlockVolumeLoopDevices(t *testing.T) {
	if f, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0); err != nil {
		t.Skipf("no loop devices here: %v", err)
	} else {
		f.Close()
	}
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBlockVolume("pvc-loop", 8<<20, "", ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DetachLoops(s.ImagePath("pvc-loop")) })
	dev, err := AttachLoop(s.ImagePath("pvc-loop"))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := AttachLoop(s.ImagePath("pvc-loop")); err != nil || again != dev {
		t.Fatalf("a retried attach gave %q (%v), want %s", again, err, dev)
	}
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("through the device"), 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(s.ImagePath("pvc-loop"))
	if err != nil || string(img[4096:4096+18]) != "through the device" {
		t.Fatalf("the image does not hold what was written to %s (%v)", dev, err)
	}
	if err := s.DeleteVolume("pvc-loop"); err != nil {
		t.Fatal(err)
	}
	if loops, err := LoopsOf(s.ImagePath("pvc-loop")); err != nil || len(loops) != 0 {
		t.Fatalf("loops after delete: %v (%v)", loops, err)
	}
	if _, err := os.Stat(dev); err == nil {
		if out, _ := exec.Command("losetup", "--noheadings", "--output", "BACK-FILE", dev).CombinedOutput(); strings.Contains(string(out), "pvc-loop") {
			t.Fatalf("%s is still attached to the deleted image: %s", dev, out)
		}
	}
}
