package rsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Settings of the entry points, from the environment the Job gives the mover container.
const (
	// DefaultDataDir is where the Job mounts the volume.
	DefaultDataDir = "/data"
	// DefaultKeysDir is where the Job mounts the relationship's Secret.
	DefaultKeysDir = "/keys"
	// DefaultDestinationPort is the port a source connects to (the destination Service's port).
	DefaultDestinationPort = 22
	// DefaultListenPort is the port the destination's sshd listens on inside its pod: unprivileged,
	// so that sshd needs no capability; the Service maps DefaultDestinationPort to it.
	DefaultListenPort = 8022
	// DefaultConnectTimeout bounds how long a source waits for its destination to answer.
	DefaultConnectTimeout = 5 * time.Minute
)

// Key file names in the Secret mounted at /keys.
const (
	sourceKey      = "source"
	sourcePubKey   = "source.pub"
	destinationKey = "destination"
	destPubKey     = "destination.pub"
)

// commitCommand is what the source runs on the destination, through ssh, after a good transfer.
const commitCommand = "volsync-commit"

// Main runs the rsync mover's entry point for role ("source" or "destination"; "ssh-command" is
// the destination's forced ssh command) and returns the process exit code.
func Main(role string, args []string) int {
	KeepHighlights()
	switch role {
	case "source":
		log := entrypoint.NewLogger(os.Stdout, "rsync source")
		s, err := Source(signalContext(), log)
		return entrypoint.Finish(log, s, err)
	case "destination":
		log := entrypoint.NewLogger(os.Stdout, "rsync destination")
		s, err := Destination(signalContext(), log)
		return entrypoint.Finish(log, s, err)
	case "ssh-command":
		return sshCommand(args)
	default:
		fmt.Fprintf(os.Stderr, "rsync: unknown role %q: use source or destination\n", role)
		return 2
	}
}

// signalContext lives as long as the process: Main returns when the run ends.
func signalContext() context.Context {
	ctx, _ := entrypoint.SignalContext()
	return ctx
}

// Source pushes the volume at DATA_DIR to the destination at DESTINATION_ADDRESS:DESTINATION_PORT
// and asks it to commit the transfer as its new image.
func Source(ctx context.Context, log *entrypoint.Logger) (entrypoint.Summary, error) {
	var sum entrypoint.Summary
	addr := os.Getenv("DESTINATION_ADDRESS")
	if addr == "" {
		return sum, errors.New("DESTINATION_ADDRESS is not set: the source needs the destination's address (status.rsync.address of the ReplicationDestination)")
	}
	port, err := entrypoint.EnvPort("DESTINATION_PORT", DefaultDestinationPort)
	if err != nil {
		return sum, err
	}
	connectTimeout, err := entrypoint.EnvDuration("CONNECT_TIMEOUT", DefaultConnectTimeout)
	if err != nil {
		return sum, err
	}
	login := entrypoint.Env("SSH_USER", "root")
	dataDir := entrypoint.Env("DATA_DIR", DefaultDataDir)
	keysDir := entrypoint.Env("KEYS_DIR", DefaultKeysDir)
	// The keys are the Secret's values: masked wherever the mover logs or reports.
	entrypoint.LearnSecretDir(keysDir)
	from, to, device, err := SourceData(dataDir)
	if err != nil {
		return sum, err
	}
	return Push(ctx, log, PushRequest{From: from, To: to, Device: device, Address: addr, Port: port, Login: login, KeysDir: keysDir, ConnectTimeout: connectTimeout})
}

// sshClient writes the client's key and known-hosts files into dir and returns the ssh command
// line and the environment it needs.
func sshClient(dir, keysDir, addr string, port int, login string) ([]string, []string, error) {
	key, err := os.ReadFile(filepath.Join(keysDir, sourceKey))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the source's private key: %w", err)
	}
	hostKey, err := os.ReadFile(filepath.Join(keysDir, destPubKey))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the destination's public key: %w", err)
	}
	// ssh refuses a private key that others can read; a Secret volume's files are 0644 by default.
	keyFile := filepath.Join(dir, "id")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, nil, err
	}
	fields := strings.Fields(string(hostKey))
	if len(fields) < 2 {
		return nil, nil, errors.New("the destination's public key (destination.pub) is not an OpenSSH public key")
	}
	hostPattern := fmt.Sprintf("[%s]:%d", addr, port)
	if port == 22 {
		hostPattern = addr
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(fmt.Sprintf("%s %s %s\n", hostPattern, fields[0], fields[1])), 0o600); err != nil {
		return nil, nil, err
	}
	var env []string
	if !hasUserEntry() {
		if env, err = IdentityEnv(dir, login); err != nil {
			return nil, nil, err
		}
	}
	ssh := []string{"ssh", "-F", "/dev/null",
		"-i", keyFile, "-p", strconv.Itoa(port), "-l", login,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=15",
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"}
	return ssh, env, nil
}

