# The operator image.
#   docker build -f build/volsyncd.Dockerfile -t volsyncd:latest .
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/volsyncd ./cmd/volsyncd

# volsyncd embeds the time zone database, so the smallest base image will do.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/volsyncd /volsyncd
USER 65532:65532
ENTRYPOINT ["/volsyncd"]
