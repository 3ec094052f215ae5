#!/usr/bin/env bash
# Deploys volsyncd to the running single-node cluster from specs/ (`kubectl apply -k specs`), as a
# user would, with the images built from this checkout: the volsyncd and mover images are rebuilt
# when the code changed (cached otherwise), loaded into the node's containerd, and the Deployment is
# restarted when its image changed. Waits until volsyncd is available. Safe to rerun.
#
# The images are tagged with the build's version (images.sh), never "latest", and the Deployment
# names that tag through a kustomize images: override of specs. volsyncd's default --mover-image is
# the mover image of its own version, so the two always match.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration-test/cluster/lib.sh
source "$here/lib.sh"
repo=$(cd "$here/../.." && pwd)
running kubelet || die "the cluster is not up: make cluster-up"

images=$(bash "$here/images.sh" mover volsyncd | tail -1)
changed=0
for name in mover volsyncd; do
  case $name in
    mover) base=$MOVER_IMAGE_BASE ;;
    volsyncd) base=$VOLSYNCD_IMAGE_BASE ;;
  esac
  # up.sh loads every image at start; this records what is loaded, so a rebuilt image is loaded
  # again and an unchanged one is not.
  loaded=$CLUSTER_STATE/loaded-$name.hash
  if [ "$(cat "$loaded" 2>/dev/null)" != "$(cat "$images/$name.hash")" ]; then
    say "loading $base"
    in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --base-name "$base" "$images/$name.tar" >/dev/null
    cp "$images/$name.hash" "$loaded"
    [ "$name" = volsyncd ] && changed=1
  fi
done

# specs with the tag of the images just loaded: an overlay beside, naming specs by a relative path
# (kustomize takes no absolute one).
tag=$(built_tag volsyncd)
overlay=$(mktemp -d "${TMPDIR:-/tmp}/volsync-deploy.XXXXXX")
trap 'rm -rf "$overlay"' EXIT
printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' 'resources:' \
  "- $(realpath --relative-to="$overlay" "$repo/specs")" 'images:' '- name: volsyncd' "  newTag: \"$tag\"" \
  > "$overlay/kustomization.yaml"
say "kubectl apply -k specs (volsyncd:$tag, volsync-mover:$(built_tag mover))"
kubectl apply -k "$overlay" >/dev/null
if [ "$changed" = 1 ]; then
  kubectl -n volsync-system rollout restart deployment/volsyncd >/dev/null
fi
kubectl -n volsync-system rollout status deployment/volsyncd --timeout=180s >/dev/null
# Two replicas (specs/manager): both pods (not those of a replaced ReplicaSet, still terminating),
# and the one that holds the leader Lease (its holder identity is <pod>_<uuid>; empty for the few
# seconds before the first election).
pods=$(kubectl -n volsync-system get pods -l app.kubernetes.io/component=manager --field-selector=status.phase=Running \
  -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}} {{end}}{{end}}')
pods=${pods% }
leader=$(kubectl -n volsync-system get lease volsyncd.volsync.backube -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
leader=${leader%%_*}
say "volsyncd is running (${pods// /, }; leader ${leader:-not elected yet})"
