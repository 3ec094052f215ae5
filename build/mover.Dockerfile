# The mover image: one image for every mover (rsync, rsync-tls, rclone, restic Jobs, and the
# syncthing Deployment). They run
#   volsync-mover <rsync|rsync-tls|rclone|restic|syncthing> <source|destination>
# Build from the repository root:
#   v=$(git describe --tags --always --dirty)
#   docker build -f build/mover.Dockerfile -t volsync-mover:$v .
# tagged with the build's version (never latest), as volsyncd's default --mover-image expects.
# Without a container engine, integration-test/cluster/images.sh builds the same image from a
# Debian rootfs (debootstrap) for the single-node cluster.

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
ARG RESTIC_VERSION=v0.18.1
ARG RCLONE_VERSION=v1.71.2
ARG SYNCTHING_VERSION=v1.30.0
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/volsync-mover ./cmd/volsync-mover
# restic's go.mod has replace directives, so `go install` refuses it: build inside the module.
# syncthing is built without its web GUI's assets (tag noassets): only its REST API is used.
RUN set -eux; for tool in "restic github.com/restic/restic ${RESTIC_VERSION} ./cmd/restic" \
                          "rclone github.com/rclone/rclone ${RCLONE_VERSION} ." \
                          "syncthing github.com/syncthing/syncthing ${SYNCTHING_VERSION} ./cmd/syncthing noassets"; do \
      set -- $tool; \
      dir=$(go mod download -json "$2@$3" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'); \
      (cd "$dir" && go build -trimpath -tags "${5:-}" -ldflags "-s -w" -o "/out/$1" "$4"); \
    done

FROM debian:bookworm-slim
# rsync and ssh for the rsync mover, stunnel for rsync-tls, nss-wrapper so an unprivileged sshd
# accepts its own random user id, acl for ACL-preserving copies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends rsync openssh-client openssh-server stunnel4 \
      libnss-wrapper acl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p -m 0755 /run/sshd
# /run/sshd: sshd running as root (privileged movers) needs its privilege separation directory, and
# the root file system is read-only at run time.
COPY --from=build /out/ /usr/local/bin/
# Movers run as non-root with no capabilities unless the namespace allows privileged movers.
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/volsync-mover"]
