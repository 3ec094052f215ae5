package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
)

// Env is a running control plane and a client for it.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a controller-runtime client with the volsync scheme, reading straight from the server.
	Client client.Client
	// Scheme knows the core kinds, VolumeSnapshots and the volsync kinds.
	Scheme *k8sruntime.Scheme

	env *envtest.Environment
}

// RepoRoot is the top of the repository, found from this file's location so tests work from any
// package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// NewScheme returns the scheme volsyncd and volsyncctl use: the built-in kinds, VolumeSnapshots
// and the volsync kinds.
func NewScheme() (*k8sruntime.Scheme, error) { return volsyncscheme.New() }

// AssetsDir returns the directory of kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS when set,
// else what hack/envtest-assets.sh prints (building them on first use).
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command("bash", filepath.Join(RepoRoot(), "hack", "envtest-assets.sh"))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the test control plane with hack/envtest-assets.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1], nil
}

// Start brings up etcd and kube-apiserver with the volsync CRDs (and any extra CRD directories).
// Call Stop when done.
func Start(extraCRDDirs ...string) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(RepoRoot(), "specs", "crds")}, extraCRDDirs...),
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting etcd and kube-apiserver from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env}, nil
}

// Stop shuts the control plane down and removes its data.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// AdminKubeconfig returns a kubeconfig for a system:masters user of this control plane, for tests
// that drive the CLI or a separate process the way a person would.
func (e *Env) AdminKubeconfig() ([]byte, error) {
	user, err := e.env.AddUser(envtest.User{Name: "volsync-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding a test admin user: %w", err)
	}
	return user.KubeConfig()
}
