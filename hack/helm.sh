#!/usr/bin/env bash
# Builds helm, at a pinned version from the Go module proxy, into a cache outside the repository and
# prints the directory that holds it as its last line. `make check-chart` lints and renders the
# chart with it; the e2e installs, upgrades and uninstalls the chart with it. A second run with the
# same pin does nothing.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.21.4}
MOD=helm.sh/helm/v3
TOOLS=${VOLSYNC_HELM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/tools-helm-${HELM_VERSION}}
STAMP="$TOOLS/.helm.version"
mkdir -p "$TOOLS"
if ! { [ -x "$TOOLS/helm" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$MOD@$HELM_VERSION" ]; }; then
  echo "building helm from $MOD@$HELM_VERSION (once; this takes a minute or two)" >&2
  dir=$(GOFLAGS= GOWORK=off go mod download -json "$MOD@$HELM_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "helm: could not download $MOD@$HELM_VERSION from the Go module proxy" >&2; exit 1; }
  # The variables helm's own Makefile sets: its version, and the Kubernetes version that `helm
  # template` and `helm lint` assume, that of the client-go it is built with (v0.36 is 1.36).
  minor=$(sed -n 's|^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*|\1|p' "$dir/go.mod")
  ldflags="-s -w -X $MOD/internal/version.version=$HELM_VERSION -X $MOD/internal/version.gitTreeState=clean"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X $MOD/$pkg.k8sVersionMajor=1 -X $MOD/$pkg.k8sVersionMinor=$minor"
  done
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOTOOLCHAIN=local \
    go build -trimpath -ldflags "$ldflags" -o "$TOOLS/helm.tmp" ./cmd/helm) >&2
  mv "$TOOLS/helm.tmp" "$TOOLS/helm"
  echo "$MOD@$HELM_VERSION" > "$STAMP"
fi
echo "$TOOLS"
