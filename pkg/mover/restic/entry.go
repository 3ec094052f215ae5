package restic

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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Exit codes of the restic binary (restic 0.17 and later) that the entry point acts on.
const (
	resticExitIncomplete = 3  // backup: the snapshot was written but some files could not be read
	resticExitNoRepo     = 10 // the repository does not exist
	resticExitLocked     = 11 // the repository is locked
	resticExitBadKey     = 12 // wrong password
)

// defaultConnectTimeout is how long the first contact with the repository may take.
const defaultConnectTimeout = 2 * time.Minute

// defaultHost is the host name the source records in its snapshots: a pod's own host name changes
// with every Job, which would make every backup a new restic "host" and defeat retention.
const defaultHost = "volsync"

// RunEntry is the entry point of the restic mover's Job: `volsync-mover restic source` backs up
// the data volume, `volsync-mover restic destination` restores a snapshot into it. It returns the
// process exit code (ExitSucceeded, ExitFailed or ExitLocked) and writes an Outcome to the
// termination log.
func RunEntry(ctx context.Context, args []string) int {
	return runEntry(ctx, args, os.Environ(), os.Stderr)
}

// Main is RunEntry in the form of the volsync-mover dispatch table: role is "source" or
// "destination". SIGTERM (a deleted Job's pod) and SIGINT stop the run; the tool gets SIGTERM
// first, so that it can clean up after itself (restic removes its lock, instead of leaving
// the stale lock that blocks every later run, volsync #653).
func Main(role string, args []string) int {
	ctx, stop := entrypoint.SignalContext()
	defer stop()
	return RunEntry(ctx, append([]string{role}, args...))
}

// settingsEnv are the variables of a restic mover's environment that are its settings: those the
// controller sets by name (they win over the repository Secret's envFrom) and the entry point's
// own knobs. Every other variable, whatever its name, came from the repository Secret, and its
// value is masked (entrypoint.SecretEnvValues).
var settingsEnv = []string{
	// Set by the controller (mover.go).
	"CUSTOM_CA", "FORGET_OPTIONS", "PRUNE", "UNLOCK", "RESTIC_EXCLUDES", "RESTORE_AS_OF", "SELECT_PREVIOUS", "ENABLE_FILE_DELETION",
	// The entry point's knobs.
	"DATA_DIR", "CACHE_DIR", "RESTIC_BIN", "CONNECT_TIMEOUT", "TERMINATION_LOG",
}

// runEntry runs the entry point in environ (NAME=value pairs, os.Environ in a mover), which
// restic inherits.
func runEntry(ctx context.Context, args []string, environ []string, rawLog io.Writer) int {
	// Before anything is logged: every value of the repository Secret is masked in the log, in
	// restic's output and in the summary.
	entrypoint.AddSecrets(entrypoint.SecretEnvValues(environ, settingsEnv...)...)
	entrypoint.Notable.Keep(`^processed [0-9]+ files`, `^snapshot [0-9a-f]+ saved`, `restoring snapshot`, `no data will be restored`)
	started := entrypoint.Clock.Now()
	mlog := entrypoint.MaskWriter(rawLog)
	defer mlog.Close()
	var log io.Writer = mlog
	getenv := lookupEnv(environ)
	terminationLog := entrypoint.TerminationLog(getenv)
	outcome, err := func() (Outcome, error) {
		if len(args) != 1 || (args[0] != "source" && args[0] != "destination") {
			return Outcome{}, failf("usage: volsync-mover restic source|destination")
		}
		cfg, err := parseEntryConfig(args[0], getenv)
		if err != nil {
			return Outcome{}, err
		}
		cli := newResticCLI(cfg, environ, log)
		if cfg.direction == "source" {
			return backup(ctx, cfg, cli, log)
		}
		return restore(ctx, cfg, cli, log)
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
		fmt.Fprintf(log, "restic mover: FAILED: %s\n", outcome.Message)
	} else {
		outcome.Result = "Successful"
		fmt.Fprintf(log, "restic mover: %s\n", outcome.Message)
		outcome.Logs = entrypoint.CompletedLogs("restic", started)
	}
	writeOutcome(terminationLog, outcome)
	return code
}

