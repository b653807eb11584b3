//! The `wasi-dapr` command line: parses arguments and calls the library.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tracing::{info, warn};

use wasi_dapr::config::{ConfigSource, HostConfig};
use wasi_dapr::dapr_env::{Secret, SidecarEndpoint};
use wasi_dapr::run::{Outcome, Preopen, RunOptions};
use wasi_dapr::runtime::{Runtime, RuntimeOptions};
use wasi_dapr::serve::{ServeLimits, ServeOptions, Server};
use wasi_dapr::{defaults, dev};
use wasi_dapr_sidecar::{Sidecar, SidecarOptions};

#[derive(Parser)]
#[command(
    name = "wasi-dapr",
    version,
    about = "Run WebAssembly (WASI) modules and components beside a Dapr sidecar"
)]
struct Cli {
    /// Log line format on stderr: text, or json (one object per line) for log pipelines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text, value_name = "FORMAT")]
    log_format: LogFormatArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WASI command (a module, or a wasi:cli/command component) once and exit with its exit code.
    Run(RunArgs),
    /// Serve HTTP with a fresh instance of the guest per request (the app side of Dapr).
    Serve(ServeArgs),
    /// Serve Dapr's HTTP API locally: an embedded stand-in for daprd.
    Sidecar(SidecarArgs),
    /// Compile a module or component ahead of time into a .cwasm that `run` and `serve` load without compiling.
    ///
    /// The .cwasm holds native code for this machine's architecture, made with the engine
    /// settings of `run` and `serve`; it loads only in the same wasi-dapr build (same
    /// wasmtime version and configuration) and is refused with a clear error otherwise.
    ///
    /// Precompiled code is not validated when loaded: a .cwasm is trusted like a native
    /// binary. Only load artifacts you built yourself with `wasi-dapr compile`.
    Compile(CompileArgs),
}

#[derive(Args)]
struct CompileArgs {
    /// The module or component to compile (.wasm, or .wat text).
    module: PathBuf,
    /// Where to write the artifact (default: MODULE with the extension .cwasm).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// The guest handling requests: a WASI command module (CGI on stdin/stdout) or a
    /// wasi:http/proxy component; .wasm, .wat, or a .cwasm from `wasi-dapr compile` (trusted,
    /// not validated: load only artifacts you built yourself).
    module: PathBuf,
    /// Address to listen on (daprd's --app-port points here).
    #[arg(long, default_value_t = defaults::SERVE_LISTEN, value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// Outbound policy file (default: ./allowlist.toml if present, else deny all).
    #[arg(long, value_name = "FILE")]
    allowlist: Option<PathBuf>,
    /// Environment variable for every instance (repeatable). CGI names (REQUEST_METHOD,
    /// PATH_INFO, ..., HTTP_*) are set per request and refused here.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Deadline for one request, e.g. 30s.
    #[arg(long, default_value_t = defaults::SERVE_REQUEST_TIMEOUT.into(), value_name = "DURATION")]
    request_timeout: humantime::Duration,
    /// Linear-memory cap per instance, in MiB.
    #[arg(long, default_value_t = defaults::SERVE_MAX_MEMORY_MIB, value_name = "MIB")]
    max_memory_mib: usize,
    /// Largest request body accepted, in bytes (larger gets 413).
    #[arg(long, default_value_t = defaults::SERVE_MAX_REQUEST_BODY_BYTES, value_name = "BYTES")]
    max_request_body_bytes: usize,
    /// Largest response a handler may write, in bytes.
    #[arg(long, default_value_t = defaults::SERVE_MAX_RESPONSE_BYTES, value_name = "BYTES")]
    max_response_bytes: usize,
    /// Instances running at once; excess requests wait up to --queue-timeout, then get 503.
    #[arg(long, default_value_t = defaults::SERVE_MAX_CONCURRENT, value_name = "N")]
    max_concurrent: u32,
    /// How long a request may wait for a free instance.
    #[arg(long, default_value_t = defaults::SERVE_QUEUE_TIMEOUT.into(), value_name = "DURATION")]
    queue_timeout: humantime::Duration,
    /// How long a client may take to send a request body (then 408). Bodies are read
    /// before an instance is taken, so slow clients hold no instance.
    #[arg(long, default_value_t = defaults::SERVE_BODY_READ_TIMEOUT.into(), value_name = "DURATION")]
    body_read_timeout: humantime::Duration,
    /// How long a connection may take to send a request head, counted from when it waits
    /// for one: half-sent heads and idle keep-alive connections are closed after it.
    #[arg(long, default_value_t = defaults::SERVE_HEADER_READ_TIMEOUT.into(), value_name = "DURATION")]
    header_read_timeout: humantime::Duration,
    /// Open client connections at most; further ones wait to be accepted.
    #[arg(long, default_value_t = defaults::SERVE_MAX_CONNECTIONS, value_name = "N")]
    max_connections: u32,
    /// Instances kept instantiated ahead of requests by a helper thread (0: none; larger
    /// than --max-concurrent counts as --max-concurrent). Each holds one more pool slot.
    #[arg(long, default_value_t = defaults::SERVE_PREPARED_INSTANCES, value_name = "N")]
    prepared_instances: u32,
    /// WASI 0.3 `wasi:http/service` components only: an instance that answered cleanly
    /// serves up to N requests, one at a time, before it is dropped; its memory (statics,
    /// caches) is shared by those requests. 1: a fresh instance per request (default).
    #[arg(long, default_value_t = defaults::SERVE_REUSE_INSTANCES, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    reuse_instances: u32,
    /// Liveness path answered by the host (200) without running the module.
    #[arg(long, default_value = defaults::SERVE_HEALTH_PATH, value_name = "PATH")]
    health_path: String,
    /// Readiness path: 200 once the sidecar's /v1.0/healthz/outbound answers, else 503.
    #[arg(long, default_value = defaults::SERVE_READY_PATH, value_name = "PATH")]
    ready_path: String,
    /// Also serve Prometheus metrics at GET /metrics on this address (default: off).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Open connections to the metrics listener at most, apart from --max-connections.
    #[arg(long, default_value_t = defaults::METRICS_MAX_CONNECTIONS, value_name = "N")]
    metrics_max_connections: u32,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    dev: DevArgs,
}

