#!/usr/bin/env bash
# Compiles the AssemblyScript guests with as-sdk's pinned asc (install: npm ci --prefix as-sdk).
#
#   bash as-sdk/build-guests.sh           default places:
#       tests/dapr/build/dapr_as.wasm               the tests/dapr scenario (tests/dapr/as)
#       tests/dapr/build/sdk_integration_as.wasm    as-sdk/tests/integration.ts
#       examples/build/state-as.wasm                examples/state-as
#       examples/build/publish-as.wasm              examples/publish-as
#       examples/build/pubsub-as-publisher.wasm     examples/pubsub-as/publisher.ts
#       examples/build/pubsub-as-subscriber.wasm    examples/pubsub-as/subscriber.ts (served)
#       tests/dapr/build/sdk_app_as.wasm            as-sdk/tests/app-fixture.ts (served, e2e)
#       examples/build/jobs-as.wasm                 examples/jobs-as/app.ts (served)
#       examples/build/bulk-subscriber-as-publisher.wasm   examples/bulk-subscriber-as/publisher.ts
#       examples/build/bulk-subscriber-as-subscriber.wasm  examples/bulk-subscriber-as/subscriber.ts (served)
#       examples/build/actor-as.wasm                examples/actor-as/app.ts (served, actor type BankAccount)
#   bash as-sdk/build-guests.sh OUT_DIR   the same eleven files, all in OUT_DIR
#
# Works from any directory. Exits non-zero if a module fails to compile.
set -euo pipefail

sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$sdk")"
asc="$sdk/node_modules/.bin/asc"
if [[ ! -x "$asc" ]]; then
  echo "as-sdk: AssemblyScript is not installed; run: npm ci --prefix as-sdk" >&2
  exit 1
fi

out="${1:-}"
if [[ -n "$out" ]]; then
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
fi

# build NAME CONFIG DEFAULT_OUTFILE [ENTRY]
build() {
  local name="$1" config="$2" default="$3" entry="${4:-}"
  local target="$default"
  [[ -n "$out" ]] && target="$out/$(basename "$default")"
  mkdir -p "$(dirname "$target")"
  echo "as-sdk: $name -> ${target#"$root"/}"
  # Run from as-sdk/ with relative paths: asc resolves the json-as transform from the
  # working directory and mishandles the wasi-shim `lib` path when the config is absolute.
  local rel_config rel_target rel_entry=""
  rel_config="$(realpath --relative-to="$sdk" "$config")"
  rel_target="$(realpath -m --relative-to="$sdk" "$target")"
  [[ -n "$entry" ]] && rel_entry="$(realpath --relative-to="$sdk" "$entry")"
  # Up to date: the output is newer than every AS source, config and the lockfile.
  if [[ -f "$target" && -z "$(find "$sdk/assembly" "$sdk/tests" "$sdk/package-lock.json" \
        "$sdk/asconfig.json" "$(dirname "$config")" -newer "$target" \
        \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]]; then
    echo "as-sdk: $name is up to date"
    return 0
  fi
  (cd "$sdk" && "$asc" $rel_entry --config "$rel_config" --outFile "$rel_target")
}

build "tests/dapr scenario" "$root/tests/dapr/as/asconfig.json" "$root/tests/dapr/build/dapr_as.wasm"
build "sdk integration tests" "$sdk/asconfig.json" "$root/tests/dapr/build/sdk_integration_as.wasm" \
  "$sdk/tests/integration.ts"
build "examples/state-as" "$root/examples/state-as/asconfig.json" "$root/examples/build/state-as.wasm"
build "examples/publish-as" "$root/examples/publish-as/asconfig.json" "$root/examples/build/publish-as.wasm"
build "examples/pubsub-as publisher" "$root/examples/pubsub-as/asconfig.json" \
  "$root/examples/build/pubsub-as-publisher.wasm" "$root/examples/pubsub-as/publisher.ts"
build "examples/pubsub-as subscriber" "$root/examples/pubsub-as/asconfig.json" \
  "$root/examples/build/pubsub-as-subscriber.wasm" "$root/examples/pubsub-as/subscriber.ts"
build "sdk app fixture" "$sdk/asconfig.json" "$root/tests/dapr/build/sdk_app_as.wasm" "$sdk/tests/app-fixture.ts"
build "examples/jobs-as" "$root/examples/jobs-as/asconfig.json" "$root/examples/build/jobs-as.wasm" \
  "$root/examples/jobs-as/app.ts"
build "examples/bulk-subscriber-as publisher" "$root/examples/bulk-subscriber-as/asconfig.json" \
  "$root/examples/build/bulk-subscriber-as-publisher.wasm" "$root/examples/bulk-subscriber-as/publisher.ts"
build "examples/bulk-subscriber-as subscriber" "$root/examples/bulk-subscriber-as/asconfig.json" \
  "$root/examples/build/bulk-subscriber-as-subscriber.wasm" "$root/examples/bulk-subscriber-as/subscriber.ts"
build "examples/actor-as" "$root/examples/actor-as/asconfig.json" "$root/examples/build/actor-as.wasm" \
  "$root/examples/actor-as/app.ts"
