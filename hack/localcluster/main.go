package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	// A FlagSet of our own: controller-runtime registers its own --kubeconfig on flag.CommandLine.
	fs := flag.NewFlagSet("localcluster", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "where to write the admin kubeconfig (required)")
	assets := fs.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding etcd and kube-apiserver, as printed by hack/envtest-assets.sh; default $KUBEBUILDER_ASSETS")
	crds := fs.String("crds", "specs/crds", "directory of the CRDs to install")
	startTimeout := fs.Duration("start-timeout", 2*time.Minute, "how long etcd and kube-apiserver may take to come up")
	_ = fs.Parse(os.Args[1:])

	if *kubeconfig == "" {
		return errors.New("--kubeconfig is required: name the file to write the admin kubeconfig to")
	}
	if *assets == "" {
		return errors.New("no control-plane binaries: pass --assets or set KUBEBUILDER_ASSETS to the directory printed by 'bash hack/envtest-assets.sh'")
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory:    *assets,
		CRDDirectoryPaths:        []string{*crds},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: *startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// Catch signals before starting, so that an early Ctrl-C still stops what was started.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		return fmt.Errorf("starting etcd and kube-apiserver from %s: %w", *assets, err)
	}
	err := writeKubeconfig(env, *kubeconfig)
	if err == nil {
		fmt.Printf("control plane up at %s\n", env.Config.Host)
		fmt.Printf("admin kubeconfig: %s\n", *kubeconfig)
		fmt.Printf("try: kubectl --kubeconfig %s get crds\n", *kubeconfig)
		<-stop
		fmt.Println("stopping the control plane")
	}
	if stopErr := env.Stop(); stopErr != nil && err == nil {
		err = fmt.Errorf("stopping the control plane: %w", stopErr)
	}
	_ = os.Remove(*kubeconfig)
	return err
}

// writeKubeconfig writes a kubeconfig for a member of system:masters. It is written to a
// temporary file and renamed, so that whoever waits for the file never reads half of it.
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.AddUser(envtest.User{Name: "volsync-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("building the admin kubeconfig: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}
