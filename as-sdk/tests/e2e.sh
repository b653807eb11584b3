#!/usr/bin/env bash
# End-to-end tests of the AS guests through the real host: `wasi-dapr run` against
# `wasi-dapr sidecar` started here on a free port with tests/components/.
#
#   1. tests/dapr scenario (dapr_as.wasm) prints "Test successfully!" and exits 0;
#   2. the sidecar then holds weapon = "Death Star", planets = {"name":"Tatooine","test":123};
#   3. the SDK integration module, CASE=sidecar (every client method, error answers);
#   4. CASE=down: the sidecar address is allowed but nothing listens (transport errors);
#   5. CASE=denied: the allowlist does not allow the sidecar (code 7, no abort);
#   6. examples/state-as and examples/publish-as exit 0 and print their README's
#      "Expected output" block (the sidecar's port read as :3500); the pubsub-as
#      publisher's output is checked the same way in step 7;
#   7. examples/pubsub-as, the full loop: the subscriber served by `wasi-dapr serve`, a
#      second `wasi-dapr sidecar --app-port` pointing at it, the publisher through
#      `wasi-dapr run`; checks the subscribe answer, each order's delivery in the serve
#      log, the DROP one dead-lettered and not redelivered, the RETRY one delivered twice;
#   8. the App router through the real host (tests/app-fixture.ts, served): invocation
#      through the sidecar (verb, path, query, headers, body, status), an input binding
#      (cron: OPTIONS probe, then events), a configuration update, routing rules, a
#      rawPayload subscription, a text event, a rawPayload bulk subscription, a job
#      (delivered with its data; answered 500, retried by daprd's default policy), a 404;
#   9. the SDK integration module, CASE=dapr118, against a sidecar with
#      tests/components-118/ (pubsub + a conversation.echo named echo): jobs,
#      conversation alpha2, stable bulk publish and their error codes;
#  10. examples/jobs-as: the app served, a sidecar with --app-port; POST /schedule
#      through the sidecar answers the README's Expected output; the scheduler fires
#      reminder once and heartbeat three times (POST /job/<name>), no more;
#  11. examples/bulk-subscriber-as: the bulk subscriber served, its /dapr/subscribe
#      (bulkSubscribe), the publisher's README output (one stable bulk publish), each
#      order delivered once in bulk batches, the DROP one dead-lettered.
# Prints "N passed, N failed" last; exits non-zero on any failure.
#
# Environment: WASI_DAPR (default target/debug/wasi-dapr, built with cargo if missing),
# AS_E2E_NO_BUILD=1 (use the already built guests), AS_E2E_FAKE=1 (use the node fake of
# tests/fake-sidecar-server.mjs instead of `wasi-dapr sidecar`; state/publish only).
set -uo pipefail

sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(dirname "$sdk")"
bin="${WASI_DAPR:-$root/target/debug/wasi-dapr}"
work="$(mktemp -d)"
sidecar_pid=""
pids=()
passed=0
failed=0

cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [[ -n "$sidecar_pid" ]]; then
    kill "$sidecar_pid" 2>/dev/null
    wait "$sidecar_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "not ok - $1"
  [[ -f "$2" ]] && sed 's/^/    | /' "$2"
  [[ -s "$2.err" ]] && tail -n 20 "$2.err" | sed 's/^/    ! /'
  return 0
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

if [[ ! -x "$bin" ]]; then
  echo "as-sdk e2e: $bin not found; building it: cargo build -p wasi-dapr" >&2
  (cd "$root" && cargo build -p wasi-dapr) || exit 1
fi
if [[ "${AS_E2E_NO_BUILD:-}" != 1 ]]; then
  bash "$sdk/build-guests.sh" || exit 1
fi

port="$(free_port)"
down_port="$(free_port)"
printf 'allowed_hosts = ["http://127.0.0.1:%s", "http://127.0.0.1:%s"]\n' "$port" "$down_port" >"$work/allow.toml"
printf 'allowed_hosts = ["http://127.0.0.1:1"]\n' >"$work/deny.toml"

