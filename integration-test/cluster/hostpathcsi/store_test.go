package main

import (
	"errors"
	"os"
	"path/filepath"
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
