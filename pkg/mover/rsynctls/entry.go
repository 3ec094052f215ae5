package rsynctls

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
	"github.com/volsync/volsync/pkg/mover/rsync"
)

// Settings of the entry points, from the environment the Job gives the mover container.
const (
	// DefaultDestinationPort is the port a source connects to and the destination's stunnel
	// listens on.
	DefaultDestinationPort = 8000
	// pskFile is the pre-shared key's file name in the Secret mounted at /keys.
	pskFile = "psk.txt"
	// pskIdentity is the identity both sides present with the key.
	pskIdentity = "volsync"
)

// Main runs the rsync-tls mover's entry point for role ("source" or "destination"; "serve" and
// "connect" are the two ends of a request through the tunnel) and returns the exit code.
func Main(role string, args []string) int {
	rsync.KeepHighlights()
	switch role {
	case "source":
		log := entrypoint.NewLogger(os.Stdout, "rsync-tls source")
		s, err := Source(signalContext(), log)
		return entrypoint.Finish(log, s, err)
	case "destination":
		log := entrypoint.NewLogger(os.Stdout, "rsync-tls destination")
		s, err := Destination(signalContext(), log)
		return entrypoint.Finish(log, s, err)
	case "serve":
		return serve(args)
	case "connect":
		return connect(args)
	default:
		fmt.Fprintf(os.Stderr, "rsync-tls: unknown role %q: use source or destination\n", role)
		return 2
	}
}

// signalContext lives as long as the process: Main returns when the run ends.
func signalContext() context.Context {
	ctx, _ := entrypoint.SignalContext()
	return ctx
}

// readPSK checks the key file's form and copies it to dir with owner-only permissions (stunnel
// refuses a key file that others can read).
func readPSK(keysDir, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(keysDir, pskFile))
	if err != nil {
		return "", fmt.Errorf("reading the pre-shared key: %w", err)
	}
	line := strings.TrimSpace(string(b))
	id, key, ok := strings.Cut(line, ":")
	if _, herr := hex.DecodeString(key); !ok || id != pskIdentity || len(key) != 64 || herr != nil {
		return "", fmt.Errorf("%s must hold one line %s:<64 hex digits>", pskFile, pskIdentity)
	}
	// The key alone, as a tool might print it without its identity.
	entrypoint.AddSecrets(key)
	path := filepath.Join(dir, pskFile)
	return path, os.WriteFile(path, []byte(line+"\n"), 0o600)
}

func stunnelBinary() (string, error) {
	for _, name := range []string{"stunnel", "stunnel4"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("stunnel is not installed in the mover image")
}

// freeLocalPort asks the kernel for a free port on localhost, for the source's tunnel entrance.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tunnel is a running stunnel.
type tunnel struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *lockedLog
}

func startTunnel(log *entrypoint.Logger, config string) (*tunnel, error) {
	bin, err := stunnelBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, config)
	d := &tunnel{cmd: cmd, exited: make(chan error, 1), logs: &lockedLog{w: log.LineWriter("stunnel")}}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting stunnel: %w", err)
	}
	go func() { d.exited <- cmd.Wait(); d.logs.w.Close() }()
	return d, nil
}

func (d *tunnel) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
	}
}