#[derive(Args)]
struct DevArgs {
    /// Start the embedded sidecar if no Dapr sidecar answers on DAPR_HTTP_PORT / DAPR_HTTP_ENDPOINT.
    #[arg(long)]
    dev: bool,
    /// With --dev: the component folder for the embedded sidecar.
    #[arg(long, value_name = "DIR", requires = "dev")]
    resources_path: Option<PathBuf>,
    /// With --dev: the app id of the embedded sidecar.
    #[arg(long, value_name = "ID", requires = "dev")]
    app_id: Option<String>,
}

#[derive(Args)]
struct SidecarArgs {
    /// HTTP port to listen on (0 picks a free port, which is logged).
    #[arg(long, default_value_t = defaults::SIDECAR_HTTP_PORT, env = "DAPR_HTTP_PORT")]
    dapr_http_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    listen_address: std::net::IpAddr,
    /// The app id (state keys are stored as `<app-id>||<key>`).
    #[arg(long, default_value = defaults::SIDECAR_APP_ID, env = "APP_ID")]
    app_id: String,
    /// The app's port on 127.0.0.1, for subscriptions, pub/sub delivery and invocation.
    #[arg(long, env = "APP_PORT")]
    app_port: Option<u16>,
    /// Folder of Dapr component YAML files (as `dapr run --resources-path`).
    #[arg(long, value_name = "DIR")]
    resources_path: Option<PathBuf>,
}

#[derive(Args)]
struct EngineArgs {
    /// Do not use the on-disk cache of compiled modules and components.
    #[arg(long)]
    no_cache: bool,
    /// Directory for the compiled-module cache (default: wasmtime's cache directory).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// The module or component to run (.wasm, .wat text, or a .cwasm from `wasi-dapr
    /// compile`, which is trusted, not validated: load only artifacts you built yourself).
    module: PathBuf,
    /// Outbound policy file (default: ./allowlist.toml if present, else deny all).
    #[arg(long, value_name = "FILE")]
    allowlist: Option<PathBuf>,
    /// Environment variable for the guest (repeatable). The host's own environment is not passed.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Preopen a host directory for the guest, HOST[::GUEST] (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<Preopen>,
    /// Stop the guest after this long, e.g. 30s or 5m (default: no limit).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Largest linear memory the guest may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = defaults::RUN_MAX_MEMORY_MIB)]
    max_memory_mib: usize,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    dev: DevArgs,
    /// Arguments for the guest, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got {s:?}")),
    }
}

