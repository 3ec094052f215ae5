#!/usr/bin/env bash
# Shared settings and helpers for the single-node cluster scripts (up.sh, down.sh, status.sh,
# images.sh, ...). Sourced by them; run, it prints one setting for a Makefile: `lib.sh kubeconfig`
# or `lib.sh host-ip`.
#
# Layout: the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) runs on
# the host and listens on the host end of a veth pair; the node (containerd, kubelet, kube-proxy)
# runs in its own network namespace and mount namespace, so the rules kubelet and kube-proxy install
# and the mounts containerd and kubelet make never touch the host.

# The settings below are read by the scripts that source this file.
# shellcheck disable=SC2034
K8S_VERSION=${K8S_VERSION:-v1.36.3}
CLUSTER_CACHE=${VOLSYNC_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/cluster}
# Runtime state: etcd data, containerd and kubelet roots, logs. Removed by down.sh.
CLUSTER_STATE=${VOLSYNC_CLUSTER_STATE:-$CLUSTER_CACHE/state}
# Sockets and namespace handles: a short path, since a unix socket path is limited to 107 bytes.
CLUSTER_RUN=${VOLSYNC_CLUSTER_RUN:-/run/volsync-cluster}
# Where the admin kubeconfig is written; `export KUBECONFIG=...` to use the cluster.
CLUSTER_KUBECONFIG=${VOLSYNC_CLUSTER_KUBECONFIG:-$CLUSTER_CACHE/admin.kubeconfig}

NODE_NAME=volsync-node
NETNS=volsync-node
VETH_HOST=vsc-host
VETH_NODE=vsc-node
HOST_IP=10.201.0.1
NODE_IP=10.201.0.2
POD_CIDR=10.202.0.0/24
POD_BRIDGE=vsc-br0
SERVICE_CIDR=10.203.0.0/24
KUBERNETES_SVC_IP=10.203.0.1
CLUSTER_DNS_IP=10.203.0.10
COREDNS_VERSION=v1.12.4
APISERVER_PORT=6443
ETCD_CLIENT_PORT=32379
ETCD_PEER_PORT=32380

PKI=$CLUSTER_CACHE/pki
LOGS=$CLUSTER_STATE/logs
MNTNS=$CLUSTER_RUN/ns/mnt
CONTAINERD_SOCK=$CLUSTER_RUN/containerd/containerd.sock
PAUSE_IMAGE=localhost/volsync/pause:v1
# Dynamic provisioning with snapshots and clones: our hostpath CSI driver (csi.sh). The rancher
# local-path provisioner (storage.sh, no snapshots) is there too when CLUSTER_IMAGES has local-path.
CSI_DRIVER=hostpath.csi.volsync.io
LOCAL_PATH_MODULE=github.com/rancher/local-path-provisioner
LOCAL_PATH_VERSION=v0.0.30
LOCAL_PATH_IMAGE=localhost/volsync/local-path-provisioner:$LOCAL_PATH_VERSION
# Sysctls kubelet changes on the host (they are not per network namespace); saved at start and
# restored by down.sh.
SAVED_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)

# Builds are heavy and the machine is shared: run them at the lowest CPU and I/O priority.
LOW=(nice -n 19 ionice -c3)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# assets_dir prints the directory holding the Kubernetes and etcd binaries, building missing ones one
# at a time at low priority.
assets_dir() {
  local repo c dir
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    dir=$(GOMAXPROCS=2 "${LOW[@]}" bash "$repo/hack/envtest-assets.sh" "$c" | tail -1)
  done
  echo "$dir"
}

# kubectl runs the cluster's kubectl (hack/envtest-assets.sh builds it) against the cluster.
kubectl() {
  "${VOLSYNC_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/k8s-$K8S_VERSION}/kubectl" \
    --kubeconfig "$CLUSTER_KUBECONFIG" "$@"
}

# NODE_ENTER prefixes a command to run it in the node's network and mount namespaces.
NODE_ENTER=(nsenter --net="/run/netns/$NETNS" --mount="$MNTNS" --)
in_node() { "${NODE_ENTER[@]}" "$@"; }

# start NAME CMD...: starts CMD in the background in its own session, logging to $LOGS/NAME.log,
# and records its pid in $CLUSTER_RUN/NAME.pid.
start() {
  local name=$1
  shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$CLUSTER_RUN/$name.pid"
  STARTED+=("$name")
}

# running NAME: true while the process recorded for NAME is alive.
running() {
  local pid
  pid=$(cat "$CLUSTER_RUN/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Processes started so far (by start); wait_until fails at once when one of them has exited.
STARTED=()

# wait_until SECONDS WHAT CMD...: polls CMD until it succeeds; fails after SECONDS, or as soon as a
# process in STARTED has exited.
wait_until() {
  local seconds=$1 what=$2 name
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    for name in "${STARTED[@]}"; do
      if ! running "$name"; then
        echo "error: $name exited while waiting for $what; see $LOGS/$name.log" >&2
        return 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 1
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    kubeconfig) echo "$CLUSTER_KUBECONFIG" ;;
    host-ip) echo "$HOST_IP" ;;
    *) die "usage: lib.sh kubeconfig|host-ip" ;;
  esac
fi
