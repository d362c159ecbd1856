# syntax=docker/dockerfile:1
# The laurel image: one static binary; each service is a subcommand (`laurel rules`, ...).
#   docker build -t ghcr.io/laurel-badges/laurel:dev \
#     --build-arg VERSION=dev --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
# The binary is built exactly as `make build` builds it: from the Go workspace at the
# repository root, CGO_ENABLED=0, -trimpath.

ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Use the image's Go; go.work and the go.mod files pin the language version.
ENV GOTOOLCHAIN=local
# Module definitions first, so the download layer is reused until a dependency changes.
# Keep this list and the source COPY lines below in step with go.work's `use` lines.
COPY go.work go.work.sum ./
COPY proto/go.mod proto/go.sum proto/
COPY openbadges/go.mod openbadges/go.sum openbadges/
COPY platform/go.mod platform/go.sum platform/
COPY services/issuer/go.mod services/issuer/go.sum services/issuer/
COPY services/rules/go.mod services/rules/go.sum services/rules/
COPY services/notifier/go.mod services/notifier/go.sum services/notifier/
COPY services/verifier/go.mod services/verifier/go.sum services/verifier/
COPY cmd/laurel/go.mod cmd/laurel/go.sum cmd/laurel/
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
# Then the sources of the modules the binary is built from (.dockerignore trims the rest).
COPY proto/ proto/
COPY openbadges/ openbadges/
COPY platform/ platform/
COPY services/ services/
COPY cmd/ cmd/
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -o /out/laurel ./cmd/laurel

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="laurel" \
      org.opencontainers.image.description="Event-driven Open Badges: issuer, rules, notifier and verifier services in one binary" \
      org.opencontainers.image.url="https://github.com/laurel-badges/laurel" \
      org.opencontainers.image.source="https://github.com/laurel-badges/laurel" \
      org.opencontainers.image.documentation="https://github.com/laurel-badges/laurel/blob/main/docs/operations.md" \
      org.opencontainers.image.vendor="Laurel" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/laurel /usr/local/bin/laurel
# distroless "nonroot": uid/gid 65532, no shell. The Helm chart runs it with a read-only
# root filesystem.
USER 65532:65532
EXPOSE 7070 7080 7090
ENTRYPOINT ["/usr/local/bin/laurel"]
CMD ["--help"]