// entryConfig is what the Job's environment asks for.
type entryConfig struct {
	direction string // "source" or "destination"
	dataDir   string
	cacheDir  string
	bin       string
	customCA  string
	// host is the restic host name recorded in snapshots and used to select them. hostSet is
	// true when the environment named one: only then does a restore look at that host's
	// snapshots alone (so that repositories written by other tools restore too).
	host    string
	hostSet bool

	unlock   bool
	excludes []string
	forget   []string
	prune    bool

	previous    int
	restoreAsOf *time.Time
	deleteExtra bool

	// connectTimeout bounds the first contact with the repository: restic retries an
	// unreachable or untrusted server for many minutes, and a wrong address or CA should fail
	// the sync long before that.
	connectTimeout time.Duration
}

func parseEntryConfig(direction string, getenv func(string) string) (entryConfig, error) {
	cfg := entryConfig{
		direction: direction,
		dataDir:   orDefault(getenv("DATA_DIR"), "/data"),
		cacheDir:  orDefault(getenv("CACHE_DIR"), "/cache"),
		bin:       orDefault(getenv("RESTIC_BIN"), "restic"),
		customCA:  getenv("CUSTOM_CA"),
		host:      orDefault(getenv("RESTIC_HOST"), defaultHost),
		hostSet:   getenv("RESTIC_HOST") != "",
	}
	cfg.connectTimeout = defaultConnectTimeout
	if s := getenv("CONNECT_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return cfg, failf("CONNECT_TIMEOUT %q is not a duration such as 90s or 5m", s)
		}
		cfg.connectTimeout = d
	}
	if getenv("RESTIC_REPOSITORY") == "" && getenv("RESTIC_REPOSITORY_FILE") == "" {
		return cfg, failf("RESTIC_REPOSITORY is not set: the repository Secret must hold the repository's address")
	}
	if getenv("RESTIC_PASSWORD") == "" && getenv("RESTIC_PASSWORD_FILE") == "" && getenv("RESTIC_PASSWORD_COMMAND") == "" {
		return cfg, failf("RESTIC_PASSWORD is not set: the repository Secret must hold the repository's password")
	}
	var err error
	if cfg.unlock, err = parseFlag("UNLOCK", getenv("UNLOCK")); err != nil {
		return cfg, err
	}
	if cfg.prune, err = parseFlag("PRUNE", getenv("PRUNE")); err != nil {
		return cfg, err
	}
	if cfg.deleteExtra, err = parseFlag("ENABLE_FILE_DELETION", getenv("ENABLE_FILE_DELETION")); err != nil {
		return cfg, err
	}
	for _, line := range strings.Split(getenv("RESTIC_EXCLUDES"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			cfg.excludes = append(cfg.excludes, line)
		}
	}
	cfg.forget = strings.Fields(getenv("FORGET_OPTIONS"))
	for _, f := range cfg.forget {
		// Only retention flags: a stray "--prune" or a snapshot id here would do far more than a
		// retention policy should.
		if strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--keep-") && f != "--group-by" {
			return cfg, failf("FORGET_OPTIONS %q: only --keep-* retention flags are allowed, not %q", getenv("FORGET_OPTIONS"), f)
		}
	}
	if len(cfg.forget) > 0 && !strings.HasPrefix(cfg.forget[0], "--") {
		return cfg, failf("FORGET_OPTIONS %q must start with a --keep-* flag", getenv("FORGET_OPTIONS"))
	}
	if s := strings.TrimSpace(getenv("SELECT_PREVIOUS")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return cfg, failf("SELECT_PREVIOUS %q is not a whole number >= 0 (0 is the latest snapshot, 1 the one before it)", s)
		}
		cfg.previous = n
	}
	if s := strings.TrimSpace(getenv("RESTORE_AS_OF")); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return cfg, failf("RESTORE_AS_OF %q is not an RFC 3339 time such as 2024-05-01T13:00:00Z", s)
		}
		cfg.restoreAsOf = &t
	}
	if getenv("DATA_DEVICE") != "" {
		// As in VolSync: only the rsync movers carry a raw device.
		return cfg, failf("restic moves file systems, and this PVC is a block volume (volumeMode Block): replicate it with the rsync or rsync-tls mover")
	}
	// The tools run in other directories; a relative DATA_DIR would change meaning.
	abs, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return cfg, failf("DATA_DIR %q: %v", cfg.dataDir, err)
	}
	cfg.dataDir = abs
	return cfg, nil
}

