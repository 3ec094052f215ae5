package restic

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSelectSnapshot(t *testing.T) {
	// Out of order on purpose: restic's order must not matter.
	snaps := []snapshot{
		{ID: "b", Time: at("2024-05-02T10:00:00Z")},
		{ID: "a", Time: at("2024-05-01T10:00:00Z")},
		{ID: "c", Time: at("2024-05-03T10:00:00Z")},
	}
	asOf := func(s string) *time.Time { t := at(s); return &t }
	cases := []struct {
		name     string
		snaps    []snapshot
		previous int
		asOf     *time.Time
		want     string
		err      string
	}{
		{"the latest by default", snaps, 0, nil, "c", ""},
		{"previous 1 is the one before the latest", snaps, 1, nil, "b", ""},
		{"previous 2 is the oldest of three", snaps, 2, nil, "a", ""},
		{"previous beyond the oldest selects nothing", snaps, 3, nil, "", "holds only 3"},
		{"asOf between two picks the older", snaps, 0, asOf("2024-05-02T12:00:00Z"), "b", ""},
		{"asOf exactly at a snapshot picks it", snaps, 0, asOf("2024-05-02T10:00:00Z"), "b", ""},
		{"asOf after all picks the latest", snaps, 0, asOf("2030-01-01T00:00:00Z"), "c", ""},
		{"asOf before all selects nothing", snaps, 0, asOf("2024-04-30T00:00:00Z"), "", "no snapshot was taken at or before 2024-04-30T00:00:00Z"},
		{"asOf and previous count back from the asOf pick", snaps, 1, asOf("2024-05-02T12:00:00Z"), "a", ""},
		{"asOf and previous beyond the oldest selects nothing", snaps, 2, asOf("2024-05-02T12:00:00Z"), "", "past the oldest"},
		{"an empty repository selects nothing", nil, 0, nil, "", "has no snapshots"},
		{"equal times are ordered by id", []snapshot{{ID: "x", Time: at("2024-05-01T10:00:00Z")}, {ID: "y", Time: at("2024-05-01T10:00:00Z")}}, 0, nil, "y", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := selectSnapshot(c.snaps, c.previous, c.asOf)
			if c.err != "" {
				if !strings.Contains(why, c.err) {
					t.Fatalf("why %q, want one containing %q", why, c.err)
				}
				return
			}
			if why != "" {
				t.Fatal(why)
			}
			if got.ID != c.want {
				t.Fatalf("picked %s, want %s", got.ID, c.want)
			}
		})
	}
}

