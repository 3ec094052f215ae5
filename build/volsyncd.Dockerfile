# The operator image, tagged with the build's version as the Makefile's VERSION (never latest):
#   v=$(git describe --tags --always --dirty)
#   docker build -f build/volsyncd.Dockerfile --build-arg VERSION=$v -t volsyncd:$v .
# volsyncd's default --mover-image is then volsync-mover:$v, the mover image of the same build.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
ARG VERSION=dev
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w -X github.com/volsync/volsync/pkg/version.Version=${VERSION}" -o /out/volsyncd ./cmd/volsyncd

# volsyncd embeds the time zone database, so the smallest base image will do.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/volsyncd /volsyncd
USER 65532:65532
ENTRYPOINT ["/volsyncd"]
