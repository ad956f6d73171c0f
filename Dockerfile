# A small image for `serviceflow api`, `worker`, `migrate` and `users`. The embedded
# Temporal server, its Web UI and embedded PostgreSQL of `serviceflow dev` are left out
# (build tag nodevstack; cmd/serviceflow/compose_test.go checks that they are). A static
# binary on distroless, run as an unprivileged user.
FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -tags nodevstack -trimpath -ldflags="-s -w" -o /serviceflow ./cmd/serviceflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /serviceflow /serviceflow
EXPOSE 8080 9090
ENTRYPOINT ["/serviceflow"]
