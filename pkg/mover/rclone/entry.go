package rclone

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// rcloneExitDirNotFound is rclone's exit code for "directory not found".
const rcloneExitDirNotFound = 3

// RunEntry is the entry point of the rclone mover's Job: `volsync-mover rclone source` syncs the
// data volume to the remote, `volsync-mover rclone destination` syncs the remote into the data
// volume. It returns the process exit code and writes an Outcome to the termination log.
func RunEntry(ctx context.Context, args []string) int {
	return runEntry(ctx, args, os.Environ(), os.Stderr)
}

// Main is RunEntry in the form of the volsync-mover dispatch table: role is "source" or
// "destination". SIGTERM (a deleted Job's pod) and SIGINT stop the run; the tool gets SIGTERM
// first, so that it can clean up after itself.
func Main(role string, args []string) int {
	ctx, stop := entrypoint.SignalContext()
	defer stop()
	return RunEntry(ctx, append([]string{role}, args...))
}

// runEntry runs the entry point in environ (NAME=value pairs, os.Environ in a mover), which
// rclone inherits.
func runEntry(ctx context.Context, args []string, environ []string, rawLog io.Writer) int {
	getenv := lookupEnv(environ)
	// Before anything is logged: every value of rclone.conf (the rcloneConfig Secret) and of any
	// variable that is not a setting is masked in the log, in rclone's output and in the summary.
	learnSecrets(environ, getenv("RCLONE_CONFIG"))
	entrypoint.Notable.Keep(`^Transferred:`, `^Elapsed time:`)
	started := entrypoint.Clock.Now()
	mlog := entrypoint.MaskWriter(rawLog)
	defer mlog.Close()
	var log io.Writer = mlog
	terminationLog := entrypoint.TerminationLog(getenv)
	outcome, err := func() (Outcome, error) {
		if len(args) != 1 || (args[0] != "source" && args[0] != "destination") {
			return Outcome{}, failf("usage: volsync-mover rclone source|destination")
		}
		cfg, err := parseEntryConfig(args[0], getenv)
		if err != nil {
			return Outcome{}, err
		}
		cfg.env = environ
		return syncVolume(ctx, cfg, log)
	}()
	code := ExitSucceeded
	if err != nil {
		code = ExitFailed
		var f *entryFailure
		if errors.As(err, &f) {
			code = f.code
		}
		outcome.Result = "Failed"
		outcome.Message = err.Error()
		fmt.Fprintf(log, "rclone mover: FAILED: %s\n", outcome.Message)
	} else {
		outcome.Result = "Successful"
		fmt.Fprintf(log, "rclone mover: %s\n", outcome.Message)
		outcome.Logs = entrypoint.CompletedLogs("rclone", started)
	}
	writeOutcome(terminationLog, outcome)
	return code
}

// entryConfig is what the Job's environment asks for.
type entryConfig struct {
	direction string // "source" or "destination"
	dataDir   string
	bin       string
	config    string // path of rclone.conf
	section   string
	destPath  string
	customCA  string
	transfers int
	// env is the environment rclone runs in.
	env []string
	// connectTimeout bounds the first contact with the remote: rclone retries an unreachable
	// or untrusted server for minutes, and a wrong address or CA should fail long before that.
	connectTimeout time.Duration
}

// defaultConnectTimeout is how long the first contact with the remote may take.
const defaultConnectTimeout = 2 * time.Minute

