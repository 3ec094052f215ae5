package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Store keeps volumes and snapshots as directories under one root on the node:
//
//	<root>/volumes/<id>/            the volume's files, bind-mounted into pods
//	<root>/volumes/<id>.json        its metadata
//	<root>/snapshots/<id>/          a copy of the source volume at snapshot time
//	<root>/snapshots/<id>.json      its metadata
//
// A raw block volume (volumeMode: Block) is a directory too, holding one sparse image file of the
// volume's capacity (<root>/volumes/<id>/disk.img) that NodePublishVolume attaches to a loop
// device. Its snapshots and clones are copies of the directory like any other, sparse holes kept.
//
// IDs are the names the sidecars ask for (pvc-<uid>, snapshot-<uid>), so a repeated create after a
// crash finds what the first one made. Every copy is made in a temporary directory and renamed into
// place, so a crash mid-copy never leaves a half-made volume or snapshot under its real name.
type Store struct {
	root  string
	locks sync.Map // id -> *sync.Mutex
}

// VolumeMeta is what the store records of a volume.
type VolumeMeta struct {
	CapacityBytes int64  `json:"capacityBytes"`
	SourceVolume  string `json:"sourceVolume,omitempty"`
	SourceSnap    string `json:"sourceSnapshot,omitempty"`
	// Block volumes are an image file attached to a loop device, not a directory of files.
	Block bool `json:"block,omitempty"`
}

// BlockImage is the name of a block volume's image file inside its directory.
const BlockImage = "disk.img"

// SnapshotMeta is what the store records of a snapshot.
type SnapshotMeta struct {
	ID           string    `json:"id"`
	SourceVolume string    `json:"sourceVolume"`
	CreationTime time.Time `json:"creationTime"`
	SizeBytes    int64     `json:"sizeBytes"`
	Block        bool      `json:"block,omitempty"`
}

