#!/usr/bin/env bash
# Shared settings and helpers for the single-node cluster scripts (up.sh, down.sh, status.sh,
# images.sh, ...). Sourced by them; run, it prints one setting of the cluster CLUSTER selects for a
# Makefile: `lib.sh kubeconfig` or `lib.sh host-ip`.
#
# Layout: the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) runs on
# the host and listens on the host end of a veth pair; the node (containerd, kubelet, kube-proxy)
# runs in its own network namespace and mount namespace, so the rules kubelet and kube-proxy install
# and the mounts containerd and kubelet make never touch the host.

# The settings below are read by the scripts that source this file.
# shellcheck disable=SC2034
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

K8S_VERSION=${K8S_VERSION:-v1.36.3}
# Builds and images: shared by every cluster, so a second cluster builds nothing.
CLUSTER_CACHE=${VOLSYNC_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/cluster}

# CLUSTER selects one of the clusters that can run side by side here, each with its own namespaces,
# interfaces, addresses, ports, cgroups, state and credentials:
#   ""  (unset or empty) the default cluster
#   dr  a second one, for what needs two API servers (a Migration from one cluster to another)
# Pods of each reach the other's Services and API server through the host (see forward_between).
CLUSTER=${CLUSTER:-}
export CLUSTER
CLUSTERS=("" dr)

# cluster_settings NAME: sets the settings of cluster NAME (see CLUSTER).
cluster_settings() {
  case "$1" in
    "")
      # Runtime state: etcd data, containerd and kubelet roots, logs. Removed by down.sh.
      CLUSTER_STATE=${VOLSYNC_CLUSTER_STATE:-$CLUSTER_CACHE/state}
      # Sockets and namespace handles: a short path, since a unix socket path is limited to 107 bytes.
      CLUSTER_RUN=${VOLSYNC_CLUSTER_RUN:-/run/volsync-cluster}
      # Where the admin kubeconfig is written; `export KUBECONFIG=...` to use the cluster.
      CLUSTER_KUBECONFIG=${VOLSYNC_CLUSTER_KUBECONFIG:-$CLUSTER_CACHE/admin.kubeconfig}
      # Certificates and keys, made once and kept (pki.sh).
      PKI=$CLUSTER_CACHE/pki
      # The kubeconfigs' cluster and context, the CA's name and etcd's member name.
      CLUSTER_NAME=volsync
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
      # The control plane listens on the host: each cluster has its own ports.
      APISERVER_PORT=6443
      ETCD_CLIENT_PORT=32379
      ETCD_PEER_PORT=32380
      CONTROLLER_MANAGER_PORT=10257
      SCHEDULER_PORT=10259
      # kubelet's cgroupRoot: it puts pods under CGROUP_ROOT/kubepods in every cgroup hierarchy.
      CGROUP_ROOT=/
      ;;
    dr)
      # As the default cluster's, under a directory of its own in the cache (the VOLSYNC_CLUSTER_STATE,
      # _RUN and _KUBECONFIG overrides are the default cluster's only, so they never point both at
      # one place).
      local home=$CLUSTER_CACHE/cluster-dr
      CLUSTER_STATE=$home/state
      CLUSTER_RUN=/run/volsync-cluster-dr
      CLUSTER_KUBECONFIG=$home/admin.kubeconfig
      PKI=$home/pki
      CLUSTER_NAME=volsync-dr
      NODE_NAME=volsync-dr-node
      NETNS=volsync-dr-node
      # Interface names are at most 15 characters.
      VETH_HOST=vsc-dr-host
      VETH_NODE=vsc-dr-node
      HOST_IP=10.211.0.1
      NODE_IP=10.211.0.2
      POD_CIDR=10.212.0.0/24
      POD_BRIDGE=vsc-dr-br0
      SERVICE_CIDR=10.213.0.0/24
      KUBERNETES_SVC_IP=10.213.0.1
      CLUSTER_DNS_IP=10.213.0.10
      # Beside the default cluster's on the host: 6443, 32379, 32380, 10257 and 10259 are taken.
      APISERVER_PORT=6444
      ETCD_CLIENT_PORT=32479
      ETCD_PEER_PORT=32480
      CONTROLLER_MANAGER_PORT=10357
      SCHEDULER_PORT=10359
      # Two kubelets must not share kubepods: each treats every pod cgroup there as its own, and
      # down.sh kills every process in its cluster's.
      CGROUP_ROOT=/volsync-dr
      ;;
    *) die "unknown cluster '$1': CLUSTER is empty (the default cluster) or dr" ;;
  esac
  # kubelet's pod cgroups, under CGROUP_ROOT in each hierarchy (/sys/fs/cgroup/*$POD_CGROUPS).
  POD_CGROUPS=${CGROUP_ROOT%/}/kubepods
  LOGS=$CLUSTER_STATE/logs
  MNTNS=$CLUSTER_RUN/ns/mnt
  CONTAINERD_SOCK=$CLUSTER_RUN/containerd/containerd.sock
}
cluster_settings "$CLUSTER"

