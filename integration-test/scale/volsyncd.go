package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/volsync/volsync/integration-test/testenv"
)

// buildVolsyncd builds cmd/volsyncd into dir.
func buildVolsyncd(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "volsyncd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/volsyncd")
	cmd.Dir = testenv.RepoRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building volsyncd: %w", err)
	}
	return out, nil
}

// volsyncd is one volsyncd process, run as the Deployment in specs/manager runs it: leader
// election on, JSON logs, its own metrics and probe listeners.
type volsyncd struct {
	cmd         *exec.Cmd
	metricsAddr string
	log         *os.File
	done        chan error
}

// freePort is a loopback address nothing listens on.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startVolsyncd starts binary against kubeconfig, logging to logPath (appended).
func startVolsyncd(binary, kubeconfig, logPath string) (*volsyncd, error) {
	metricsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary,
		"--kubeconfig", kubeconfig,
		"--leader-elect", "--leader-election-namespace", systemNamespace,
		"--admin-namespace", systemNamespace,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", probeAddr,
		"--log-format", "json", "--log-level", "info",
		"--mover-image", "volsync-mover:latest",
	)
	cmd.Stdout, cmd.Stderr = log, log
	// volsyncd goes when the bench goes, however it goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting volsyncd: %w", err)
	}
	v := &volsyncd{cmd: cmd, metricsAddr: metricsAddr, log: log, done: make(chan error, 1)}
	go func() { v.done <- cmd.Wait() }()
	return v, nil
}

// stop sends SIGTERM, as the kubelet does, and waits for volsyncd to exit.
func (v *volsyncd) stop() error {
	defer v.log.Close()
	select {
	case err := <-v.done:
		return fmt.Errorf("volsyncd had exited: %v", err)
	default:
	}
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-v.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.done
		return errors.New("volsyncd did not stop within 30s of SIGTERM")
	}
}

// exited reports an early exit.
func (v *volsyncd) exited() error {
	select {
	case err := <-v.done:
		v.done <- err
		return fmt.Errorf("volsyncd exited: %v", err)
	default:
		return nil
	}
}

// controllerState is what volsyncd's own metrics say about one controller.
type controllerState struct {
	reconciles float64 // controller_runtime_reconcile_total, all results
	depth      float64 // workqueue_depth
	active     float64 // controller_runtime_active_workers
}

// volsyncdMetrics is one reading of volsyncd's /metrics.
type volsyncdMetrics struct {
	controllers map[string]*controllerState
	// missed is volsync_missed_intervals_total over all owners.
	missed float64
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// rawMetrics is volsyncd's /metrics as served.
func (v *volsyncd) rawMetrics(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+v.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("volsyncd /metrics: %s", resp.Status)
	}
	return body, nil
}

// scrape reads volsyncd's /metrics.
func (v *volsyncd) scrape(ctx context.Context) (*volsyncdMetrics, error) {
	body, err := v.rawMetrics(ctx)
	if err != nil {
		return nil, err
	}
	families, err := parseMetrics(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := &volsyncdMetrics{controllers: map[string]*controllerState{}}
	state := func(name string) *controllerState {
		if out.controllers[name] == nil {
			out.controllers[name] = &controllerState{}
		}
		return out.controllers[name]
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		state(label(m, "controller")).reconciles += value(m)
	}
	for _, m := range families["workqueue_depth"].GetMetric() {
		state(label(m, "name")).depth += value(m)
	}
	for _, m := range families["controller_runtime_active_workers"].GetMetric() {
		state(label(m, "controller")).active += value(m)
	}
	for _, m := range families["volsync_missed_intervals_total"].GetMetric() {
		out.missed += value(m)
	}
	return out, nil
}

// settled says whether every controller is idle and each controller in want has run at least that
// many reconciles.
func (m *volsyncdMetrics) settled(want map[string]int) bool {
	for name, n := range want {
		if s := m.controllers[name]; s == nil || s.reconciles < float64(n) {
			return false
		}
	}
	for _, s := range m.controllers {
		if s.depth > 0 || s.active > 0 {
			return false
		}
	}
	return true
}

// waitSettled polls volsyncd's metrics until it has settled (see settled) and stayed so for
// quiet, and returns the moment it settled.
func (v *volsyncd) waitSettled(ctx context.Context, want map[string]int, quiet, timeout time.Duration) (time.Time, *volsyncdMetrics, error) {
	deadline := time.Now().Add(timeout)
	var since time.Time
	var last *volsyncdMetrics
	for {
		if err := v.exited(); err != nil {
			return time.Time{}, nil, err
		}
		now := time.Now()
		m, err := v.scrape(ctx)
		switch {
		case err != nil:
			since = time.Time{} // not serving yet
		case m.settled(want):
			if since.IsZero() {
				since = now
			}
			if now.Sub(since) >= quiet {
				return since, m, nil
			}
		default:
			since = time.Time{}
			last = m
		}
		if now.After(deadline) {
			return time.Time{}, nil, fmt.Errorf("volsyncd did not settle within %s; last reading: %s", timeout, last.describe())
		}
		select {
		case <-ctx.Done():
			return time.Time{}, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *volsyncdMetrics) describe() string {
	if m == nil {
		return "none"
	}
	var parts []string
	for name, s := range m.controllers {
		parts = append(parts, fmt.Sprintf("%s: %.0f reconciles, depth %.0f, active %.0f", name, s.reconciles, s.depth, s.active))
	}
	return strings.Join(parts, "; ")
}

// usage is a process's resident memory and the CPU time it has used.
type usage struct {
	at  time.Time
	rss int64 // bytes
	cpu time.Duration
}

// clockTicks is the kernel's USER_HZ, which /proc/<pid>/stat counts in; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// sample reads /proc for pid.
func sample(pid int) (usage, error) {
	u := usage{at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return u, fmt.Errorf("reading VmRSS %q: %w", rest, err)
			}
			u.rss = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The command name, in parentheses, may hold spaces: fields are counted after its end.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return u, fmt.Errorf("/proc/%d/stat has %d fields after the name", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, err
	}
	u.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return u, nil
}
