#!/usr/bin/env bash
# Builds the cluster's container images without a registry or a container engine, as OCI image
# layouts packed with umoci, each saved as a tar that `ctr images import` takes:
#   pause     the pod sandbox image: one static binary (integration-test/cluster/pause)
#   mover     volsync-mover:<tag>, a Debian rootfs (debootstrap --variant=minbase) with rsync,
#             openssh, stunnel, our volsync-mover binary and the pinned restic, rclone and syncthing
#             builds
#   volsyncd  volsyncd:<tag>, the operator's static binary alone, stamped with the version <tag>, so
#             that its default --mover-image is the mover image of the same build
# <tag> is the build's version (image_tag in lib.sh: git describe, as the Makefile's VERSION),
# never "latest"; the tag of each image built is kept in NAME.tag beside it.
# mover and volsyncd match build/mover.Dockerfile and build/volsyncd.Dockerfile (contents, user,
# entrypoint), for machines without a container engine.
#   local-path  the rancher local-path-provisioner (pinned, from the Go module proxy): the cluster's
#             default StorageClass (see storage.sh)
# Each tar is rebuilt only when its inputs change (a hash of them is kept beside it).
#
#   images.sh [pause] [mover] [volsyncd] [local-path]     default: all; prints the images directory last
set -euo pipefail
# shellcheck source=integration-test/cluster/lib.sh
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

IMAGES=$CLUSTER_CACHE/images
mkdir -p "$IMAGES"
# One tag for every image of this run, even if a commit lands meanwhile.
TAG=$(image_tag)
work=$(mktemp -d "${TMPDIR:-/tmp}/volsync-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

command -v umoci >/dev/null || die "umoci is missing (Debian package umoci)"

# pack NAME TAG ROOTFS_DIR CONFIG_ARGS...: an OCI layout whose one layer is ROOTFS_DIR, tagged TAG
# and saved as $IMAGES/NAME.tar. ctr names the image BASE:TAG from the tag (see up.sh).
pack() {
  local name=$1 tag=$2 rootfs=$3
  shift 3
  local layout=$work/$name-layout
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  "${LOW[@]}" umoci insert --image "$layout:$tag" "$rootfs" /
  umoci config --image "$layout:$tag" --config.workingdir / \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
  umoci gc --layout "$layout"
  tar -C "$layout" -cf "$IMAGES/$name.tar.tmp" .
  mv "$IMAGES/$name.tar.tmp" "$IMAGES/$name.tar"
}

# fresh NAME HASH: true when $IMAGES/NAME.tar was built from inputs hashing to HASH.
fresh() {
  [ -f "$IMAGES/$1.tar" ] && [ "$(cat "$IMAGES/$1.hash" 2>/dev/null)" = "$2" ]
}

# go_static OUT PKG: a static build of one of our packages, stamped with the version $TAG (as the
# Makefile's LDFLAGS do).
go_static() {
  local commit
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || true)
  (cd "$repo" && CGO_ENABLED=0 GOMAXPROCS=2 "${LOW[@]}" go build -trimpath \
    -ldflags "-s -w -X github.com/volsync/volsync/pkg/version.Version=$TAG -X github.com/volsync/volsync/pkg/version.GitCommit=$commit" \
    -o "$1" "$2")
}

