#!/usr/bin/env bash
# The CI gate. Every step must pass; run it locally before pushing:
#   bash scripts/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=mod"

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

step "go mod tidy leaves the tree unchanged"
cp go.mod /tmp/outpost-go.mod.$$; cp go.sum /tmp/outpost-go.sum.$$
go mod tidy
if ! cmp -s go.mod /tmp/outpost-go.mod.$$ || ! cmp -s go.sum /tmp/outpost-go.sum.$$; then
  diff -u /tmp/outpost-go.mod.$$ go.mod || true
  cp /tmp/outpost-go.mod.$$ go.mod; cp /tmp/outpost-go.sum.$$ go.sum
  echo "go mod tidy changed go.mod/go.sum"; exit 1
fi
rm -f /tmp/outpost-go.mod.$$ /tmp/outpost-go.sum.$$

step "go vet"
go vet ./...

step "cross-builds of the gateway (CGO_ENABLED=0): linux/arm64, linux/arm GOARM=7"
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o /dev/null ./gateway/cmd/outpost-gateway
CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -o /dev/null ./gateway/cmd/outpost-gateway
if [ -d firmware-bridge/cmd/outpost-bridge ]; then
  CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -o /dev/null ./firmware-bridge/cmd/outpost-bridge
fi

step "32-bit pass: GOARCH=386 go test -short ./shared/... ./gateway/..."
GOARCH=386 CGO_ENABLED=0 go test -short -count=1 ./shared/... ./gateway/...

step "tests (the README's test command): go test -race ./..."
go test -race -count=1 -timeout 30m ./...