func TestParseEntryConfig(t *testing.T) {
	base := map[string]string{"RESTIC_REPOSITORY": "s3:http://x/b", "RESTIC_PASSWORD": "p"}
	cases := []struct {
		name  string
		env   map[string]string
		check func(entryConfig) bool
		err   string
	}{
		{"defaults are the mover pod's paths", nil, func(c entryConfig) bool {
			return c.dataDir == "/data" && c.cacheDir == "/cache" && c.bin == "restic" && c.host == "volsync" && !c.hostSet
		}, ""},
		{"excludes are one a line, blanks ignored", map[string]string{"RESTIC_EXCLUDES": "/cache\n\n *.tmp \n"}, func(c entryConfig) bool {
			return strings.Join(c.excludes, "|") == "/cache|*.tmp"
		}, ""},
		{"forget options split on blanks", map[string]string{"FORGET_OPTIONS": "--keep-last 1  --keep-daily 7"}, func(c entryConfig) bool {
			return strings.Join(c.forget, " ") == "--keep-last 1 --keep-daily 7"
		}, ""},
		{"forget options refuse --prune", map[string]string{"FORGET_OPTIONS": "--keep-last 1 --prune"}, nil, "only --keep-* retention flags"},
		{"forget options refuse a bare snapshot id", map[string]string{"FORGET_OPTIONS": "abcd1234"}, nil, "must start with a --keep-* flag"},
		{"unlock 1 is true", map[string]string{"UNLOCK": "1"}, func(c entryConfig) bool { return c.unlock }, ""},
		{"unlock 0 is false", map[string]string{"UNLOCK": "0"}, func(c entryConfig) bool { return !c.unlock }, ""},
		{"unlock garbage is refused", map[string]string{"UNLOCK": "please"}, nil, "UNLOCK \"please\": want 1 or 0"},
		{"previous must be a number", map[string]string{"SELECT_PREVIOUS": "two"}, nil, "SELECT_PREVIOUS \"two\""},
		{"previous must not be negative", map[string]string{"SELECT_PREVIOUS": "-1"}, nil, "SELECT_PREVIOUS \"-1\""},
		{"restoreAsOf takes RFC 3339 with an offset", map[string]string{"RESTORE_AS_OF": "2024-05-01T13:00:00+02:00"}, func(c entryConfig) bool {
			return c.restoreAsOf != nil && c.restoreAsOf.Equal(at("2024-05-01T11:00:00Z"))
		}, ""},
		{"restoreAsOf refuses a date alone", map[string]string{"RESTORE_AS_OF": "2024-05-01"}, nil, "not an RFC 3339 time"},
		{"a repository is required", map[string]string{"RESTIC_REPOSITORY": ""}, nil, "RESTIC_REPOSITORY is not set"},
		{"a password is required", map[string]string{"RESTIC_PASSWORD": ""}, nil, "RESTIC_PASSWORD is not set"},
		{"CONNECT_TIMEOUT defaults to two minutes", nil, func(c entryConfig) bool { return c.connectTimeout == 2*time.Minute }, ""},
		{"CONNECT_TIMEOUT must be a duration", map[string]string{"CONNECT_TIMEOUT": "soon"}, nil, "CONNECT_TIMEOUT \"soon\""},
		{"a named host selects restores", map[string]string{"RESTIC_HOST": "app-a"}, func(c entryConfig) bool { return c.host == "app-a" && c.hostSet }, ""},
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

func TestExcludePattern(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a leading slash is the top of the volume", "/cache", "/data/cache"},
		{"a pattern without one matches anywhere", "*.tmp", "*.tmp"},
		{"a nested anchored path", "/a/b/*.log", "/data/a/b/*.log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := excludePattern("/data", c.in); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLineTailKeepsTheLastLines(t *testing.T) {
	var sink strings.Builder
	tail := &lineTail{max: 2, out: &sink}
	_, _ = tail.Write([]byte("one\ntw"))
	_, _ = tail.Write([]byte("o\nthree\n\nfour"))
	if got := tail.String(); got != "two; three; four" {
		t.Fatalf("got %q", got)
	}
	if sink.String() != "one\ntwo\nthree\n\nfour\n" {
		t.Fatalf("copied %q", sink.String())
	}
}

func TestSecretsAreMaskedInResticOutput(t *testing.T) {
	environ := []string{
		"RESTIC_PASSWORD=hunter2-password",
		"AWS_SECRET_ACCESS_KEY=aws-secret-value",
		"RESTIC_REPOSITORY=rest:https://backup:rest-pass@example.com:8000/repo",
		"TEAM_VAULT_HANDLE=unusual-name-value",
		"UNLOCK=1", "DATA_DIR=/data",
	}
	entrypoint.AddSecrets(entrypoint.SecretEnvValues(environ, settingsEnv...)...)
	var sink strings.Builder
	tail := &lineTail{max: 4, out: &sink, redact: entrypoint.Mask}
	_, _ = tail.Write([]byte("Fatal: at rest:https://backup:rest-pass@example.com:8000/repo with hunter2-password\n"))
	_, _ = tail.Write([]byte("key aws-secret-value, handle unusual-name-value, auth rest-pass\n"))
	for _, secret := range []string{"hunter2-password", "aws-secret-value", "rest-pass", "unusual-name-value"} {
		if strings.Contains(sink.String(), secret) || strings.Contains(tail.String(), secret) {
			t.Fatalf("%q shows through: %q", secret, sink.String())
		}
	}
}

func TestUsageErrorIsAFailure(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	if code := runEntry(t.Context(), []string{"sideways"}, []string{"TERMINATION_LOG=" + dir + "/log"}, &log); code != ExitFailed {
		t.Fatalf("exit %d", code)
	}
	var f *entryFailure
	if !errors.As(failf("x"), &f) || f.code != ExitFailed {
		t.Fatal("failf must be an entryFailure with ExitFailed")
	}
}

// FuzzSelectSnapshot: any list and any choice either picks a snapshot from the list or fails;
// it never panics and never picks one newer than asOf.
func FuzzSelectSnapshot(f *testing.F) {
	f.Add(int64(0), int64(3600), int64(7200), 0, int64(5000), true)
	f.Add(int64(10), int64(10), int64(10), 2, int64(0), false)
	f.Fuzz(func(t *testing.T, a, b, c int64, previous int, asOfSec int64, useAsOf bool) {
		if previous < 0 {
			previous = -previous
			if previous < 0 {
				previous = 0
			}
		}
		snaps := []snapshot{{ID: "a", Time: time.Unix(a, 0)}, {ID: "b", Time: time.Unix(b, 0)}, {ID: "c", Time: time.Unix(c, 0)}}
		var asOf *time.Time
		if useAsOf {
			t := time.Unix(asOfSec, 0)
			asOf = &t
		}
		got, why := selectSnapshot(snaps, previous, asOf)
		if why != "" {
			return
		}
		if asOf != nil && got.Time.After(*asOf) {
			t.Fatalf("picked %v, newer than %v", got.Time, *asOf)
		}
	})
}
