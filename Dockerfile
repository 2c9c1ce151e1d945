# syntax=docker/dockerfile:1
# One image for every service: `rafiki backend|auth|worker|adminui|migrate|streams apply`.
#
# tigerbeetle-go links a C library, so the binary is built with cgo on a glibc
# no newer than the runtime image's.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/base-debian12:nonroot

FROM ${GO_IMAGE} AS build
ARG CGO_ENABLED=1
# The golang image pins GOTOOLCHAIN=local; auto fetches go.mod's Go if the base is older.
ENV GOTOOLCHAIN=auto
WORKDIR /src
# Modules first, so code edits reuse the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=${CGO_ENABLED} go build -trimpath -ldflags="-s -w" -o /out/rafiki ./cmd/rafiki

# The final image has no shell, curl or wget, so compose healthchecks call this.
COPY <<'EOF' /healthcheck/main.go
// healthcheck exits 0 when every URL given answers 200.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{}}
	for _, url := range os.Args[1:] {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "%s: %s\n", url, resp.Status)
			os.Exit(1)
		}
	}
}
EOF
RUN --mount=type=cache,target=/root/.cache/go-build \
    cd /healthcheck && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/healthcheck main.go

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/rafiki /out/healthcheck /usr/local/bin/
USER nonroot:nonroot
EXPOSE 3000 3001 3002 3003 3006 3007 3009 3010 3011
ENTRYPOINT ["rafiki"]
CMD ["help"]
