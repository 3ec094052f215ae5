package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volsyncd as specs/manager deploys it.
const (
	systemNamespace  = "volsync-system"
	managerSelector  = "app.kubernetes.io/name=volsync,app.kubernetes.io/component=manager"
	managerContainer = "volsyncd"
	// leaseName is cmd/volsyncd's leaderElectionID.
	leaseName = "volsyncd.volsync.backube"
	// cmd/volsyncd keeps controller-runtime's lease settings: a standby takes the Lease over at
	// most leaseDuration after the leader's last renewal, which the leader repeats every
	// retryPeriod.
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
	// maxTakeover bounds a takeover after a SIGKILL: client-go's elector tries every retry period
	// stretched by a jitter of up to 1.2 times, so a standby sees the last renewal up to one
	// jittered period late, waits the lease duration from there, and acquires at its next try.
	maxTakeover = leaseDuration + 2*(retryPeriod+retryPeriod*12/10)
	// The workload's pacing: a leader is killed this long after it acquired the Lease.
	minKillGap = 5 * time.Second
	maxKillGap = 30 * time.Second
)

// nodeAccess runs commands in the node's network and mount namespaces, as lib.sh's in_node
// does, to ask the node's containerd for a container's process. The node shares the host's PID
// namespace, so the PID containerd reports is one the test can signal.
type nodeAccess struct {
	netns, mntns, socket string
}

// containerPID is the PID of the init process of container id, from containerd's task list.
func (n nodeAccess) containerPID(ctx context.Context, id string) (int, error) {
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+n.netns, "--mount="+n.mntns, "--",
		"ctr", "--address", n.socket, "-n", "k8s.io", "task", "ls")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("ctr task ls: %v: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == id {
			if f[2] != "RUNNING" {
				return 0, fmt.Errorf("task %s is %s", id, f[2])
			}
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("containerd has no task %s", id)
}

// processName is the command name of pid, "" when there is no such process.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// processGone says whether pid has exited (or is a zombie waiting to be reaped, which holds no
// Lease either).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// "pid (comm) state ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// leader is the volsyncd process that holds the Lease now.
type leader struct {
	identity    string // the Lease's holderIdentity: <pod name>_<uuid>
	pod         string
	containerID string // without the runtime's prefix
	acquired    time.Time
}

// currentLeader finds the live leader: a holder that renewed the Lease within the last two retry
// periods, whose pod runs a volsyncd container that started before that renewal. A holder that
// was killed keeps its name in the Lease until it expires, and its pod may have restarted the
// container by then; the freshness keeps the test from killing that restarted process, a standby.
func currentLeader(ctx context.Context) (*leader, error) {
	lease, err := clientset.CoordinationV1().Leases(systemNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	holder, renewed := holderOf(lease)
	if holder == "" {
		return nil, errors.New("the Lease has no holder")
	}
	if age := time.Since(renewed); age > 2*retryPeriod {
		return nil, fmt.Errorf("the Lease of %s was last renewed %s ago", holder, age.Round(time.Millisecond))
	}
	podName, _, ok := strings.Cut(holder, "_")
	if !ok {
		return nil, fmt.Errorf("holder identity %q is not <pod>_<uuid>", holder)
	}
	pod, err := clientset.CoreV1().Pods(systemNamespace).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != managerContainer {
			continue
		}
		if cs.State.Running == nil {
			return nil, fmt.Errorf("the leader's container in %s is not running", podName)
		}
		if cs.State.Running.StartedAt.Time.After(renewed) {
			return nil, fmt.Errorf("the container in %s started after the Lease's last renewal", podName)
		}
		_, id, ok := strings.Cut(cs.ContainerID, "://")
		if !ok {
			return nil, fmt.Errorf("container ID %q has no runtime prefix", cs.ContainerID)
		}
		l := &leader{identity: holder, pod: podName, containerID: id}
		if lease.Spec.AcquireTime != nil {
			l.acquired = lease.Spec.AcquireTime.Time
		}
		return l, nil
	}
	return nil, fmt.Errorf("pod %s has no %s container", podName, managerContainer)
}

func holderOf(lease *coordinationv1.Lease) (string, time.Time) {
	var holder string
	var renewed time.Time
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if lease.Spec.RenewTime != nil {
		renewed = lease.Spec.RenewTime.Time
	}
	return holder, renewed
}

// kill is one SIGKILL of the leader and what followed.
type kill struct {
	at        time.Time
	pod       string
	pid       int
	newLeader string
	// takeover is from the kill to the new holder's acquireTime; zero when none took over.
	takeover time.Duration
	// exitCode is what kubelet recorded for the killed container (137 for SIGKILL), -1 when it
	// was not seen.
	exitCode int32
}

// killer kills the leading volsyncd at random moments until its context ends.
type killer struct {
	rng   *rand.Rand
	kills []kill
	// replaced counts the volsyncd pods deleted because kubelet held their container in
	// crash-loop back-off (see keepStandby).
	replaced int
	// logf reports progress; the test's t.Logf.
	logf func(format string, args ...any)
}

