#!/usr/bin/env bash
# Builds every example into examples/build/:
#   a folder with one Rust module (binary named after the folder)  -> <folder>.wasm
#   a folder with several (binaries named <folder>-<role>)          -> <folder>-<role>.wasm
# and, for the Rust examples in the `guests-p2` alias, the same source built for
# wasm32-wasip2 as components, named with `.component.wasm`:
#                                                                   -> <folder>.component.wasm
#                                                                   -> <folder>-<role>.component.wasm
# `.wasm` files are wasm32-wasip1 modules (`wasi-dapr run|serve`), `.component.wasm`
# files WASI 0.2 components (a `wasi:cli/command`, or a `wasi:http/proxy` for a served
# role such as pubsub-rust-subscriber, jobs-rust-app or bulk-subscriber-rust).
# New Rust examples need no entry here: each folder with a Cargo.toml is picked up (its
# crate must be a workspace member, and in `guests-p2` to get components too).
# Uses the shared guest builds, `cargo guests` and `cargo guests-p2` (.cargo/config.toml).
# Works from any directory: bash examples/build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if command -v rustup >/dev/null 2>&1; then
  for target in wasm32-wasip1 wasm32-wasip2; do
    if ! rustup target list --installed | grep -qx "$target"; then
      rustup target add "$target"
    fi
  done
fi

cargo guests
cargo guests-p2

release="target/guests/wasm32-wasip1/release"
out="examples/build"
mkdir -p "$out"

built=0
for dir in examples/*/; do
  folder="$(basename "$dir")"
  [[ -f "$dir/Cargo.toml" ]] || continue # not a Rust example (k8s/, build/, ...)
  found=0
  for module in "$release/$folder.wasm" "$release/$folder"-*.wasm; do
    [[ -f "$module" ]] || continue
    cp "$module" "$out/$(basename "$module")"
    echo "built $out/$(basename "$module")"
    found=1
    built=$((built + 1))
  done
  if [[ $found -eq 0 ]]; then
    echo "error: no module for examples/$folder: name its binary \`$folder\`" \
      "or \`$folder-<role>\`" >&2
    exit 1
  fi
done

# The components: optional per folder, since only the examples in `guests-p2` build them.
release_p2="target/guests/wasm32-wasip2/release"
components=0
for dir in examples/*/; do
  folder="$(basename "$dir")"
  [[ -f "$dir/Cargo.toml" ]] || continue
  for component in "$release_p2/$folder.wasm" "$release_p2/$folder"-*.wasm; do
    [[ -f "$component" ]] || continue
    name="$(basename "$component" .wasm).component.wasm"
    cp "$component" "$out/$name"
    echo "built $out/$name"
    components=$((components + 1))
  done
done

# AssemblyScript examples (and the AS scenario) come from as-sdk's pinned asc.
if [[ -x "$root/as-sdk/node_modules/.bin/asc" ]]; then
  bash "$root/as-sdk/build-guests.sh"
else
  echo "note: AssemblyScript examples skipped: run \`npm ci --prefix as-sdk\` first" >&2
fi

echo "$built example module(s) and $components component(s) in $out"