// lookupEnv is getenv over environ: the last NAME=value wins, as in os.Getenv.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseFlag(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, failf("%s %q: want 1 or 0", name, v)
}

// backup is the source: make sure the repository exists, optionally remove locks, back up the
// data volume, then apply retention.
func backup(ctx context.Context, cfg entryConfig, cli *resticCLI, log io.Writer) (Outcome, error) {
	exists, err := cli.repositoryExists(ctx, cfg.connectTimeout)
	if err != nil {
		return Outcome{}, err
	}
	if !exists {
		fmt.Fprintln(log, "restic mover: the repository does not exist yet; initializing it")
		if _, err := cli.run(ctx, "", nil, "init"); err != nil {
			return Outcome{}, fmt.Errorf("initializing the repository: %w", err)
		}
	} else if cfg.unlock {
		if err := cli.unlock(ctx); err != nil {
			return Outcome{}, err
		}
	}

	// --ignore-inode: with copyMethod Clone or Snapshot every backup reads a new volume, whose
	// inode numbers and ctimes need not match the last one's; comparing them would make restic
	// re-read every file each time. Size and modification time decide, as they do for rsync.
	args := []string{"backup", "--json", "--host", cfg.host, "--exclude-caches", "--one-file-system", "--ignore-inode",
		// lost+found belongs to the file system, and an unprivileged mover cannot read it.
		"--exclude", filepath.Join(cfg.dataDir, "lost+found")}
	for _, ex := range cfg.excludes {
		args = append(args, "--exclude", excludePattern(cfg.dataDir, ex))
	}
	// restic keeps no metadata for the directory it is started in, so the volume's top (whose
	// mode matters to applications) travels as a tag.
	if tag, err := rootTag(cfg.dataDir); err == nil {
		args = append(args, "--tag", tag)
	}
	// Backing up "." from inside the volume keeps the mount point out of the snapshot's tree, so
	// a restore lands at the top of whatever volume the destination mounts.
	args = append(args, ".")
	var summary backupSummary
	var readErrors []string
	// PWD keeps the path restic records as configured (it picks the parent snapshot by path),
	// even when the volume's path is a symbolic link.
	code, err := cli.runIn(ctx, cfg.dataDir, []string{"PWD=" + cfg.dataDir}, func(line []byte) {
		var m resticMessage
		if json.Unmarshal(line, &m) != nil {
			return
		}
		switch m.MessageType {
		case "summary":
			_ = json.Unmarshal(line, &summary)
		case "error":
			if len(readErrors) < 5 {
				readErrors = append(readErrors, fmt.Sprintf("%s: %s", m.Item, m.Error.Message))
			}
		}
	}, args...)
	outcome := Outcome{Bytes: int64(summary.TotalBytesProcessed), Files: int64(summary.TotalFilesProcessed), Snapshot: summary.SnapshotID}
	if err != nil {
		if code == resticExitIncomplete {
			return outcome, failf("backup is incomplete: snapshot %s was written but some files could not be read (%s); "+
				"the mover may need to run privileged to read them", shortID(summary.SnapshotID), strings.Join(readErrors, "; "))
		}
		return outcome, fmt.Errorf("backup: %w", err)
	}
	if summary.SnapshotID == "" {
		return outcome, failf("backup: restic reported no snapshot")
	}
	// restic's own closing lines, which --json replaces, for the log and latestMoverStatus.logs.
	fmt.Fprintf(log, "processed %d files, %s\n", summary.TotalFilesProcessed, humanBytes(summary.TotalBytesProcessed))
	fmt.Fprintf(log, "snapshot %s saved\n", shortID(summary.SnapshotID))
	outcome.Message = fmt.Sprintf("backed up %d files, %s (new %d, changed %d, unmodified %d files; %s added to the repository) into snapshot %s",
		summary.TotalFilesProcessed, humanBytes(summary.TotalBytesProcessed), summary.FilesNew, summary.FilesChanged,
		summary.FilesUnmodified, humanBytes(summary.DataAdded), shortID(summary.SnapshotID))

	if len(cfg.forget) > 0 {
		fargs := append([]string{"forget", "--host", cfg.host}, cfg.forget...)
		if _, err := cli.run(ctx, "", nil, fargs...); err != nil {
			return outcome, fmt.Errorf("%s, but applying retention (forget %s) failed: %w",
				outcome.Message, strings.Join(cfg.forget, " "), err)
		}
		outcome.Message += "; retention applied"
	}
	if cfg.prune {
		if _, err := cli.run(ctx, "", nil, "prune"); err != nil {
			return outcome, fmt.Errorf("%s, but prune failed: %w", outcome.Message, err)
		}
		outcome.Message += "; repository pruned"
	}
	return outcome, nil
}