build_pause() {
  local hash
  hash=$(cat "$repo"/integration-test/cluster/pause/*.go "$0" | sha256sum | cut -c1-16)
  fresh pause "$hash" && return 0
  say "building the pause image"
  mkdir -p "$work/pause-root"
  go_static "$work/pause-root/pause" ./integration-test/cluster/pause
  pack pause v1 "$work/pause-root" --config.user 65535:65535 --config.entrypoint /pause
  echo "$hash" > "$IMAGES/pause.hash"
}

# debian_mirror prints the Debian archive URI apt uses here, so debootstrap reads the same mirror.
debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$uri" ] || die "no Debian archive found in apt's sources"
  echo "$uri"
}

# The same packages as build/mover.Dockerfile: rsync and ssh for the rsync mover, stunnel for
# rsync-tls, nss-wrapper so an unprivileged sshd accepts its own random user id, acl for ACLs.
MOVER_PACKAGES=rsync,openssh-server,openssh-client,stunnel4,libnss-wrapper,acl,ca-certificates

# debian_rootfs prints a tar of a minimal Debian rootfs with the mover's packages, built once.
debian_rootfs() {
  local suite tarball
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  tarball=$IMAGES/debian-$suite-minbase-$(echo "$MOVER_PACKAGES" | sha256sum | cut -c1-12).tar
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (Debian package debootstrap)"
    say "debootstrap $suite (minbase + $MOVER_PACKAGES); once, a few minutes"
    "${LOW[@]}" debootstrap --variant=minbase --include="$MOVER_PACKAGES" "$suite" "$work/debian" "$(debian_mirror)" \
      > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    # Device nodes come from the runtime; caches and logs only make the layer bigger.
    rm -rf "$work"/debian/dev/* "$work"/debian/var/cache/apt/archives/*.deb "$work"/debian/var/lib/apt/lists/* \
      "$work"/debian/var/log/* "$work"/debian/usr/share/doc/* "$work"/debian/usr/share/man/* \
      "$work"/debian/etc/ssh/ssh_host_*
    "${LOW[@]}" tar -C "$work/debian" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work/debian"
    # Rootfs tars of earlier package lists are not used any more.
    find "$IMAGES" -maxdepth 1 -name 'debian-*-minbase-*.tar' ! -path "$tarball" -delete
  fi
  echo "$tarball"
}

build_mover() {
  local rootfs tools="" hash
  rootfs=$(debian_rootfs)
  mkdir -p "$work/mover-bin"
  if [ -d "$repo/cmd/volsync-mover" ]; then
    go_static "$work/mover-bin/volsync-mover" ./cmd/volsync-mover
  fi
  if [ -f "$repo/hack/mover-tools.sh" ]; then
    tools=$(GOMAXPROCS=2 "${LOW[@]}" bash "$repo/hack/mover-tools.sh" | tail -1)
    cp "$tools/restic" "$tools/rclone" "$tools/syncthing" "$work/mover-bin/"
  fi
  # Of the contents alone: the work directory is new on every run, and the checkout may be another.
  hash=$( (echo "$rootfs $TAG"; sha256sum < "$0"; cd "$work/mover-bin" && sha256sum -- *) | sha256sum | cut -c1-16)
  if fresh mover "$hash"; then echo "$TAG" > "$IMAGES/mover.tag"; return 0; fi
  say "packing the mover image"
  mkdir -p "$work/mover-root"
  tar -C "$work/mover-root" --numeric-owner -xf "$rootfs"
  install -m 0755 "$work"/mover-bin/* "$work/mover-root/usr/local/bin/"
  # sshd running as root (privileged movers) needs its privilege separation directory, and the
  # root file system is read-only at run time.
  install -d -m 0755 "$work/mover-root/run/sshd"
  # Movers run as non-root unless the namespace allows privileged movers.
  pack mover "$TAG" "$work/mover-root" --config.user 65534:65534 \
    --config.entrypoint /usr/local/bin/volsync-mover
  echo "$TAG" > "$IMAGES/mover.tag"
  echo "$hash" > "$IMAGES/mover.hash"
}

build_volsyncd() {
  local hash
  mkdir -p "$work/volsyncd-root/tmp"
  chmod 1777 "$work/volsyncd-root/tmp"
  go_static "$work/volsyncd-root/volsyncd" ./cmd/volsyncd
  hash=$( (echo "$TAG"; sha256sum < "$work/volsyncd-root/volsyncd"; sha256sum < "$0") | sha256sum | cut -c1-16)
  if fresh volsyncd "$hash"; then echo "$TAG" > "$IMAGES/volsyncd.tag"; return 0; fi
  say "packing the volsyncd image"
  pack volsyncd "$TAG" "$work/volsyncd-root" --config.user 65532:65532 --config.entrypoint /volsyncd
  echo "$TAG" > "$IMAGES/volsyncd.tag"
  echo "$hash" > "$IMAGES/volsyncd.hash"
}

build_local_path() {
  local dir hash
  dir=$(GOFLAGS='' GOWORK=off go mod download -json "$LOCAL_PATH_MODULE@$LOCAL_PATH_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    die "could not download $LOCAL_PATH_MODULE@$LOCAL_PATH_VERSION from the Go module proxy"
  fi
  hash=$( (echo "$LOCAL_PATH_MODULE@$LOCAL_PATH_VERSION"; cat "$0") | sha256sum | cut -c1-16)
  fresh local-path "$hash" && return 0
  say "building local-path-provisioner $LOCAL_PATH_VERSION"
  mkdir -p "$work/local-path-root/usr/local/bin" "$work/local-path-root/tmp"
  chmod 1777 "$work/local-path-root/tmp"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOTOOLCHAIN=local GOMAXPROCS=2 "${LOW[@]}" \
    go build -trimpath -ldflags "-s -w" -o "$work/local-path-root/usr/local/bin/local-path-provisioner" .)
  pack local-path "$LOCAL_PATH_VERSION" "$work/local-path-root" --config.user 0:0
  echo "$hash" > "$IMAGES/local-path.hash"
}

which_images=("$@")
[ ${#which_images[@]} -gt 0 ] || which_images=(pause mover volsyncd local-path)
for i in "${which_images[@]}"; do
  case "$i" in
    pause) build_pause ;;
    mover) build_mover ;;
    volsyncd) build_volsyncd ;;
    local-path) build_local_path ;;
    *) die "unknown image $i (pause, mover, volsyncd, local-path)" ;;
  esac
done
echo "$IMAGES"
