#!/usr/bin/env bash
# Builds the control-plane binaries the tests run against (kube-apiserver, etcd, kubectl, and on request
# the node components) from the Go module proxy, because the usual envtest download site is out of reach.
# The binaries are cached outside the repository, so a second run does nothing. The last line printed
# is the directory that holds them (what KUBEBUILDER_ASSETS wants). The API server is built with the
# time zone database inside (timetzdata), because SchedulePolicy admission checks IANA zone names.
#
#   hack/envtest-assets.sh [component ...]     default: kube-apiserver kubectl etcd
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}
ASSETS=${VOLSYNC_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/volsync/k8s-${K8S_VERSION}}
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver kubectl etcd)

missing=()
for c in "${components[@]}"; do
  [ -x "$ASSETS/$c" ] || missing+=("$c")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$ASSETS"
  exit 0
fi

mkdir -p "$ASSETS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
patch=${K8S_VERSION##*.}
staging_version="v0.${minor}.${patch}"

build_kubernetes() {
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  {
    echo "module volsync.local/k8sbuild"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod" | head -1
    grep -E '^godebug' "$gomod" || true
    # godebug blocks span several lines
    awk '/^godebug \($/{p=1;next} p&&/^\)/{p=0} p{print "godebug " $0}' "$gomod"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    # Every staging module is a replace to ./staging/src/k8s.io/NAME upstream; point it at the
    # published module of the same release instead.
    grep -oE 'k8s.io/[a-z0-9-]+ => \./staging/src/k8s.io/[a-z0-9-]+' "$gomod" \
      | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } > "$mod/go.mod"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
  for c in "$@"; do
    echo "building $c ${K8S_VERSION}" >&2
    (cd "$mod" && go get "k8s.io/kubernetes/cmd/$c@${K8S_VERSION}" >/dev/null 2>&1 || true
     go build -trimpath -tags timetzdata -ldflags "$ld" -o "$ASSETS/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$ASSETS/$c.tmp" "$ASSETS/$c"
  done
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  echo "building etcd ${ETCD_VERSION}" >&2
  (cd "$mod" && go mod init volsync.local/etcdbuild >/dev/null 2>&1 &&
   go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null &&
   go build -trimpath -ldflags "-s -w" -o "$ASSETS/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$ASSETS/etcd.tmp" "$ASSETS/etcd"
}

k8s=()
for c in "${missing[@]}"; do
  case "$c" in
    etcd) build_etcd ;;
    *) k8s+=("$c") ;;
  esac
done
[ ${#k8s[@]} -eq 0 ] || build_kubernetes "${k8s[@]}"

echo "$ASSETS"
