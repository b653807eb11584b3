//! Per-request latency of sequential GETs to a local server: a guest module through the
//! `wasi_experimental_http` import, a WASI 0.2 component through `wasi:http` and a WASI
//! 0.3 component through `wasi:http/client` versus a native Rust client in this same
//! process.
//!
//! `cargo bench -p wasi-dapr --bench outbound` (env `BENCH_REQUESTS`, default 2000).
//! Prints one row per side and the ratio; the target is a ratio of 1.3 or less.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasi_dapr::component::ComponentState;
use wasi_dapr::config::HostConfig;
use wasi_dapr::dapr_env::SidecarEndpoint;
use wasi_dapr::outbound::OutboundHttp;
use wasi_dapr::outbound_http::OutboundHttpCtx;
use wasi_dapr::runtime::{HostState, Loaded, Runtime, RuntimeOptions};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const ROUNDS: usize = 5;

fn main() -> Result<()> {
    let requests: u64 = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench(requests))
}

async fn serve_hello() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn native(url: &str, n: u64) -> Result<Duration> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let start = Instant::now();
    for _ in 0..n {
        let res = client.get(url).send().await?;
        if res.status() != 200 {
            bail!("status {}", res.status());
        }
        res.bytes().await?;
    }
    Ok(start.elapsed())
}

async fn guest(
    runtime: &Runtime,
    module: &wasmtime::Module,
    http: &OutboundHttp,
    url: &str,
    n: u64,
) -> Result<Duration> {
    let linker = runtime.linker()?;
    let stdout = MemoryOutputPipe::new(4096);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone())
        .args(&["bench_get", url, &n.to_string()]);
    let state = HostState::new(
        wasi.build_p1(),
        OutboundHttpCtx::new(http.clone()),
        1 << 28,
        None,
    );
    let mut store = runtime.new_store(state);
    let start = Instant::now();
    let instance = linker.instantiate_async(&mut store, module).await?;
    let run = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    run.call_async(&mut store, ()).await?;
    let elapsed = start.elapsed();
    let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
    if !out.contains(&format!("requests={n}")) {
        bail!("guest did not finish: {out}");
    }
    Ok(elapsed)
}

async fn component_guest(
    runtime: &Runtime,
    component: &wasmtime::component::Component,
    http: &OutboundHttp,
    url: &str,
    n: u64,
) -> Result<Duration> {
    let linker = wasi_dapr::component::linker(runtime.engine())?;
    let pre = linker.instantiate_pre(component)?;
    let stdout = MemoryOutputPipe::new(4096);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone())
        .args(&["http_fetch", url, "--repeat", &n.to_string()]);
    let state = ComponentState::new(wasi.build(), http.clone(), 1 << 28, None);
    let mut store = runtime.new_store(state);
    let start = Instant::now();
    // A WASI 0.2 command, else a 0.3 one (run in the store's event loop).
    let ran = match CommandPre::new(pre.clone()) {
        Ok(pre) => {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await?
        }
        Err(_) => {
            let pre = wasmtime_wasi::p3::bindings::CommandPre::new(pre)?;
            let command = pre.instantiate_async(&mut store).await?;
            store
                .run_concurrent(async |s| command.wasi_cli_run().call_run(s).await)
                .await??
        }
    };
    if ran.is_err() {
        bail!(
            "component failed: {}",
            String::from_utf8_lossy(&stdout.contents())
        );
    }
    let elapsed = start.elapsed();
    let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
    if !out.contains(&format!("requests={n}")) {
        bail!("component did not finish: {out}");
    }
    Ok(elapsed)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn bench(n: u64) -> Result<()> {
    let addr = serve_hello().await?;
    let url = format!("http://127.0.0.1:{}/hello", addr.port());
    // The engines `run` chooses: without concurrency for the module and the 0.2
    // component, with it for the 0.3 one (which uses the async ABI).
    let runtime = Runtime::new(RuntimeOptions {
        concurrency: false,
        ..RuntimeOptions::default()
    })?;
    let runtime_p3 = Runtime::new(RuntimeOptions::default())?;
    let module = runtime
        .load_module(std::path::Path::new(wasi_dapr_test_artifacts::BENCH_GET))
        .context("loading bench_get")?;
    let load = |runtime: &Runtime, path: &str| match runtime.load(std::path::Path::new(path)) {
        Ok(Loaded::Component(c, _)) => Ok(c),
        Ok(Loaded::Module(..)) => bail!("{path} is not a component"),
        Err(e) => Err(e.into()),
    };
    let component = load(&runtime, wasi_dapr_test_artifacts::COMPONENT_HTTP_FETCH_P2)?;
    let component_p3 = load(
        &runtime_p3,
        wasi_dapr_test_artifacts::COMPONENT_HTTP_FETCH_P3,
    )?;
    let config = HostConfig::from_toml_str(
        &format!("allowed_hosts = [\"http://127.0.0.1:{}\"]", addr.port()),
        "bench",
    )?;
    let http = OutboundHttp::new(
        config,
        SidecarEndpoint::parse("http://127.0.0.1:3500")?,
        None,
    );

    // Warm up both sides (connections, caches, lazy init).
    native(&url, 100).await?;
    guest(&runtime, &module, &http, &url, 100).await?;
    component_guest(&runtime, &component, &http, &url, 100).await?;
    component_guest(&runtime_p3, &component_p3, &http, &url, 100).await?;

    let (mut nat, mut gst, mut cmp, mut p3) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        nat.push(native(&url, n).await?);
        gst.push(guest(&runtime, &module, &http, &url, n).await?);
        cmp.push(component_guest(&runtime, &component, &http, &url, n).await?);
        p3.push(component_guest(&runtime_p3, &component_p3, &http, &url, n).await?);
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let (nat, gst, cmp, p3) = (
        per(median(nat)),
        per(median(gst)),
        per(median(cmp)),
        per(median(p3)),
    );
    println!("outbound GET, {n} sequential requests, median of {ROUNDS} rounds");
    println!("{:<28} {:>12}", "side", "µs/request");
    println!("{:<28} {:>12.1}", "native reqwest (host)", nat);
    println!("{:<28} {:>12.1}", "guest via import", gst);
    println!("{:<28} {:>12.1}", "component via wasi:http", cmp);
    println!("{:<28} {:>12.1}", "0.3 component via client", p3);
    println!("ratio guest/native = {:.2} (target <= 1.30)", gst / nat);
    println!("ratio component/native = {:.2} (target <= 1.30)", cmp / nat);
    println!(
        "ratio 0.3 component/native = {:.2} (target <= 1.30)",
        p3 / nat
    );
    Ok(())
}
