#!/usr/bin/env bash
# Builds the data-mover tools at pinned versions, from the Go module proxy, into a cache outside the
# repository, and prints the directory that holds them as its last line:
#   restic      the backup tool the restic mover drives
#   rclone      the sync tool the rclone mover drives
#   versitygw   an S3 server for the data-plane tests (served on loopback only)
#   syncthing   the peer-to-peer sync tool the syncthing mover runs (built without its web GUI's
#               assets: the mover and volsyncd use only its REST API)
# `go install pkg@version` refuses modules whose go.mod carries replace directives (restic does), so
# each module is downloaded with `go mod download -json` and built inside its own directory.
# A second run with the same pins does nothing: the builds are CPU-heavy, so they are done once.
set -euo pipefail

RESTIC_VERSION=${RESTIC_VERSION:-v0.18.1}
RCLONE_VERSION=${RCLONE_VERSION:-v1.71.2}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
SYNCTHING_VERSION=${SYNCTHING_VERSION:-v1.30.0}

TOOLS=${VOLSYNC_MOVER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/tools-movers-restic-${RESTIC_VERSION}-rclone-${RCLONE_VERSION}-versitygw-${VERSITYGW_VERSION}}
# The directory keeps its first three pins in its name so that caches built before syncthing joined
# stay valid; each tool's stamp file (below) is what decides a rebuild.
mkdir -p "$TOOLS"

# build NAME MODULE VERSION PACKAGE [TAGS]: build MODULE@VERSION's PACKAGE (with build TAGS) into
# $TOOLS/NAME unless it is there.
build() {
  local name=$1 mod=$2 version=$3 pkg=$4 tags=${5:-} stamp="$TOOLS/.$1.version" dir
  if [ -x "$TOOLS/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod@$version" ]; then return; fi
  echo "building $name from $mod@$version (once; this takes a few minutes)" >&2
  dir=$(GOFLAGS= GOWORK=off go mod download -json "$mod@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "mover-tools: could not download $mod@$version from the Go module proxy" >&2
    return 1
  fi
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOTOOLCHAIN=local \
    go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$TOOLS/$name.tmp" "$pkg") >&2
  mv "$TOOLS/$name.tmp" "$TOOLS/$name"
  echo "$mod@$version" > "$stamp"
}

build restic github.com/restic/restic "$RESTIC_VERSION" ./cmd/restic
build rclone github.com/rclone/rclone "$RCLONE_VERSION" .
build versitygw github.com/versity/versitygw "$VERSITYGW_VERSION" ./cmd/versitygw
build syncthing github.com/syncthing/syncthing "$SYNCTHING_VERSION" ./cmd/syncthing noassets
echo "$TOOLS"
