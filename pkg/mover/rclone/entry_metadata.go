package rclone

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// rclone moves file contents and modification times, but not what a volume needs besides:
// symbolic links (its --links turns them into ".rclonelink" objects, and restoring those with
// --metadata fails on Linux, which refuses user xattrs on links), permissions and owners (its
// --metadata stores them, but also writes the object store's content-type and tier into user
// xattrs of every restored file), empty directories and directory permissions (object stores
// have no directories). So the source records that metadata in one manifest object next to the
// data, and the destination applies it after the sync.

// manifestName is the manifest object, at the top of the remote path. Both directions exclude it
// from the sync, so the data never overwrites it and a sync never deletes it.
const manifestName = ".volsync-rclone-metadata.json.gz"

// manifestVersion changes when the format does; a destination refuses a newer one.
const manifestVersion = 1

// manifestHeader is the first JSON value of a manifest; entries follow, one per line.
type manifestHeader struct {
	Version int `json:"version"`
}

// manifestEntry is the metadata of one file, directory or symbolic link.
type manifestEntry struct {
	// Path is slash-separated and relative to the top of the volume.
	Path string `json:"p"`
	// Type is "f" (regular file), "d" (directory) or "l" (symbolic link).
	Type string `json:"t"`
	// Mode is the permission bits, with setuid, setgid and sticky in their Unix places.
	Mode uint32 `json:"m,omitempty"`
	UID  int    `json:"u"`
	GID  int    `json:"g"`
	// MTime (Unix nanoseconds) is kept for directories: rclone keeps it for files, and the
	// sync itself changes the directories' times.
	MTime int64 `json:"mt,omitempty"`
	// Target is a link's target, as the link holds it.
	Target string `json:"l,omitempty"`
}

// skippedCounts counts what the manifest cannot carry.
type skippedCounts struct {
	special int // devices, FIFOs and sockets: rclone cannot move them
}

// writeManifest walks dataDir and writes its manifest, gzipped, to w.
func writeManifest(dataDir string, w io.Writer) (int, skippedCounts, error) {
	var skipped skippedCounts
	gz := gzip.NewWriter(w)
	bw := bufio.NewWriter(gz)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(manifestHeader{Version: manifestVersion}); err != nil {
		return 0, skipped, err
	}
	n := 0
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		// The top itself is recorded too ("."): a volume's root mode matters to applications.
		rel = filepath.ToSlash(rel)
		if rel == "lost+found" || rel == manifestName {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := manifestEntry{Path: rel, Mode: unixMode(info.Mode())}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.UID, e.GID = int(st.Uid), int(st.Gid)
		}
		switch {
		case info.Mode().IsRegular():
			e.Type = "f"
		case info.IsDir():
			e.Type = "d"
			e.MTime = info.ModTime().UnixNano()
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type = "l"
			e.Mode = 0
			if e.Target, err = os.Readlink(path); err != nil {
				return err
			}
		default:
			skipped.special++
			return nil
		}
		n++
		return enc.Encode(e)
	})
	if err != nil {
		return n, skipped, fmt.Errorf("recording the metadata of %s: %w", dataDir, err)
	}
	if err := bw.Flush(); err != nil {
		return n, skipped, err
	}
	return n, skipped, gz.Close()
}

// readManifest reads a manifest that writeManifest wrote.
func readManifest(r io.Reader) ([]manifestEntry, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("the metadata manifest is not gzip: %w", err)
	}
	dec := json.NewDecoder(gz)
	var h manifestHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("the metadata manifest has no header: %w", err)
	}
	if h.Version != manifestVersion {
		return nil, fmt.Errorf("the metadata manifest has version %d; this mover reads version %d", h.Version, manifestVersion)
	}
	var entries []manifestEntry
	for {
		var e manifestEntry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the metadata manifest is damaged after %d entries: %w", len(entries), err)
		}
		if err := validManifestPath(e.Path); err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
}

// validManifestPath refuses paths that would reach outside the volume: the manifest comes from a
// remote that others may write to.
func validManifestPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") ||
		strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "\x00") {
		return fmt.Errorf("the metadata manifest names %q, which is not a path inside the volume", p)
	}
	return nil
}

