#!/usr/bin/env bash
# Takes the single-node cluster down (`make cluster-down`) and leaves nothing behind: every process
# up.sh started and every container they ran, the node's namespaces (and with them its mounts,
# interfaces and iptables rules), the pod cgroups, the mount points it had to create, and the host
# sysctls kubelet changed, put back. Builds and images stay cached. Safe to run at any time, also
# when the cluster is only partly up or already down.
#
# CLUSTER selects the cluster (lib.sh); another one up stays as it is: only this cluster's processes
# and pod cgroups go, and what the clusters share on the host (the saved sysctls, the mount points)
# is put back by the last one down.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "the cluster needs root"

# A teardown step that fails is reported and the teardown goes on: it exits 1 at the end.
failed=0
try() {
  "$@" || { echo "warning: '$*' failed" >&2; failed=1; }
}

# stop NAME: SIGTERM to the process recorded for NAME, SIGKILL after 20s.
stop() {
  local name=$1 pid
  pid=$(cat "$CLUSTER_RUN/$name.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$CLUSTER_RUN/$name.pid"
}

# pod_pids prints the pid of every process in the pod cgroups this cluster's kubelet made.
pod_pids() {
  local d
  for d in /sys/fs/cgroup/*"$POD_CGROUPS"; do
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

# node_pids prints the pid of every process in the node's mount or network namespace
# (containerd, its shims, kubelet, kube-proxy).
node_pids() {
  local mnt="" net="" p
  [ -e "$MNTNS" ] && mnt=$(stat -L -c %i "$MNTNS" 2>/dev/null || true)
  [ -e "/run/netns/$NETNS" ] && net=$(stat -L -c %i "/run/netns/$NETNS" 2>/dev/null || true)
  [ -n "$mnt$net" ] || return 0
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/ns/mnt" 2>/dev/null) $(readlink "$p/ns/net" 2>/dev/null)" in
      *"mnt:[$mnt]"*|*"net:[$net]"*) echo "${p#/proc/}" ;;
    esac
  done 2>/dev/null | grep -vx "$$" || true
}

# kill_all LISTER: SIGKILL every pid LISTER prints until it prints none (at most 20 rounds).
kill_all() {
  local pids
  for _ in $(seq 1 20); do
    pids=$($1 | grep -vx "$$" || true)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  echo "warning: processes still alive: $($1 | tr '\n' ' ')" >&2
}

say "stopping the node"
# Storage first: the driver's last NodeUnpublish calls come from kubelet, which is still running.
stop coredns
stop snapshot-controller
stop csi-snapshotter
stop csi-provisioner
stop hostpath-csi
stop kube-proxy
stop kubelet
kill_all pod_pids
stop containerd
kill_all node_pids

say "stopping the control plane"
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd

say "removing namespaces, interfaces and cgroups"
# Unmounting the handle ends the node's mount namespace, and every mount made inside it.
if mountpoint -q "$MNTNS" 2>/dev/null; then try umount "$MNTNS"; fi
if mountpoint -q "$CLUSTER_RUN/ns" 2>/dev/null; then try umount "$CLUSTER_RUN/ns"; fi
# Deleting the namespace deletes the veth pair, the bridge, the routes and the iptables rules in it.
if netns_exists "$NETNS"; then try ip netns del "$NETNS"; fi
if ip link show "$VETH_HOST" >/dev/null 2>&1; then try ip link del "$VETH_HOST"; fi
# A cluster left alone goes back to the host's default forwarding on its veth.
try forward_between
# The pod cgroups, and the cgroupRoot up.sh made for them.
cgroups=(/sys/fs/cgroup/*"$POD_CGROUPS")
if [ "$CGROUP_ROOT" != / ]; then cgroups=(/sys/fs/cgroup/*"$CGROUP_ROOT"); fi
for d in "${cgroups[@]}"; do
  if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
done

if others_present; then
  say "another cluster is up: the saved sysctls and the mount points it shares stay until it goes down"
else
  if [ -f "$SYSCTLS_SAVED" ]; then
    say "restoring $(tr '\n' ' ' < "$SYSCTLS_SAVED")"
    while IFS= read -r kv; do try sysctl -qw "$kv"; done < "$SYSCTLS_SAVED"
    rm -f "$SYSCTLS_SAVED"
  fi
  # Mount points up.sh had to create on the host (always empty there: their content lived in the
  # nodes' mount namespaces).
  if [ -f "$CREATED_DIRS" ]; then
    while IFS= read -r d; do
      if [ -d "$d" ]; then try find "$d" -depth -type d -empty -delete; fi
    done < <(sort -u "$CREATED_DIRS")
    rm -f "$CREATED_DIRS"
  fi
fi

case "$CLUSTER_STATE" in /|"") die "refusing to remove state directory '$CLUSTER_STATE'" ;; esac
try rm -rf "$CLUSTER_STATE" "$CLUSTER_RUN"
left=""
for d in "${cgroups[@]}"; do
  if [ -d "$d" ]; then left+=" $d"; fi
done
if [ -n "$left" ]; then
  echo "warning: cgroups still present:$left" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "error: the cluster is down, but not everything it made could be removed (see above)" >&2
  exit 1
fi
say "cluster down"
