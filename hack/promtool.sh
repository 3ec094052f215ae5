#!/usr/bin/env bash
# Builds promtool, Prometheus's rule checker, at a pinned version from the Go module proxy into a
# cache outside the repository, and prints the directory that holds it as its last line. `make
# check-alerts` runs it over the alert rules in specs/prometheus.
# `go install pkg@version` refuses modules whose go.mod carries replace directives (prometheus does),
# so the module is downloaded with `go mod download -json` and built inside its own directory.
# A second run with the same pin does nothing: the build takes minutes, so it is done once.
set -euo pipefail

PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
MOD=github.com/prometheus/prometheus
TOOLS=${VOLSYNC_PROMTOOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/tools-promtool-${PROMETHEUS_VERSION}}
STAMP="$TOOLS/.promtool.version"
mkdir -p "$TOOLS"

if ! { [ -x "$TOOLS/promtool" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$MOD@$PROMETHEUS_VERSION" ]; }; then
  echo "building promtool from $MOD@$PROMETHEUS_VERSION (once; this takes several minutes)" >&2
  dir=$(GOFLAGS= GOWORK=off go mod download -json "$MOD@$PROMETHEUS_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "promtool: could not download $MOD@$PROMETHEUS_VERSION from the Go module proxy" >&2
    exit 1
  fi
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOTOOLCHAIN=local \
    go build -trimpath -ldflags "-s -w" -o "$TOOLS/promtool.tmp" ./cmd/promtool) >&2
  mv "$TOOLS/promtool.tmp" "$TOOLS/promtool"
  echo "$MOD@$PROMETHEUS_VERSION" > "$STAMP"
fi
echo "$TOOLS"