// excludePattern turns a user's exclude into a restic pattern: a pattern that starts with "/" is
// relative to the top of the volume (the volume is mounted somewhere else in the mover), any
// other pattern matches at any depth, as restic's own patterns do.
func excludePattern(dataDir, pattern string) string {
	if strings.HasPrefix(pattern, "/") {
		return filepath.Join(dataDir, pattern)
	}
	return pattern
}

// restore is the destination: pick the snapshot asked for and restore it into the data volume.
func restore(ctx context.Context, cfg entryConfig, cli *resticCLI, log io.Writer) (Outcome, error) {
	exists, err := cli.repositoryExists(ctx, cfg.connectTimeout)
	if err != nil {
		return Outcome{}, err
	}
	if !exists {
		// As VolSync does: a restore from a repository no backup has written yet initialises it
		// and restores nothing, so a destination set up before its source still completes.
		fmt.Fprintln(log, "restic mover: the repository does not exist yet; initializing it")
		if _, err := cli.run(ctx, "", nil, "init"); err != nil {
			return Outcome{}, fmt.Errorf("initializing the repository: %w", err)
		}
		return emptyRestore(log, "the restic repository did not exist (no backup was ever written to it) and was initialized"), nil
	}
	if cfg.unlock {
		if err := cli.unlock(ctx); err != nil {
			return Outcome{}, err
		}
	}
	args := []string{"snapshots", "--json"}
	if cfg.hostSet {
		args = append(args, "--host", cfg.host)
	}
	var out bytes.Buffer
	if _, err := cli.run(ctx, "", func(line []byte) { out.Write(line) }, args...); err != nil {
		return Outcome{}, fmt.Errorf("listing snapshots: %w", err)
	}
	var snaps []snapshot
	if err := json.Unmarshal(out.Bytes(), &snaps); err != nil {
		return Outcome{}, failf("listing snapshots: restic's answer is not a JSON list of snapshots: %v", err)
	}
	snap, why := selectSnapshot(snaps, cfg.previous, cfg.restoreAsOf)
	if why != "" {
		return emptyRestore(log, why), nil
	}
	fmt.Fprintf(log, "restic mover: restoring snapshot %s taken at %s\n", shortID(snap.ID), snap.Time.UTC().Format(time.RFC3339))

	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return Outcome{}, failf("creating %s: %v", cfg.dataDir, err)
	}
	rargs := []string{"restore", "--json", "--sparse", snap.ID, "--target", cfg.dataDir}
	if cfg.deleteExtra {
		rargs = append(rargs, "--delete")
	}
	var summary restoreSummary
	if _, err := cli.run(ctx, "", func(line []byte) {
		var m resticMessage
		if json.Unmarshal(line, &m) == nil && m.MessageType == "summary" {
			_ = json.Unmarshal(line, &summary)
		}
	}, rargs...); err != nil {
		return Outcome{Snapshot: snap.ID}, fmt.Errorf("restoring snapshot %s: %w", shortID(snap.ID), err)
	}
	applyRootTag(cfg.dataDir, snap.Tags, log)
	msg := fmt.Sprintf("restored snapshot %s taken at %s: %d files, %s (%d files written, %d already up to date",
		shortID(snap.ID), snap.Time.UTC().Format(time.RFC3339), summary.TotalFiles, humanBytes(summary.TotalBytes),
		summary.FilesRestored, summary.FilesSkipped)
	if cfg.deleteExtra {
		msg += fmt.Sprintf(", %d deleted", summary.FilesDeleted)
	}
	msg += ")"
	return Outcome{Message: msg, Bytes: int64(summary.TotalBytes), Files: int64(summary.TotalFiles), Snapshot: snap.ID}, nil
}

