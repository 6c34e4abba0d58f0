#!/usr/bin/env bash
# Actor Store's one entry point. Steps:
#   ./build.sh demo    the web demo on http://localhost:8080: a live task board,
#                      every window a replica of one actorstore serve node
#                      (data in ./demo-data)
#   ./build.sh test    everything CI runs: Go (vet, gofmt, staticcheck,
#                      govulncheck, module freshness, unit, conformance,
#                      model, race, fuzz corpora, crash and damage tests),
#                      the JS host in Node (conformance, API, types,
#                      IndexedDB) and in Chromium, and the packages as
#                      users install them (tests/pack/): the npm tarball of
#                      js/ installed in a fresh project, run in Node and, via
#                      a Vite build, the Vite dev server and an import map, in
#                      Chromium; a Go module outside the repo using host.Open
#   ./build.sh bench   Go engine benchmarks with WASM/native ratios, batches
#                      against single calls, the longest write, memory per
#                      actor, restore and Open times, and durable inserts per
#                      sync policy (medians of BENCHCOUNT=3 runs;
#                      BENCH=regexp, BENCHTIME=1s), the longest write, memory,
#                      restore and persistence at 1M actors (BENCH1M=0
#                      skips), the Node benchmark against
#                      Map+structuredClone and sql.js, and IndexedDB write
#                      throughput in Chromium, replicas in Chromium (sync,
#                      catch-up, write round trips), WebSocket fan-out to
#                      100 watchers
#   ./build.sh wasm    rebuild host/actorstore.wasm reproducibly from wasm/ and core/,
#                      and its copy in the npm package, js/actorstore.wasm
#   ./build.sh go-demo a small Go program embedding the store
#   ./build.sh serve   a server on a durable store in ./actorstore-data, on
#                      http://127.0.0.1:7070 (flags pass on: ./build.sh serve
#                      --dir /tmp/s --http :7071 --token T)
#   ./build.sh cluster three local nodes of one Raft cluster (HTTP/Raft on
#                      127.0.0.1:7070/7071, 7080/7081, 7090/7091; another
#                      base with CLUSTER_BASE_PORT=N), data in ./cluster-data
#                      (CLUSTER_DIR=...), kept across runs; flags pass on to
#                      every node (--engine native, --token T); Ctrl-C stops
#                      them
# They install what they need: Go modules, npm packages (js/, and for
# tests/pack/ a temporary project's), and Debian's chromium for the browser
# tests.
set -euo pipefail
cd "$(dirname "$0")"

WASM_OUT=host/actorstore.wasm
# The npm package's copy: a real file (npm pack leaves symbolic links out),
# written with WASM_OUT and checked with it. Git stores the two as one blob.
WASM_JS=js/actorstore.wasm
# Pinned flags: -trimpath and an empty build id make the module depend only
# on the sources and the Go version. gcstoptheworld=1 makes the guest's
# garbage collector finish each cycle inside the call that starts it: a
# reactor never runs background goroutines, so concurrent cycles would
# linger and the heap would only grow (see RATIONALE.md). -checklinkname=0
# lets wasm/main.go reach the runtime's break (bloc, blocMax) to grow
# memory in large steps.
WASM_LDFLAGS="-s -w -buildid= -checklinkname=0 -X=runtime.godebugDefault=gcstoptheworld=1"

log() { printf '\n== %s\n' "$*"; }

need_go() {
  command -v go >/dev/null || { echo "build.sh: Go 1.26+ is required (https://go.dev/dl)" >&2; exit 1; }
  go mod download
}

need_node() {
  command -v node >/dev/null || { echo "build.sh: Node.js 20+ and npm are required" >&2; exit 1; }
  # npm ci when js/node_modules is missing or older than the lock file.
  local stamp=js/node_modules/.actorstore-lock
  if ! cmp -s js/package-lock.json "$stamp" 2>/dev/null; then
    log "npm ci (js/)"
    (cd js && npm ci --no-audit --no-fund)
    cp js/package-lock.json "$stamp"
  fi
}

# need_chromium installs Debian's chromium for the browser tests. It never
# skips: without a browser the test run fails.
need_chromium() {
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || {
    echo "build.sh: chromium is required for the browser tests: apt-get install chromium (or set CHROMIUM=/path)" >&2
    exit 1
  }
}