COREDNS_VERSION=v1.12.4
PAUSE_IMAGE=localhost/volsync/pause:v1
# Our images, tagged with the build's version (image_tag), never "latest". ctr imports them under
# docker.io/library/, which is what a pod's "volsync-mover:<tag>" means.
MOVER_IMAGE_BASE=docker.io/library/volsync-mover
VOLSYNCD_IMAGE_BASE=docker.io/library/volsyncd
# Dynamic provisioning with snapshots and clones: our hostpath CSI driver (csi.sh). The rancher
# local-path provisioner (storage.sh, no snapshots) is there too when CLUSTER_IMAGES has local-path.
CSI_DRIVER=hostpath.csi.volsync.io
LOCAL_PATH_MODULE=github.com/rancher/local-path-provisioner
LOCAL_PATH_VERSION=v0.0.30
LOCAL_PATH_IMAGE=localhost/volsync/local-path-provisioner:$LOCAL_PATH_VERSION
# Sysctls kubelet changes on the host (they are not per network namespace): saved by the first
# cluster up (in the shared cache) and restored by the last one down, so two clusters coming and
# going in any order leave the host's own values.
SAVED_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
SYSCTLS_SAVED=$CLUSTER_CACHE/sysctls.saved
# Mount points up.sh had to create on the host for the node's bind mounts, one a line: shared, since
# every cluster's node mounts on the same paths, and removed by the last cluster down (removing
# one on the host would take away the mounts on it in a node still up).
CREATED_DIRS=$CLUSTER_CACHE/created-dirs

# image_tag prints the version our images are tagged with, as the Makefile stamps it into the
# binaries: $VERSION, else `git describe --tags --always --dirty`, else dev; made a valid tag.
# images.sh records the tag of each image it built in $CLUSTER_CACHE/images/NAME.tag, which is what
# deploy.sh and the tests read (built_tag).
image_tag() {
  local repo v
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  v=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)}
  v=$(printf '%s' "$v" | tr -c 'A-Za-z0-9_.-' '-' | sed 's/^[.-]*//' | cut -c1-128)
  echo "${v:-dev}"
}

# built_tag NAME prints the tag of the last image NAME (mover, volsyncd) images.sh built.
built_tag() {
  cat "$CLUSTER_CACHE/images/$1.tag" 2>/dev/null || die "no $1 image built yet: make cluster-images"
}

# Builds are heavy and the machine is shared: run them at the lowest CPU and I/O priority.
LOW=(nice -n 19 ionice -c3)

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
# and records its pid in $CLUSTER_RUN/NAME.pid. CMD inherits no other open file: a lock the caller
# holds (flock /tmp/... make cluster-csi) must not outlive the caller in a long-running process.
start() {
  local name=$1
  shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec setsid "$@"
  ) >>"$LOGS/$name.log" 2>&1 < /dev/null &
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

# setting_of NAME VAR: prints setting VAR of cluster NAME (this one's or another's).
setting_of() {
  (cluster_settings "$1" && printf '%s\n' "${!2}")
}

# netns_exists NETNS: true when the network namespace NETNS exists.
netns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"
}

# others_present: true when a cluster other than this one is up or partly up (its run directory
# or its node's network namespace is there), so what all clusters share stays.
others_present() {
  local c
  for c in "${CLUSTERS[@]}"; do
    [ "$c" != "$CLUSTER" ] || continue
    if [ -e "$(setting_of "$c" CLUSTER_RUN)" ] || netns_exists "$(setting_of "$c" NETNS)"; then
      return 0
    fi
  done
  return 1
}

# forward_between: with two clusters or more up, the host forwards between their veths, so a pod
# of one reaches the other's Services and pods (routes to every cluster's pods and Services are on
# the host already, each added by its up.sh); a cluster alone keeps the host's default, as before
# there were two. Per interface, the forwarding flag of the receiving one: the host forwards nothing
# that comes in on its other interfaces, and the setting goes away with the veth.
forward_between() {
  local c veth on veths=()
  for c in "${CLUSTERS[@]}"; do
    veth=$(setting_of "$c" VETH_HOST)
    if [ -e "/proc/sys/net/ipv4/conf/$veth/forwarding" ]; then veths+=("$veth"); fi
  done
  on=$(cat /proc/sys/net/ipv4/conf/default/forwarding)
  if [ ${#veths[@]} -ge 2 ]; then on=1; fi
  for veth in "${veths[@]}"; do
    echo "$on" > "/proc/sys/net/ipv4/conf/$veth/forwarding"
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    kubeconfig) echo "$CLUSTER_KUBECONFIG" ;;
    host-ip) echo "$HOST_IP" ;;
    # The e2e freezes it to play a lost site.
    apiserver-pidfile) echo "$CLUSTER_RUN/kube-apiserver.pid" ;;
    # The mover image as pods name it, of the last build (for the tests' own pods).
    mover-image) tag=$(built_tag mover) || exit 1; echo "volsync-mover:$tag" ;;
    # The volsyncd image as pods name it, of the last build (the e2e installs the Helm chart with it).
    volsyncd-image) tag=$(built_tag volsyncd) || exit 1; echo "volsyncd:$tag" ;;
    *) die "usage: lib.sh kubeconfig|host-ip|apiserver-pidfile|mover-image|volsyncd-image" ;;
  esac
fi