// snapshot is the part of `restic snapshots --json` the restore needs.
type snapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
}

// emptyRestore is the outcome of a restore that found nothing to restore: it completes, as in
// VolSync, so that automation waiting for lastManualSync goes on, but it says why in the log, the
// message and a Warning, so that restoring nothing never passes for a restore (volsync #1211,
// #1138).
func emptyRestore(log io.Writer, why string) Outcome {
	msg := "no eligible snapshot: " + why + "; no data will be restored"
	fmt.Fprintf(log, "restic mover: %s\n", msg)
	return Outcome{Message: msg, Warning: msg}
}

// selectSnapshot picks the snapshot to restore: the newest one at or before asOf when asOf is
// set, else the one `previous` places before the newest (0 is the newest). When none fits it
// returns why instead.
func selectSnapshot(snaps []snapshot, previous int, asOf *time.Time) (snapshot, string) {
	if len(snaps) == 0 {
		return snapshot{}, "the restic repository has no snapshots"
	}
	sorted := append([]snapshot(nil), snaps...)
	// Newest first; the id breaks ties so that the choice never depends on restic's order.
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].ID > sorted[j].ID
	})
	if asOf != nil {
		for i, s := range sorted {
			if !s.Time.After(*asOf) {
				if i+previous >= len(sorted) {
					break
				}
				return sorted[i+previous], ""
			}
		}
		if previous > 0 {
			return snapshot{}, fmt.Sprintf("restoreAsOf %s with previous %d goes past the oldest of the %d snapshots (from %s)",
				asOf.UTC().Format(time.RFC3339), previous, len(sorted), sorted[len(sorted)-1].Time.UTC().Format(time.RFC3339))
		}
		return snapshot{}, fmt.Sprintf("no snapshot was taken at or before %s (the oldest of %d is from %s)",
			asOf.UTC().Format(time.RFC3339), len(sorted), sorted[len(sorted)-1].Time.UTC().Format(time.RFC3339))
	}
	if previous >= len(sorted) {
		return snapshot{}, fmt.Sprintf("previous %d asks for the snapshot %d before the latest, but the repository holds only %d",
			previous, previous, len(sorted))
	}
	return sorted[previous], ""
}

// resticMessage is the common part of restic's --json lines.
type resticMessage struct {
	MessageType string `json:"message_type"`
	Item        string `json:"item"`
	Error       struct {
		Message string `json:"message"`
	} `json:"error"`
}

// backupSummary is restic backup's closing --json line.
type backupSummary struct {
	FilesNew            uint64 `json:"files_new"`
	FilesChanged        uint64 `json:"files_changed"`
	FilesUnmodified     uint64 `json:"files_unmodified"`
	DataAdded           uint64 `json:"data_added"`
	TotalFilesProcessed uint64 `json:"total_files_processed"`
	TotalBytesProcessed uint64 `json:"total_bytes_processed"`
	SnapshotID          string `json:"snapshot_id"`
}