func parseEntryConfig(direction string, getenv func(string) string) (entryConfig, error) {
	cfg := entryConfig{
		direction: direction,
		dataDir:   orDefault(getenv("DATA_DIR"), "/data"),
		bin:       orDefault(getenv("RCLONE_BIN"), "rclone"),
		config:    getenv("RCLONE_CONFIG"),
		section:   getenv("RCLONE_CONFIG_SECTION"),
		destPath:  getenv("RCLONE_DEST_PATH"),
		customCA:  getenv("CUSTOM_CA"),
		transfers: 10,
	}
	switch {
	case cfg.config == "":
		return cfg, failf("RCLONE_CONFIG is not set: it must name the rclone.conf from the rcloneConfig Secret")
	case cfg.section == "":
		return cfg, failf("RCLONE_CONFIG_SECTION is not set: it must name the section of rclone.conf to use (spec.rclone.rcloneConfigSection)")
	case cfg.destPath == "":
		return cfg, failf("RCLONE_DEST_PATH is not set: it must name the bucket and path on the remote (spec.rclone.rcloneDestPath)")
	case strings.ContainsAny(cfg.section, ":[]\n"):
		return cfg, failf("RCLONE_CONFIG_SECTION %q is not a section name", cfg.section)
	}
	if _, err := os.Stat(cfg.config); err != nil {
		return cfg, failf("RCLONE_CONFIG: %v", err)
	}
	cfg.connectTimeout = defaultConnectTimeout
	if s := getenv("CONNECT_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return cfg, failf("CONNECT_TIMEOUT %q is not a duration such as 90s or 5m", s)
		}
		cfg.connectTimeout = d
	}
	if s := getenv("RCLONE_TRANSFERS"); s != "" {
		// rclone reads RCLONE_TRANSFERS itself too; it is parsed here only so that our own
		// --transfers default does not override it.
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return cfg, failf("RCLONE_TRANSFERS %q is not a whole number >= 1", s)
		}
		cfg.transfers = n
	}
	if getenv("DATA_DEVICE") != "" {
		// As in VolSync: only the rsync movers carry a raw device.
		return cfg, failf("rclone moves file systems, and this PVC is a block volume (volumeMode Block): replicate it with the rsync or rsync-tls mover")
	}
	// The tools run in other directories; a relative DATA_DIR would change meaning.
	abs, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return cfg, failf("DATA_DIR %q: %v", cfg.dataDir, err)
	}
	cfg.dataDir = abs
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// remote is the place on the remote the volume is synchronized with.
func (c entryConfig) remote() string { return c.section + ":" + c.destPath }

// syncArgs are the flags of both directions. --checksum compares content rather than size and
// time, which differ between the volume and the object store. Links, permissions, owners and
// directories travel in the manifest (entry_metadata.go), so rclone skips links and carries no
// metadata of its own.
func (c entryConfig) syncArgs(from, to string) []string {
	args := []string{"sync", from, to,
		"--checksum", "--transfers", strconv.Itoa(c.transfers),
		"--skip-links", "--create-empty-src-dirs",
		// lost+found belongs to each volume's own file system: never sent, never deleted.
		"--exclude", "/lost+found/**",
		"--exclude", "/" + manifestName,
	}
	return append(args, c.commonArgs()...)
}

// commonArgs are the flags of every rclone command: a JSON log (its last "stats" line gives the
// outcome's figures) and the custom CA.
func (c entryConfig) commonArgs() []string {
	args := []string{"--use-json-log", "--stats", "1h", "--stats-log-level", "NOTICE", "--log-level", "NOTICE"}
	if c.customCA != "" {
		args = append(args, "--ca-cert", c.customCA)
	}
	return args
}

// syncVolume runs one synchronization in the configured direction.
func syncVolume(ctx context.Context, cfg entryConfig, log io.Writer) (Outcome, error) {
	if fi, err := os.Stat(cfg.dataDir); err != nil || !fi.IsDir() {
		return Outcome{}, failf("the data volume %s is not a directory: %v", cfg.dataDir, err)
	}
	if cfg.direction == "source" {
		return send(ctx, cfg, log)
	}
	return receive(ctx, cfg, log)
}

// send syncs the volume to the remote, then records its metadata there.
func send(ctx context.Context, cfg entryConfig, log io.Writer) (Outcome, error) {
	if _, err := countTopLevel(ctx, cfg, log); err != nil {
		return Outcome{}, err
	}
	outcome, err := rcloneSync(ctx, cfg, log, cfg.dataDir, cfg.remote())
	if err != nil {
		return outcome, err
	}
	// After the data, so that a destination never applies a manifest to data older than it.
	pr, pw := io.Pipe()
	var entries int
	var skipped skippedCounts
	go func() {
		var err error
		entries, skipped, err = writeManifest(cfg.dataDir, pw)
		pw.CloseWithError(err)
	}()
	args := append([]string{"rcat", cfg.remote() + "/" + manifestName}, cfg.commonArgs()...)
	code, tail, err := run(ctx, cfg, log, pr, func([]byte) {}, args...)
	_ = pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return outcome, err
	}
	if code != 0 {
		return outcome, failf("the data was sent, but storing its metadata (%s) failed with code %d: %s", manifestName, code, tail)
	}
	outcome.Message = fmt.Sprintf("%s; metadata of %d files, directories and links recorded", outcome.Message, entries)
	if skipped.special > 0 {
		outcome.Message += fmt.Sprintf("; %d devices, FIFOs or sockets skipped", skipped.special)
	}
	return outcome, nil
}