// Errors the servers turn into gRPC codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("exists with different parameters")
	ErrBadID    = errors.New("is not a valid id")
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// NewStore makes the store's directories under root.
func NewStore(root string) (*Store, error) {
	for _, d := range []string{"volumes", "snapshots", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	// Leftovers of copies a crash interrupted.
	leftovers, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, l := range leftovers {
		_ = os.RemoveAll(filepath.Join(root, "tmp", l.Name()))
	}
	return &Store{root: root}, nil
}

// lock serialises work on one id; different ids proceed in parallel.
func (s *Store) lock(id string) func() {
	m, _ := s.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// VolumePath is where the volume's files live.
func (s *Store) VolumePath(id string) string { return filepath.Join(s.root, "volumes", id) }

// ImagePath is a block volume's image file.
func (s *Store) ImagePath(id string) string { return filepath.Join(s.VolumePath(id), BlockImage) }

func (s *Store) snapshotPath(id string) string { return filepath.Join(s.root, "snapshots", id) }

func checkID(kind, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("%s %q %w", kind, id, ErrBadID)
	}
	return nil
}

// CreateVolume makes filesystem volume id, empty or as a copy of a snapshot or of another volume
// (at most one of fromSnapshot and fromVolume is set). Asking again for the same volume returns it.
func (s *Store) CreateVolume(id string, capacity int64, fromSnapshot, fromVolume string) (VolumeMeta, error) {
	return s.Create(VolumeMeta{CapacityBytes: capacity, SourceSnap: fromSnapshot, SourceVolume: fromVolume}, id)
}

// CreateBlockVolume makes raw block volume id: a sparse image file of capacity bytes, zeroes or a
// copy of a block snapshot or block volume grown to capacity.
func (s *Store) CreateBlockVolume(id string, capacity int64, fromSnapshot, fromVolume string) (VolumeMeta, error) {
	return s.Create(VolumeMeta{CapacityBytes: capacity, SourceSnap: fromSnapshot, SourceVolume: fromVolume, Block: true}, id)
}

// Create makes volume id as want describes. A source of the other mode (a filesystem snapshot for
// a block volume, or the reverse) is a conflict, as is a source larger than want's capacity.
func (s *Store) Create(want VolumeMeta, id string) (VolumeMeta, error) {
	capacity, fromSnapshot, fromVolume := want.CapacityBytes, want.SourceSnap, want.SourceVolume
	if err := checkID("volume", id); err != nil {
		return VolumeMeta{}, err
	}
	defer s.lock(id)()
	if have, err := s.Volume(id); err == nil {
		if have.CapacityBytes < capacity || have.SourceSnap != fromSnapshot || have.SourceVolume != fromVolume || have.Block != want.Block {
			return have, fmt.Errorf("volume %q %w", id, ErrConflict)
		}
		return have, nil
	} else if !errors.Is(err, ErrNotFound) {
		return VolumeMeta{}, err
	}

	var from string
	switch {
	case fromSnapshot != "":
		if err := checkID("snapshot", fromSnapshot); err != nil {
			return VolumeMeta{}, err
		}
		snap, err := s.Snapshot(fromSnapshot)
		if err != nil {
			return VolumeMeta{}, err
		}
		if snap.Block != want.Block {
			return VolumeMeta{}, fmt.Errorf("volume %q from snapshot %q of another volume mode %w", id, fromSnapshot, ErrConflict)
		}
		if snap.Block && snap.SizeBytes > capacity {
			return VolumeMeta{}, fmt.Errorf("volume %q of %d bytes from snapshot %q of %d bytes %w", id, capacity, fromSnapshot, snap.SizeBytes, ErrConflict)
		}
		from = s.snapshotPath(fromSnapshot)
	case fromVolume != "":
		if err := checkID("volume", fromVolume); err != nil {
			return VolumeMeta{}, err
		}
		src, err := s.Volume(fromVolume)
		if err != nil {
			return VolumeMeta{}, err
		}
		if src.Block != want.Block {
			return VolumeMeta{}, fmt.Errorf("volume %q cloned from volume %q of another volume mode %w", id, fromVolume, ErrConflict)
		}
		if src.Block && src.CapacityBytes > capacity {
			return VolumeMeta{}, fmt.Errorf("volume %q of %d bytes cloned from volume %q of %d bytes %w", id, capacity, fromVolume, src.CapacityBytes, ErrConflict)
		}
		from = s.VolumePath(fromVolume)
	}
	if err := s.place(from, s.VolumePath(id)); err != nil {
		return VolumeMeta{}, fmt.Errorf("volume %q: %w", id, err)
	}
	if want.Block {
		// Truncate makes an empty image sparse, and grows a copy to the claim's size with a hole.
		if err := os.Truncate(s.ImagePath(id), capacity); errors.Is(err, fs.ErrNotExist) && from == "" {
			err = createSparse(s.ImagePath(id), capacity)
			if err != nil {
				return VolumeMeta{}, err
			}
		} else if err != nil {
			return VolumeMeta{}, fmt.Errorf("volume %q: sizing the image: %w", id, err)
		}
	}
	// Pods of any user write to a new volume, as with a fresh hostPath; fsGroup narrows it.
	if from == "" && !want.Block {
		if err := os.Chmod(s.VolumePath(id), 0o777); err != nil {
			return VolumeMeta{}, err
		}
	}
	return want, writeJSON(s.VolumePath(id)+".json", want)
}

// Volume returns volume id's metadata, or ErrNotFound.
func (s *Store) Volume(id string) (VolumeMeta, error) {
	var m VolumeMeta
	if err := checkID("volume", id); err != nil {
		return m, err
	}
	return m, readJSON(s.VolumePath(id)+".json", &m, "volume "+id)
}

// DeleteVolume removes volume id; a volume that is not there is already deleted.
func (s *Store) DeleteVolume(id string) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	defer s.lock(id)()
	// Loop devices still attached to a block volume's image would keep its blocks in use; the
	// image is there whether or not the metadata still is (a retried delete).
	if err := DetachLoops(s.ImagePath(id)); err != nil {
		return err
	}
	// Metadata first: a crash between the two leaves an unlisted directory, never a listed volume
	// without its files.
	if err := os.Remove(s.VolumePath(id) + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(s.VolumePath(id))
}

// CreateSnapshot copies volume source into snapshot id. Asking again returns the same snapshot.
func (s *Store) CreateSnapshot(id, source string, now time.Time) (SnapshotMeta, error) {
	if err := checkID("snapshot", id); err != nil {
		return SnapshotMeta{}, err
	}
	if err := checkID("volume", source); err != nil {
		return SnapshotMeta{}, err
	}
	defer s.lock(id)()
	if have, err := s.Snapshot(id); err == nil {
		if have.SourceVolume != source {
			return have, fmt.Errorf("snapshot %q %w", id, ErrConflict)
		}
		return have, nil
	} else if !errors.Is(err, ErrNotFound) {
		return SnapshotMeta{}, err
	}
	vol, err := s.Volume(source)
	if err != nil {
		return SnapshotMeta{}, err
	}
	if err := s.place(s.VolumePath(source), s.snapshotPath(id)); err != nil {
		return SnapshotMeta{}, fmt.Errorf("snapshot %q: %w", id, err)
	}
	// A block snapshot's size is the device's (the image's apparent size), which a restore needs.
	size, err := treeSize(s.snapshotPath(id))
	if err != nil {
		return SnapshotMeta{}, err
	}
	m := SnapshotMeta{ID: id, SourceVolume: source, CreationTime: now.UTC(), SizeBytes: size, Block: vol.Block}
	return m, writeJSON(s.snapshotPath(id)+".json", m)
}

// Snapshot returns snapshot id's metadata, or ErrNotFound.
func (s *Store) Snapshot(id string) (SnapshotMeta, error) {
	var m SnapshotMeta
	if err := checkID("snapshot", id); err != nil {
		return m, err
	}
	return m, readJSON(s.snapshotPath(id)+".json", &m, "snapshot "+id)
}

// Snapshots lists every snapshot, oldest first.
func (s *Store) Snapshots() ([]SnapshotMeta, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
	if err != nil {
		return nil, err
	}
	var out []SnapshotMeta
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		m, err := s.Snapshot(id)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTime.Before(out[j].CreationTime) })
	return out, nil
}

