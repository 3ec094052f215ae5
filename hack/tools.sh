#!/usr/bin/env bash
# Installs the Go build tools the Makefile uses at pinned versions into a cache outside the
# repository, and prints the directory that holds them.
set -euo pipefail
TOOLS=${VOLSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/tools}
mkdir -p "$TOOLS"
install() { # name module@version
  local name=$1 mod=$2 stamp="$TOOLS/.$1.version"
  if [ -x "$TOOLS/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then return; fi
  echo "installing $mod" >&2
  GOFLAGS= GOBIN="$TOOLS" go install "$mod" >&2
  echo "$mod" > "$stamp"
}
install controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen@v0.21.0
echo "$TOOLS"