// restoreSummary is restic restore's closing --json line.
type restoreSummary struct {
	TotalFiles    uint64 `json:"total_files"`
	FilesRestored uint64 `json:"files_restored"`
	FilesSkipped  uint64 `json:"files_skipped"`
	FilesDeleted  uint64 `json:"files_deleted"`
	TotalBytes    uint64 `json:"total_bytes"`
}

// resticCLI runs the restic binary with the repository settings of the environment.
type resticCLI struct {
	bin    string
	global []string
	env    []string
	log    io.Writer
	// lastTail is the last lines restic printed in the last run.
	lastTail string
	// redact masks the repository Secret's values in what restic prints (it names the
	// repository in its errors, and a REST or S3 address may carry a password).
	redact func(string) string
}

func newResticCLI(cfg entryConfig, environ []string, log io.Writer) *resticCLI {
	// --retry-lock 0: a locked repository fails at once. Waiting (or the controller retrying) on
	// a lock left by a killed pod only burns time and egress (volsync #653, #1429).
	global := []string{"--cache-dir", cfg.cacheDir, "--retry-lock", "0s"}
	if cfg.customCA != "" {
		global = append(global, "--cacert", cfg.customCA)
	}
	env := append([]string(nil), environ...)
	if lookupEnv(environ)("TMPDIR") == "" {
		// restic assembles pack files in the temporary directory; the mover's root file system
		// is read-only, the cache volume is not.
		env = append(env, "TMPDIR="+filepath.Join(cfg.cacheDir, "tmp"))
		_ = os.MkdirAll(filepath.Join(cfg.cacheDir, "tmp"), 0o700)
	}
	return &resticCLI{bin: cfg.bin, global: global, env: env, log: log, redact: entrypoint.Mask}
}

// run runs restic with args in dir, handing each line of its standard output to onLine (nil
// discards it) and copying its standard error to the log. A non-zero exit is an *entryFailure
// that carries restic's last error lines; a locked repository is ExitLocked.
func (c *resticCLI) run(ctx context.Context, dir string, onLine func([]byte), args ...string) (int, error) {
	return c.runIn(ctx, dir, nil, onLine, args...)
}

