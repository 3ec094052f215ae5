package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The commands that talk to a cluster are tested against a real API server, started once for the
// package on first use and stopped by TestMain.
var (
	clusterOnce sync.Once
	cluster     *testenv.Env
	clusterKube string
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
	}
	if secondCluster != nil {
		_ = secondCluster.Stop()
	}
	if clusterKube != "" {
		_ = os.RemoveAll(filepath.Dir(clusterKube))
	}
	os.Exit(code)
}

// startCluster returns the shared control plane and the path of an admin kubeconfig for it.
func startCluster(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	clusterOnce.Do(func() {
		cluster, clusterErr = testenv.Start()
		if clusterErr != nil {
			return
		}
		var data []byte
		if data, clusterErr = cluster.AdminKubeconfig(); clusterErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "volsyncctl-test-")
		if err != nil {
			clusterErr = err
			return
		}
		clusterKube = filepath.Join(dir, "kubeconfig")
		clusterErr = os.WriteFile(clusterKube, data, 0o600)
	})
	if clusterErr != nil {
		t.Fatal(fmt.Errorf("test control plane: %w", clusterErr))
	}
	return cluster, clusterKube
}