// Source pushes the volume at DATA_DIR through a local stunnel client to the destination at
// DESTINATION_ADDRESS:DESTINATION_PORT and asks it to commit the transfer as its new image.
func Source(ctx context.Context, log *entrypoint.Logger) (entrypoint.Summary, error) {
	var sum entrypoint.Summary
	addr := os.Getenv("DESTINATION_ADDRESS")
	if addr == "" {
		return sum, errors.New("DESTINATION_ADDRESS is not set: the source needs the destination's address (status.rsyncTLS.address of the ReplicationDestination)")
	}
	port, err := entrypoint.EnvPort("DESTINATION_PORT", DefaultDestinationPort)
	if err != nil {
		return sum, err
	}
	connectTimeout, err := entrypoint.EnvDuration("CONNECT_TIMEOUT", rsync.DefaultConnectTimeout)
	if err != nil {
		return sum, err
	}
	dataDir := entrypoint.Env("DATA_DIR", rsync.DefaultDataDir)
	keysDir := entrypoint.Env("KEYS_DIR", rsync.DefaultKeysDir)
	// The keys are the Secret's values: masked wherever the mover logs or reports.
	entrypoint.LearnSecretDir(keysDir)
	from, to, device, err := rsync.SourceData(dataDir)
	if err != nil {
		return sum, err
	}
	work, err := os.MkdirTemp("", "volsync-rsync-tls-source-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(work)
	psk, err := readPSK(keysDir, work)
	if err != nil {
		return sum, err
	}
	self, err := os.Executable()
	if err != nil {
		return sum, err
	}
	local, err := freeLocalPort()
	if err != nil {
		return sum, err
	}
	hostPort := net.JoinHostPort(addr, strconv.Itoa(port))
	config := fmt.Sprintf(`; stunnel client of the volsync rsync-tls source
foreground = yes
pid =
syslog = no
debug = notice
[volsync]
client = yes
accept = 127.0.0.1:%d
connect = %s
ciphers = PSK
PSKsecrets = %s
PSKidentity = %s
`, local, hostPort, psk, pskIdentity)
	configFile := filepath.Join(work, "stunnel.conf")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return sum, err
	}
	tun, err := startTunnel(log, configFile)
	if err != nil {
		return sum, err
	}
	defer tun.stop()

	deadline := entrypoint.Clock.Now().Add(connectTimeout)
	log.Printf("connecting to %s (waiting up to %s for it to answer)", hostPort, connectTimeout)
	if err := rsync.WaitForAddress(ctx, log, "the destination", hostPort, deadline); err != nil {
		return sum, err
	}
	entrance := fmt.Sprintf("127.0.0.1:%d", local)
	if err := rsync.WaitForAddress(ctx, log, "the local stunnel", entrance, entrypoint.Clock.Now().Add(10*time.Second)); err != nil {
		return sum, fmt.Errorf("the local stunnel did not start: %w", err)
	}
	// A volumeMode mismatch is refused before any byte moves; the refusal would not reach rsync.
	if reply, err := request(entrance, rsync.ModeRequest(device)); err == nil && strings.HasPrefix(reply, rsync.ModeMismatch) {
		return sum, errors.New(strings.TrimPrefix(reply, "volsync: "))
	}
	permanent := func(r rsync.ToolRun) error { return tlsFailure(tun.logs.String()) }
	stats, err := rsync.Transfer(ctx, log, rsync.TransferRequest{
		From:      from,
		To:        "127.0.0.1:" + to,
		Device:    device,
		Transport: []string{"-e", fmt.Sprintf("'%s' rsync-tls connect %d", self, local)},
		Deadline:  deadline,
		Permanent: permanent,
	})
	if err != nil {
		return sum, err
	}
	sum.Files, sum.Bytes = stats.FilesTransferred, stats.BytesTransferred

	reply, err := request(entrance, rsync.CommitRequest(sum.Files, sum.Bytes))
	if err != nil {
		if perr := tlsFailure(tun.logs.String()); perr != nil {
			return sum, perr
		}
		return sum, fmt.Errorf("the destination did not commit the transfer: %w", err)
	}
	if reply != rsync.CommitReply {
		return sum, fmt.Errorf("the destination did not commit the transfer: %s", reply)
	}
	sum.Message = fmt.Sprintf("synchronized %d of %d files (%d bytes transferred) to %s", stats.FilesTransferred, stats.Files, stats.BytesTransferred, hostPort)
	if device {
		sum.Message = rsync.DeviceMessage(stats, hostPort)
	}
	return sum, nil
}

// request sends one request line through the tunnel and returns the first line of the answer.
func request(entrance, line string) (string, error) {
	conn, err := net.DialTimeout("tcp", entrance, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(entrypoint.Clock.Now().Add(10 * time.Minute))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && reply == "" {
		return "", fmt.Errorf("no answer: %w", err)
	}
	return strings.TrimSpace(reply), nil
}

// connect is rsync's remote shell on the source: rsync runs it as
// `connect <port> <host> rsync --server ...`; it sends the remote command as the request line
// and then pipes standard input and output through the local tunnel entrance.
func connect(args []string) int {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "volsync: connect needs a port, a host and a command")
		return 2
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], 10*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
		return 1
	}
	tcp := conn.(*net.TCPConn)
	defer tcp.Close()
	if _, err := io.WriteString(tcp, strings.Join(args[2:], " ")+"\n"); err != nil {
		fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
		return 1
	}
	go func() {
		_, _ = io.Copy(tcp, os.Stdin)
		_ = tcp.CloseWrite()
	}()
	if _, err := io.Copy(os.Stdout, tcp); err != nil {
		return 1
	}
	return 0
}

