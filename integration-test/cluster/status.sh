#!/usr/bin/env bash
# Shows whether the single-node cluster is up (`make cluster-status`): each process, the node and
# the pods. Exits 1 when the cluster is down.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

up=0
for p in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy \
  hostpath-csi csi-provisioner csi-snapshotter snapshot-controller coredns; do
  if running "$p"; then
    printf '%-24s running (pid %s)\n' "$p" "$(cat "$CLUSTER_RUN/$p.pid")"
    up=$((up + 1))
  else
    printf '%-24s not running\n' "$p"
  fi
done
[ "$up" -gt 0 ] || { echo "the cluster is down"; exit 1; }
kubectl=${VOLSYNC_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/k8s-$K8S_VERSION}/kubectl
echo
"$kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" get nodes -o wide || true
echo
"$kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" get pods -A -o wide || true
echo
echo "export KUBECONFIG=$CLUSTER_KUBECONFIG"
