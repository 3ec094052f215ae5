#!/usr/bin/env bash
# Builds the CSI sidecars the cluster's snapshot-capable storage will need, at pinned versions, from
# the Go module proxy, into a cache outside the repository, and prints that directory last:
#   csi-provisioner       external-provisioner
#   csi-snapshotter       external-snapshotter's sidecar
#   snapshot-controller   external-snapshotter's controller (its CRDs ship in the same module,
#                         under deploy/kubernetes)
# Each module is downloaded with `go mod download -json` and built inside a copy of its directory
# (they carry replace directives, which `go install pkg@version` refuses). external-snapshotter
# replaces its client module with ./client, which module downloads leave out: that replace is
# dropped so the client comes from the proxy at the version go.mod requires. A second run does
# nothing.
#
# csi.sh runs them beside our hostpath CSI driver.
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"

PROVISIONER_VERSION=${PROVISIONER_VERSION:-v5.3.0}
SNAPSHOTTER_VERSION=${SNAPSHOTTER_VERSION:-v8.3.0}
BIN=$CLUSTER_CACHE/csi-provisioner-$PROVISIONER_VERSION-snapshotter-$SNAPSHOTTER_VERSION
mkdir -p "$BIN"

# build NAME MODULE VERSION PACKAGE: MODULE@VERSION's PACKAGE into $BIN/NAME unless it is there.
build() {
  local name=$1 mod=$2 version=$3 pkg=$4 dir
  [ -x "$BIN/$name" ] && return 0
  say "building $name from $mod@$version (once; several minutes)"
  dir=$(GOFLAGS='' GOWORK=off go mod download -json "$mod@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    die "could not download $mod@$version from the Go module proxy"
  fi
  local src
  src=$(mktemp -d "${TMPDIR:-/tmp}/volsync-csi.XXXXXX")
  cp -r "$dir/." "$src/"
  chmod -R u+w "$src"
  local mod_path target
  while read -r mod_path target; do
    [ -d "$src/$target" ] || (cd "$src" && GOWORK=off go mod edit -dropreplace="$mod_path")
  done < <(sed -n 's|^replace \([^ ]*\) => \(\./[^ ]*\)$|\1 \2|p' "$src/go.mod")
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local GOMAXPROCS=2 "${LOW[@]}" \
    go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$BIN/$name.tmp" "$pkg") || { rm -rf "$src"; return 1; }
  rm -rf "$src"
  mv "$BIN/$name.tmp" "$BIN/$name"
}

build csi-provisioner github.com/kubernetes-csi/external-provisioner/v5 "$PROVISIONER_VERSION" ./cmd/csi-provisioner
build csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8 "$SNAPSHOTTER_VERSION" ./cmd/csi-snapshotter
build snapshot-controller github.com/kubernetes-csi/external-snapshotter/v8 "$SNAPSHOTTER_VERSION" ./cmd/snapshot-controller
echo "$BIN"
