#!/usr/bin/env bash
# The krew plugin manifest of `kubectl volsync`, from a release build:
#   hack/krew.sh OUTDIR            (make krew-manifest) volsyncctl built as kubectl-volsync for
#                                  linux and darwin, amd64 and arm64, one tarball each, and
#                                  OUTDIR/volsync.yaml naming each tarball with its sha256
#   hack/krew.sh --host-only DIR   (make check-krew, in make test) the same for this machine's
#                                  platform only, which is what is slow on two cores
# Either way the manifest is checked with krew's own validation at a pinned version
# (validate-krew-manifest -skip-install: the structure, the platform selectors and their overlaps),
# then installed with krew itself from the host's tarball (krew install --manifest --archive, which
# checks the tarball's sha256 and unpacks the binary), and the installed plugin is run.
# KREW_VERSION is the manifest's version (default: the git tag, v0.0.0-<describe> when the checkout
# has none); KREW_BASE_URL is where the tarballs are published (default the release's download URL).
set -euo pipefail
cd "$(dirname "$0")/.."
host_only=0
if [ "${1:-}" = --host-only ]; then host_only=1; shift; fi
out=${1:?usage: hack/krew.sh [--host-only] OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

KREW_MOD_VERSION=${KREW_MOD_VERSION:-v0.4.3}
tools=${VOLSYNC_KREW_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/tools-krew-${KREW_MOD_VERSION}}
mkdir -p "$tools"
for cmd in validate-krew-manifest krew; do
  stamp="$tools/.$cmd.version"
  if ! { [ -x "$tools/$cmd" ] && [ "$(cat "$stamp" 2>/dev/null)" = "sigs.k8s.io/krew@$KREW_MOD_VERSION" ]; }; then
    echo "building $cmd from sigs.k8s.io/krew@$KREW_MOD_VERSION (once)" >&2
    CGO_ENABLED=0 GOFLAGS= GOWORK=off GOBIN="$tools" go install -trimpath "sigs.k8s.io/krew/cmd/$cmd@$KREW_MOD_VERSION" >&2
    echo "sigs.k8s.io/krew@$KREW_MOD_VERSION" > "$stamp"
  fi
done

describe=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
if [ -z "${KREW_VERSION:-}" ]; then
  if [[ $describe =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then KREW_VERSION=$describe; else KREW_VERSION="v0.0.0-${describe//[^0-9A-Za-z-]/-}"; fi
fi
base=${KREW_BASE_URL:-https://github.com/volsync/volsync/releases/download/$KREW_VERSION}
commit=$(git rev-parse --short HEAD 2>/dev/null || true)
ldflags="-s -w -X github.com/volsync/volsync/pkg/version.Version=$KREW_VERSION -X github.com/volsync/volsync/pkg/version.GitCommit=$commit"

host="$(go env GOOS)/$(go env GOARCH)"
if [ "$host_only" = 1 ]; then platforms=("$host"); else platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
manifest="$out/volsync.yaml"
{
  echo "# The krew plugin manifest of kubectl volsync $KREW_VERSION, written by hack/krew.sh."
  echo "apiVersion: krew.googlecontainertools.github.com/v1alpha2"
  echo "kind: Plugin"
  echo "metadata:"
  echo "  name: volsync"
  echo "spec:"
  echo "  version: $KREW_VERSION"
  echo "  homepage: https://github.com/volsync/volsync"
  echo "  shortDescription: Replicate volumes and migrate applications with volsync"
  echo "  description: |"
  echo "    kubectl volsync is volsyncctl, the CLI of the volsync operator: it creates and"
  echo "    triggers ReplicationSources and ReplicationDestinations, and plans, runs and"
  echo "    activates Stork-style migrations between clusters (ClusterPair, MigrationSchedule,"
  echo "    Migration, failover and failback)."
  echo "  platforms:"
} > "$manifest"
for p in "${platforms[@]}"; do
  os=${p%/*} arch=${p#*/}
  dir="$work/$os-$arch"
  mkdir -p "$dir"
  echo "building kubectl-volsync for $os/$arch" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$dir/kubectl-volsync" ./cmd/volsyncctl
  cp README.md "$dir/"
  tarball="kubectl-volsync_${KREW_VERSION}_${os}_${arch}.tar.gz"
  # The same bytes for the same build: fixed order, owner and times, no name or time in the gzip.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir" -cf - kubectl-volsync README.md | gzip -n -9 > "$out/$tarball"
  sum=$(sha256sum "$out/$tarball" | cut -d' ' -f1)
  {
    echo "  - selector:"
    echo "      matchLabels:"
    echo "        os: $os"
    echo "        arch: $arch"
    echo "    uri: $base/$tarball"
    echo "    sha256: $sum"
    echo "    bin: kubectl-volsync"
    echo "    files:"
    echo "    - from: kubectl-volsync"
    echo "      to: ."
    echo "    - from: README.md"
    echo "      to: ."
  } >> "$manifest"
done

"$tools/validate-krew-manifest" -manifest "$manifest" -skip-install 2>"$work/validate.log" \
  || { cat "$work/validate.log" >&2; echo "krew: $manifest is not a valid plugin manifest" >&2; exit 1; }
hos=${host%/*} harch=${host#*/}
hostball="$out/kubectl-volsync_${KREW_VERSION}_${hos}_${harch}.tar.gz"
if [ -f "$hostball" ]; then
  root="$work/krew-root"
  KREW_ROOT=$root KREW_OS=$hos KREW_ARCH=$harch "$tools/krew" install --manifest="$manifest" --archive="$hostball" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; echo "krew: installing $manifest failed" >&2; exit 1; }
  "$root/bin/kubectl-volsync" version >/dev/null \
    || { echo "krew: the installed kubectl-volsync does not run" >&2; exit 1; }
fi
echo "krew manifest $manifest ($KREW_VERSION, ${#platforms[@]} platforms) is valid; installed with krew and ran on $host" >&2