build_wasm() { # build_wasm OUT
  GOFLAGS= CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm \
    go build -trimpath -buildmode=c-shared -ldflags="$WASM_LDFLAGS" -o "$1" ./wasm
}

step_wasm() {
  need_go
  build_wasm "$WASM_OUT"
  cp "$WASM_OUT" "$WASM_JS"
  echo "built $WASM_OUT and $WASM_JS ($(wc -c <"$WASM_OUT") bytes, $(go version | cut -d' ' -f3))"
}

# check_wasm_fresh fails when a committed module (the Go host's or the npm
# package's) is not what the sources build to.
check_wasm_fresh() {
  local tmp f; tmp=$(mktemp -d)
  build_wasm "$tmp/actorstore.wasm"
  for f in "$WASM_OUT" "$WASM_JS"; do
    if [ -L "$f" ] || ! cmp -s "$tmp/actorstore.wasm" "$f"; then
      echo "build.sh: $f is stale: it differs from a fresh build of wasm/ and core/ (or is a link)." >&2
      echo "          Run ./build.sh wasm and commit the result." >&2
      rm -rf "$tmp"; exit 1
    fi
  done
  rm -rf "$tmp"
  echo "$WASM_OUT and $WASM_JS match a fresh build"
}

# VULNDB_VERSION pins the Go vulnerability database govulncheck checks
# against: the golang.org/x/vulndb module, whose data/osv holds every
# report, fetched and checksum-verified through the Go module proxy
# (govulncheck's online database is not reachable from every machine that
# runs this). The check prints the database's date; VULNDB_VERSION=latest
# checks against the newest. See RATIONALE.md.
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}

