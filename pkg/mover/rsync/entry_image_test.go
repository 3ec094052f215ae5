package rsync

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// files lists a tree as "path=content" (directories end in /, symlinks as path->target),
// skipping nothing: the mover's bookkeeping must show if it is left behind.
func files(t *testing.T, root string) string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		case info.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func write(t *testing.T, root string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		p, content, _ := strings.Cut(e, "=")
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// volume is a destination volume holding the previous image and a complete staging area.
func destinationVolume(t *testing.T) string {
	root := t.TempDir()
	write(t, root, "old=1", "same=s", "dir/old=2", "lost+found/", "lost+found/#123=fs")
	write(t, filepath.Join(root, StagingDir), "new=3", "same=s", "dir/new=4", "empty/")
	return root
}

const staged = "dir/ dir/new=4 empty/ lost+found/ lost+found/#123=fs new=3 same=s"

func TestCommitImage(t *testing.T) {
	root := destinationVolume(t)
	if err := CommitImage(root); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); got != staged {
		t.Fatalf("after the commit:\n got %s\nwant %s", got, staged)
	}
}

// A destination killed at any point of a commit finishes it when it starts again.
func TestRecoverImageFinishesAnInterruptedCommit(t *testing.T) {
	cases := []struct {
		name  string
		crash func(t *testing.T, root string)
	}{
		{"killed right after the journal was written", func(t *testing.T, root string) {
			if err := writeJournal(root, commitJournal{Phase: "retire", Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}},
		{"killed while moving the previous image aside", func(t *testing.T, root string) {
			if err := writeJournal(root, commitJournal{Phase: "retire", Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, retiredDir), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(root, "old"), filepath.Join(root, retiredDir, "old")); err != nil {
				t.Fatal(err)
			}
		}},
		{"killed while moving the new image in", func(t *testing.T, root string) {
			if err := writeJournal(root, commitJournal{Phase: "install", Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, retiredDir), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"old", "same", "dir"} {
				if err := os.Rename(filepath.Join(root, n), filepath.Join(root, retiredDir, n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Rename(filepath.Join(root, StagingDir, "dir"), filepath.Join(root, "dir")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := destinationVolume(t)
			c.crash(t, root)
			recovered, err := RecoverImage(root)
			if err != nil || !recovered {
				t.Fatalf("RecoverImage = %v, %v; want true, nil", recovered, err)
			}
			if got := files(t, root); got != staged {
				t.Fatalf("after recovery:\n got %s\nwant %s", got, staged)
			}
		})
	}
}

// Without a journal the live tree is the image: recovery leaves everything, the staging area
// included (the next sync resumes from it).
func TestRecoverImageWithoutAJournalChangesNothing(t *testing.T) {
	root := destinationVolume(t)
	before := files(t, root)
	recovered, err := RecoverImage(root)
	if err != nil || recovered {
		t.Fatalf("RecoverImage = %v, %v; want false, nil", recovered, err)
	}
	if got := files(t, root); got != before {
		t.Fatalf("recovery changed the volume:\n got %s\nwant %s", got, before)
	}
}

// A staging area left by a killed sync keeps only what rsync wrote itself: whatever may share an
// inode with the live image goes, so that rsync can never change the live image through it.
func TestPrepareStagingKeepsOnlyPrivateFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "live=1", "dir/live=2")
	staging := filepath.Join(root, StagingDir)
	write(t, staging, "partial=half", "dir/")
	for _, l := range [][2]string{{"live", "live"}, {"dir/live", "dir/live"}} {
		if err := os.Link(filepath.Join(root, l[0]), filepath.Join(staging, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("live", filepath.Join(staging, "link")); err != nil {
		t.Fatal(err)
	}
	if err := PrepareStaging(root); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, staging), "dir/ partial=half"; got != want {
		t.Fatalf("staging area:\n got %s\nwant %s", got, want)
	}
	if got, want := files(t, root), ".volsync-staging/ .volsync-staging/dir/ .volsync-staging/partial=half dir/ dir/live=2 live=1"; got != want {
		t.Fatalf("volume:\n got %s\nwant %s", got, want)
	}
}

func TestParseStats(t *testing.T) {
	out := `Number of files: 10,003 (reg: 10,000, dir: 3)
Number of created files: 10,002 (reg: 10,000, dir: 2)
Number of regular files transferred: 9,999
Total file size: 1,048,576 bytes
Total transferred file size: 1,000,000 bytes
`
	got := ParseStats(out)
	want := Stats{FilesTransferred: 9999, BytesTransferred: 1000000, Files: 10003}
	if got != want {
		t.Fatalf("ParseStats = %+v, want %+v", got, want)
	}
}

func TestReceiverArgs(t *testing.T) {
	cases := []struct {
		name    string
		request string
		inPlace bool
		want    string
		err     string
	}{
		{"a receiver is pointed at the staging area whatever path it names",
			"rsync --server -logDtprAHSxze.iLsfxCIvu --delete --link-dest .. . /etc/", false,
			"rsync --server -logDtprAHSxze.iLsfxCIvu --delete --link-dest .. . .volsync-staging/", ""},
		{"in place, a receiver writes into the volume itself, with --inplace and without --link-dest",
			"rsync --server -logDtprAHSxze.iLsfxCIvu --delete --link-dest .. . /etc/", true,
			"rsync --server -logDtprAHSxze.iLsfxCIvu --delete --inplace . .", ""},
		{"in place, the joined --link-dest spelling is dropped too",
			"rsync --server -logDtpr --link-dest=.. --partial . x", true,
			"rsync --server -logDtpr --partial --inplace . .", ""},
		{"a sender is refused: the source key may not read the destination",
			"rsync --server --sender -logDtpr . /data/", false, "", "only send"},
		{"a sender is refused in place too",
			"rsync --server --sender -logDtpr . /data/", true, "", "only send"},
		{"an option naming a path is refused",
			"rsync --server -logDtpr --log-file=/etc/passwd . x", false, "", "not allowed"},
		{"a command without the separator is refused", "rsync --server -r", false, "", "not an rsync receiver"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := receiverArgs(strings.Fields(c.request), c.inPlace)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != c.want {
				t.Fatalf("got %q, %v; want %q", strings.Join(got, " "), err, c.want)
			}
		})
	}
}

func TestWithoutMetadata(t *testing.T) {
	got := strings.Join(WithoutMetadata(TransferFlags), " ")
	if want := "-aHSxz --delete --numeric-ids --partial --stats --modify-window=-1"; got != want {
		t.Fatalf("WithoutMetadata = %q, want %q", got, want)
	}
}
