#!/usr/bin/env bash
# Installs the cluster's snapshot-capable storage, the default StorageClass and VolumeSnapshotClass
# "volsync-hostpath": our hostpath CSI driver (integration-test/cluster/hostpathcsi; the upstream one
# is not available from the Go module proxy at a pinned version) with the upstream
# external-provisioner, csi-snapshotter and snapshot-controller (pinned, built by csi-tools.sh).
#
# All four run as node processes beside kubelet, in the node's network and mount namespaces, like
# kubelet itself: the driver's bind mounts must land in the mount namespace kubelet and containerd
# see, and the sidecars reach the driver's socket there. They talk to the API server with the admin
# kubeconfig. Volumes live under /var/lib/volsync-hostpath in the node (the state directory on the
# host), so cluster-down removes them. Called by up.sh; safe to rerun while the cluster is up, and
# the way to redeploy the driver (make cluster-csi): when its sources changed, it rebuilds it and
# restarts only the driver process; volumes, mounts and loop devices stay.
#
# Raw block claims (volumeMode: Block) are a sparse image file per volume on a loop device the
# driver attaches (losetup) and bind-mounts at kubelet's target; kubelet, in the same mount
# namespace, puts its own loop device on that path, so the node needs losetup and the host's /dev.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration-test/cluster/lib.sh
source "$here/lib.sh"
repo=$(cd "$here/../.." && pwd)

# --- builds (cached) ---------------------------------------------------------------------------
sidecars=$(bash "$here/csi-tools.sh" | tail -1)
driver=$CLUSTER_CACHE/bin/hostpath-csi
hash=$(cat "$here"/hostpathcsi/*.go "$here"/hostpathcsi/go.* | sha256sum | cut -c1-16)
if [ ! -x "$driver" ] || [ "$(cat "$driver.hash" 2>/dev/null)" != "$hash" ]; then
  say "building the hostpath CSI driver"
  mkdir -p "$(dirname "$driver")"
  (cd "$here/hostpathcsi" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod GOMAXPROCS=2 "${LOW[@]}" \
    go build -trimpath -ldflags "-s -w" -o "$driver.tmp" .)
  mv "$driver.tmp" "$driver"
  echo "$hash" > "$driver.hash"
  if running hostpath-csi; then
    # A new build replaces the running driver; it unregisters from kubelet on SIGTERM. The two
    # sidecars exit at their next call once the socket they dialled is gone: restart them too.
    say "restarting the hostpath CSI driver and its sidecars"
    for n in hostpath-csi csi-provisioner csi-snapshotter; do
      running "$n" || continue
      old=$(cat "$CLUSTER_RUN/$n.pid")
      kill "$old"
      wait_until 30 "the old $n to exit" bash -c "! kill -0 $old"
    done
  fi
fi
command -v losetup >/dev/null || die "block volumes need losetup (util-linux)"

# --- API objects -------------------------------------------------------------------------------
kubectl apply -f "$repo/specs/thirdparty/snapshot/" >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  crd/volumesnapshots.snapshot.storage.k8s.io crd/volumesnapshotcontents.snapshot.storage.k8s.io \
  crd/volumesnapshotclasses.snapshot.storage.k8s.io >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: $CSI_DRIVER
spec:
  attachRequired: false
  podInfoOnMount: false
  # kubelet gives the volume to a pod's fsGroup, as on real block-backed storage.
  fsGroupPolicy: File
  volumeLifecycleModes: [Persistent]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: volsync-hostpath
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $CSI_DRIVER
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: false
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: volsync-hostpath
  annotations:
    snapshot.storage.kubernetes.io/is-default-class: "true"
driver: $CSI_DRIVER
deletionPolicy: Delete
YAML

# --- processes ---------------------------------------------------------------------------------
mkdir -p "$LOGS"
sock=/var/lib/kubelet/plugins/$CSI_DRIVER/csi.sock
kubeconfig=$PKI/admin.kubeconfig
running hostpath-csi || start hostpath-csi "${NODE_ENTER[@]}" "$driver" --driver-name "$CSI_DRIVER" \
  --csi-socket "$sock" --registration-socket "/var/lib/kubelet/plugins_registry/$CSI_DRIVER-reg.sock" \
  --root /var/lib/volsync-hostpath --node-id "$NODE_NAME"
running csi-provisioner || start csi-provisioner "${NODE_ENTER[@]}" "$sidecars/csi-provisioner" \
  --csi-address "$sock" --kubeconfig "$kubeconfig" --timeout 120s --extra-create-metadata
running csi-snapshotter || start csi-snapshotter "${NODE_ENTER[@]}" "$sidecars/csi-snapshotter" \
  --csi-address "$sock" --kubeconfig "$kubeconfig" --timeout 120s
running snapshot-controller || start snapshot-controller "$sidecars/snapshot-controller" \
  --kubeconfig "$kubeconfig"

registered() {
  kubectl get csinode "$NODE_NAME" -o jsonpath='{.spec.drivers[*].name}' | grep -qw "$CSI_DRIVER"
}
STARTED=(hostpath-csi csi-provisioner csi-snapshotter snapshot-controller)
wait_until 60 "kubelet to register the $CSI_DRIVER driver" registered
say "default StorageClass and VolumeSnapshotClass volsync-hostpath ready"