# lint_go runs staticcheck and govulncheck, pinned in tools/go.mod (not the
# main module's go.mod). Known vulnerabilities the code reaches fail the
# run when they are in a required module; those of the Go standard library
# are listed with the release that fixes them, and fail it only with
# VULNCHECK_STDLIB=fail (the toolchain is the machine's, not pinned here).
lint_go() {
  local bin; bin=$(mktemp -d)
  go build -modfile=tools/go.mod -o "$bin/" honnef.co/go/tools/cmd/staticcheck golang.org/x/vuln/cmd/govulncheck
  (cd tools && go vet ./... && go test -count=1 ./... && go build -o "$bin/" ./vulncheck)
  "$bin/staticcheck" $(go list ./... | grep -v '/wasm$')
  (cd tools && "$bin/staticcheck" ./...)
  # The module, for its own target. Its unused check (U1000) is off there:
  # staticcheck does not know //go:wasmexport, so it would call every
  # export, and all they reach, unused.
  GOOS=wasip1 GOARCH=wasm "$bin/staticcheck" -checks inherit,-U1000 ./wasm

  local dl db ver
  dl=$(cd "$bin" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION") || {
    echo "build.sh: cannot fetch the vulnerability database golang.org/x/vulndb@$VULNDB_VERSION through the Go module proxy" >&2
    exit 1
  }
  db=$(printf '%s\n' "$dl" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  ver=$(printf '%s\n' "$dl" | sed -n 's/^\t"Version": "\(.*\)",$/\1/p')
  [ -d "$db/data/osv" ] || { echo "build.sh: golang.org/x/vulndb@$ver has no data/osv" >&2; exit 1; }
  echo "govulncheck ./..."
  "$bin/govulncheck" -db "file://$db/data/osv" -format json ./... |
    "$bin/vulncheck" -db "golang.org/x/vulndb@$ver" -stdlib "${VULNCHECK_STDLIB:-warn}"
  echo "govulncheck ./wasm (GOOS=wasip1 GOARCH=wasm)"
  GOOS=wasip1 GOARCH=wasm "$bin/govulncheck" -db "file://$db/data/osv" -format json ./wasm |
    "$bin/vulncheck" -db "golang.org/x/vulndb@$ver" -stdlib "${VULNCHECK_STDLIB:-warn}"
  rm -rf "$bin"
}

# check_js_abi_fresh fails when js/lib/abi.js, the JS host's ABI constants,
# is not what go generate ./internal/abi writes from the Go constants.
check_js_abi_fresh() {
  local tmp; tmp=$(mktemp -d)
  go run ./internal/abi/gen -o "$tmp/abi.js"
  if ! cmp -s "$tmp/abi.js" js/lib/abi.js; then
    echo "build.sh: js/lib/abi.js is stale: it differs from what internal/abi/gen writes." >&2
    echo "          Run go generate ./internal/abi and commit the result." >&2
    rm -rf "$tmp"; exit 1
  fi
  rm -rf "$tmp"
  echo "js/lib/abi.js matches the Go constants"
}

# check_module_deps fails when the module links a package RATIONALE.md
# ("A small module") keeps out of it: reflect, fmt or os.
check_module_deps() {
  local deps bad=""
  deps=$(GOFLAGS= CGO_ENABLED=0 GOOS=wasip1 GOARCH=wasm go list -deps ./wasm)
  for p in reflect fmt os; do
    if grep -qx "$p" <<<"$deps"; then bad="$bad $p"; fi
  done
  if [ -n "$bad" ]; then
    echo "build.sh: the module (./wasm) links$bad; see RATIONALE.md (\"A small module\")." >&2
    echo "          What imports them: GOOS=wasip1 GOARCH=wasm go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./wasm" >&2
    exit 1
  fi
  echo "the module links neither reflect, fmt nor os"
}

step_test() {
  need_go
  log "gofmt, go vet"
  local unformatted; unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
  go vet ./...
  GOOS=wasip1 GOARCH=wasm go vet ./wasm
  log "staticcheck, govulncheck"
  lint_go
  log "committed module is fresh"
  check_wasm_fresh
  check_js_abi_fresh
  check_module_deps
  log "unit, conformance, model and fuzz-corpus tests"
  go test -count=1 ./...
  log "race: host, write-ahead log, hammer and crash tests, server, client, cluster"
  go test -count=1 -race ./host ./internal/wal ./tests ./server ./internal/cborjson ./client ./cmd/actorstore ./cluster

  need_node
  log "JS lint: Biome's recommended rules over js/ and web-demo/ (js/biome.jsonc)"
  (cd js && node_modules/.bin/biome lint . ../web-demo)
  log "JS host: TypeScript declarations (tsc --strict on a typed usage)"
  js/node_modules/.bin/tsc -p js/typecheck/tsconfig.json
  log "JS host in Node: conformance vectors, API tests"
  node --test --test-reporter=spec js/test/
  log "JS benchmark smoke run (correctness of every store; figures not checked)"
  node js/bench/bench.mjs --quick >/dev/null
  need_chromium
  log "JS host in Chromium: conformance vectors in a page, the web demo end to end"
  node --test --test-reporter=spec web-demo/e2e/
  log "packed npm tarball: Node, Vite + Chromium; Go module outside the repo"
  node --test --test-reporter=spec tests/pack/
}

step_bench() {
  need_go
  local out; out=$(mktemp)
  log "engine benchmarks (same operations on native and wasm, one run), durable inserts per sync policy"
  ACTORSTORE_BENCH_1M= go test -run '^$' -bench "${BENCH:-.}" -benchtime="${BENCHTIME:-1s}" -count="${BENCHCOUNT:-3}" \
    -benchmem -timeout 60m ./host | tee "$out"
  if [ "${BENCH1M:-1}" != 0 ]; then
    log "1M actors: longest write over 2M random updates, memory, restore (both engines); persistence: checkpoint stall, recovery time and peak memory (~5 min; BENCH1M=0 skips)"
    ACTORSTORE_BENCH_1M=1 go test -run '^$' -bench '^Benchmark(LongestWrite|Memory|Restore|Persist1M)$' -benchtime=1x -count=1 -timeout 30m ./host | tee -a "$out"
  fi
  log "ratios, speed and persistence"
  go run ./internal/benchratio <"$out"
  rm -f "$out"
  need_node
  log "Node benchmark: Actor Store against Map+structuredClone and sql.js"
  node js/bench/bench.mjs
  need_chromium
  log "IndexedDB write throughput in Chromium (beside in-memory inserts, same page)"
  ACTORSTORE_E2E_ONLY=throughput node --test web-demo/e2e/e2e.test.mjs 2>&1 | grep -E '^# chromium indexeddb|^# (pass|fail) '
  log "replicas in Chromium: initial sync of 100k actors, catch-up rate (batched watch beside a bare one), write round trips and their parts"
  ACTORSTORE_E2E_ONLY=measurements node --test web-demo/e2e/replica.test.mjs 2>&1 | grep -E '^# chromium|^# (pass|fail) '
  log "WebSocket fan-out: writes to 100 watchers (as fast as they go; 10,000 events/s for 3 s: delivered, lost, p99)"
  go test -run '^$' -bench '^BenchmarkWatchFanout$' -benchtime=2000x -count=1 -timeout 20m ./server
  go test -run '^$' -bench '^BenchmarkWatchRate$' -benchtime=1x -count=1 -timeout 20m ./server
}

# step_demo runs the board's server (one actorstore serve node on a
# durable store in ./demo-data, started by web-demo) and the page: every
# browser window is a replica of that node.
step_demo() {
  need_go
  need_node
  local bin; bin=$(mktemp -d)
  trap 'rm -rf "$bin"' EXIT
  go build -o "$bin/actorstore" ./cmd/actorstore
  go build -o "$bin/web-demo" ./web-demo
  "$bin/web-demo" -actorstore "$bin/actorstore" -data ./demo-data "$@"
}

step_go_demo() {
  need_go
  go run ./cmd/demo
}

step_serve() {
  need_go
  go run ./cmd/actorstore serve "$@"
}

# port_busy reports whether something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

step_cluster() {
  need_go
  local base=${CLUSTER_BASE_PORT:-7070} dir=${CLUSTER_DIR:-./cluster-data} tmp i p
  for i in 0 1 2; do
    for p in $((base + 10 * i)) $((base + 10 * i + 1)); do
      if port_busy "$p"; then
        echo "build.sh: port $p is in use; pick other ports with CLUSTER_BASE_PORT=N (N, N+1, N+10, N+11, N+20, N+21)" >&2
        exit 1
      fi
    done
  done
  tmp=$(mktemp -d)
  log "building actorstore"
  go build -o "$tmp/actorstore" ./cmd/actorstore
  local pids=()
  stop_cluster() {
    trap - INT TERM EXIT
    echo; log "stopping the nodes (SIGTERM: a leader hands over first)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$tmp"
  }
  trap stop_cluster INT TERM EXIT
  for i in 0 1 2; do
    local name=node$((i + 1)) join=()
    [ "$i" -gt 0 ] && join=(--join "http://127.0.0.1:$base")
    mkdir -p "$dir/$name"
    "$tmp/actorstore" serve --dir "$dir/$name" --node-id "$name" --http "127.0.0.1:$((base + 10 * i))" \
      --raft "127.0.0.1:$((base + 10 * i + 1))" "${join[@]}" "$@" 2> >(sed -u "s/^/[$name] /" >&2) &
    pids+=($!)
  done
  local token=${ACTORSTORE_TOKEN:-} prev=""
  for p in "$@"; do
    case "$p" in --token=*) token=${p#--token=} ;; esac
    [ "$prev" = --token ] && token=$p
    prev=$p
  done
  for i in 0 1 2; do
    local u="http://127.0.0.1:$((base + 10 * i))" tries=0
    until ACTORSTORE_TOKEN=$token "$tmp/actorstore" status --server "$u" >/dev/null 2>&1; do
      tries=$((tries + 1))
      [ "$tries" -lt 300 ] || { echo "build.sh: node$((i + 1)) did not start" >&2; exit 1; }
      sleep 0.1
    done
  done
  log "a three-node cluster (data in $dir):"
  for i in 0 1 2; do
    echo "  node$((i + 1))  http://127.0.0.1:$((base + 10 * i))  raft 127.0.0.1:$((base + 10 * i + 1))  pid ${pids[i]}"
  done
  echo "  try: go run ./cmd/actorstore members --server http://127.0.0.1:$base"
  echo "  Ctrl-C stops them"
  wait "${pids[@]}"
}

case "${1:-}" in
  wasm) step_wasm ;;
  test) step_test ;;
  bench) step_bench ;;
  demo) shift; step_demo "$@" ;;
  go-demo) step_go_demo ;;
  serve) shift; step_serve "$@" ;;
  cluster) shift; step_cluster "$@" ;;
  *) echo "usage: $0 demo|test|bench|wasm|go-demo|serve|cluster" >&2; exit 2 ;;
esac