// removeStaleLinks runs before the destination's sync: rclone does not see links (--skip-links),
// so a link that the source replaced by a file or a directory, or removed, goes here, and rclone
// never writes through a link.
func removeStaleLinks(dataDir string, entries []manifestEntry) error {
	links := map[string]string{}
	for _, e := range entries {
		if e.Type == "l" {
			links[e.Path] = e.Target
		}
	}
	return filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		if rel == "lost+found" && d.IsDir() {
			return filepath.SkipDir
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if target, ok := links[filepath.ToSlash(rel)]; ok {
			if cur, err := os.Readlink(path); err == nil && cur == target {
				return nil
			}
		}
		return os.Remove(path)
	})
}

// applyManifest runs after the destination's sync: it makes the links, the empty directories,
// the permissions, the owners and the directory times of the manifest, and removes directories
// that the source no longer has once rclone has emptied them. As an unprivileged mover cannot
// give files away, owners are set only when running as root.
func applyManifest(dataDir string, entries []manifestEntry) (applied int, err error) {
	asRoot := os.Geteuid() == 0
	want := make(map[string]bool, len(entries))
	var dirs []manifestEntry
	for _, e := range entries {
		want[e.Path] = true
		if e.Type == "d" {
			dirs = append(dirs, e)
		}
	}
	// Parents first, so that links and files find their directories.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Path < dirs[j].Path })
	for _, e := range dirs {
		p := filepath.Join(dataDir, filepath.FromSlash(e.Path))
		if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
			if err := os.RemoveAll(p); err != nil {
				return applied, err
			}
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return applied, err
		}
	}
	for _, e := range entries {
		p := filepath.Join(dataDir, filepath.FromSlash(e.Path))
		switch e.Type {
		case "l":
			if cur, err := os.Readlink(p); err != nil || cur != e.Target {
				if err := os.RemoveAll(p); err != nil {
					return applied, err
				}
				if err := os.Symlink(e.Target, p); err != nil {
					return applied, err
				}
			}
			if asRoot {
				if err := os.Lchown(p, e.UID, e.GID); err != nil {
					return applied, err
				}
			}
			applied++
		case "f":
			fi, err := os.Lstat(p)
			if err != nil || !fi.Mode().IsRegular() {
				// rclone did not bring it (an error it reported already); nothing to set.
				continue
			}
			if err := setOwnerAndMode(p, e, asRoot); err != nil {
				return applied, err
			}
			applied++
		}
	}
	// Directories the source no longer has: rclone removed their files; remove them when empty,
	// deepest first.
	var extra []string
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dataDir, path)
		if rel == "." {
			return nil
		}
		if rel == "lost+found" {
			return filepath.SkipDir
		}
		if !want[filepath.ToSlash(rel)] {
			extra = append(extra, path)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(extra)))
	for _, p := range extra {
		_ = os.Remove(p) // fails, as it should, when something is still in it
	}
	// Directories last and deepest first: the work above changed their times.
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		p := filepath.Join(dataDir, filepath.FromSlash(e.Path))
		err := setOwnerAndMode(p, e, asRoot)
		t := time.Unix(0, e.MTime)
		if fi, statErr := os.Stat(p); err == nil && (statErr != nil || !fi.ModTime().Equal(t)) {
			err = os.Chtimes(p, t, t)
		}
		if err != nil && e.Path != "." {
			return applied, err
		}
		// The top belongs to whoever provisioned the volume: an unprivileged mover may not be
		// allowed to change it, and that must not fail the sync.
		applied++
	}
	return applied, nil
}

// setOwnerAndMode changes only what differs: an incremental sync leaves most files as they were,
// and an unprivileged mover may not touch files that it does not own but that are already right.
func setOwnerAndMode(p string, e manifestEntry, asRoot bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	chowned := false
	if asRoot && (st == nil || int(st.Uid) != e.UID || int(st.Gid) != e.GID) {
		if err := os.Lchown(p, e.UID, e.GID); err != nil {
			return err
		}
		chowned = true
	}
	// After chown, which clears setuid and setgid.
	if chowned || unixMode(fi.Mode()) != e.Mode {
		return os.Chmod(p, goMode(e.Mode))
	}
	return nil
}

// unixMode is m's permission bits in their Unix places.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// goMode is the inverse of unixMode.
func goMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
