// Command hostpath-csi is the single-node test cluster's storage: a CSI driver whose volumes are
// directories on the node and whose snapshots and clones are copies of them. It serves the CSI
// Identity, Controller and Node services on one socket for external-provisioner, csi-snapshotter
// and kubelet, and registers itself with kubelet's plugin watcher (the job node-driver-registrar
// does elsewhere). It runs in the node's mount namespace, so its bind mounts are the ones kubelet
// and the container runtime see.
//
// The upstream CSI hostpath driver would serve, but it is not available from the Go module proxy
// at a pinned version; this one does the subset the volsync end-to-end tests use.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

var version = "dev"

func main() {
	name := flag.String("driver-name", "hostpath.csi.volsync.io", "CSI driver name (the StorageClass provisioner)")
	endpoint := flag.String("csi-socket", "/var/lib/kubelet/plugins/hostpath.csi.volsync.io/csi.sock", "unix socket for the CSI services")
	registration := flag.String("registration-socket", "", "unix socket in kubelet's plugins_registry directory; empty to skip registration")
	root := flag.String("root", "/var/lib/volsync-hostpath", "directory holding volumes and snapshots")
	nodeID := flag.String("node-id", "", "this node's name")
	flag.Parse()
	if *nodeID == "" {
		host, _ := os.Hostname()
		*nodeID = host
	}
	if err := run(*name, *endpoint, *registration, *root, *nodeID); err != nil {
		slog.Error("hostpath-csi stopped", "error", err)
		os.Exit(1)
	}
}

func run(name, endpoint, registration, root, nodeID string) error {
	store, err := NewStore(root)
	if err != nil {
		return err
	}
	driver := &Driver{Name: name, Version: version, NodeID: nodeID, Store: store, Now: time.Now}

	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(srv, driver)
	csi.RegisterControllerServer(srv, driver)
	csi.RegisterNodeServer(srv, driver)
	servers := []*grpc.Server{srv}
	errs := make(chan error, 2)
	if err := serve(srv, endpoint, errs); err != nil {
		return err
	}
	if registration != "" {
		reg := grpc.NewServer()
		registerapi.RegisterRegistrationServer(reg, &Registration{Name: name, Endpoint: endpoint})
		if err := serve(reg, registration, errs); err != nil {
			return err
		}
		servers = append(servers, reg)
	}
	slog.Info("serving", "driver", name, "csi", endpoint, "registration", registration, "root", root)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errs:
	}
	for _, s := range servers {
		s.GracefulStop()
	}
	// Kubelet unregisters a plugin whose registration socket is gone.
	_ = os.Remove(registration)
	_ = os.Remove(endpoint)
	return err
}

// serve listens on a unix socket, replacing one a previous run left, and serves in the background.
func serve(s *grpc.Server, path string, errs chan<- error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	go func() { errs <- s.Serve(l) }()
	return nil
}

// logCalls logs every call that changes something or fails, so the log tells a volume's history;
// the frequent read-only calls (probes, capability and info queries, listings) are left out.
func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	resp, err := next(ctx, req)
	method := filepath.Base(info.FullMethod)
	switch {
	case err != nil:
		slog.Warn("call failed", "method", method, "request", req, "error", err)
	case method != "Probe" && method != "ListSnapshots" && !strings.Contains(method, "Get"):
		slog.Info("call", "method", method, "request", req)
	}
	return resp, err
}