// receive syncs the remote into the volume and applies the recorded metadata.
func receive(ctx context.Context, cfg entryConfig, log io.Writer) (Outcome, error) {
	// An empty or missing remote path must fail: syncing it down would empty the volume and
	// report success (volsync #1211 for restic).
	n, err := countTopLevel(ctx, cfg, log)
	if err != nil {
		return Outcome{}, err
	}
	if n == 0 {
		return Outcome{}, failf("nothing to restore: %s is empty (has the source synchronized yet?)", cfg.remote())
	}
	entries, found, err := fetchManifest(ctx, cfg, log)
	if err != nil {
		return Outcome{}, err
	}
	if found {
		if err := removeStaleLinks(cfg.dataDir, entries); err != nil {
			return Outcome{}, failf("removing links the source no longer has: %v", err)
		}
	}
	outcome, err := rcloneSync(ctx, cfg, log, cfg.remote(), cfg.dataDir)
	if err != nil {
		return outcome, err
	}
	if !found {
		outcome.Message += fmt.Sprintf("; %s holds no %s (not written by this mover), so links, permissions and owners were not restored",
			cfg.remote(), manifestName)
		return outcome, nil
	}
	applied, err := applyManifest(cfg.dataDir, entries)
	if err != nil {
		return outcome, failf("the data arrived, but applying its metadata failed after %d of %d entries: %v", applied, len(entries), err)
	}
	outcome.Message += fmt.Sprintf("; metadata of %d files, directories and links applied", applied)
	return outcome, nil
}

// fetchManifest reads the manifest from the remote; found is false when there is none.
func fetchManifest(ctx context.Context, cfg entryConfig, log io.Writer) (entries []manifestEntry, found bool, err error) {
	var buf bytes.Buffer
	args := append([]string{"cat", cfg.remote() + "/" + manifestName}, cfg.commonArgs()...)
	args = append(args, "--use-json-log=false")
	cmdOut := &buf
	code, tail, err := runRaw(ctx, cfg, log, cmdOut, args...)
	if err != nil {
		return nil, false, err
	}
	if code != 0 {
		return nil, false, failf("reading %s from %s failed with code %d: %s", manifestName, cfg.remote(), code, tail)
	}
	if buf.Len() == 0 {
		// rclone cat of a missing object prints nothing and succeeds.
		return nil, false, nil
	}
	entries, err = readManifest(&buf)
	if err != nil {
		return nil, false, failf("%s on %s: %v", manifestName, cfg.remote(), err)
	}
	return entries, true, nil
}

// rcloneSync runs rclone sync from -> to and reads its figures.
func rcloneSync(ctx context.Context, cfg entryConfig, log io.Writer, from, to string) (Outcome, error) {
	var stats transferStats
	var lastErrors []string
	code, tail, err := run(ctx, cfg, log, nil, func(line []byte) {
		var l logLine
		if json.Unmarshal(line, &l) != nil {
			return
		}
		if l.Stats != nil {
			stats = *l.Stats
		}
		if l.Level == "error" && len(lastErrors) < 5 {
			lastErrors = append(lastErrors, readableLogLine(line))
		}
	}, cfg.syncArgs(from, to)...)
	outcome := Outcome{Bytes: int64(stats.Bytes), Files: int64(stats.Transfers)}
	if err != nil {
		return outcome, err
	}
	if code != 0 {
		detail := strings.Join(lastErrors, "; ")
		if detail == "" {
			detail = tail
		}
		return outcome, failf("rclone sync exited with code %d after %d errors: %s", code, stats.Errors, detail)
	}
	verb, where := "sent", "to "+cfg.remote()
	if cfg.direction == "destination" {
		verb, where = "received", "from "+cfg.remote()
	}
	outcome.Message = fmt.Sprintf("%s %d files, %s %s (%d unchanged, %d deleted)",
		verb, stats.Transfers, humanBytes(stats.Bytes), where, stats.Checks, stats.Deletes)
	// rclone's own stats lines, which the JSON log replaces, for latestMoverStatus.logs.
	fmt.Fprintf(log, "Transferred: %s, %d files\n", humanBytes(stats.Bytes), stats.Transfers)
	fmt.Fprintf(log, "Elapsed time: %s\n", time.Duration(stats.ElapsedTime*float64(time.Second)).Round(time.Millisecond))
	return outcome, nil
}

