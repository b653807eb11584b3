#!/usr/bin/env python3
"""Start-up benchmark: process start to first served 200, and whole `run`s, of wasi-dapr
side by side with the wasmtime CLI. Not part of `cargo test` (BENCHMARKS.md has the
recorded figures and the exact command).

    cargo build --release -p wasi-dapr --bin wasi-dapr
    cargo build --release -p wasi-dapr-test-artifacts   # the guests (cargo guests)
    python3 host/benches/startup.py [--runs N] [--wasmtime PATH] [--only serve|run]

Each case is started N times (default 15) after one untimed warm-up start, the cases of
a group in turn (round-robin, so the machine's drift affects them alike); the table gives
the median and the ratio to the wasmtime case of the same kind (no cache, warm cache,
precompiled; a precompiled `serve` beside the issue's baseline, a warm-cache `wasmtime
serve`). `serve` cases are
timed from spawn to the first 200 of GET /hello (polled every 0.5 ms); `run` cases from
spawn to exit. "warm cache" means the compiled-module cache (each side its own) was filled
by the warm-up; "no cache" is `--no-cache` / `-C cache=n`; "precompiled" loads a .cwasm
(`wasi-dapr compile` / `wasmtime compile` + `--allow-precompiled`).
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def guest(name: str, triple: str) -> Path:
    for profile in ("release", "debug"):
        p = target_dir() / "guests" / triple / profile / name
        if p.exists():
            return p
    for profile in ("release", "debug"):
        p = target_dir() / triple / profile / name
        if p.exists():
            return p
    sys.exit(f"guest {name} not built (cargo guests / cargo build --release -p ...)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_200(port: int, proc: subprocess.Popen, deadline: float = 60.0) -> None:
    request = f"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(request)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.0005)
    raise RuntimeError("no 200 within the deadline")


def time_serve(argv_for_port, env=None) -> float:
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        argv_for_port(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        first_200(port, proc)
        return time.monotonic() - started
    finally:
        proc.kill()
        proc.wait()


def time_run(argv, env=None, cwd=None) -> float:
    started = time.monotonic()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=env, cwd=cwd,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--wasi-dapr", default=str(target_dir() / "release" / "wasi-dapr"))
    ap.add_argument(
        "--wasmtime",
        default=shutil.which("wasmtime")
        or str(target_dir() / "wasmtime-venv" / "bin" / "wasmtime"),
    )
    ap.add_argument("--only", choices=["serve", "run"])
    args = ap.parse_args()
    wd, wt = args.wasi_dapr, args.wasmtime

    work = Path(tempfile.mkdtemp(prefix="wasi-dapr-startup-"))
    cache = work / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
    env["RUST_LOG"] = "warn"
    wt_cache_cfg = work / "wasmtime-cache.toml"
    wt_cache_cfg.write_text(f'[cache]\ndirectory = "{work / "wt-cache"}"\n')

    cgi = guest("cgi.wasm", "wasm32-wasip1")
    proxy = guest("http_proxy.wasm", "wasm32-wasip2")
    hello = guest("env_dump.wasm", "wasm32-wasip1")
    state = guest("state-rust.wasm", "wasm32-wasip1")

    def wd_compile(src: Path) -> Path:
        out = work / (src.stem + ".cwasm")
        subprocess.run([wd, "compile", str(src), "-o", str(out)], check=True, env=env)
        return out

    def wt_compile(src: Path) -> Path:
        out = work / (src.stem + ".wasmtime.cwasm")
        subprocess.run([wt, "compile", str(src), "-o", str(out)], check=True)
        return out

    rows = []  # (group, label, seconds, baseline label)

    def group_of(group, cases):
        """Times `cases` [(label, once, baseline label or None)] round-robin: one warm-up
        start of each, then `runs` rounds of one start of each, so that the machine's
        drift affects every case of the group alike."""
        for label, once, _ in cases:
            once()
        times = {label: [] for label, _, _ in cases}
        for _ in range(args.runs):
            for label, once, _ in cases:
                times[label].append(once())
        for label, _, baseline in cases:
            seconds = statistics.median(times[label])
            rows.append((group, label, seconds, baseline))
            print(f"  {group}: {label}: {seconds * 1000:.1f} ms", file=sys.stderr, flush=True)

    if args.only in (None, "serve"):
        wd_serve = lambda extra, module: lambda port: [  # noqa: E731
            wd, "serve", "--listen", f"127.0.0.1:{port}", *extra, str(module)]
        wt_serve = lambda extra, module: lambda port: [  # noqa: E731
            wt, "serve", "-S", "cli", "--addr", f"127.0.0.1:{port}", *extra, str(module)]
        serve = lambda argv: lambda: time_serve(argv, env)  # noqa: E731
        for name, module in [("component (http_proxy)", proxy), ("CGI module (cgi)", cgi)]:
            pre = wd_compile(module)
            cases = []
            like = {}
            if module == proxy:
                wt_pre = wt_compile(module)
                like = {
                    "no cache": "wasmtime serve, no cache",
                    "warm cache": "wasmtime serve, warm cache",
                    "precompiled": "wasmtime serve, precompiled",
                }
                cases += [
                    (like["no cache"], serve(wt_serve(["-C", "cache=n"], module)), None),
                    (like["warm cache"],
                     serve(wt_serve(["-C", f"cache-config={wt_cache_cfg}"], module)), None),
                    (like["precompiled"], serve(wt_serve(["--allow-precompiled"], wt_pre)), None),
                ]
            cases += [
                ("wasi-dapr serve, no cache", serve(wd_serve(["--no-cache"], module)),
                 like.get("no cache")),
                ("wasi-dapr serve, warm cache",
                 serve(wd_serve(["--cache-dir", str(cache)], module)), like.get("warm cache")),
                ("wasi-dapr serve, precompiled", serve(wd_serve([], pre)),
                 like.get("warm cache")),
            ]
            group_of(f"serve: {name}", cases)

    if args.only in (None, "run"):
        pre = wd_compile(hello)
        wt_pre = wt_compile(hello)
        run = lambda argv: lambda: time_run(argv, env, work)  # noqa: E731
        group_of("run: hello module (env_dump)", [
            ("wasmtime run, no cache", run([wt, "run", "-C", "cache=n", str(hello)]), None),
            ("wasmtime run, warm cache",
             run([wt, "run", "-C", f"cache-config={wt_cache_cfg}", str(hello)]), None),
            ("wasmtime run, precompiled",
             run([wt, "run", "--allow-precompiled", str(wt_pre)]), None),
            ("wasi-dapr run, no cache", run([wd, "run", "--no-cache", str(hello)]),
             "wasmtime run, no cache"),
            ("wasi-dapr run, warm cache", run([wd, "run", "--cache-dir", str(cache), str(hello)]),
             "wasmtime run, warm cache"),
            ("wasi-dapr run, precompiled", run([wd, "run", str(pre)]),
             "wasmtime run, precompiled"),
        ])

        pre = wd_compile(state)
        dev_env = dict(env, DAPR_HTTP_PORT=str(free_port()))
        run_dev = lambda argv: lambda: time_run(argv, dev_env, work)  # noqa: E731
        group_of("run: state example (state-rust --dev, embedded sidecar)", [
            ("wasi-dapr run --dev, no cache", run_dev([wd, "run", "--dev", "--no-cache", str(state)]),
             None),
            ("wasi-dapr run --dev, warm cache",
             run_dev([wd, "run", "--dev", "--cache-dir", str(cache), str(state)]), None),
            ("wasi-dapr run --dev, precompiled", run_dev([wd, "run", "--dev", str(pre)]),
             "wasi-dapr run --dev, warm cache"),
        ])

    print(f"\nmedians of {args.runs} starts ({wd}; {wt})\n")
    last_group = None
    by_label = {}
    for group, label, seconds, _ in rows:
        by_label[(group, label)] = seconds
    for group, label, seconds, baseline in rows:
        if group != last_group:
            print(f"\n{group}\n\n| case | median ms | ratio |\n|---|---:|---:|")
            last_group = group
        ratio = ""
        if baseline and (group, baseline) in by_label:
            ratio = f"{seconds / by_label[(group, baseline)]:.2f} x {baseline}"
        print(f"| {label} | {seconds * 1000:.1f} | {ratio} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
