//! `wasi-dapr serve` throughput and latency for a hello handler against a native hyper
//! hello server, in the same process and run, at 1, 16 and 64 concurrent connections;
//! plus the per-request instantiation time.
//!
//! `cargo bench -p wasi-dapr --bench serve`. Each point alternates `BENCH_ROUNDS` rounds
//! (default 5) of `BENCH_SECONDS` (default 1) on each side and reports medians;
//! `BENCH_CONNS=16` or `1,64` measures only those connection counts.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasi_dapr::config::HostConfig;
use wasi_dapr::dapr_env::SidecarEndpoint;
use wasi_dapr::outbound::OutboundHttp;
use wasi_dapr::outbound_http::OutboundHttpCtx;
use wasi_dapr::runtime::{HostState, Runtime, RuntimeOptions};
use wasi_dapr::serve::{ServeOptions, Server};
use wasmtime_wasi::WasiCtxBuilder;

// The `wasi-dapr` binary's allocator, for both sides of the comparison.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(5);
    // The binary's log setup (level filter and formatter), writing nowhere.
    wasi_dapr::logging::init(std::io::sink, false, wasi_dapr::logging::LogFormat::Text);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench(Duration::from_secs(seconds), rounds))
}

async fn native_hello() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    let mut res = hyper::Response::new(Full::new(Bytes::from_static(b"hello")));
                    res.headers_mut().insert(
                        "content-type",
                        hyper::header::HeaderValue::from_static("text/plain"),
                    );
                    Ok::<_, Infallible>(res)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

struct Point {
    rps: f64,
    /// Process CPU time (user + system, both sides of the exchange) per request.
    cpu_per_req: Duration,
    p50: Duration,
    p99: Duration,
}

