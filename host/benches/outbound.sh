#!/usr/bin/env bash
# Outbound HTTP as a deployed guest does it: one process making N sequential GETs to a
# server in another process (the native hyper hello, host/examples/native_hello.rs), as
# a guest calls daprd. Sides, alternating in rounds: native reqwest
# (host/examples/native_get.rs, the baseline), `wasi-dapr run` with the `bench_get`
# module (`wasi_experimental_http`), with the `http_fetch_p2` component (WASI 0.2
# `wasi:http`) and with `http_fetch_p3` (WASI 0.3), and `wasmtime run -S http` with the
# same two components (the peers). Start-up and compilation cancel out: a side's cost per
# request is (time for N requests - time for 1 request) / (N - 1), wall clock.
#
#   bash host/benches/outbound.sh
#
# Env: ROUNDS (default 3), REQUESTS (default 10000), WASI_DAPR (default
# target/dist/wasi-dapr, built with the `dist` profile like the image).
# Prints the medians in µs per request and the ratios to native.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
rounds=${ROUNDS:-3}
n=${REQUESTS:-10000}

source "$root/host/benches/wasmtime-cli.sh"

cargo build -q --profile dist -p wasi-dapr --bin wasi-dapr --example native_hello --example native_get
cargo guests -q
cargo guests-p2 -q
wasi_dapr=${WASI_DAPR:-target/dist/wasi-dapr}
module=target/guests/wasm32-wasip1/release/bench_get.wasm
p2=target/guests/wasm32-wasip2/release/http_fetch_p2.wasm
p3=target/guests/wasm32-wasip2/release/http_fetch_p3.wasm

tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/dist/examples/native_hello "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$port/hello" >/dev/null 2>&1 && break
  sleep 0.05
done
url="http://127.0.0.1:$port/hello"
printf 'allowed_hosts = ["http://127.0.0.1:%s"]\n' "$port" >"$tmp/allowlist.toml"
cache="$tmp/cache"

side() { # name, count -> runs the side once with `count` requests
  local c=$2
  case $1 in
    native) target/dist/examples/native_get "$url" "$c" ;;
    module) RUST_LOG=warn "$wasi_dapr" run --cache-dir "$cache" --allowlist "$tmp/allowlist.toml" "$module" -- "$url" "$c" ;;
    p2) RUST_LOG=warn "$wasi_dapr" run --cache-dir "$cache" --allowlist "$tmp/allowlist.toml" "$p2" -- "$url" --repeat "$c" ;;
    p3) RUST_LOG=warn "$wasi_dapr" run --cache-dir "$cache" --allowlist "$tmp/allowlist.toml" "$p3" -- "$url" --repeat "$c" ;;
    wasmtime) "$wasmtime_bin" run -S http "$p2" "$url" --repeat "$c" ;;
    wasmtime-p3) "$wasmtime_bin" run -W component-model-async=y -S p3,http "$p3" "$url" --repeat "$c" ;;
  esac
}
now() { date +%s%N; }
timed() { # name, count -> nanoseconds
  local t0 t1
  t0=$(now)
  side "$1" "$2" | grep -q "requests=$2" || { echo "error: side $1 did not finish" >&2; exit 1; }
  t1=$(now)
  echo $((t1 - t0))
}

sides=(native module p2 p3 wasmtime wasmtime-p3)
for s in "${sides[@]}"; do side "$s" 10 >/dev/null; done # warm up: caches, connections
for _ in $(seq 1 "$rounds"); do
  for s in "${sides[@]}"; do
    one=$(timed "$s" 1)
    many=$(timed "$s" "$n")
    awk -v a="$many" -v b="$one" -v n="$n" 'BEGIN { printf "%.2f\n", (a - b) / (n - 1) / 1000 }' >>"$tmp/$s"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
native=$(median <"$tmp/native")
echo "outbound GET to a server in another process, $n sequential requests, median of $rounds rounds"
printf '%-34s %12s %10s\n' side "µs/request" "x native"
label() {
  case $1 in
    native) echo "native reqwest" ;;
    module) echo "wasi-dapr run, module (import)" ;;
    p2) echo "wasi-dapr run, 0.2 component" ;;
    p3) echo "wasi-dapr run, 0.3 component" ;;
    wasmtime) echo "wasmtime run -S http, 0.2" ;;
    wasmtime-p3) echo "wasmtime run -S p3,http, 0.3" ;;
  esac
}
for s in "${sides[@]}"; do
  v=$(median <"$tmp/$s")
  printf '%-34s %12s %10s\n' "$(label "$s")" "$v" "$(awk -v a="$v" -v b="$native" 'BEGIN { printf "%.2f", a / b }')"
done
