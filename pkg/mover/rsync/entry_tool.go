package rsync

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// TransferFlags are the rsync options of every sync, ssh or TLS:
//
//	-a            recursion, permissions, times, symlinks, devices and specials, owner and group
//	              (owner and group take effect only where the receiver is privileged)
//	-A -X         POSIX ACLs and extended attributes; unprivileged, rsync moves only user.*
//	              attributes and ACLs on files the receiver owns. Where the destination's file
//	              system cannot store them, the source retries once without (see Transfer).
//	-H            hard links stay hard links
//	-S            sparse files stay sparse
//	-x            one file system: the volume, not what is mounted inside it
//	-z            compression on the wire
//	--numeric-ids the two sides' user databases are unrelated; numbers are what the volume holds
//	--partial     an interrupted transfer resumes from what already arrived (in the staging area)
//	--stats       the figures the summary reports
//	--modify-window=-1
//	              rsync's quick check (size and time) compares times to the nanosecond, not the
//	              second: a file rewritten with the same size within the second of the last sync
//	              is sent, not skipped
//
// -h is not used: it would round the figures of --stats.
var TransferFlags = []string{"-aAXHSxz", "--delete", "--numeric-ids", "--partial", "--stats", "--modify-window=-1"}

// MetadataFlags are the parts of TransferFlags that need support from the destination's file
// system; the source drops them when the destination cannot store ACLs or extended attributes.
const MetadataFlags = "AX"

// StagingFlags make rsync receive into the staging area of the destination (a path relative to the
// volume root), with every unchanged file hard-linked from the live image.
var StagingFlags = []string{"--link-dest=.."}

// KeepHighlights asks the entry point to keep the lines of rsync's --stats a person looks for
// (the files transferred, "sent … bytes  received … bytes") for latestMoverStatus.logs.
func KeepHighlights() {
	entrypoint.Notable.Keep(`Number of regular files transferred:`, `sent [0-9,.]+ bytes +received [0-9,.]+ bytes`)
}

// Stats are the figures of rsync --stats that a summary reports.
type Stats struct {
	// FilesTransferred is "Number of regular files transferred".
	FilesTransferred int64
	// BytesTransferred is "Total transferred file size".
	BytesTransferred int64
	// Files is "Number of files" (every kind).
	Files int64
	// Sent and Received are "Total bytes sent" and "Total bytes received": what crossed the
	// network, deltas, checksums and protocol included.
	Sent, Received int64
}

// ParseStats reads the figures from rsync's --stats output. rsync prints numbers with thousands
// separators ("10,003").
func ParseStats(out string) Stats {
	var s Stats
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n := leadingNumber(val)
		switch key {
		case "Number of regular files transferred":
			s.FilesTransferred = n
		case "Total transferred file size":
			s.BytesTransferred = n
		case "Number of files":
			s.Files = n
		case "Total bytes sent":
			s.Sent = n
		case "Total bytes received":
			s.Received = n
		}
	}
	return s
}

func leadingNumber(s string) int64 {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if r != ',' {
			break
		}
	}
	n, _ := strconv.ParseInt(b.String(), 10, 64)
	return n
}

// WaitForAddress waits until a TCP connection to addr (what it is: "the destination") succeeds, or until deadline. The
// destination's Job may start after the source's: waiting is normal, and logged every few seconds.
func WaitForAddress(ctx context.Context, log *entrypoint.Logger, what, addr string, deadline time.Time) error {
	delay := 100 * time.Millisecond
	lastLog := time.Time{}
	for {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if entrypoint.Clock.Now().After(deadline) {
			return fmt.Errorf("%s %s did not answer before the connection deadline: %w", what, addr, err)
		}
		if entrypoint.Clock.Since(lastLog) > 10*time.Second {
			log.Printf("waiting for %s %s: %v", what, addr, err)
			lastLog = entrypoint.Clock.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 5*time.Second {
			delay *= 2
		}
	}
}

// ToolRun is the outcome of one run of an external tool.
type ToolRun struct {
	Stdout   string
	Stderr   string
	ExitCode int
	Err      error
}

// Failed reports whether the tool did not exit 0.
func (r ToolRun) Failed() bool { return r.Err != nil }

// StderrTail is the last lines of the tool's error output, for a message.
func (r ToolRun) StderrTail(lines int) string {
	all := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "; ")
}

