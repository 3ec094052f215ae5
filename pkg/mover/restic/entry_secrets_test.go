package restic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/volsync/volsync/integration-test/testenv"
	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// TestResticNeverShowsAValueOfTheRepositorySecret runs the entry point with the real restic
// against a real S3 server on loopback. The repository Secret holds, besides the repository's
// settings, a value under a name nobody could list in advance (ZZ_TEAM_VAULT_HANDLE); the
// password command it also holds prints that value on restic's standard error, as a vault client
// might. Neither the log (what the entry point prints and the restic output it relays) nor the
// summary in the termination log shows it, nor any other value of the Secret: a backup that
// succeeds, and one that fails because of the password command, whose message carries restic's
// last words.
func TestResticNeverShowsAValueOfTheRepositorySecret(t *testing.T) {
	tools := testenv.MoverTools(t)
	s3 := testenv.StartS3(t, testenv.S3Options{})
	s3.MakeBucket(t, "restic")
	const handle = "zz-handle-4e7b1c9d"
	const password = "the-repository-password-51f0"
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "sub", "file"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	environ := func(passwordCommand string) []string {
		return []string{
			"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + t.TempDir(),
			"TERMINATION_LOG=" + filepath.Join(dir, "termination-log"),
			"DATA_DIR=" + data, "CACHE_DIR=" + filepath.Join(dir, "cache"), "RESTIC_BIN=" + filepath.Join(tools, "restic"),
			// The repository Secret.
			"RESTIC_REPOSITORY=s3:" + s3.Endpoint + "/restic/masked",
			"RESTIC_PASSWORD_COMMAND=" + passwordCommand,
			"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey, "AWS_DEFAULT_REGION=" + s3.Region,
			"ZZ_TEAM_VAULT_HANDLE=" + handle,
		}
	}
	secrets := []string{handle, password, s3.SecretKey, s3.AccessKey}
	cases := []struct {
		name            string
		passwordCommand string
		wantCode        int
		wantResult      string
		// wantInSummary is in the summary's message, masked.
		wantInSummary string
	}{
		{"a backup that succeeds", `sh -c 'echo "vault: reading with handle $ZZ_TEAM_VAULT_HANDLE" >&2; echo ` + password + `'`,
			ExitSucceeded, "Successful", "backed up"},
		{"a backup that fails with the tool's last words", `sh -c 'echo "vault: handle $ZZ_TEAM_VAULT_HANDLE refused" >&2; exit 1'`,
			ExitFailed, "Failed", "vault: handle *** refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log strings.Builder
			code := runEntry(t.Context(), []string{"source"}, environ(c.passwordCommand), &log)
			sum, err := entrypoint.ReadSummary(filepath.Join(dir, "termination-log"))
			if err != nil {
				t.Fatal(err)
			}
			if code != c.wantCode || sum.Result != c.wantResult || !strings.Contains(sum.Message, c.wantInSummary) {
				t.Fatalf("exit %d with %+v, want exit %d, %s and a message with %q; log:\n%s", code, sum, c.wantCode, c.wantResult, c.wantInSummary, log.String())
			}
			if !strings.Contains(log.String(), "vault: ") || !strings.Contains(log.String(), entrypoint.Masked) {
				t.Fatalf("the log should relay restic's output with the values masked:\n%s", log.String())
			}
			term, _ := os.ReadFile(filepath.Join(dir, "termination-log"))
			for _, s := range secrets {
				if strings.Contains(log.String(), s) {
					t.Errorf("the log shows the Secret's value %q:\n%s", s, log.String())
				}
				if strings.Contains(string(term), s) {
					t.Errorf("the termination log shows the Secret's value %q: %s", s, term)
				}
			}
		})
	}
}