// mimalloc rather than the system allocator: a served request allocates and frees many
// small objects across two or more threads, where glibc's malloc measured 10-25% slower
// per request (`benches/serve.rs`, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ! {
    let cli = Cli::parse();
    let format = match cli.log_format {
        LogFormatArg::Text => wasi_dapr::logging::LogFormat::Text,
        LogFormatArg::Json => wasi_dapr::logging::LogFormat::Json,
    };
    wasi_dapr::logging::init(
        std::io::stderr,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        format,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    // Every command has finished its work (serve and the sidecar have drained, `run`'s
    // guest has returned and its output is written): exit without tearing down the async
    // runtime, the engine and the compiled-module cache's worker one by one, which costs
    // a `run` a few milliseconds and frees nothing the process exit does not.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(i32::from(code))
}

async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Sidecar(args) => sidecar(args).await,
        Command::Compile(args) => compile(&args),
    }
}

fn compile(args: &CompileArgs) -> Result<u8> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.module.with_extension("cwasm"));
    let started = std::time::Instant::now();
    // The engine of `run` and `serve`: the settings that shape code are the same for
    // both, concurrency chosen from the guest as they choose it (see `RuntimeOptions`);
    // the cache only slows a one-off compile down.
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let options = RuntimeOptions {
        cache: false,
        ..RuntimeOptions::default()
    };
    let (_runtime, artifact) = Runtime::for_guest(options, &bytes, |runtime| {
        runtime.precompile_from(&args.module, &bytes)
    })?;
    std::fs::write(&output, &artifact).with_context(|| format!("writing {}", output.display()))?;
    info!(
        module = %args.module.display(),
        output = %output.display(),
        bytes = artifact.len(),
        elapsed = ?started.elapsed(),
        "compiled"
    );
    Ok(0)
}

fn load_config(path: Option<&Path>) -> Result<HostConfig> {
    let (config, source) = match path {
        Some(p) => (HostConfig::load(p)?, ConfigSource::File(p.to_path_buf())),
        None => {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            HostConfig::load_default_or_deny(&cwd)?
        }
    };
    match source {
        ConfigSource::File(p) => info!(file = %p.display(), "outbound policy loaded"),
        ConfigSource::DenyAllDefault => {
            warn!(
                "no allowlist.toml in the current directory and no --allowlist: all outbound HTTP is denied"
            )
        }
    }
    Ok(config)
}

fn engine_options(engine: &EngineArgs, max_memory_mib: usize) -> RuntimeOptions {
    RuntimeOptions {
        cache: !engine.no_cache,
        cache_dir: engine.cache_dir.clone(),
        pooling_instances: None,
        max_memory_bytes: max_memory_mib.saturating_mul(1 << 20),
        components: false,
        concurrency: true, // chosen from the guest by `Runtime::for_guest`
    }
}

async fn run(args: RunArgs) -> Result<u8> {
    let mut config = load_config(args.allowlist.as_deref())?;
    let sidecar = SidecarEndpoint::from_env()?;
    let embedded = if args.dev.dev {
        dev::allow_sidecar(&mut config, &sidecar)?;
        let options = dev::DevOptions {
            resources_path: args.dev.resources_path,
            app_id: args.dev.app_id,
            app_port: None,
        };
        dev::ensure_sidecar(&sidecar, options).await?
    } else {
        None
    };
    let mut engine = engine_options(&args.engine, args.max_memory_mib);
    // A `.cwasm` is never compiled: the cache (and its worker thread) would only cost
    // start-up time.
    engine.cache &= !wasi_dapr::precompiled::file_is_precompiled(&args.module);
    let options = RunOptions {
        module: args.module,
        args: args.args,
        env: args.env,
        dirs: args.dirs,
        config,
        sidecar,
        api_token: Secret::from_env("DAPR_API_TOKEN"),
        timeout: args.timeout,
    };
    let outcome = wasi_dapr::run::run(engine, options).await;
    if let Some(embedded) = embedded {
        embedded.shutdown().await;
    }
    let outcome = outcome?;
    match &outcome {
        Outcome::Exited(_) => {}
        Outcome::Trapped(trace) => eprintln!("error: the guest trapped:\n{trace}"),
        Outcome::TimedOut => eprintln!("error: the guest ran past its --timeout and was stopped"),
    }
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(1))
}

