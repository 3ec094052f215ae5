package syncthing

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// What the mover container is given (see the Deployment in mover.go).
const (
	// EnvConfigDir is Syncthing's home: its keys, configuration and database, on the config PVC.
	EnvConfigDir = "SYNCTHING_CONFIG_DIR"
	// EnvCertDir holds the API's certificate and key from the API Secret.
	EnvCertDir = "SYNCTHING_CERT_DIR"
	// EnvGUIAddress is where the REST API listens.
	EnvGUIAddress = "SYNCTHING_GUI_ADDRESS"
	// EnvAPIKey is the REST API's key; Syncthing reads this variable itself.
	EnvAPIKey = "STGUIAPIKEY"
	// EnvBinary is the syncthing program; "syncthing" on PATH by default.
	EnvBinary = "SYNCTHING_BINARY"
)

// Files of the certificate and key, in the cert dir as the Secret projects them and in
// Syncthing's home where it reads them.
const (
	httpsCertFile = "https-cert.pem"
	httpsKeyFile  = "https-key.pem"
)

// Main is `volsync-mover syncthing source`: it puts the API certificate volsync generated into
// Syncthing's home and replaces itself with Syncthing, which then runs until the pod stops. There
// is no summary: the Deployment keeps it running, and volsyncd reads its state over the API.
func Main(role string, _ []string) int {
	if role != "source" {
		fmt.Fprintf(os.Stderr, "syncthing: unknown role %q: syncthing runs on sources only\n", role)
		return 2
	}
	log := entrypoint.NewLogger(os.Stdout, "syncthing")
	argv, err := Prepare(os.Getenv)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		log.Printf("syncthing is missing from the mover image: %v", err)
		return 1
	}
	env := append(os.Environ(), "STNODEFAULTFOLDER=1", "STNOUPGRADE=1", "STNORESTART=1")
	log.Printf("starting %s", bin)
	if err := syscall.Exec(bin, argv, env); err != nil {
		log.Printf("starting syncthing: %v", err)
	}
	return 1
}

// Prepare readies Syncthing's home and returns its command line.
func Prepare(getenv func(string) string) ([]string, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	home := env(EnvConfigDir, ConfigMountPath)
	certs := env(EnvCertDir, CertMountPath)
	if getenv(EnvAPIKey) == "" {
		return nil, fmt.Errorf("%s is not set: the API Secret is not mounted", EnvAPIKey)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("syncthing's home %s: %w", home, err)
	}
	for _, f := range []string{httpsCertFile, httpsKeyFile} {
		data, err := os.ReadFile(filepath.Join(certs, f))
		if err != nil {
			return nil, fmt.Errorf("the API certificate: %w", err)
		}
		if err := entrypoint.WriteFileAtomic(filepath.Join(home, f), data, 0o600); err != nil {
			return nil, fmt.Errorf("the API certificate: %w", err)
		}
	}
	return []string{
		env(EnvBinary, "syncthing"), "serve", "--home=" + home, "--no-browser", "--no-restart", "--no-upgrade",
		"--gui-address=" + env(EnvGUIAddress, fmt.Sprintf("https://0.0.0.0:%d", APIPort)),
	}, nil
}