// DeleteSnapshot removes snapshot id; one that is not there is already deleted.
func (s *Store) DeleteSnapshot(id string) error {
	if err := checkID("snapshot", id); err != nil {
		return err
	}
	defer s.lock(id)()
	if err := os.Remove(s.snapshotPath(id) + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(s.snapshotPath(id))
}

// place makes dst as a copy of from (an empty directory when from is ""), through a temporary
// directory renamed into place. cp -a keeps owners, modes, times, hard links, ACLs and xattrs, and
// --sparse=always keeps a block image's holes (and makes holes of its zero blocks) where the file
// system cannot share the blocks by reflink.
func (s *Store) place(from, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), filepath.Base(dst)+".")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if from != "" {
		out, err := exec.Command("cp", "-a", "--reflink=auto", "--sparse=always", from+"/.", tmp+"/").CombinedOutput()
		if err != nil {
			return fmt.Errorf("copying %s: %v: %s", from, err, out)
		}
		// cp copies what is inside; the root directory's owner and mode (setgid and sticky
		// included) are the source's too.
		info, err := os.Stat(from)
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(tmp, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if err := os.Chmod(tmp, info.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	}
	_ = os.RemoveAll(dst) // an unlisted leftover of an interrupted delete
	return os.Rename(tmp, dst)
}

func treeSize(root string) (int64, error) {
	var size int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	return size, err
}

// createSparse makes a file of size bytes with no blocks allocated.
func createSparse(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoopsOf lists the loop devices attached to image (none when it does not exist).
func LoopsOf(image string) ([]string, error) {
	if _, err := os.Stat(image); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	out, err := exec.Command("losetup", "--noheadings", "--output", "NAME", "--associated", image).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("losetup --associated %s: %v: %s", image, err, out)
	}
	return strings.Fields(string(out)), nil
}

// AttachLoop returns the loop device attached to image, attaching one when there is none, so a
// retried publish reuses the first one's device.
func AttachLoop(image string) (string, error) {
	loops, err := LoopsOf(image)
	if err != nil || len(loops) > 0 {
		return strings.Join(loops[:min(len(loops), 1)], ""), err
	}
	out, err := exec.Command("losetup", "--find", "--show", image).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("losetup --find %s: %v: %s", image, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// DetachLoops detaches every loop device attached to image.
func DetachLoops(image string) error {
	loops, err := LoopsOf(image)
	if err != nil {
		return err
	}
	for _, l := range loops {
		if out, err := exec.Command("losetup", "--detach", l).CombinedOutput(); err != nil {
			return fmt.Errorf("losetup --detach %s: %v: %s", l, err, out)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any, what string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %w", what, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
