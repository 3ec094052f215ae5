package rclone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// TestRcloneNeverShowsAValueOfItsConfig runs the entry point with the real rclone against a real
// S3 server on loopback, with an rclone.conf (the rcloneConfig Secret's) that holds, besides the
// S3 section, a section whose value under an odd key rclone repeats in its error (a value that is
// no boolean, for no_check_bucket). Neither the log (what the
// entry point prints and the rclone output it relays) nor the summary in the termination log
// shows any value of the config: a sync that succeeds, and one that fails with rclone's words.
func TestRcloneNeverShowsAValueOfItsConfig(t *testing.T) {
	tools := testenv.MoverTools(t)
	s3 := testenv.StartS3(t, testenv.S3Options{})
	s3.MakeBucket(t, "rclone")
	const planted = "zz-planted-config-value-8c1d"
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "sub", "file"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "rclone.conf")
	if err := os.WriteFile(config, []byte(s3.RcloneConfig()+"\n[odd]\ntype = s3\nprovider = Other\nno_check_bucket = "+planted+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func(section string) []string {
		return []string{
			"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + t.TempDir(),
			"TERMINATION_LOG=" + filepath.Join(dir, "termination-log"),
			"DATA_DIR=" + data, "RCLONE_BIN=" + filepath.Join(tools, "rclone"),
			"RCLONE_CONFIG=" + config, "RCLONE_CONFIG_SECTION=" + section, "RCLONE_DEST_PATH=rclone/masked",
		}
	}
	secrets := []string{planted, s3.SecretKey, s3.AccessKey}
	cases := []struct {
		name          string
		section       string
		wantCode      int
		wantResult    string
		wantInSummary string
	}{
		{"a sync that succeeds", "s3", ExitSucceeded, "Successful", "sent 1 files"},
		{"a sync that fails with rclone's words", "odd", ExitFailed, "Failed", entrypoint.Masked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log strings.Builder
			code := runEntry(t.Context(), []string{"source"}, environ(c.section), &log)
			sum, err := entrypoint.ReadSummary(filepath.Join(dir, "termination-log"))
			if err != nil {
				t.Fatal(err)
			}
			if code != c.wantCode || sum.Result != c.wantResult || !strings.Contains(sum.Message, c.wantInSummary) {
				t.Fatalf("exit %d with %+v, want exit %d, %s and a message with %q; log:\n%s", code, sum, c.wantCode, c.wantResult, c.wantInSummary, log.String())
			}
			term, _ := os.ReadFile(filepath.Join(dir, "termination-log"))
			for _, s := range secrets {
				if strings.Contains(log.String(), s) {
					t.Errorf("the log shows the config's value %q:\n%s", s, log.String())
				}
				if strings.Contains(string(term), s) {
					t.Errorf("the termination log shows the config's value %q: %s", s, term)
				}
			}
			t.Logf("summary: %s", term)
		})
	}
}