// countTopLevel counts the entries at the top of the remote path; a missing path counts 0.
// It is the first contact with the remote, so it is bounded by CONNECT_TIMEOUT.
func countTopLevel(ctx context.Context, cfg entryConfig, log io.Writer) (int, error) {
	n := 0
	// Few retries: a listing that fails twice says what is wrong (an address, a CA, a key)
	// better than minutes of silent retries do.
	args := append([]string{"lsf", "--max-depth", "1", cfg.remote(), "--retries", "1", "--low-level-retries", "2"},
		cfg.commonArgs()...)
	probe, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	code, tail, err := run(probe, cfg, log, nil, func(line []byte) {
		var l logLine
		if json.Unmarshal(line, &l) == nil && l.Level != "" {
			return // a log line, not a listed name
		}
		if strings.TrimSpace(string(line)) != "" {
			n++
		}
	}, args...)
	if err != nil && ctx.Err() == nil && probe.Err() != nil {
		return 0, failf("could not reach %s within %s (CONNECT_TIMEOUT): %s", cfg.remote(), cfg.connectTimeout, tail)
	}
	if err != nil {
		return 0, err
	}
	switch code {
	case 0:
		return n, nil
	case rcloneExitDirNotFound:
		return 0, nil
	}
	return 0, failf("listing %s: rclone exited with code %d: %s", cfg.remote(), code, tail)
}

// run runs rclone with stdin (nil for none), handing each line of its standard output and
// standard error to onLine (the JSON log goes to standard error) and copying the standard error
// to the log. It returns rclone's exit code and its last log lines; err is only for an rclone
// that could not run.
func run(ctx context.Context, cfg entryConfig, log io.Writer, stdin io.Reader, onLine func([]byte), args ...string) (int, string, error) {
	// Lines of both streams arrive on two goroutines; onLine sees them one at a time.
	var mu sync.Mutex
	serial := func(line []byte) {
		mu.Lock()
		defer mu.Unlock()
		onLine(line)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			serial(sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	code, tail, err := runWith(ctx, cfg, log, stdin, pw, serial, args...)
	_ = pw.Close()
	<-done
	return code, tail, err
}

// runRaw runs rclone and copies its standard output to stdout unchanged.
func runRaw(ctx context.Context, cfg entryConfig, log io.Writer, stdout io.Writer, args ...string) (int, string, error) {
	return runWith(ctx, cfg, log, nil, stdout, func([]byte) {}, args...)
}

func runWith(ctx context.Context, cfg entryConfig, log io.Writer, stdin io.Reader, stdout io.Writer,
	onErrLine func([]byte), args ...string) (int, string, error) {
	// The command line holds no secret: credentials live in rclone.conf or the environment.
	fmt.Fprintf(log, "rclone mover: running rclone %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, cfg.bin, args...)
	cmd.Env = cfg.env
	stopGently(cmd)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return -1, "", failf("rclone: %v", err)
	}
	if err := cmd.Start(); err != nil {
		return -1, "", failf("starting rclone (%s): %v; set RCLONE_BIN or put rclone on PATH", cfg.bin, err)
	}
	var tail []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(log, "%s\n", line)
		onErrLine(line)
		var l logLine
		if json.Unmarshal(line, &l) == nil && l.Stats != nil {
			continue // the closing figures, not a message
		}
		if len(tail) == 8 {
			tail = tail[1:]
		}
		tail = append(tail, readableLogLine(line))
	}
	_, _ = io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	msg := strings.Join(tail, "; ")
	if msg == "" {
		msg = "no message"
	}
	if err != nil && ctx.Err() != nil {
		return code, msg, failf("rclone %s was stopped: %v; its last words: %s", args[0], ctx.Err(), msg)
	}
	return code, msg, nil
}

// logLine is one line of rclone's --use-json-log output.
type logLine struct {
	Level  string         `json:"level"`
	Msg    string         `json:"msg"`
	Object string         `json:"object"`
	Stats  *transferStats `json:"stats"`
}

// transferStats is the "stats" object rclone logs when it finishes.
type transferStats struct {
	Bytes     uint64 `json:"bytes"`
	Checks    uint64 `json:"checks"`
	Deletes   uint64 `json:"deletes"`
	Errors    uint64 `json:"errors"`
	Transfers uint64 `json:"transfers"`
	// ElapsedTime is in seconds.
	ElapsedTime float64 `json:"elapsedTime"`
}

// readableLogLine turns a JSON log line into its message, for error reports.
func readableLogLine(line []byte) string {
	var l logLine
	if json.Unmarshal(line, &l) == nil && l.Msg != "" {
		if l.Object != "" {
			return l.Object + ": " + strings.TrimSpace(l.Msg)
		}
		return strings.TrimSpace(l.Msg)
	}
	return strings.TrimSpace(string(line))
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// stopGently makes a cancelled context send the tool SIGTERM, and SIGKILL only if it has not
// exited 30 seconds later.
func stopGently(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
}