async fn sidecar(args: SidecarArgs) -> Result<u8> {
    let options = SidecarOptions {
        listen: std::net::SocketAddr::new(args.listen_address, args.dapr_http_port),
        app_id: args.app_id,
        app_port: args.app_port,
        resources_path: args.resources_path,
        api_token: Secret::from_env("DAPR_API_TOKEN").map(|s| s.expose().to_string()),
        app_api_token: Secret::from_env("APP_API_TOKEN").map(|s| s.expose().to_string()),
    };
    let sidecar = Sidecar::start(options)
        .await
        .context("starting the sidecar")?;
    println!(
        "wasi-dapr sidecar listening on http://{}",
        sidecar.local_addr()
    );
    tokio::select! {
        () = sidecar.wait() => info!("shut down through /v1.0/shutdown"),
        () = shutdown_signal() => info!("shutting down on signal"),
    }
    Ok(0)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn serve(args: ServeArgs) -> Result<u8> {
    let mut config = load_config(args.allowlist.as_deref())?;
    let sidecar_endpoint = SidecarEndpoint::from_env()?;
    if args.dev.dev {
        dev::allow_sidecar(&mut config, &sidecar_endpoint)?;
    }
    for path in [&args.health_path, &args.ready_path] {
        anyhow::ensure!(
            path.starts_with('/'),
            "--health-path and --ready-path must start with '/', got {path:?}"
        );
    }
    let mut options = ServeOptions::new(args.module, config, sidecar_endpoint.clone());
    options.listen = args.listen;
    options.api_token = Secret::from_env("DAPR_API_TOKEN");
    options.app_api_token = Secret::from_env("APP_API_TOKEN");
    options.env = args.env;
    options.health_path = args.health_path;
    options.ready_path = args.ready_path;
    options.cache = !args.engine.no_cache;
    options.cache_dir = args.engine.cache_dir;
    options.metrics_listen = args.metrics_listen;
    options.limits = ServeLimits {
        request_timeout: args.request_timeout.into(),
        max_memory_bytes: args.max_memory_mib.saturating_mul(1 << 20),
        max_request_body_bytes: args.max_request_body_bytes,
        max_response_bytes: args.max_response_bytes,
        max_concurrent: args.max_concurrent.max(1),
        queue_timeout: args.queue_timeout.into(),
        body_read_timeout: args.body_read_timeout.into(),
        header_read_timeout: args.header_read_timeout.into(),
        max_connections: args.max_connections.max(1),
        metrics_max_connections: args.metrics_max_connections.max(1),
        prepared_instances: args.prepared_instances,
        reuse_instances: args.reuse_instances,
    };
    let server = Server::start(options)
        .await
        .context("starting the server")?;
    println!(
        "wasi-dapr serve listening on http://{}",
        server.local_addr()
    );
    if let Some(addr) = server.metrics_addr() {
        println!("wasi-dapr serve metrics on http://{addr}/metrics");
    }
    let embedded = if args.dev.dev {
        let options = dev::DevOptions {
            resources_path: args.dev.resources_path,
            app_id: args.dev.app_id,
            app_port: Some(server.local_addr().port()),
        };
        dev::ensure_sidecar(&sidecar_endpoint, options).await?
    } else {
        None
    };
    shutdown_signal().await;
    info!("shutting down: finishing in-flight requests");
    server.shutdown().await;
    if let Some(embedded) = embedded {
        embedded.shutdown().await;
    }
    Ok(0)
}