// RunTool runs name with args, logging its output line by line under tag and keeping it for the
// caller. extraEnv is added to the environment.
func RunTool(ctx context.Context, log *entrypoint.Logger, tag string, extraEnv []string, name string, args ...string) ToolRun {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var out, errb lockedBuffer
	outLog, errLog := log.LineWriter(tag), log.LineWriter(tag)
	cmd.Stdout = multiWriter(&out, outLog)
	cmd.Stderr = multiWriter(&errb, errLog)
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	outLog.Close()
	errLog.Close()
	r := ToolRun{Stdout: out.String(), Stderr: errb.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.ExitCode = ee.ExitCode()
	} else if err != nil {
		r.ExitCode = -1
	}
	return r
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type writers []interface{ Write([]byte) (int, error) }

func (w writers) Write(p []byte) (int, error) {
	for _, x := range w {
		if _, err := x.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func multiWriter(w ...interface{ Write([]byte) (int, error) }) writers { return writers(w) }

// MetadataUnsupported reports whether rsync failed only because the destination could not store
// ACLs or extended attributes.
func MetadataUnsupported(r ToolRun) bool {
	if r.ExitCode != 23 {
		return false
	}
	s := strings.ToLower(r.Stderr)
	return (strings.Contains(s, "acl") || strings.Contains(s, "xattr")) &&
		(strings.Contains(s, "not supported") || strings.Contains(s, "operation not permitted"))
}

// WithoutMetadata returns flags with the ACL and extended-attribute options removed.
func WithoutMetadata(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--") {
			f = strings.Map(func(r rune) rune {
				if strings.ContainsRune(MetadataFlags, r) {
					return -1
				}
				return r
			}, f)
		}
		out = append(out, f)
	}
	return out
}

// Connection-level rsync exit codes: worth another try while the deadline allows.
var retriableExit = map[int]bool{5: true, 10: true, 12: true, 30: true, 35: true, 255: true}

// Retriable reports whether a failed rsync run may succeed if tried again.
func Retriable(r ToolRun) bool { return retriableExit[r.ExitCode] }

// VanishedOnly reports whether rsync's only complaint was that source files vanished while it
// ran: a live volume changes under a Direct copy, and the next sync picks the change up.
func VanishedOnly(r ToolRun) bool { return r.ExitCode == 24 }

// TransferRequest is one push of a volume to a destination by rsync.
type TransferRequest struct {
	// From is the volume's root directory.
	From string
	// To is rsync's destination argument: the destination's staging area.
	To string
	// Transport holds the options that reach the destination (e.g. -e "ssh ...").
	Transport []string
	// Env is added to rsync's environment.
	Env []string
	// Deadline bounds the retries of connection failures.
	Deadline time.Time
	// Permanent recognizes failures that no retry can fix and says what is wrong.
	Permanent func(ToolRun) error
	// Device says From is a block device (BlockFlags).
	Device bool
}

// Transfer runs rsync for req until it succeeds, fails for good, or the deadline passes.
func Transfer(ctx context.Context, log *entrypoint.Logger, req TransferRequest) (Stats, error) {
	flags := TransferFlags
	if req.Device {
		flags = BlockFlags
	}
	for attempt := 1; ; attempt++ {
		var args []string
		if req.Device {
			args = append(append(append([]string{}, flags...), req.Transport...), req.From, req.To)
		} else {
			args = append(append(append([]string{}, flags...), StagingFlags...), ReservedFilters...)
			args = append(append(args, req.Transport...), strings.TrimSuffix(req.From, "/")+"/", req.To)
		}
		log.Printf("transfer attempt %d: rsync %s", attempt, strings.Join(flags, " "))
		run := RunTool(ctx, log, "rsync", req.Env, "rsync", args...)
		if !run.Failed() {
			return ParseStats(run.Stdout), nil
		}
		if VanishedOnly(run) {
			log.Printf("some source files vanished during the transfer; the next sync carries the change")
			return ParseStats(run.Stdout), nil
		}
		if ctx.Err() != nil {
			return Stats{}, errors.New("interrupted during the transfer; the destination keeps its previous image")
		}
		if i := strings.Index(run.Stderr, ModeMismatch); i >= 0 {
			line, _, _ := strings.Cut(run.Stderr[i:], "\n")
			return Stats{}, errors.New(strings.TrimPrefix(line, "volsync: "))
		}
		if req.Permanent != nil {
			if err := req.Permanent(run); err != nil {
				return Stats{}, err
			}
		}
		if MetadataUnsupported(run) && strings.ContainsAny(flags[0], MetadataFlags) {
			log.Printf("the destination cannot store ACLs or extended attributes; transferring without them")
			flags = WithoutMetadata(flags)
			continue
		}
		if !Retriable(run) || entrypoint.Clock.Now().After(req.Deadline) {
			return Stats{}, fmt.Errorf("rsync failed (exit code %d): %s", run.ExitCode, run.StderrTail(3))
		}
		log.Printf("rsync failed (exit code %d), retrying in 5s: %s", run.ExitCode, run.StderrTail(1))
		select {
		case <-ctx.Done():
			return Stats{}, errors.New("interrupted while retrying; the destination keeps its previous image")
		case <-time.After(5 * time.Second):
		}
	}
}