// sshFailure turns the ssh errors that no retry can fix into a message that says what is wrong.
func sshFailure(r ToolRun) error {
	switch {
	case strings.Contains(r.Stderr, "Permission denied"):
		return errors.New("the destination refused the source's ssh key (Permission denied): the source's Secret does not hold the key of this destination's relationship (compare source.pub on both sides)")
	case strings.Contains(r.Stderr, "Host key verification failed"), strings.Contains(r.Stderr, "HOST IDENTIFICATION HAS CHANGED"):
		return errors.New("the destination's host key does not match destination.pub in the source's Secret: refusing to send data to an unverified destination")
	case strings.Contains(r.Stderr, "No user exists for uid"):
		return errors.New("ssh cannot run under this user id: it has no user entry and libnss_wrapper is not installed in the mover image")
	}
	return nil
}

func bracketIPv6(addr string) string {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		return "[" + addr + "]"
	}
	return addr
}

// Destination serves one sync: it runs sshd until a source has transferred into the volume at
// DATA_DIR and committed, then exits.
func Destination(ctx context.Context, log *entrypoint.Logger) (entrypoint.Summary, error) {
	var sum entrypoint.Summary
	dataDir := entrypoint.Env("DATA_DIR", DefaultDataDir)
	keysDir := entrypoint.Env("KEYS_DIR", DefaultKeysDir)
	// The keys are the Secret's values: masked wherever the mover logs or reports.
	entrypoint.LearnSecretDir(keysDir)
	port, err := entrypoint.EnvPort("LISTEN_PORT", DefaultListenPort)
	if err != nil {
		return sum, err
	}
	timeout, err := entrypoint.EnvDuration("DESTINATION_TIMEOUT", 0)
	if err != nil {
		return sum, err
	}
	state, err := os.MkdirTemp("", "volsync-rsync-destination-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(state)
	if err := PrepareDestination(log, dataDir, state); err != nil {
		return sum, err
	}
	config, env, err := sshServer(state, keysDir, dataDir, port)
	if err != nil {
		return sum, err
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			return sum, errors.New("sshd is not installed in the mover image")
		}
	}
	if os.Geteuid() == 0 {
		// sshd's privilege-separation directory, compiled in; a container's /run starts empty.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	cmd.Env = append(os.Environ(), env...)
	sshdLog := log.LineWriter("sshd")
	defer sshdLog.Close()
	cmd.Stdout, cmd.Stderr = sshdLog, sshdLog
	if err := cmd.Start(); err != nil {
		return sum, fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
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
		case err := <-exited:
			return sum, fmt.Errorf("sshd stopped before a sync completed: %v", err)
		case <-ctx.Done():
			stop()
			return sum, errors.New("stopped before a sync completed; the volume keeps its previous image")
		case <-deadline:
			stop()
			return sum, fmt.Errorf("no sync completed within DESTINATION_TIMEOUT (%s); the volume keeps its previous image", timeout)
		case <-tick.C:
			if _, err := os.Stat(finished); err != nil {
				continue
			}
			s, err := entrypoint.ReadSummary(finished)
			stop()
			if err != nil {
				return sum, err
			}
			if s.Result != entrypoint.ResultSuccessful {
				return s, errors.New(s.Message)
			}
			return s, nil
		}
	}
}

