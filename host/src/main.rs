//! The `wasi-dapr` command line: parses arguments and calls the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use wasi_dapr::config::{ConfigSource, HostConfig};
use wasi_dapr::dapr_env::{Secret, SidecarEndpoint};
use wasi_dapr::run::{Outcome, Preopen, RunOptions};
use wasi_dapr::runtime::{Runtime, RuntimeOptions};

#[derive(Parser)]
#[command(
    name = "wasi-dapr",
    version,
    about = "Run WebAssembly (WASI) modules beside a Dapr sidecar"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WASI command module once and exit with its exit code.
    Run(RunArgs),
}

#[derive(Args)]
struct EngineArgs {
    /// Do not use the on-disk cache of compiled modules.
    #[arg(long)]
    no_cache: bool,
    /// Directory for the compiled-module cache (default: wasmtime's cache directory).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// The module to run (.wasm, or .wat text).
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
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    max_memory_mib: usize,
    #[command(flatten)]
    engine: EngineArgs,
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args).await,
    }
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
    }
}

async fn run(args: RunArgs) -> Result<u8> {
    let config = load_config(args.allowlist.as_deref())?;
    let sidecar = SidecarEndpoint::from_env()?;
    let runtime = Runtime::new(engine_options(&args.engine, args.max_memory_mib))?;
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
    let outcome = wasi_dapr::run::run(&runtime, options).await?;
    match &outcome {
        Outcome::Exited(_) => {}
        Outcome::Trapped(trace) => eprintln!("error: the guest trapped:\n{trace}"),
        Outcome::TimedOut => eprintln!("error: the guest ran past its --timeout and was stopped"),
    }
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(1))
}
