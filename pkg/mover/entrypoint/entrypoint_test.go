package entrypoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFinishWritesTheSummaryAndTheExitCode(t *testing.T) {
	cases := []struct {
		name     string
		summary  Summary
		err      error
		wantCode int
		wantJSON string
	}{
		{"a success reports its figures", Summary{Message: "synchronized", Files: 3, Bytes: 1024}, nil, 0,
			`{"result":"Successful","message":"synchronized","bytes":1024,"files":3,"logs":"Test completed in 0s"}`},
		{"a failure carries the error as the message", Summary{Files: 1}, errors.New("the destination refused the key"), 1,
			`{"result":"Failed","message":"the destination refused the key","bytes":0,"files":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "termination-log")
			t.Setenv("TERMINATION_LOG", path)
			var out bytes.Buffer
			if code := Finish(NewLogger(&out, "test"), c.summary, c.err); code != c.wantCode {
				t.Fatalf("exit code %d, want %d", code, c.wantCode)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != c.wantJSON {
				t.Fatalf("termination log %s, want %s", got, c.wantJSON)
			}
			if !strings.Contains(out.String(), "test: ") {
				t.Fatalf("log %q has no readable line", out.String())
			}
		})
	}
}

func TestLineWriterLogsWholeLines(t *testing.T) {
	var out bytes.Buffer
	w := NewLogger(&out, "mover").LineWriter("rsync")
	_, _ = w.Write([]byte("first li"))
	_, _ = w.Write([]byte("ne\nsecond\n\nthird"))
	w.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "mover: [rsync] first line") || !strings.HasSuffix(lines[2], "[rsync] third") {
		t.Fatalf("lines %q", lines)
	}
}

func TestEnvSettingsAreChecked(t *testing.T) {
	t.Setenv("X_PORT", "80000")
	if _, err := EnvPort("X_PORT", 22); err == nil || !strings.Contains(err.Error(), "X_PORT") {
		t.Fatalf("EnvPort accepted 80000: %v", err)
	}
	t.Setenv("X_TIMEOUT", "5 minutes")
	if _, err := EnvDuration("X_TIMEOUT", 0); err == nil || !strings.Contains(err.Error(), "X_TIMEOUT") {
		t.Fatalf("EnvDuration accepted %q: %v", "5 minutes", err)
	}
}

func TestHighlightsKeepTheLinesAPersonLooksForWithinTheCap(t *testing.T) {
	h := &Highlights{}
	h.Keep(`^sent [0-9]+ bytes`, `^Transferred:`)
	h.Observe("[rsync] building file list")
	h.Observe("sent 2048 bytes  received 35 bytes  4166.00 bytes/sec")
	h.Observe("  Transferred: 2 KiB, 7 files  ")
	if got, want := h.Logs("Rsync", 5*time.Second), "sent 2048 bytes  received 35 bytes  4166.00 bytes/sec\nTransferred: 2 KiB, 7 files\nRsync completed in 5s"; got != want {
		t.Fatalf("logs %q, want %q", got, want)
	}
	for range 100 {
		h.Observe("sent 1234567890 bytes and then some more words to fill the line")
	}
	got := h.Logs("Rsync", time.Second)
	if len(got) > MaxLogs || !strings.HasSuffix(got, "\nRsync completed in 1s") || !strings.HasPrefix(got, "sent ") {
		t.Fatalf("logs of %d bytes, want at most %d ending with the completion line, cut on a line boundary:\n%s", len(got), MaxLogs, got)
	}
}

func TestASummaryFitsATerminationMessageWhateverItsMessageHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	s := Summary{Result: ResultFailed, Message: strings.Repeat("<&>\x01\xff", 1200), Logs: strings.Repeat("x\n", 600), Warning: strings.Repeat("é", 2000)}
	if err := WriteSummaryTo(path, s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 4096 {
		t.Fatalf("the summary takes %d bytes; Kubernetes keeps 4096", len(b))
	}
	got, err := ReadSummary(path)
	if err != nil || got.Result != ResultFailed || got.Message == "" {
		t.Fatalf("the summary does not read back: %+v, %v", got, err)
	}
}