# Start the sidecar.
if [[ "${AS_E2E_FAKE:-}" == 1 ]]; then
  echo "# sidecar: node fake (tests/fake-sidecar-server.mjs) on 127.0.0.1:$port"
  node "$sdk/tests/fake-sidecar-server.mjs" "$port" >"$work/sidecar.log" 2>&1 &
  sidecar_pid=$!
else
  if ! "$bin" sidecar --help >/dev/null 2>&1; then
    echo "as-sdk e2e: '$bin sidecar' is not available (set AS_E2E_FAKE=1 to use the node fake)" >&2
    exit 1
  fi
  args=(sidecar --dapr-http-port "$port")
  if "$bin" sidecar --help 2>&1 | grep -q -- "--resources-path"; then
    args+=(--resources-path "$sdk/tests/components")
  fi
  echo "# sidecar: $bin ${args[*]}"
  "$bin" "${args[@]}" >"$work/sidecar.log" 2>&1 &
  sidecar_pid=$!
fi
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/v1.0/healthz/outbound" 2>/dev/null; then break; fi
  if ! kill -0 "$sidecar_pid" 2>/dev/null; then
    echo "as-sdk e2e: the sidecar exited:" >&2
    cat "$work/sidecar.log" >&2
    exit 1
  fi
  sleep 0.2
done

# run OUT_FILE ALLOWLIST PORT [wasi-dapr run args...]
run_guest() {
  local out="$1" allow="$2" p="$3"
  shift 3
  DAPR_HTTP_PORT="$p" "$bin" run --allowlist "$allow" "$@" >"$out" 2>"$out.err"
}

# 1. the scenario
if run_guest "$work/scenario.out" "$work/allow.toml" "$port" "$root/tests/dapr/build/dapr_as.wasm" &&
  grep -qx "Test successfully!" "$work/scenario.out"; then
  ok "tests/dapr AS scenario prints Test successfully! and exits 0"
else
  not_ok "tests/dapr AS scenario" "$work/scenario.out"
fi

# 2. what the sidecar recorded
weapon="$(curl -fsS "http://127.0.0.1:$port/v1.0/state/statestore/weapon" 2>&1)"
planets="$(curl -fsS "http://127.0.0.1:$port/v1.0/state/statestore/planets" 2>&1)"
if [[ "$weapon" == '"Death Star"' && "$planets" == '{"name":"Tatooine","test":123}' ]]; then
  ok "sidecar state after the scenario: weapon and planets as saved"
else
  printf 'weapon: %s\nplanets: %s\n' "$weapon" "$planets" >"$work/state.out"
  not_ok "sidecar state after the scenario" "$work/state.out"
fi

# 3-5. the SDK integration module
integration="$root/tests/dapr/build/sdk_integration_as.wasm"
secret_env=(--env SECRET_STORE=localsecrets --env SECRET_NAME=api-key --env LOCK_STORE=lockstore)
[[ "${AS_E2E_FAKE:-}" == 1 ]] && secret_env=()
if run_guest "$work/it.out" "$work/allow.toml" "$port" --env CASE=sidecar "${secret_env[@]}" "$integration"; then
  ok "SDK integration against the sidecar ($(tail -n 1 "$work/it.out"))"
else
  not_ok "SDK integration against the sidecar" "$work/it.out"
fi
if run_guest "$work/down.out" "$work/allow.toml" "$down_port" --env CASE=down "$integration"; then
  ok "SDK integration, sidecar down ($(tail -n 1 "$work/down.out"))"
else
  not_ok "SDK integration, sidecar down" "$work/down.out"
fi
if run_guest "$work/denied.out" "$work/deny.toml" "$port" --env CASE=denied "$integration"; then
  ok "SDK integration, denied by the allowlist ($(tail -n 1 "$work/denied.out"))"
else
  not_ok "SDK integration, denied by the allowlist" "$work/denied.out"
fi

