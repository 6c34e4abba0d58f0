#!/usr/bin/env bash
# Actor Store's one entry point. Steps:
#   ./build.sh wasm    rebuild host/actorstore.wasm reproducibly from wasm/ and core/
#   ./build.sh test    everything CI runs: vet, gofmt, module freshness, unit,
#                      conformance, model, race and fuzz-corpus tests
#   ./build.sh bench   engine benchmarks, with WASM/native ratios (medians of
#                      BENCHCOUNT=3 runs; BENCH=regexp, BENCHTIME=1s)
#   ./build.sh demo    a small Go program embedding the store
set -euo pipefail
cd "$(dirname "$0")"

WASM_OUT=host/actorstore.wasm
# Pinned flags: -trimpath and an empty build id make the module depend only
# on the sources and the Go version. gcstoptheworld=1 makes the guest's
# garbage collector finish each cycle inside the call that starts it: a
# reactor never runs background goroutines, so concurrent cycles would
# linger and the heap would only grow (see RATIONALE.md).
WASM_LDFLAGS="-s -w -buildid= -X=runtime.godebugDefault=gcstoptheworld=1"

log() { printf '\n== %s\n' "$*"; }

need_go() {
  command -v go >/dev/null || { echo "build.sh: Go 1.26+ is required (https://go.dev/dl)" >&2; exit 1; }
  go mod download
}

build_wasm() { # build_wasm OUT
  GOFLAGS= CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm \
    go build -trimpath -buildmode=c-shared -ldflags="$WASM_LDFLAGS" -o "$1" ./wasm
}

step_wasm() {
  need_go
  build_wasm "$WASM_OUT"
  echo "built $WASM_OUT ($(wc -c <"$WASM_OUT") bytes, $(go version | cut -d' ' -f3))"
}

# check_wasm_fresh fails when the committed module is not what the sources
# build to.
check_wasm_fresh() {
  local tmp; tmp=$(mktemp -d)
  build_wasm "$tmp/actorstore.wasm"
  if ! cmp -s "$tmp/actorstore.wasm" "$WASM_OUT"; then
    echo "build.sh: $WASM_OUT is stale: it differs from a fresh build of wasm/ and core/." >&2
    echo "          Run ./build.sh wasm and commit the result." >&2
    rm -rf "$tmp"; exit 1
  fi
  rm -rf "$tmp"
  echo "$WASM_OUT matches a fresh build"
}

step_test() {
  need_go
  log "gofmt, go vet"
  local unformatted; unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
  go vet ./...
  GOOS=wasip1 GOARCH=wasm go vet ./wasm
  log "committed module is fresh"
  check_wasm_fresh
  log "unit, conformance, model and fuzz-corpus tests"
  go test -count=1 ./...
  log "race: host and hammer tests"
  go test -count=1 -race ./host ./tests
}

step_bench() {
  need_go
  local out; out=$(mktemp)
  log "engine benchmarks (same operations on native and wasm, one run)"
  go test -run '^$' -bench "${BENCH:-.}" -benchtime="${BENCHTIME:-1s}" -count="${BENCHCOUNT:-3}" -benchmem ./host | tee "$out"
  log "ratios"
  go run ./internal/benchratio <"$out"
  rm -f "$out"
}

step_demo() {
  need_go
  go run ./cmd/demo
}

case "${1:-}" in
  wasm) step_wasm ;;
  test) step_test ;;
  bench) step_bench ;;
  demo) step_demo ;;
  *) echo "usage: $0 wasm|test|bench|demo" >&2; exit 2 ;;
esac