// runIn is run with extra environment variables.
func (c *resticCLI) runIn(ctx context.Context, dir string, extraEnv []string, onLine func([]byte), args ...string) (int, error) {
	full := append(append([]string(nil), c.global...), args...)
	// The command line holds no secret: the repository and its credentials come from the
	// environment, which is never printed.
	fmt.Fprintf(c.log, "restic mover: running restic %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), c.env...), extraEnv...)
	stopGently(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return -1, failf("restic: %v", err)
	}
	tail := &lineTail{max: 8, out: c.log, redact: c.redact}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return -1, failf("starting restic (%s): %v; set RESTIC_BIN or put restic on PATH", c.bin, err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 256*1024*1024)
	for sc.Scan() {
		if onLine != nil {
			onLine(sc.Bytes())
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	last := tail.String()
	c.lastTail = last
	if err == nil {
		return 0, nil
	}
	if ctx.Err() != nil {
		return code, failf("restic %s was stopped: %v; its last words: %s", args[0], ctx.Err(), last)
	}
	if code == resticExitLocked {
		return code, &entryFailure{code: ExitLocked, msg: fmt.Sprintf(
			"repository is locked by another process (%s); if no other backup or restore is using this repository, "+
				"set spec.restic.unlock to remove stale locks", last)}
	}
	if code == resticExitBadKey {
		return code, failf("wrong repository password: restic could not open the repository with RESTIC_PASSWORD (%s)", last)
	}
	return code, failf("restic %s exited with code %d: %s", args[0], code, last)
}

// repositoryExists asks restic whether the repository has a config. Only restic's own "does not
// exist" answer (exit 10) means no: any other failure, such as a wrong password or an
// unreachable server, must not lead to an `init` or to a restore that silently restores nothing.
func (c *resticCLI) repositoryExists(ctx context.Context, timeout time.Duration) (bool, error) {
	probe, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := c.run(probe, "", nil, "cat", "config", "--no-lock")
	if err != nil && ctx.Err() == nil && probe.Err() != nil {
		return false, failf("could not reach the repository within %s (CONNECT_TIMEOUT): %s", timeout, c.lastTail)
	}
	if err == nil {
		return true, nil
	}
	if code == resticExitNoRepo {
		return false, nil
	}
	return false, fmt.Errorf("opening the repository: %w", err)
}

// unlock removes every lock. The user asks for it (spec.restic.unlock) after a mover was killed:
// restic cannot tell a lock of a dead pod on another node from a live one, so it would keep
// plain `restic unlock` from removing it for 30 minutes.
func (c *resticCLI) unlock(ctx context.Context) error {
	if _, err := c.run(ctx, "", nil, "unlock", "--remove-all"); err != nil {
		return fmt.Errorf("removing locks: %w", err)
	}
	return nil
}

// lineTail copies what is written to out, line by line with secrets masked, and remembers the
// last max lines.
type lineTail struct {
	max    int
	out    io.Writer
	redact func(string) string
	lines  []string
	part   string
}

func (t *lineTail) Write(p []byte) (int, error) {
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		if t.redact != nil {
			l = t.redact(l)
		}
		fmt.Fprintln(t.out, l)
		if l = strings.TrimSpace(l); l != "" {
			t.lines = append(t.lines, l)
		}
	}
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
	return len(p), nil
}

func (t *lineTail) String() string {
	lines := t.lines
	if p := strings.TrimSpace(t.part); p != "" {
		if t.redact != nil {
			p = t.redact(p)
		}
		fmt.Fprintln(t.out, p)
		lines = append(lines, p)
	}
	if len(lines) == 0 {
		return "no message"
	}
	return strings.Join(lines, "; ")
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
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

// rootTagPrefix starts the tag that records the volume's top directory: mode, owner, group and
// modification time, as "volsync-root=<octal mode>:<uid>:<gid>:<unix nanoseconds>".
const rootTagPrefix = "volsync-root="

func rootTag(dataDir string) (string, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("no owner for %s", dataDir)
	}
	return fmt.Sprintf("%s%o:%d:%d:%d", rootTagPrefix, st.Mode&0o7777, st.Uid, st.Gid, fi.ModTime().UnixNano()), nil
}

// applyRootTag gives the volume's top the recorded mode, owner and time, as far as the mover may:
// the top belongs to whoever provisioned the volume, so a refusal is logged, not a failure.
func applyRootTag(dataDir string, tags []string, log io.Writer) {
	for _, tag := range tags {
		v, ok := strings.CutPrefix(tag, rootTagPrefix)
		if !ok {
			continue
		}
		var mode uint32
		var uid, gid int
		var mtime int64
		if _, err := fmt.Sscanf(v, "%o:%d:%d:%d", &mode, &uid, &gid, &mtime); err != nil {
			fmt.Fprintf(log, "restic mover: ignoring malformed tag %q\n", tag)
			return
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(dataDir, uid, gid); err != nil {
				fmt.Fprintf(log, "restic mover: could not give the volume's top to %d:%d: %v\n", uid, gid, err)
			}
		}
		// syscall.Chmod takes the Unix bits as they are, setgid and sticky included.
		if err := syscall.Chmod(dataDir, mode); err != nil {
			fmt.Fprintf(log, "restic mover: could not set the volume top's mode %o: %v\n", mode, err)
		}
		t := time.Unix(0, mtime)
		if err := os.Chtimes(dataDir, t, t); err != nil {
			fmt.Fprintf(log, "restic mover: could not set the volume top's time: %v\n", err)
		}
		return
	}
}