# readme_output EXAMPLE: the ```text block of the "## Expected output" section of
# examples/EXAMPLE/README.md (what host/tests/all/sdk_rust.rs reads for the Rust examples).
readme_output() {
  awk '/^## Expected output/ { s = 1; next }
       s == 1 && /^```text$/ { s = 2; next }
       s == 2 && /^```/ { exit }
       s == 2 { print }' "$root/examples/$1/README.md"
}

# expect_readme_output EXAMPLE OUT_FILE PORT: the example's stdout is its README's block,
# once the sidecar address of this run (port PORT) reads as the README's :3500.
expect_readme_output() {
  local ex="$1" out="$2" p="$3"
  if [[ -n "$(readme_output "$ex")" ]] &&
    diff <(readme_output "$ex") <(sed "s#http://127.0.0.1:$p\b#http://127.0.0.1:3500#g" "$out") >"$out.diff"; then
    ok "examples/$ex: stdout is the README's Expected output"
  else
    [[ -s "$out.diff" ]] || echo "no \`\`\`text block under ## Expected output" >"$out.diff"
    not_ok "examples/$ex: stdout is the README's Expected output (diff README stdout)" "$out.diff"
  fi
}

# 6. the examples, and their output as their READMEs show it
for ex in state-as publish-as; do
  if run_guest "$work/$ex.out" "$work/allow.toml" "$port" "$root/examples/build/$ex.wasm"; then
    ok "examples/$ex"
  else
    not_ok "examples/$ex" "$work/$ex.out"
  fi
  expect_readme_output "$ex" "$work/$ex.out" "$port"
done

# Helpers for the served steps.
# wait_http URL STATUS SECONDS: polls until URL answers STATUS.
wait_http() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" == "$2" ]] && return 0
    sleep 0.2
  done
  return 1
}
# wait_log FILE SECONDS PATTERN...: polls until FILE has every fixed-string PATTERN.
wait_log() {
  local file="$1" secs="$2" i p all
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    all=1
    for p in "$@"; do grep -qF -- "$p" "$file" 2>/dev/null || all=0; done
    [[ $all == 1 ]] && return 0
    sleep 0.2
  done
  return 1
}
count() { grep -cF -- "$2" "$1"; }

# serve_app NAME WASM LOG APP_PORT DAPR_PORT RESOURCES [SIDECAR_ARGS...]: allows only the
# sidecar ($work/NAME-allow.toml), serves WASM on APP_PORT under `wasi-dapr serve` (output
# in LOG), starts `wasi-dapr sidecar` on DAPR_PORT with --app-port APP_PORT (output in
# $work/NAME-sidecar.log), and waits up to 30 s for its healthz: non-zero if it never came.
serve_app() {
  local name="$1" wasm="$2" log="$3" app_port="$4" dapr_port="$5" resources="$6"
  shift 6
  printf 'allowed_hosts = ["http://127.0.0.1:%s"]\n' "$dapr_port" >"$work/$name-allow.toml"
  DAPR_HTTP_PORT="$dapr_port" "$bin" serve --listen "127.0.0.1:$app_port" --allowlist "$work/$name-allow.toml" \
    "$wasm" >"$log" 2>&1 &
  pids+=($!)
  "$bin" sidecar --dapr-http-port "$dapr_port" --app-port "$app_port" "$@" --resources-path "$resources" \
    >"$work/$name-sidecar.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$dapr_port/v1.0/healthz" 204 30
}

if [[ "${AS_E2E_FAKE:-}" == 1 ]]; then
  echo "# steps 7-11 (served apps, the 1.18 calls) need wasi-dapr sidecar: skipped with AS_E2E_FAKE=1"
