#!/usr/bin/env bash
# Runs the official-SDK conformance suite (node --test) against `wasi-dapr sidecar`.
# WASI_DAPR names the host binary; without it the suite builds one with cargo.
# The last line is "js-sdk: N passed, M failed"; the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
if [ -z "${JSSDK_NO_INSTALL:-}" ]; then
  npm ci --prefix . --no-audit --no-fund --loglevel=error || { echo "js-sdk: 0 passed, 1 failed"; exit 1; }
fi
if [ -z "${WASI_DAPR:-}" ]; then
  (cd ../.. && cargo build -q -p wasi-dapr) || { echo "js-sdk: 0 passed, 1 failed"; exit 1; }
  WASI_DAPR="${CARGO_TARGET_DIR:-$PWD/../../target}/debug/wasi-dapr"
fi
export WASI_DAPR
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Every test has its own timeout; the whole run is bounded too.
timeout --kill-after=5 110 node --test --test-reporter=spec --test-timeout=20000 ./*.test.js 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
pass=${pass:-0}
fail=${fail:-0}
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
  fail=1 # the runner itself failed (timeout, crash): count it
fi
echo "js-sdk: $pass passed, $fail failed"
exit "$status"
