#!/usr/bin/env bash
# Builds the end-to-end Dapr scenario guests into tests/dapr/build/:
#   dapr_rust.wasm   the Rust scenario (tests/dapr/rust)
#   dapr_as.wasm     the AssemblyScript scenario (needs `npm ci --prefix as-sdk`)
# Uses the one shared guest build, `cargo guests` (.cargo/config.toml). Works from any
# directory: bash tests/dapr/build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

if command -v rustup >/dev/null 2>&1 \
  && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1
fi

cargo guests

release="target/guests/wasm32-wasip1/release"
out="tests/dapr/build"
mkdir -p "$out"

cp "$release/dapr-rust.wasm" "$out/dapr_rust.wasm"
echo "built $out/dapr_rust.wasm"

# The AssemblyScript scenario, with as-sdk's pinned asc.
if [[ -x "$root/as-sdk/node_modules/.bin/asc" ]]; then
  bash "$root/as-sdk/build-guests.sh"
else
  echo "note: dapr_as.wasm skipped: run \`npm ci --prefix as-sdk\` first" >&2
fi
