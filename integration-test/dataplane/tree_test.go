package dataplane

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// treeEntry is how one path of a tree is compared: everything a sync must carry.
type treeEntry struct {
	Kind   string // "file", "dir", "symlink", "fifo"
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	Size   int64
	SHA256 string
	Target string // symlink target
	Link   string // for a file with several links, the first path (sorted) of its link group
	Sparse bool   // allocated bytes well below the size
	Mtime  int64  // seconds; directories and files
	Xattrs string // extended attributes (ACLs included), name=sha256 sorted
}

// checksumOptions says which attributes a comparison includes.
type checksumOptions struct {
	// Ownership compares uid and gid (only meaningful when the receiving side is privileged).
	Ownership bool
	// DirTimes compares the modification times of directories.
	DirTimes bool
}

// treeSum maps a path relative to the root ("." for the root) to its entry.
type treeSum map[string]treeEntry

// checksumTree walks root and describes every entry, skipping top-level names for which skip is
// true (a mover's own bookkeeping).
func checksumTree(t testing.TB, root string, opt checksumOptions, skip func(string) bool) treeSum {
	t.Helper()
	sum := treeSum{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel != "." && skip != nil && !strings.Contains(rel, string(filepath.Separator)) && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		e := treeEntry{Mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		if opt.Ownership {
			e.UID, e.GID = st.Uid, st.Gid
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Kind = "symlink"
			e.Mode = 0
			if e.Target, err = os.Readlink(path); err != nil {
				return err
			}
		case info.IsDir():
			e.Kind = "dir"
			if opt.DirTimes {
				e.Mtime = info.ModTime().Unix()
			}
			e.Xattrs = xattrSum(path)
		case info.Mode().IsRegular():
			e.Kind = "file"
			e.Size = info.Size()
			e.Mtime = info.ModTime().Unix()
			e.SHA256 = fileSHA256(t, path)
			e.Sparse = info.Size() >= 1<<20 && st.Blocks*512 < info.Size()/2
			e.Xattrs = xattrSum(path)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case info.Mode()&fs.ModeNamedPipe != 0:
			e.Kind = "fifo"
		default:
			e.Kind = info.Mode().Type().String()
		}
		sum[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("checksumming %s: %v", root, err)
	}
	// Hard links are compared as groups of paths, whatever the inode numbers; links from outside
	// the compared tree (a mover's staging area) do not count.
	for _, paths := range inodes {
		if len(paths) < 2 {
			continue
		}
		sort.Strings(paths)
		for _, p := range paths {
			e := sum[p]
			e.Link = paths[0]
			sum[p] = e
		}
	}
	return sum
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// xattrSum lists the extended attributes of path (ACLs are the system.posix_acl_* ones) with a
// hash of each value. Attributes the kernel keeps for itself (security.selinux) are left out.
func xattrSum(path string) string {
	size, err := syscall.Listxattr(path, nil)
	if err != nil || size == 0 {
		return ""
	}
	buf := make([]byte, size)
	n, err := syscall.Listxattr(path, buf)
	if err != nil {
		return ""
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "security.") {
			continue
		}
		vs, err := syscall.Getxattr(path, name, nil)
		if err != nil {
			continue
		}
		v := make([]byte, vs)
		vn, _ := syscall.Getxattr(path, name, v)
		h := sha256.Sum256(v[:vn])
		out = append(out, name+"="+hex.EncodeToString(h[:8]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// diffTrees describes how got differs from want, or "" when they match.
func diffTrees(want, got treeSum) string {
	var b strings.Builder
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	n := 0
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		switch {
		case !gok:
			fmt.Fprintf(&b, "missing %s (%+v)\n", p, w)
		case !wok:
			fmt.Fprintf(&b, "unexpected %s (%+v)\n", p, g)
		case w != g:
			fmt.Fprintf(&b, "differs %s:\n  want %+v\n  got  %+v\n", p, w, g)
		default:
			continue
		}
		if n++; n >= 20 {
			fmt.Fprintf(&b, "... and more\n")
			break
		}
	}
	return b.String()
}

// requireSameTree fails the test when the trees at src and dst differ.
func requireSameTree(t testing.TB, src, dst string, opt checksumOptions, skip func(string) bool) treeSum {
	t.Helper()
	want := checksumTree(t, src, opt, skip)
	got := checksumTree(t, dst, opt, skip)
	if d := diffTrees(want, got); d != "" {
		t.Fatalf("destination tree differs from the source:\n%s", d)
	}
	return want
}

// treeSpec says what makeTree builds.
type treeSpec struct {
	// SmallFiles is how many small files (spread over directories of 500).
	SmallFiles int
	// SmallSize is the size of each small file.
	SmallSize int
	// LargeFiles and LargeSize: a few large files of random content.
	LargeFiles int
	LargeSize  int64
	// Special adds the awkward cases: modes, hard links, symlinks, sparse files, empty dirs and
	// files, a fifo, xattrs, an ACL, names with spaces and unicode.
	Special bool
	// Owners, when privileged, gives files to several users and groups.
	Owners bool
	// Seed makes the content reproducible.
	Seed uint64
}

// makeTree builds a tree under root as spec says.
func makeTree(t testing.TB, root string, spec treeSpec) {
	t.Helper()
	rng := rand.New(rand.NewPCG(spec.Seed, 99))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(root, 0o755))
	for i := 0; i < spec.SmallFiles; i++ {
		dir := filepath.Join(root, "small", fmt.Sprintf("d%03d", i/500))
		if i%500 == 0 {
			must(os.MkdirAll(dir, 0o755))
		}
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.txt", i)), textContent(rng, spec.SmallSize), 0o644))
	}
	for i := 0; i < spec.LargeFiles; i++ {
		must(os.MkdirAll(filepath.Join(root, "large"), 0o755))
		writeRandomFile(t, filepath.Join(root, "large", fmt.Sprintf("blob%d.bin", i)), spec.LargeSize, spec.Seed*100+uint64(i))
	}
	if !spec.Special {
		return
	}
	sp := filepath.Join(root, "special")
	must(os.MkdirAll(filepath.Join(sp, "empty-dir", "nested-empty"), 0o755))
	must(os.MkdirAll(filepath.Join(sp, "private"), 0o700))
	must(os.WriteFile(filepath.Join(sp, "empty-file"), nil, 0o644))
	for _, m := range []fs.FileMode{0o600, 0o640, 0o755, 0o444, 0o777, 0o1755, 0o2755} {
		p := filepath.Join(sp, fmt.Sprintf("mode-%04o", uint32(m)))
		must(os.WriteFile(p, textContent(rng, 100), 0o644))
		must(os.Chmod(p, m&fs.ModePerm|unixBits(m)))
	}
	must(os.WriteFile(filepath.Join(sp, "private", "secret"), []byte("only the owner\n"), 0o600))
	must(os.WriteFile(filepath.Join(sp, "hard-a"), textContent(rng, 5000), 0o644))
	must(os.Link(filepath.Join(sp, "hard-a"), filepath.Join(sp, "hard-b")))
	must(os.Link(filepath.Join(sp, "hard-a"), filepath.Join(sp, "private", "hard-c")))
	must(os.Symlink("hard-a", filepath.Join(sp, "link-relative")))
	must(os.Symlink("/etc/hostname", filepath.Join(sp, "link-absolute")))
	must(os.Symlink("does-not-exist", filepath.Join(sp, "link-dangling")))
	must(os.Symlink("empty-dir", filepath.Join(sp, "link-to-dir")))
	must(os.WriteFile(filepath.Join(sp, "name with spaces"), []byte("x\n"), 0o644))
	must(os.WriteFile(filepath.Join(sp, "ünïcødé-名前"), []byte("y\n"), 0o644))
	must(syscall.Mkfifo(filepath.Join(sp, "fifo"), 0o644))
	// A 64 MiB file with 2 data regions: sparse on both sides or the test fails.
	f, err := os.Create(filepath.Join(sp, "sparse.img"))
	must(err)
	_, err = f.WriteAt(textContent(rng, 4096), 1<<20)
	must(err)
	_, err = f.WriteAt(textContent(rng, 4096), 40<<20)
	must(err)
	must(f.Truncate(64 << 20))
	must(f.Close())
	must(syscall.Setxattr(filepath.Join(sp, "empty-file"), "user.volsync.test", []byte("kept"), 0))
	if out, err := runCmd("setfacl", "-m", "u:4242:r", filepath.Join(sp, "mode-0640")); err != nil {
		t.Fatalf("setfacl: %v: %s", err, out)
	}
	if spec.Owners && os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(sp, "mode-0600"), 1001, 1001))
		must(os.Lchown(filepath.Join(sp, "mode-0640"), 0, 1002))
		must(os.Lchown(filepath.Join(sp, "private"), 1003, 1003))
		must(os.Lchown(filepath.Join(sp, "link-relative"), 1004, 1004))
		must(os.Lchown(filepath.Join(sp, "empty-dir"), 65534, 65534))
		// Re-apply the special bits that chown clears.
		must(os.Chmod(filepath.Join(sp, "mode-2755"), 0o755|fs.ModeSetgid))
	}
}

func unixBits(m fs.FileMode) fs.FileMode {
	var out fs.FileMode
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	return out
}

// textContent is compressible, line-structured content of n bytes.
func textContent(rng *rand.Rand, n int) []byte {
	words := []string{"volume", "snapshot", "replica", "rsync", "tunnel", "mover", "data", "key"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%d %s %s\n", rng.IntN(1_000_000), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// writeRandomFile writes size bytes of incompressible content.
func writeRandomFile(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chacha := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(size >> 20), 42})
	buf := make([]byte, 1<<20)
	for written := int64(0); written < size; {
		n := int64(len(buf))
		if size-written < n {
			n = size - written
		}
		_, _ = chacha.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		written += n
	}
}

// changeTree changes about fraction of a tree made by makeTree: rewrites some small files,
// overwrites a region in each large file, deletes and adds files and directories, changes modes.
// It returns how many bytes it rewrote.
func changeTree(t testing.TB, root string, fraction float64, seed uint64) int64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var changed int64
	var small []string
	_ = filepath.WalkDir(filepath.Join(root, "small"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			small = append(small, p)
		}
		return nil
	})
	sort.Strings(small)
	for i, p := range small {
		if rng.Float64() >= fraction {
			continue
		}
		switch i % 4 {
		case 0:
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		default:
			info, _ := os.Stat(p)
			b := textContent(rng, int(info.Size()))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			changed += int64(len(b))
		}
	}
	large, _ := filepath.Glob(filepath.Join(root, "large", "*"))
	for _, p := range large {
		info, _ := os.Stat(p)
		n := int64(float64(info.Size()) * fraction)
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, n)
		chacha := rand.NewChaCha8([32]byte{byte(seed), 1})
		_, _ = chacha.Read(buf)
		if _, err := f.WriteAt(buf, info.Size()/3); err != nil {
			t.Fatal(err)
		}
		f.Close()
		changed += n
	}
	dir := filepath.Join(root, "added", fmt.Sprintf("s%d", seed))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		b := textContent(rng, 2000)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("new%d", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		changed += int64(len(b))
	}
	return changed
}

func runCmd(name string, args ...string) (string, error) {
	out, err := execCommand(name, args...).CombinedOutput()
	return string(out), err
}
