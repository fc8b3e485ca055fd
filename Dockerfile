# syntax=docker/dockerfile:1
# The kratix image: one static binary that serves both as the controller manager
# (`kratix manager`, config/manager) and as the adapter containers of pipeline Jobs
# (`kratix pipeline-adapter reader|work-writer|status-writer`). The manager passes its own image
# to pipeline Jobs (--pipeline-adapter-image, set by config/default), and pipeline Jobs call the
# binary by name, so it lives on the image's PATH.
#
#   docker build -t ghcr.io/kratix-dev/kratix:dev .
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
# Go's classic garbage collector, as `make build` (the Makefile says why).
ARG MANAGER_GOEXPERIMENT=nogreenteagc
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} GOEXPERIMENT=${MANAGER_GOEXPERIMENT} \
    go build -trimpath -ldflags "-s -w" -o /kratix ./cmd/kratix

# distroless static: CA certificates, /tmp, no shell, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /kratix /usr/local/bin/kratix
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kratix"]