else
  # 7. examples/pubsub-as: publisher -> wasi-dapr sidecar -> subscriber under wasi-dapr serve.
  sub_port="$(free_port)"
  ps_port="$(free_port)"
  sub_log="$work/subscriber.log"
  echo "# pubsub-as: subscriber served on 127.0.0.1:$sub_port, sidecar on $ps_port (--app-port $sub_port)"
  if ! serve_app ps "$root/examples/build/pubsub-as-subscriber.wasm" "$sub_log" "$sub_port" "$ps_port" \
    "$sdk/tests/components"; then
    cp "$work/ps-sidecar.log" "$work/ps.out"
    not_ok "pubsub-as: the sidecar became ready (it read the subscriber's /dapr/subscribe)" "$work/ps.out"
  else
    subs="$(curl -s "http://127.0.0.1:$sub_port/dapr/subscribe")"
    want='[{"pubsubname":"pubsub","topic":"orders","route":"/orders","deadLetterTopic":"orders-dead"},{"pubsubname":"pubsub","topic":"orders-dead","route":"/orders-dead"}]'
    if [[ "$subs" == "$want" ]] && grep -q "loaded the app's subscriptions count=2" "$work/ps-sidecar.log"; then
      ok "pubsub-as: GET /dapr/subscribe answers both subscriptions; the sidecar loaded 2"
    else
      printf 'got:  %s\nwant: %s\n' "$subs" "$want" >"$work/subs.out"
      not_ok "pubsub-as: GET /dapr/subscribe" "$work/subs.out"
    fi
    if run_guest "$work/publisher.out" "$work/ps-allow.toml" "$ps_port" "$root/examples/build/pubsub-as-publisher.wasm" &&
      [[ "$(grep -c '^published {' "$work/publisher.out")" == 5 ]]; then
      ok "pubsub-as: the publisher published 5 orders and exited 0"
    else
      not_ok "pubsub-as: publisher" "$work/publisher.out"
    fi
    expect_readme_output pubsub-as "$work/publisher.out" "$ps_port"
    o1="guest: order 1: 1 x lightsaber (pubsub/orders, application/json) -> SUCCESS"
    o2="guest: order 2: 2 x blaster (pubsub/orders, application/json) -> SUCCESS"
    o3="guest: order 3: 1 x thermal detonator (pubsub/orders, application/json) -> DROP (invalid)"
    o4a="guest: order 4: 1 x astromech droid (pubsub/orders, application/json) -> RETRY (flaky, first attempt)"
    o4b="guest: order 4: 1 x astromech droid (pubsub/orders, application/json) -> SUCCESS (flaky, second attempt)"
    o5="guest: order 5: 3 x x-wing (pubsub/orders, application/json) -> SUCCESS"
    dl="guest: dead letter: "
    wait_log "$sub_log" 20 "$o1" "$o2" "$o3" "$o4a" "$o4b" "$o5" "$dl"
    # Redeliveries come after 200 ms, 400 ms, ...: give a wrongly redelivered message time to show.
    sleep 1.5
    if [[ "$(count "$sub_log" "$o1")$(count "$sub_log" "$o2")$(count "$sub_log" "$o5")" == 111 ]]; then
      ok "pubsub-as: orders 1, 2, 5 delivered once each as CloudEvents (pubsub/orders, application/json), SUCCESS"
    else
      grep -F "guest:" "$sub_log" >"$work/sub.out"
      not_ok "pubsub-as: orders 1, 2, 5" "$work/sub.out"
    fi
    if [[ "$(count "$sub_log" "$o3")" == 1 && "$(count "$sub_log" "$dl")" == 1 ]] &&
      grep -F "$dl" "$sub_log" | grep -qF '"orderId":3'; then
      ok "pubsub-as: DROP: order 3 delivered once, not redelivered, sent to the dead-letter topic"
    else
      grep -F "guest:" "$sub_log" >"$work/sub.out"
      not_ok "pubsub-as: DROP" "$work/sub.out"
    fi
    if [[ "$(count "$sub_log" "$o4a")$(count "$sub_log" "$o4b")" == 11 && "$(count "$sub_log" "guest: order 4:")" == 2 ]]; then
      ok "pubsub-as: RETRY: order 4 delivered twice (RETRY, then SUCCESS)"
    else
      grep -F "guest:" "$sub_log" >"$work/sub.out"
      not_ok "pubsub-as: RETRY" "$work/sub.out"
    fi
    if [[ "$(count "$sub_log" "guest: order ")" == 6 ]]; then
      ok "pubsub-as: 6 deliveries in all"
    else
      grep -F "guest:" "$sub_log" >"$work/sub.out"
      not_ok "pubsub-as: 6 deliveries in all" "$work/sub.out"
    fi
    bad="$(curl -s -X POST -H 'Content-Type: application/cloudevents+json' --data-binary '{"id":' "http://127.0.0.1:$sub_port/orders")"
    nf="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{}' "http://127.0.0.1:$sub_port/no-such-route")"
    if [[ "$bad" == '{"status":"DROP"}' && "$nf" == 404 ]] &&
      wait_log "$sub_log" 5 "guest: app: dropping a message on /orders: the body is not a JSON object (answered DROP)"; then
      ok "pubsub-as: a malformed CloudEvent is answered DROP (and logged); an unknown route 404"
    else
      printf 'malformed: %s\nunknown route: %s\n' "$bad" "$nf" >"$work/bad.out"
      not_ok "pubsub-as: malformed CloudEvent, unknown route" "$work/bad.out"
    fi
  fi

  # 8. The App router through the real host: tests/app-fixture.ts served.
  fx_port="$(free_port)"
  fx_dapr="$(free_port)"
  fx_log="$work/fixture.log"
  mkdir -p "$work/fx-components"
  cp "$sdk/tests/components/pubsub.yaml" "$work/fx-components/"
  cat >"$work/fx-components/ticks.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ticks
