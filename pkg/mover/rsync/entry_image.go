package rsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Names the movers reserve at the top of a destination volume. The sources exclude them from the
// transfer (see ReservedFilters), so a source volume can never overwrite them.
const (
	// StagingDir receives a sync; it becomes the image at commit.
	StagingDir = ".volsync-staging"
	// retiredDir holds the previous image during a commit, until the new one is in place.
	retiredDir = ".volsync-retired"
	// journalFile records that a commit has begun and how far it got.
	journalFile = ".volsync-commit"
	// lostAndFound belongs to the file system, not to the image.
	lostAndFound = "lost+found"
)

// ReservedFilters are the rsync filter rules that keep the reserved names out of a transfer, on
// both sides (excluded names are also protected from --delete).
var ReservedFilters = []string{"--filter=- /.volsync-*", "--filter=- /" + lostAndFound}

// reserved reports whether a top-level name of the volume is not part of the image.
func reserved(name string) bool {
	return strings.HasPrefix(name, ".volsync-") || name == lostAndFound
}

// commitJournal is the journal of a commit in progress.
type commitJournal struct {
	// Phase is "retire" while the previous image moves aside, "install" while the staged one
	// moves in.
	Phase string `json:"phase"`
	// The staged root directory's attributes, applied to the volume root at the end (moving the
	// entries out of the staging directory changes its times, so they are recorded first).
	Mode  uint32 `json:"mode"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Mtime int64  `json:"mtimeNanos"`
}

// PrepareStaging makes root's staging area safe to receive into. A staging area left by an
// interrupted sync may hold hard links to the live image (from --link-dest); rsync would change
// such a file's attributes in place and so change the live image, so every entry that may share
// its inode is removed. Regular files with a single link were written by rsync itself and stay:
// they are what an interrupted transfer already moved (--partial), and the next one resumes from
// them.
func PrepareStaging(root string) error {
	staging := filepath.Join(root, StagingDir)
	if _, err := os.Stat(staging); errors.Is(err, fs.ErrNotExist) {
		// Creating the staging area must not change the image, not even its root's time.
		rootInfo, err := os.Stat(root)
		if err != nil {
			return err
		}
		if err := os.Mkdir(staging, 0o700); err != nil {
			return fmt.Errorf("creating the staging area: %w", err)
		}
		_ = os.Chtimes(root, rootInfo.ModTime(), rootInfo.ModTime())
	}
	return filepath.WalkDir(staging, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if d.Type().IsRegular() && ok && st.Nlink == 1 {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cleaning the staging area: %w", err)
		}
		return nil
	})
}

// CommitImage makes root's staging area the volume's image. It is crash-safe: a journal records
// each phase, and RecoverImage, run when a destination starts, finishes a commit that began.
func CommitImage(root string) error {
	_, err := CommitImageTimed(root)
	return err
}

// CommitTimes are where a commit's time went, for the destination's summary and the benchmark.
type CommitTimes struct {
	// Flush is syncfs of the volume, so that the staged data is on disk before it is the image.
	Flush time.Duration
	// Swap is moving the previous image aside and the staged one in, journalled.
	Swap time.Duration
	// Cleanup is removing the previous image, once the new one is in place.
	Cleanup time.Duration
}

func (c CommitTimes) String() string {
	return fmt.Sprintf("flush %s, swap %s, previous image removed in %s",
		c.Flush.Round(time.Millisecond), c.Swap.Round(time.Millisecond), c.Cleanup.Round(time.Millisecond))
}

// CommitImageTimed is CommitImage, saying where the time went.
func CommitImageTimed(root string) (CommitTimes, error) {
	var times CommitTimes
	start := entrypoint.Clock.Now()
	err := commitImage(root, &times, start)
	return times, err
}

func commitImage(root string, times *CommitTimes, start time.Time) error {
	staging := filepath.Join(root, StagingDir)
	info, err := os.Stat(staging)
	if err != nil {
		return fmt.Errorf("nothing to commit: %w", err)
	}
	j := commitJournal{Phase: "retire", Mode: uint32(info.Mode().Perm() | info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)), Mtime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		j.UID, j.GID = int(st.Uid), int(st.Gid)
	}
	// The staged data must be on disk before the journal says it is the image.
	if err := syncFS(root); err != nil {
		return err
	}
	times.Flush = entrypoint.Clock.Since(start)
	start = entrypoint.Clock.Now()
	if err := writeJournal(root, j); err != nil {
		return err
	}
	if err := installImage(root, j); err != nil {
		return err
	}
	times.Swap = entrypoint.Clock.Since(start)
	start = entrypoint.Clock.Now()
	err = removeOldImage(root, j)
	times.Cleanup = entrypoint.Clock.Since(start)
	return err
}

// RecoverImage finishes a commit that a killed destination left half-done. Without a journal
// there is nothing to do: the live tree is the previous image, and a staging area, if any, is
// resumed by the next sync.
func RecoverImage(root string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(root, journalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the commit journal: %w", err)
	}
	var j commitJournal
	if err := json.Unmarshal(b, &j); err != nil {
		return false, fmt.Errorf("commit journal %s is damaged: %w", filepath.Join(root, journalFile), err)
	}
	return true, finishCommit(root, j)
}

func writeJournal(root string, j commitJournal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	path := filepath.Join(root, journalFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the commit journal: %w", err)
	}
	if f, err := os.Open(tmp); err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the commit journal: %w", err)
	}
	return syncDir(root)
}

func finishCommit(root string, j commitJournal) error {
	if err := installImage(root, j); err != nil {
		return err
	}
	return removeOldImage(root, j)
}

// installImage moves the previous image aside and the staged one in, and ends the journal.
func installImage(root string, j commitJournal) error {
	staging := filepath.Join(root, StagingDir)
	retired := filepath.Join(root, retiredDir)
	if j.Phase == "retire" {
		if err := os.MkdirAll(retired, 0o700); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		for _, e := range entries {
			if reserved(e.Name()) {
				continue
			}
			if err := os.Rename(filepath.Join(root, e.Name()), filepath.Join(retired, e.Name())); err != nil {
				return fmt.Errorf("commit: moving the previous image aside: %w", err)
			}
		}
		j.Phase = "install"
		if err := writeJournal(root, j); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(staging)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(staging, e.Name()), filepath.Join(root, e.Name())); err != nil {
			return fmt.Errorf("commit: moving the new image in: %w", err)
		}
	}
	// Ownership can be set only with privilege; an unprivileged mover owns the root already.
	if os.Geteuid() == 0 {
		_ = os.Lchown(root, j.UID, j.GID)
	}
	if err := os.Chmod(root, fs.FileMode(j.Mode&0o777)|unixModeBits(j.Mode)); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("commit: %w", err)
	}
	if err := syncDir(root); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(root, journalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit: %w", err)
	}
	return syncDir(root)
}

// removeOldImage removes what a finished commit left: the previous image and the emptied
// staging area. From here on the new image is the image; what is left is garbage.
func removeOldImage(root string, j commitJournal) error {
	staging := filepath.Join(root, StagingDir)
	retired := filepath.Join(root, retiredDir)
	if err := os.RemoveAll(retired); err != nil {
		return fmt.Errorf("commit: removing the previous image: %w", err)
	}
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("commit: removing the staging area: %w", err)
	}
	mt := time.Unix(0, j.Mtime)
	_ = os.Chtimes(root, mt, mt)
	return nil
}

func unixModeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	mode := fs.FileMode(m)
	for _, b := range []fs.FileMode{fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky} {
		if mode&b != 0 {
			out |= b
		}
	}
	return out
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
