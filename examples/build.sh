#!/usr/bin/env bash
# Builds every example module into examples/build/:
#   a folder with one Rust module (binary named after the folder)  -> <folder>.wasm
#   a folder with several (binaries named <folder>-<role>)          -> <folder>-<role>.wasm
# Uses the one shared guest build, `cargo guests` (.cargo/config.toml). Works from any
# directory: bash examples/build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if command -v rustup >/dev/null 2>&1 \
  && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1
fi

cargo guests

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

# AssemblyScript examples (and the AS scenario) come from as-sdk's pinned asc.
if [[ -x "$root/as-sdk/node_modules/.bin/asc" ]]; then
  bash "$root/as-sdk/build-guests.sh"
else
  echo "note: AssemblyScript examples skipped: run \`npm ci --prefix as-sdk\` first" >&2
fi

echo "$built example module(s) in $out"