/// `connections` workers, each with its own keep-alive connection, for `duration`.
async fn load(url: &str, connections: usize, duration: Duration) -> Result<Point> {
    let url = Arc::new(url.to_string());
    let cpu_before = process_cpu();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(1)
                .build()?;
            let mut lat = Vec::new();
            while start.elapsed() < duration {
                let t = Instant::now();
                let res = client.get(url.as_str()).send().await?;
                if res.status() != 200 {
                    bail!("status {}", res.status());
                }
                res.bytes().await?;
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Ok(Point {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        cpu_per_req: cpu / all.len().max(1) as u32,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (Linux; clock
/// ticks of 10 ms, so a 3 s point on 2 cores is read to about 0.2%). Zero elsewhere.
fn process_cpu() -> Duration {
    const TICKS_PER_SECOND: u64 = 100;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / TICKS_PER_SECOND)
}

/// Returns (instantiation alone, instantiation + running the hello handler to completion).
async fn instantiation_time(module_path: &str) -> Result<(Duration, Duration)> {
    let runtime = Runtime::new(RuntimeOptions {
        pooling_instances: Some(16),
        max_memory_bytes: 128 << 20,
        // As `serve` builds it for a core module.
        concurrency: false,
        ..Default::default()
    })?;
    let module = runtime.load_module(std::path::Path::new(module_path))?;
    let pre = runtime.linker()?.instantiate_pre(&module)?;
    let http = OutboundHttp::new(
        HostConfig::deny_all(),
        SidecarEndpoint::parse("http://127.0.0.1:3500")?,
        None,
    );
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        let state = HostState::new(
            WasiCtxBuilder::new().build_p1(),
            OutboundHttpCtx::new(http.clone()),
            128 << 20,
            None,
        );
        let mut store = runtime.new_store(state);
        pre.instantiate_async(&mut store).await?;
    }
    let instantiate = start.elapsed() / n;
    let start = Instant::now();
    for _ in 0..n {
        let stdout = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .env("PATH_INFO", "/hello")
            .env("REQUEST_METHOD", "GET");
        let state = HostState::new(
            wasi.build_p1(),
            OutboundHttpCtx::new(http.clone()),
            128 << 20,
            None,
        );
        let mut store = runtime.new_store(state);
        let instance = pre.instantiate_async(&mut store).await?;
        instance
            .get_typed_func::<(), ()>(&mut store, "_start")?
            .call_async(&mut store, ())
            .await?;
        if !stdout.contents().ends_with(b"hello") {
            bail!("unexpected handler output");
        }
    }
    Ok((instantiate, start.elapsed() / n))
}

/// The connection counts to measure: `BENCH_CONNS` (comma-separated), else 1, 16, 64.
fn connection_counts() -> Vec<usize> {
    std::env::var("BENCH_CONNS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 16, 64])
}

/// The median of `values` (upper median for an even count).
fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

/// Medians over rounds of one side's figures: (rps, p50, p99, cpu per request).
fn medians(points: &[Point]) -> (f64, Duration, Duration, Duration) {
    (
        median(points.iter().map(|p| p.rps).collect()),
        median(points.iter().map(|p| p.p50).collect()),
        median(points.iter().map(|p| p.p99).collect()),
        median(points.iter().map(|p| p.cpu_per_req).collect()),
    )
}

async fn bench(duration: Duration, rounds: usize) -> Result<()> {
    let module = wasi_dapr_test_artifacts::CGI;
    let native = native_hello().await?;
    let mut options = ServeOptions::new(
        module.into(),
        HostConfig::deny_all(),
        SidecarEndpoint::parse("http://127.0.0.1:3500")?,
    );
    options.listen = "127.0.0.1:0".parse()?;
    let server = Server::start(options).await.context("starting serve")?;
    let served_url = format!("http://{}/hello", server.local_addr());
    let native_url = format!("http://{native}/hello");

    // Warm up both (compile caches, connection setup).
    load(&served_url, 4, Duration::from_millis(500)).await?;
    load(&native_url, 4, Duration::from_millis(500)).await?;

    let (inst, whole) = instantiation_time(module).await?;
    println!(
        "hello handler: wasi-dapr serve vs native hyper, {rounds} alternating rounds of {}s a side per point, medians",
        duration.as_secs()
    );
    println!(
        "per-request instantiation (store + WASI context + instance, pooled): {:.1} µs (target < 50 µs)",
        inst.as_secs_f64() * 1e6
    );
    println!(
        "instantiation + running the hello handler, no HTTP: {:.1} µs",
        whole.as_secs_f64() * 1e6
    );
    println!(
        "{:>5} | {:>10} {:>9} {:>9} {:>7} | {:>10} {:>9} {:>9} {:>7} | {:>6}",
        "conns",
        "serve rps",
        "p50 µs",
        "p99 µs",
        "cpu µs",
        "native rps",
        "p50 µs",
        "p99 µs",
        "cpu µs",
        "ratio"
    );
    for conns in connection_counts() {
        // Alternate short rounds so a slow spell of a shared machine lands on both sides,
        // and report medians: the ratio is the median of the rounds' ratios.
        let (mut served, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let s = load(&served_url, conns, duration).await?;
            let n = load(&native_url, conns, duration).await?;
            ratios.push(s.rps / n.rps);
            served.push(s);
            native.push(n);
        }
        let (s, n) = (medians(&served), medians(&native));
        println!(
            "{conns:>5} | {:>10.0} {:>9.0} {:>9.0} {:>7.1} | {:>10.0} {:>9.0} {:>9.0} {:>7.1} | {:>5.0}%",
            s.0,
            s.1.as_secs_f64() * 1e6,
            s.2.as_secs_f64() * 1e6,
            s.3.as_secs_f64() * 1e6,
            n.0,
            n.1.as_secs_f64() * 1e6,
            n.2.as_secs_f64() * 1e6,
            n.3.as_secs_f64() * 1e6,
            100.0 * median(ratios.clone())
        );
        let spread: Vec<String> = ratios.iter().map(|r| format!("{:.0}", r * 100.0)).collect();
        println!("      | ratio by round: {}%", spread.join(", "));
    }
    println!("ratio = serve rps / native rps (target >= 40%)");
    println!("cpu µs = process CPU time (server and load generator) per request");
    server.shutdown().await;
    Ok(())
}