spec:
  type: bindings.cron
  version: v1
  metadata:
  - name: schedule
    value: "@every 300ms"
YAML
  echo "# app fixture: served on 127.0.0.1:$fx_port, sidecar on $fx_dapr (--app-port $fx_port)"
  if ! serve_app fx "$root/tests/dapr/build/sdk_app_as.wasm" "$fx_log" "$fx_port" "$fx_dapr" \
    "$work/fx-components" --app-id fixture; then
    cp "$work/fx-sidecar.log" "$work/fx.out"
    not_ok "app fixture: the sidecar became ready" "$work/fx.out"
  else
    echo_out="$(curl -s -i -X PUT -H 'X-Custom: v 1' -H 'Content-Type: text/plain' --data-binary 'hello body' \
      "http://127.0.0.1:$fx_dapr/v1.0/invoke/fixture/method/echo/a%20b?x=1&y=t%C3%A9" | tr -d '\r')"
    want='{"method":"PUT","path":"/echo/a b","query":{"x":"1","y":"té"},"xCustom":"v 1","contentType":"text/plain","body":"hello body"}'
    if head -n 1 <<<"$echo_out" | grep -q " 201" && grep -qix 'x-echo: 1' <<<"$echo_out" &&
      [[ "$(tail -n 1 <<<"$echo_out")" == "$want" ]]; then
      ok "app: invocation through the sidecar: verb, decoded path, query, headers, body in; 201, header, JSON out"
    else
      printf '%s\n--- want body:\n%s\n' "$echo_out" "$want" >"$work/echo.out"
      not_ok "app: invocation through the sidecar" "$work/echo.out"
    fi
    if wait_log "$fx_log" 10 "guest: binding ticks: 0 bytes, content-type application/json"; then
      ok "app: input binding: the OPTIONS probe answered, cron events delivered to the handler"
    else
      { grep -F "guest:" "$fx_log"; grep -i ticks "$work/fx-sidecar.log"; } >"$work/ticks.out"
      not_ok "app: input binding" "$work/ticks.out"
    fi
    cfg="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary '{"id":"sub-1","items":{"feature":{"value":"on","version":"2"}}}' \
      "http://127.0.0.1:$fx_port/configuration/configstore/feature")"
    if [[ "$cfg" == 200 ]] && wait_log "$fx_log" 5 "guest: configuration configstore/feature id=sub-1 feature=on"; then
      ok "app: configuration update answered exactly 200, items decoded"
    else
      echo "status $cfg" >"$work/cfg.out"
      not_ok "app: configuration update" "$work/cfg.out"
    fi
    pub() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: $2" --data-binary "$3" "http://127.0.0.1:$fx_dapr/v1.0/publish/pubsub/$1"; }
    codes="$(pub routed application/json '{"n":1}')"
    codes+=" $(pub routed application/cloudevents+json '{"specversion":"1.0","id":"r-2","source":"e2e","type":"v2","datacontenttype":"application/json","data":{"n":2}}')"
    codes+=" $(pub raw application/json '{"n":3}')"
    codes+=" $(pub text text/plain 'plain words')"
    if [[ "$codes" == "204 204 204 204" ]] &&
      wait_log "$fx_log" 10 'guest: routed default: type=com.dapr.event.sent data={"n":1}' \
        'guest: routed v2: type=v2 data={"n":2}' \
        'guest: raw: binary=true datacontenttype=application/octet-stream text={' \
        'guest: text: datacontenttype=text/plain text=plain words' &&
      grep -F 'guest: raw: ' "$fx_log" | grep -qF '"data":{"n":3}'; then
      ok "app: routing rules (default and v2 paths), rawPayload as data_base64, text data"
    else
      { echo "publish: $codes"; grep -F "guest:" "$fx_log"; } >"$work/routes.out"
      not_ok "app: routing rules, rawPayload, text" "$work/routes.out"
    fi
    # Bulk subscribe with rawPayload: the entry's event is the base64 of the bytes the
    # broker holds (the CloudEvent the sidecar wrapped the publish in), decoded here.
    rb="$(pub raw-bulk application/json '{"n":4}')"
    if [[ "$rb" == 204 ]] &&
      wait_log "$fx_log" 10 'guest: raw bulk: topic=raw-bulk raw=true contentType=application/octet-stream text={' &&
      grep -F 'guest: raw bulk: ' "$fx_log" | grep -qF '"data":{"n":4}'; then
      ok "app: a rawPayload bulk subscription gets the published bytes, base64-decoded, as a bulk entry"
    else
      { echo "publish: $rb"; grep -F "guest:" "$fx_log"; } >"$work/rawbulk.out"
      not_ok "app: rawPayload bulk subscription" "$work/rawbulk.out"
    fi
    # A job scheduled through the sidecar fires POST /job/fixture-job with its data; a
    # 500 answer ("fail") is retried by daprd's default policy (constant 1s x 3: 4 attempts).
    j1="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary '{"dueTime":"0s","data":{"hello":"job"}}' "http://127.0.0.1:$fx_dapr/v1.0/jobs/fixture-job")"
    if [[ "$j1" == 204 ]] && wait_log "$fx_log" 10 'guest: job fixture-job: data={"hello":"job"}'; then
      ok "app: onJob: a job scheduled through the sidecar is delivered to POST /job/<name> with its data"
    else
      { echo "schedule: $j1"; grep -F "guest:" "$fx_log"; } >"$work/job.out"
      not_ok "app: onJob" "$work/job.out"
    fi
    j2="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary '{"dueTime":"0s","data":"fail","overwrite":true}' "http://127.0.0.1:$fx_dapr/v1.0/jobs/fixture-job")"
    for ((i = 0; i < 40; i++)); do [[ "$(count "$fx_log" 'guest: job fixture-job: data="fail"')" -ge 4 ]] && break; sleep 0.25; done
    sleep 1.5
    if [[ "$j2" == 204 && "$(count "$fx_log" 'guest: job fixture-job: data="fail"')" == 4 ]]; then
      ok "app: onJob false answers 500: daprd's default failure policy retries it 3 times (4 attempts), then stops"
    else
      { echo "schedule: $j2"; grep -F "guest: job" "$fx_log"; } >"$work/jobfail.out"
      not_ok "app: onJob false -> 500 -> default failure policy" "$work/jobfail.out"
    fi
    nf="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$fx_port/nope")"
    if [[ "$nf" == $'no handler for GET /nope\n 404' ]]; then
      ok "app: an unknown route is 404"
    else
      echo "$nf" >"$work/nf.out"
      not_ok "app: an unknown route is 404" "$work/nf.out"
    fi
  fi
  # 9. The Dapr 1.18 calls (jobs, conversation, stable bulk publish) against a sidecar
  # with a conversation.echo component.
  v118_port="$(free_port)"
  printf 'allowed_hosts = ["http://127.0.0.1:%s"]\n' "$v118_port" >"$work/v118-allow.toml"
  "$bin" sidecar --dapr-http-port "$v118_port" --resources-path "$sdk/tests/components-118" >"$work/v118-sidecar.log" 2>&1 &
  pids+=($!)
  if ! wait_http "http://127.0.0.1:$v118_port/v1.0/healthz" 204 30; then
    cp "$work/v118-sidecar.log" "$work/v118.out"
    not_ok "SDK integration CASE=dapr118: the sidecar (tests/components-118) became ready" "$work/v118.out"
  elif run_guest "$work/v118.out" "$work/v118-allow.toml" "$v118_port" --env CASE=dapr118 --env CONVERSATION=echo "$integration"; then
    ok "SDK integration CASE=dapr118: jobs, conversation, stable bulk publish ($(tail -n 1 "$work/v118.out"))"
  else
    not_ok "SDK integration CASE=dapr118: jobs, conversation, stable bulk publish" "$work/v118.out"
  fi

  # 10. examples/jobs-as: a served app schedules two jobs and handles their triggers.
  jobs_port="$(free_port)"
  jobs_dapr="$(free_port)"
  jobs_log="$work/jobs.log"
  echo "# jobs-as: app served on 127.0.0.1:$jobs_port, sidecar on $jobs_dapr (--app-port $jobs_port)"
  if ! serve_app jobs "$root/examples/build/jobs-as.wasm" "$jobs_log" "$jobs_port" "$jobs_dapr" "$sdk/tests/components"; then
    cp "$work/jobs-sidecar.log" "$work/jobs.out"
    not_ok "jobs-as: the sidecar became ready" "$work/jobs.out"
  else
    curl -s -X POST "http://127.0.0.1:$jobs_dapr/v1.0/invoke/app/method/schedule" >"$work/jobs-schedule.out" 2>&1
    expect_readme_output jobs-as "$work/jobs-schedule.out" "$jobs_dapr"
    r1="guest: job reminder: water the plants"
    hb="guest: job heartbeat: beat"
    wait_log "$jobs_log" 15 "$r1" "$hb"
    for ((i = 0; i < 50; i++)); do [[ "$(count "$jobs_log" "$hb")" -ge 3 ]] && break; sleep 0.2; done
    # A fourth heartbeat (repeats ignored) or a second reminder would come within a second.
    sleep 1.5
    if [[ "$(count "$jobs_log" "$r1")" == 1 && "$(count "$jobs_log" "$hb")" == 3 ]]; then
      ok "jobs-as: the scheduler fired reminder once (dueTime) and heartbeat three times (@every 1s, repeats 3) at POST /job/<name>"
    else
      { grep -F "guest:" "$jobs_log"; grep -i job "$work/jobs-sidecar.log"; } >"$work/jobs.out"
      not_ok "jobs-as: job triggers (reminder x1, heartbeat x3)" "$work/jobs.out"
    fi
    nf="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '1' "http://127.0.0.1:$jobs_port/job/no-such-job")"
    if [[ "$nf" == 404 ]]; then
      ok "jobs-as: POST /job/<unknown> is 404"
    else
      echo "status $nf" >"$work/jobs-nf.out"
      not_ok "jobs-as: POST /job/<unknown> is 404" "$work/jobs-nf.out"
    fi
  fi

  # 11. examples/bulk-subscriber-as: one stable bulk publish, delivered in bulk batches.
  bs_port="$(free_port)"
  bs_dapr="$(free_port)"
  bs_log="$work/bulk-subscriber.log"
  echo "# bulk-subscriber-as: subscriber served on 127.0.0.1:$bs_port, sidecar on $bs_dapr (--app-port $bs_port)"
  if ! serve_app bs "$root/examples/build/bulk-subscriber-as-subscriber.wasm" "$bs_log" "$bs_port" "$bs_dapr" \
    "$sdk/tests/components"; then
    cp "$work/bs-sidecar.log" "$work/bs.out"
    not_ok "bulk-subscriber-as: the sidecar became ready" "$work/bs.out"
  else
    subs="$(curl -s "http://127.0.0.1:$bs_port/dapr/subscribe")"
    want='[{"pubsubname":"pubsub","topic":"orders","route":"/orders","deadLetterTopic":"orders-dead","bulkSubscribe":{"enabled":true,"maxMessagesCount":10,"maxAwaitDurationMs":500}},{"pubsubname":"pubsub","topic":"orders-dead","route":"/orders-dead"}]'
    if [[ "$subs" == "$want" ]]; then
      ok "bulk-subscriber-as: GET /dapr/subscribe answers the bulk subscription (bulkSubscribe) and the dead-letter one"
    else
      printf 'got:  %s\nwant: %s\n' "$subs" "$want" >"$work/bs-subs.out"
      not_ok "bulk-subscriber-as: GET /dapr/subscribe" "$work/bs-subs.out"
    fi
    if run_guest "$work/bs-publisher.out" "$work/bs-allow.toml" "$bs_dapr" "$root/examples/build/bulk-subscriber-as-publisher.wasm"; then
      ok "bulk-subscriber-as: the publisher bulk-published 5 orders in one call and exited 0"
    else
      not_ok "bulk-subscriber-as: publisher" "$work/bs-publisher.out"
    fi
    expect_readme_output bulk-subscriber-as "$work/bs-publisher.out" "$bs_dapr"
    b1="guest: order 1: lightsaber -> SUCCESS"
    b2="guest: order 2: blaster -> SUCCESS"
    b3="guest: order 3: thermal detonator -> DROP (invalid)"
    b4="guest: order 4: astromech droid -> SUCCESS"
    b5="guest: order 5: x-wing -> SUCCESS"
    bdl="guest: dead letter: "
    wait_log "$bs_log" 20 "$b1" "$b2" "$b3" "$b4" "$b5" "$bdl" "guest: batch of "
    sleep 1.5
    if [[ "$(count "$bs_log" "$b1")$(count "$bs_log" "$b2")$(count "$bs_log" "$b3")$(count "$bs_log" "$b4")$(count "$bs_log" "$b5")" == 11111 ]] &&
      grep -q "guest: batch of [1-5] from pubsub/orders" "$bs_log" &&
      [[ "$(grep -o 'guest: batch of [0-9]*' "$bs_log" | awk '{ n += $4 } END { print n }')" == 5 ]]; then
      ok "bulk-subscriber-as: each order delivered once, in bulk batches of 5 entries in all, one status per entry"
    else
      grep -F "guest:" "$bs_log" >"$work/bs.out"
      not_ok "bulk-subscriber-as: bulk deliveries" "$work/bs.out"
    fi
    if [[ "$(count "$bs_log" "$bdl")" == 1 ]] && grep -F "$bdl" "$bs_log" | grep -qF '"orderId":3'; then
      ok "bulk-subscriber-as: the DROP entry (order 3) went to the dead-letter topic once"
    else
      grep -F "guest:" "$bs_log" >"$work/bs.out"
      not_ok "bulk-subscriber-as: DROP to the dead-letter topic" "$work/bs.out"
    fi
  fi
fi

if [[ $failed -gt 0 ]]; then
  echo "# sidecar log:"
  tail -n 40 "$work/sidecar.log" | sed 's/^/    | /'
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
