package rclone

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestManifestRoundTripRestoresLinksModesAndDirectories(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "a", "empty"), 0o755))
	must(os.MkdirAll(filepath.Join(src, "private"), 0o700))
	must(os.WriteFile(filepath.Join(src, "a", "f"), []byte("f"), 0o600))
	must(os.Chmod(filepath.Join(src, "a", "f"), 0o640|fs.ModeSetgid))
	must(os.Symlink("a/f", filepath.Join(src, "link")))
	must(os.Symlink("nowhere", filepath.Join(src, "a", "dangling")))
	must(syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	must(os.MkdirAll(filepath.Join(src, "lost+found"), 0o700))

	var buf bytes.Buffer
	n, skipped, err := writeManifest(src, &buf)
	must(err)
	if n != 7 || skipped.special != 1 {
		t.Fatalf("recorded %d entries (the top included) and skipped %d specials, want 7 and 1", n, skipped.special)
	}
	entries, err := readManifest(&buf)
	must(err)

	// What rclone would have brought: the regular file, with default permissions. And what the
	// destination had: a stale link where the source now has a directory, and a directory the
	// source no longer has.
	must(os.MkdirAll(filepath.Join(dst, "a"), 0o755))
	must(os.WriteFile(filepath.Join(dst, "a", "f"), []byte("f"), 0o644))
	must(os.Symlink("/etc", filepath.Join(dst, "private")))
	must(os.MkdirAll(filepath.Join(dst, "gone", "deeper"), 0o755))
	must(removeStaleLinks(dst, entries))
	if _, err := os.Lstat(filepath.Join(dst, "private")); !os.IsNotExist(err) {
		t.Fatalf("the stale link should be gone before the sync: %v", err)
	}
	_, err = applyManifest(dst, entries)
	must(err)

	check := func(rel string, wantMode fs.FileMode, wantTarget string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if wantTarget != "" {
			got, _ := os.Readlink(filepath.Join(dst, rel))
			if got != wantTarget {
				t.Fatalf("%s -> %q, want %q", rel, got, wantTarget)
			}
			return
		}
		if fi.Mode() != wantMode {
			t.Fatalf("%s has mode %v, want %v", rel, fi.Mode(), wantMode)
		}
	}
	check("a/f", 0o640|fs.ModeSetgid, "")
	check("a/empty", fs.ModeDir|0o755, "")
	check("private", fs.ModeDir|0o700, "")
	check("link", 0, "a/f")
	check("a/dangling", 0, "nowhere")
	if _, err := os.Lstat(filepath.Join(dst, "gone")); !os.IsNotExist(err) {
		t.Fatalf("a directory the source no longer has should be removed once empty: %v", err)
	}
	a, _ := os.Stat(filepath.Join(src, "a"))
	b, _ := os.Stat(filepath.Join(dst, "a"))
	if !a.ModTime().Equal(b.ModTime()) {
		t.Fatalf("directory time %v, want %v", b.ModTime(), a.ModTime())
	}
}

func TestReadManifestRefusesPathsOutsideTheVolume(t *testing.T) {
	cases := []struct{ name, path string }{
		{"an absolute path", "/etc/passwd"},
		{"a parent", ".."},
		{"a path up and out", "../x"},
		{"a path that climbs in the middle", "a/../../x"},
		{"a path ending in a parent", "a/.."},
		{"an empty path", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			_, _ = gz.Write([]byte(`{"version":1}` + "\n" + `{"p":"` + c.path + `","t":"l","l":"/"}` + "\n"))
			_ = gz.Close()
			if _, err := readManifest(&buf); err == nil || !strings.Contains(err.Error(), "not a path inside the volume") {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestReadManifestRefusesANewerVersion(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write([]byte(`{"version":2}` + "\n"))
	_ = gz.Close()
	if _, err := readManifest(&buf); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("err %v", err)
	}
}

func TestParseEntryConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	if err := os.WriteFile(conf, []byte("[s3]\ntype = s3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"RCLONE_CONFIG": conf, "RCLONE_CONFIG_SECTION": "s3", "RCLONE_DEST_PATH": "bucket/path"}
	cases := []struct {
		name  string
		env   map[string]string
		check func(entryConfig) bool
		err   string
	}{
		{"defaults: /data, rclone on PATH, 10 transfers", nil, func(c entryConfig) bool {
			return c.dataDir == "/data" && c.bin == "rclone" && c.transfers == 10 && c.remote() == "s3:bucket/path"
		}, ""},
		{"RCLONE_TRANSFERS overrides the default", map[string]string{"RCLONE_TRANSFERS": "4"}, func(c entryConfig) bool { return c.transfers == 4 }, ""},
		{"RCLONE_TRANSFERS must be positive", map[string]string{"RCLONE_TRANSFERS": "0"}, nil, "RCLONE_TRANSFERS \"0\""},
		{"the config is required", map[string]string{"RCLONE_CONFIG": ""}, nil, "RCLONE_CONFIG is not set"},
		{"the config must exist", map[string]string{"RCLONE_CONFIG": conf + ".missing"}, nil, "RCLONE_CONFIG: stat"},
		{"the section is required", map[string]string{"RCLONE_CONFIG_SECTION": ""}, nil, "RCLONE_CONFIG_SECTION is not set"},
		{"a section cannot hold a colon", map[string]string{"RCLONE_CONFIG_SECTION": "s3:other"}, nil, "is not a section name"},
		{"CONNECT_TIMEOUT bounds the first contact", map[string]string{"CONNECT_TIMEOUT": "45s"}, func(c entryConfig) bool { return c.connectTimeout.Seconds() == 45 }, ""},
		{"CONNECT_TIMEOUT must be a duration", map[string]string{"CONNECT_TIMEOUT": "45"}, nil, "CONNECT_TIMEOUT \"45\""},
		{"a relative DATA_DIR is made absolute", map[string]string{"DATA_DIR": "rel"}, func(c entryConfig) bool { return filepath.IsAbs(c.dataDir) }, ""},
		{"the destination path is required", map[string]string{"RCLONE_DEST_PATH": ""}, nil, "RCLONE_DEST_PATH is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := parseEntryConfig("source", func(k string) string { return env[k] })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(cfg) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
}

// FuzzReadManifest: a manifest from the remote, whatever it holds, either reads or is refused,
// and never names a path outside the volume.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"version":1}` + "\n" + `{"p":"a/b","t":"f","m":420}` + "\n"))
	f.Add([]byte(`{"version":1}` + "\n" + `{"p":"../x","t":"l","l":"/"}` + "\n"))
	f.Add([]byte(`{"version":1}` + "\n" + `{"p":"a","t":"d"`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		_, _ = gz.Write(plain)
		_ = gz.Close()
		entries, err := readManifest(&buf)
		if err != nil {
			return
		}
		for _, e := range entries {
			clean := filepath.Clean(filepath.Join("/volume", filepath.FromSlash(e.Path)))
			if clean != "/volume" && !strings.HasPrefix(clean, "/volume/") {
				t.Fatalf("entry %q reaches %s", e.Path, clean)
			}
		}
	})
}