// serve is what the destination's stunnel runs for each connection: it reads the request line
// and hands it to rsync.Serve, with the TLS stream as standard input and output.
func serve(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "volsync: serve needs the data and state directories")
		return 2
	}
	// One byte at a time: what follows the line is rsync's, and must stay unread for it.
	var line []byte
	b := make([]byte, 1)
	for len(line) < 4096 {
		n, err := os.Stdin.Read(b)
		if n == 0 || err != nil {
			return 1
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	return rsync.Serve(string(line), args[0], args[1], os.Stdout)
}

// tlsFailure turns the failures that no retry can fix into a message that says what is wrong. A
// wrong key shows in rsync only as a closed connection; stunnel's log says why.
func tlsFailure(stunnelLog string) error {
	l := strings.ToLower(stunnelLog)
	switch {
	case strings.Contains(l, "decrypt error"), strings.Contains(l, "bad record mac"),
		strings.Contains(l, "psk identity not found"), strings.Contains(l, "handshake failure"),
		strings.Contains(l, "decryption failed"), strings.Contains(l, "alert illegal parameter"),
		strings.Contains(l, "binder does not verify"):
		return errors.New("the TLS handshake with the destination failed: the pre-shared key in psk.txt does not match the destination's")
	}
	return nil
}

// Destination serves one sync: stunnel runs until a source has transferred into the volume at
// DATA_DIR and committed, then it exits.
func Destination(ctx context.Context, log *entrypoint.Logger) (entrypoint.Summary, error) {
	var sum entrypoint.Summary
	dataDir := entrypoint.Env("DATA_DIR", rsync.DefaultDataDir)
	keysDir := entrypoint.Env("KEYS_DIR", rsync.DefaultKeysDir)
	// The keys are the Secret's values: masked wherever the mover logs or reports.
	entrypoint.LearnSecretDir(keysDir)
	port, err := entrypoint.EnvPort("LISTEN_PORT", DefaultDestinationPort)
	if err != nil {
		return sum, err
	}
	timeout, err := entrypoint.EnvDuration("DESTINATION_TIMEOUT", 0)
	if err != nil {
		return sum, err
	}
	state, err := os.MkdirTemp("", "volsync-rsync-tls-destination-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(state)
	if err := rsync.PrepareDestination(log, dataDir, state); err != nil {
		return sum, err
	}
	psk, err := readPSK(keysDir, state)
	if err != nil {
		return sum, err
	}
	self, err := os.Executable()
	if err != nil {
		return sum, err
	}
	for _, p := range []string{self, dataDir, state} {
		if strings.ContainsAny(p, " \t") {
			return sum, fmt.Errorf("path %q has a space, which stunnel's execArgs cannot carry", p)
		}
	}
	accept := strconv.Itoa(port)
	if listen := os.Getenv("LISTEN_ADDRESS"); listen != "" {
		accept = net.JoinHostPort(listen, accept)
	}
	config := fmt.Sprintf(`; stunnel of the volsync rsync-tls destination: each connection runs one request
foreground = yes
pid =
syslog = no
debug = notice
[volsync]
accept = %s
exec = %s
execArgs = volsync-mover rsync-tls serve %s %s
ciphers = PSK
PSKsecrets = %s
`, accept, self, dataDir, state, psk)
	configFile := filepath.Join(state, "stunnel.conf")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return sum, err
	}
	tun, err := startTunnel(log, configFile)
	if err != nil {
		return sum, err
	}
	defer tun.stop()
	log.Printf("listening on port %d for one sync into %s", port, dataDir)

	var deadline <-chan time.Time
	if timeout > 0 {
		deadline = time.After(timeout)
	}
	finished := filepath.Join(state, "finished")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-tun.exited:
			return sum, fmt.Errorf("stunnel stopped before a sync completed: %v", err)
		case <-ctx.Done():
			return sum, errors.New("stopped before a sync completed; the volume keeps its previous image")
		case <-deadline:
			return sum, fmt.Errorf("no sync completed within DESTINATION_TIMEOUT (%s); the volume keeps its previous image", timeout)
		case <-tick.C:
			if _, err := os.Stat(finished); err != nil {
				continue
			}
			s, err := entrypoint.ReadSummary(finished)
			if err != nil {
				return sum, err
			}
			// The source is still reading the commit's answer: let its connection finish.
			for wait := entrypoint.Clock.Now().Add(10 * time.Second); !tun.logs.idle() && entrypoint.Clock.Now().Before(wait); {
				time.Sleep(50 * time.Millisecond)
			}
			if s.Result != entrypoint.ResultSuccessful {
				return s, errors.New(s.Message)
			}
			return s, nil
		}
	}
}
