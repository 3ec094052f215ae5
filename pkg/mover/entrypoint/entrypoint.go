package entrypoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Result values of a Summary, as the controller expects them.
const (
	ResultSuccessful = "Successful"
	ResultFailed     = "Failed"
)

// DefaultTerminationLog is where Kubernetes reads a container's termination message from.
const DefaultTerminationLog = "/dev/termination-log"

// Summary is the outcome of one mover run, written as JSON to the termination log.
type Summary struct {
	Result  string `json:"result"`
	Message string `json:"message"`
	// Bytes is the size of the file data the tool transferred in this run.
	Bytes int64 `json:"bytes"`
	// Files is the number of files the tool transferred in this run.
	Files int64 `json:"files"`
	// Snapshot is the id of the snapshot written or restored, for movers that keep snapshots.
	Snapshot string `json:"snapshot,omitempty"`
	// Logs is the filtered tail of the mover's output (Highlights.Logs), for a run that
	// succeeded; the control plane shows it as latestMoverStatus.logs.
	Logs string `json:"logs,omitempty"`
	// Warning says why a run that succeeded did less than asked, such as a restore that found no
	// snapshot to restore; the control plane raises it as a Warning Event.
	Warning string `json:"warning,omitempty"`
}

// MaxMessage bounds Summary.Message so that the whole summary fits a termination message, of
// which Kubernetes keeps at most 4096 bytes.
// Summary.Logs takes up to MaxLogs beside it.
const MaxMessage = 2500

// Env returns the environment variable name, or def when it is unset or empty.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// EnvDuration reads a Go duration ("90s", "5m") from the environment, or def when unset.
func EnvDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("environment variable %s=%q is not a duration such as 90s or 5m: %w", name, v, err)
	}
	return d, nil
}

// EnvPort reads a TCP port number from the environment, or def when unset.
func EnvPort(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("environment variable %s=%q is not a TCP port (1-65535)", name, v)
	}
	return p, nil
}

// Logger writes timestamped lines a person can read. It is safe for concurrent use, so the
// output of several child processes can be interleaved line by line.
type Logger struct {
	mu      sync.Mutex
	out     io.Writer
	prefix  string
	started time.Time
}

// NewLogger returns a Logger writing to out, each line starting with prefix (e.g. "rsync source").
func NewLogger(out io.Writer, prefix string) *Logger {
	return &Logger{out: out, prefix: prefix, started: Clock.Now()}
}

// CompletedLogs is Notable.Logs for a mover that started at started: "Rsync completed in 5s".
func CompletedLogs(mover string, started time.Time) string {
	if mover != "" {
		mover = strings.ToUpper(mover[:1]) + mover[1:]
	}
	return Notable.Logs(mover, Clock.Now().Sub(started))
}

// Printf logs one line, with every secret of the process's masker (Secrets) masked.
func (l *Logger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := Mask(strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	Notable.Observe(msg)
	fmt.Fprintf(l.out, "%s %s: %s\n", Clock.Now().UTC().Format("2006-01-02T15:04:05Z"), l.prefix, msg)
}

// LineWriter returns a writer that logs every line written to it with tag, for a child process's
// stdout or stderr; Printf masks the secrets. Close flushes a last unterminated line.
func (l *Logger) LineWriter(tag string) io.WriteCloser {
	return &lineWriter{log: l, tag: tag}
}

type lineWriter struct {
	log *Logger
	tag string
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	w.log.Printf("[%s] %s", w.tag, line)
}

func (w *lineWriter) Close() error {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
	return nil
}

// WriteSummary writes s as JSON to the termination log named by TERMINATION_LOG (default
// /dev/termination-log). A missing log directory is not an error worth failing a sync for: the
// summary is still logged on stdout by Finish.
func WriteSummary(s Summary) error {
	return WriteSummaryTo(TerminationLog(os.Getenv), s)
}

// TerminationLog is the termination log's path as getenv tells it: TERMINATION_LOG, default
// /dev/termination-log. The entry points take getenv so that tests can set it.
func TerminationLog(getenv func(string) string) string {
	if path := getenv("TERMINATION_LOG"); path != "" {
		return path
	}
	return DefaultTerminationLog
}

// WriteSummaryTo writes s as JSON to path, its message masked (Secrets) and cut to MaxMessage.
func WriteSummaryTo(path string, s Summary) error {
	s.Message = Mask(s.Message)
	s.Logs = Mask(s.Logs)
	s.Warning = Mask(s.Warning)
	s.Message = cut(s.Message, MaxMessage)
	s.Warning = cut(s.Warning, MaxMessage)
	var b []byte
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			return err
		}
		b = bytes.TrimRight(buf.Bytes(), "\n")
		// Kubernetes keeps 4096 bytes of a termination message; escapes can make the JSON longer
		// than its fields, and a cut JSON would lose every figure.
		if len(b) <= maxTerminationMessage || (s.Message == "" && s.Logs == "" && s.Warning == "") {
			break
		}
		s.Message, s.Logs, s.Warning = cut(s.Message, len(s.Message)*3/4), cutFront(s.Logs, len(s.Logs)*3/4), cut(s.Warning, len(s.Warning)*3/4)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the summary to the termination log %s: %w", path, err)
	}
	return nil
}

// maxTerminationMessage is what a summary's JSON may take of the 4096 bytes Kubernetes keeps.
const maxTerminationMessage = 4000

// cut keeps the start of s within limit bytes, on a character boundary, marking the cut.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	s = strings.ToValidUTF8(s[:max(limit-3, 0)], "")
	return s + "..."
}

// cutFront keeps the end of s within limit bytes, on a character boundary.
func cutFront(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[len(s)-limit:], "")
}

// Finish reports the outcome of a run: it logs it, writes the summary and returns the process exit
// code (0 for success, 1 for failure).
func Finish(log *Logger, s Summary, runErr error) int {
	if runErr != nil {
		s.Result = ResultFailed
		s.Message = runErr.Error()
	} else if s.Result == "" {
		s.Result = ResultSuccessful
	}
	if s.Result == ResultSuccessful && s.Logs == "" {
		mover, _, _ := strings.Cut(log.prefix, " ")
		s.Logs = CompletedLogs(mover, log.started)
	}
	log.Printf("%s: %s (files transferred: %d, bytes transferred: %d)", strings.ToLower(s.Result), s.Message, s.Files, s.Bytes)
	if err := WriteSummary(s); err != nil {
		log.Printf("warning: %v", err)
	}
	if s.Result == ResultSuccessful {
		return 0
	}
	return 1
}

// ReadSummary reads a summary written by WriteSummary; tests and the destination's helper
// processes use it.
func ReadSummary(path string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("summary %s: %w", path, err)
	}
	return s, nil
}

// WriteFileAtomic writes data to path through a temporary file and a rename, so that a reader
// polling for path never sees it half-written.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// SignalContext is cancelled on SIGTERM (a deleted Job's pod) or SIGINT, so a mover can stop its
// tool cleanly (restic then removes its own lock instead of leaving a stale one).
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}