// sshServer writes sshd's configuration, host key and authorized keys into dir, and returns the
// configuration's path and the environment sshd needs.
func sshServer(dir, keysDir, dataDir string, port int) (string, []string, error) {
	hostKey, err := os.ReadFile(filepath.Join(keysDir, destinationKey))
	if err != nil {
		return "", nil, fmt.Errorf("reading the destination's private key: %w", err)
	}
	clientKey, err := os.ReadFile(filepath.Join(keysDir, sourcePubKey))
	if err != nil {
		return "", nil, fmt.Errorf("reading the source's public key: %w", err)
	}
	fields := strings.Fields(string(clientKey))
	if len(fields) < 2 {
		return "", nil, errors.New("the source's public key (source.pub) is not an OpenSSH public key")
	}
	// sshd refuses a host key that others can read.
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(hostKeyFile, hostKey, 0o600); err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	forced := strings.Join([]string{shellQuote(self), "rsync", "ssh-command", shellQuote(dataDir), shellQuote(dir)}, " ")
	authorized := fmt.Sprintf("restrict,command=\"%s\" %s %s\n", strings.ReplaceAll(forced, `"`, `\"`), fields[0], fields[1])
	authFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authFile, []byte(authorized), 0o600); err != nil {
		return "", nil, err
	}
	listen := ""
	if a := os.Getenv("LISTEN_ADDRESS"); a != "" {
		listen = "ListenAddress " + a + "\n"
	}
	permitRoot := "no"
	if os.Geteuid() == 0 {
		permitRoot = "forced-commands-only"
	}
	config := fmt.Sprintf(`# sshd of the volsync rsync destination: one key, one forced command, nothing else.
Port %d
%sHostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin %s
PermitUserEnvironment no
DisableForwarding yes
PermitTTY no
PrintMotd no
ClientAliveInterval 30
ClientAliveCountMax 4
LogLevel INFO
`, port, listen, hostKeyFile, authFile, permitRoot)
	configFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return "", nil, err
	}
	var env []string
	if os.Geteuid() != 0 {
		// Unprivileged, sshd admits only the login name of the user running it; with the wrapper
		// that name is whatever the source logs in as (root by default, or SSH_USER).
		if env, err = IdentityEnv(dir, "root", os.Getenv("SSH_USER")); err != nil {
			return "", nil, err
		}
	}
	return configFile, env, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshCommand is the destination's forced command: sshd runs it for every connection of the source
// key, with the command the source asked for in SSH_ORIGINAL_COMMAND.
func sshCommand(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "volsync: ssh-command needs the data and state directories")
		return 2
	}
	return Serve(os.Getenv("SSH_ORIGINAL_COMMAND"), args[0], args[1], os.Stdout)
}

// CommitReply is the line Serve writes after a good commit; anything else is the error.
const CommitReply = "volsync: committed"

// Serve carries out one request of a source on the destination, with the connection as the
// process's standard input and output (sshd's forced command; stunnel's exec). Only two requests
// are allowed: rsync receiving into the staging area of dataDir (the process becomes that rsync),
// and the commit of the staging area, whose outcome goes to state/finished for the destination's
// main process and to out for the source.
func Serve(request, dataDir, state string, out io.Writer) int {
	words := strings.Fields(request)
	switch {
	case len(words) >= 3 && words[0] == "rsync" && words[1] == "--server":
		device := destinationDevice(state)
		if err := checkModes(words, device); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if device != "" {
			return execReceiver(deviceReceiverArgs(words, device))
		}
		inPlace := receivesInPlace(state)
		argv, err := receiverArgs(words, inPlace)
		if err != nil {
			fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
			return 1
		}
		if err := os.Chdir(dataDir); err != nil {
			fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
			return 1
		}
		if !inPlace {
			if err := PrepareStaging(dataDir); err != nil {
				fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
				return 1
			}
		}
		return execReceiver(argv, nil)
	case len(words) == 2 && words[0] == modeCommand:
		if err := checkSourceMode(words[1] == "Block", destinationDevice(state)); err != nil {
			fmt.Fprintln(out, err)
			return 1
		}
		fmt.Fprintln(out, ModesAgree)
		return 0
	case len(words) == 3 && words[0] == commitCommand:
		files, _ := strconv.ParseInt(words[1], 10, 64)
		bytes, _ := strconv.ParseInt(words[2], 10, 64)
		return commit(out, dataDir, state, files, bytes, receivesInPlace(state), destinationDevice(state))
	default:
		fmt.Fprintf(os.Stderr, "volsync: refused the request %.80q: a source may only run rsync into the volume and commit\n", request)
		return 1
	}
}

// execReceiver becomes the rsync receiver argv.
func execReceiver(argv []string, err error) int {
	if err != nil {
		fmt.Fprintf(os.Stderr, "volsync: %v\n", err)
		return 1
	}
	path, err := exec.LookPath("rsync")
	if err != nil {
		fmt.Fprintln(os.Stderr, "volsync: rsync is not installed on the destination")
		return 1
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "volsync: starting rsync: %v\n", err)
	return 1
}

// CommitRequest is the request a source sends to commit a transfer of files and bytes.
func CommitRequest(files, bytes int64) string {
	return fmt.Sprintf("%s %d %d", commitCommand, files, bytes)
}

