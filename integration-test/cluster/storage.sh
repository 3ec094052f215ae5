#!/usr/bin/env bash
# Installs the StorageClass "local-path" (with CLUSTER_IMAGES including local-path): the rancher local-path-provisioner
# (built by images.sh from the Go module proxy at a pinned version) with the manifest shipped in
# that same module, its images pointed at ours. Volumes live under /opt/local-path-provisioner in
# the node's mount namespace (the state directory on the host). Called by up.sh; safe to rerun.
#
# Not a CSI driver: no VolumeSnapshots and no clones; the default StorageClass is csi.sh's.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

dir=$(GOFLAGS='' GOWORK=off go mod download -json "$LOCAL_PATH_MODULE@$LOCAL_PATH_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
manifest=$dir/deploy/local-path-storage.yaml
[ -f "$manifest" ] || die "no $manifest"

# The helper pod that makes and removes volume directories needs only a shell: the mover image has
# one, run as root (it runs as nobody by default) to write under the node's volume directory.
mover_image=volsync-mover:$(built_tag mover)
sed -e "s|image: rancher/local-path-provisioner:.*|image: $LOCAL_PATH_IMAGE|" \
    -e "s|^\( *\)image: busybox|\1image: $mover_image\n\1securityContext: {runAsUser: 0}|" \
    -e "s|imagePullPolicy: IfNotPresent|imagePullPolicy: Never|" \
    "$manifest" | kubectl apply -f - >/dev/null
kubectl annotate storageclass local-path --overwrite storageclass.kubernetes.io/is-default-class=false >/dev/null
kubectl -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s >/dev/null
say "StorageClass local-path ready"