// run kills until ctx ends, and returns the first error that stops it. Each leader is killed at
// a random moment 5 to 30 s after it acquired the Lease: a standby needs up to a lease duration
// to take over, so a pace counted from the previous kill would kill most leaders the instant
// they are elected and leave volsyncd no time to work at all.
func (k *killer) run(ctx context.Context) error {
	for ctx.Err() == nil {
		var l *leader
		err := poll(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
			var err error
			l, err = currentLeader(ctx)
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("no leader to kill: %w", err)
		}
		if err := k.keepStandby(ctx); err != nil {
			return err
		}
		from := l.acquired
		if from.IsZero() {
			from = time.Now()
		}
		at := from.Add(minKillGap + time.Duration(k.rng.Int64N(int64(maxKillGap-minKillGap))))
		select {
		case <-ctx.Done():
			return nil
		// Pacing of the workload, not a wait for a state.
		case <-time.After(time.Until(at)):
		}
		now, err := currentLeader(ctx)
		if err != nil || now.identity != l.identity {
			// The Lease changed hands by itself meanwhile: pick the new leader.
			continue
		}
		kl, err := k.killLeader(ctx, now)
		if err != nil {
			return err
		}
		k.kills = append(k.kills, *kl)
		k.logf("kill %d: SIGKILL to volsyncd pid %d in %s, %s after it was elected; %s took over after %s (exit code %d)",
			len(k.kills), kl.pid, kl.pod, kl.at.Sub(from).Round(100*time.Millisecond), kl.newLeader,
			kl.takeover.Round(10*time.Millisecond), kl.exitCode)
	}
	return nil
}

// killLeader sends SIGKILL to the leader's process and waits until another process holds the
// Lease.
func (k *killer) killLeader(ctx context.Context, l *leader) (*kill, error) {
	pid, err := node.containerPID(ctx, l.containerID)
	if err != nil {
		return nil, err
	}
	if name := processName(pid); name != "volsyncd" {
		return nil, fmt.Errorf("pid %d of container %s is %q, not volsyncd", pid, l.containerID, name)
	}
	kl := &kill{at: time.Now(), pod: l.pod, pid: pid, exitCode: -1}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return nil, fmt.Errorf("SIGKILL to pid %d: %w", pid, err)
	}
	// Every kill has an outcome, also the one the end of the chaos phase interrupts.
	ctx = context.WithoutCancel(ctx)
	if err := poll(ctx, 10*time.Second, 20*time.Millisecond, func() error {
		if !processGone(pid) {
			return fmt.Errorf("pid %d is still alive after SIGKILL", pid)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// The next holder acquires the Lease once it expired, a lease duration after the last
	// renewal at most; the margin is for a standby that was itself restarting.
	err = poll(ctx, leaseDuration+time.Minute, 100*time.Millisecond, func() error {
		lease, err := clientset.CoordinationV1().Leases(systemNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		holder, _ := holderOf(lease)
		if holder == "" || holder == l.identity {
			return fmt.Errorf("the Lease is still %q's", holder)
		}
		kl.newLeader, _, _ = strings.Cut(holder, "_")
		if lease.Spec.AcquireTime != nil {
			kl.takeover = lease.Spec.AcquireTime.Sub(kl.at)
		}
		return nil
	})
	if err != nil {
		// Not survived: counted, and the chaos goes on with whoever is elected next.
		k.logf("after the kill of %s no other process took the Lease over: %v", l.pod, err)
		return kl, nil
	}
	// kubelet saw the container end by the signal: exit code 137. The end of the killed container
	// is its current state until kubelet restarts it, then its last state (also while kubelet
	// holds the next start in back-off).
	_ = poll(ctx, 20*time.Second, 200*time.Millisecond, func() error {
		pod, err := clientset.CoreV1().Pods(systemNamespace).Get(ctx, l.pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name != managerContainer {
				continue
			}
			for _, end := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if end != nil && strings.HasSuffix(end.ContainerID, "://"+l.containerID) {
					kl.exitCode = end.ExitCode
					return nil
				}
			}
		}
		return errors.New("kubelet has not recorded the container's end yet")
	})
	return kl, nil
}

// keepStandby deletes the volsyncd pods whose container kubelet holds in crash-loop back-off, and
// waits until two pods run volsyncd. A container killed every minute or so is in back-off after a
// few kills, for up to five minutes, and with both replicas there the cluster would have no
// volsyncd at all: the test measures volsyncd's failover, not kubelet's back-off. The ReplicaSet
// replaces a deleted pod at once.
func (k *killer) keepStandby(ctx context.Context) error {
	pods, err := clientset.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == managerContainer && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && p.DeletionTimestamp == nil {
				if err := clientset.CoreV1().Pods(systemNamespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
				k.replaced++
				k.logf("deleted volsyncd pod %s: kubelet holds its container in crash-loop back-off (%d restarts)", p.Name, cs.RestartCount)
			}
		}
	}
	err = waitManagers(ctx, time.Minute)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		// A kill with one process only still shows a restart; say so and go on.
		k.logf("no standby before the next kill: %v", err)
	}
	return nil
}

// waitManagers waits until two pods run the volsyncd container, neither being deleted.
func waitManagers(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, 250*time.Millisecond, func() error {
		pods, err := clientset.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
		if err != nil {
			return err
		}
		running := 0
		var states []string
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name != managerContainer {
					continue
				}
				if cs.State.Running != nil && p.DeletionTimestamp == nil {
					running++
				}
				states = append(states, p.Name+"="+containerState(cs))
			}
		}
		if running < 2 {
			return fmt.Errorf("%d volsyncd containers run, want 2: %s", running, strings.Join(states, ", "))
		}
		return nil
	})
}

func containerState(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Running != nil:
		return "running"
	case cs.State.Waiting != nil:
		return "waiting:" + cs.State.Waiting.Reason
	case cs.State.Terminated != nil:
		return "terminated:" + cs.State.Terminated.Reason
	}
	return "unknown"
}

// takeoverFigures are the smallest, median and largest takeover of the kills that had one.
func takeoverFigures(kills []kill) (lo, mid, hi time.Duration) {
	var ds []time.Duration
	for _, k := range kills {
		if k.newLeader != "" {
			ds = append(ds, k.takeover)
		}
	}
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[0], ds[len(ds)/2], ds[len(ds)-1]
}