// receiverArgs checks that a requested rsync server command receives (never sends) and names no
// path of its own, and points it at the staging area; or, in place, at the volume itself, with
// --inplace and without the source's --link-dest (there is no staging tree to link from).
func receiverArgs(words []string, inPlace bool) ([]string, error) {
	opts, err := receiverOptions(words)
	if err != nil {
		return nil, err
	}
	if !inPlace {
		return append(opts, ".", StagingDir+"/"), nil
	}
	var argv []string
	for i := 0; i < len(opts); i++ {
		switch w := opts[i]; {
		case w == "--link-dest":
			i++ // and its directory
		case strings.HasPrefix(w, "--link-dest="), w == "--inplace":
		default:
			argv = append(argv, w)
		}
	}
	return append(argv, "--inplace", ".", "."), nil
}

// receiverOptions is the part of a requested rsync server command before its "." separator,
// once checked: it receives (never sends) and no option names a path of its own.
func receiverOptions(words []string) ([]string, error) {
	sep := slices.Index(words, ".")
	if sep < 0 {
		return nil, errors.New("not an rsync receiver command")
	}
	for _, w := range words[2:sep] {
		if w == "--sender" {
			return nil, errors.New("this key may only send data to the destination, not read it")
		}
		if strings.ContainsAny(w, `/\'"`) {
			return nil, fmt.Errorf("rsync option %q is not allowed here", w)
		}
	}
	return slices.Clone(words[:sep]), nil
}

// inPlaceMarker, in a destination's state directory, says that this destination receives in
// place: its copyMethod is Snapshot, so the previous image is the VolumeSnapshot in latestImage,
// and a sync cut off half-way leaves that image whole. Serve runs in sshd's or stunnel's child,
// whose environment is not the mover's, so the choice is passed as a file.
const inPlaceMarker = "receive-in-place"

func receivesInPlace(state string) bool {
	_, err := os.Stat(filepath.Join(state, inPlaceMarker))
	return err == nil
}

// ChooseReceiveMode reads RECEIVE_IN_PLACE (set by volsyncd when the destination keeps
// Snapshots) and records the choice in state for Serve. In place, a staging area that an earlier
// run with copyMethod Direct left behind is removed: it would only take space, and the sync would
// never commit it.
func ChooseReceiveMode(log *entrypoint.Logger, dataDir, state string) error {
	inPlace, err := strconv.ParseBool(entrypoint.Env("RECEIVE_IN_PLACE", "false"))
	if err != nil {
		return fmt.Errorf("RECEIVE_IN_PLACE: %w", err)
	}
	if !inPlace {
		log.Printf("receiving into a staging area; the volume keeps its previous image until the commit")
		return nil
	}
	if err := os.RemoveAll(filepath.Join(dataDir, StagingDir)); err != nil {
		return fmt.Errorf("removing an old staging area: %w", err)
	}
	log.Printf("receiving in place: the previous image is the destination's latest snapshot")
	return os.WriteFile(filepath.Join(state, inPlaceMarker), nil, 0o600)
}

// commit makes the staging area the image (in place: flushes the volume, so the snapshot taken
// next holds every byte) and tells the destination's main process the outcome.
func commit(out io.Writer, dataDir, state string, files, bytes int64, inPlace bool, device string) int {
	s := entrypoint.Summary{Result: entrypoint.ResultSuccessful, Files: files, Bytes: bytes,
		Message: fmt.Sprintf("received %d files (%d bytes) and committed them as the volume's image", files, bytes)}
	code := 0
	finish := func(root string) error {
		times, err := CommitImageTimed(root)
		s.Message += " (" + times.String() + ")"
		return err
	}
	switch {
	case device != "":
		s.Message = fmt.Sprintf("received the block device's changed blocks (%d bytes in all) in place", bytes)
		finish = func(string) error { return syncDevice(device) }
	case inPlace:
		s.Message = fmt.Sprintf("received %d files (%d bytes) in place; the volume is the new image", files, bytes)
		finish = syncFS
	}
	if err := finish(dataDir); err != nil {
		s = entrypoint.Summary{Result: entrypoint.ResultFailed, Message: err.Error()}
		code = 1
	}
	// The source hears the outcome before the destination's main process stops the server.
	if code == 0 {
		fmt.Fprintln(out, CommitReply)
	} else {
		fmt.Fprintf(out, "volsync: commit failed: %s\n", s.Message)
	}
	b, _ := json.Marshal(s)
	if err := entrypoint.WriteFileAtomic(filepath.Join(state, "finished"), b, 0o600); err != nil {
		fmt.Fprintf(out, "volsync: %v\n", err)
		return 1
	}
	return code
}
