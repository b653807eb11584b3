//! `wasi-dapr run`: run a WASI command once and report its exit code: a core module
//! (WASI preview 1, `_start`) or a `wasi:cli/command` component (WASI 0.2, `wasi:cli/run`),
//! told apart by the file's bytes. Both get the same arguments, environment, preopens,
//! deadline and memory cap, and their outbound HTTP takes the same send path.

use std::path::PathBuf;
use std::time::Duration;

use tracing::info;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::component::{self, ComponentState};
use crate::config::HostConfig;
use crate::dapr_env::{Secret, SidecarEndpoint};
use crate::outbound::OutboundHttp;
use crate::outbound_http::OutboundHttpCtx;
use crate::runtime::{GuestFacts, HostState, Loaded, Runtime, RuntimeError, RuntimeOptions};
use wasmtime_wasi::p2::bindings::CommandPre;

/// Exit code used when the guest traps (as a process killed by SIGABRT would report).
pub const TRAP_EXIT_CODE: i32 = 134;

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
}

impl std::str::FromStr for Preopen {
    type Err = String;

    /// Parses `HOST[::GUEST]`; without `::GUEST` the guest sees the host path.
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, guest) = match s.split_once("::") {
            Some((h, g)) => (h, g),
            None => (s, s),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!(
                "expected HOST[::GUEST], e.g. ./data::/data, got {s:?}"
            ));
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The module file (`.wasm` or `.wat`).
    pub module: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Extra environment variables for the guest (the host's own environment is not
    /// passed through; only these, plus `DAPR_HTTP_PORT` and `DAPR_HTTP_ENDPOINT`).
    pub env: Vec<(String, String)>,
    /// Directories to preopen.
    pub dirs: Vec<Preopen>,
    /// The outbound policy.
    pub config: HostConfig,
    /// The sidecar the guest is told about and the token is bound to.
    pub sidecar: SidecarEndpoint,
    /// `DAPR_API_TOKEN`, sent by the host to the sidecar only.
    pub api_token: Option<Secret>,
    /// Stop the guest after this long (`None`: no limit).
    pub timeout: Option<Duration>,
}

/// A failure to run (a guest's own non-zero exit is not one of these).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Engine or module problem.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A preopened directory could not be opened.
    #[error("opening directory {path} for the guest: {reason}")]
    Preopen {
        /// The host path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The module could not be instantiated (missing imports, start trap, ...).
    #[error("instantiating {module}: {reason}")]
    Instantiate {
        /// The module path.
        module: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The module has neither a `_start` export nor a wasm start function: nothing runs.
    #[error("{0} is not a WASI command module (no `_start` export and no wasm start function)")]
    NotACommand(PathBuf),
    /// The component does not export `wasi:cli/run`.
    #[error(
        "{path} is a component but not a wasi:cli/command ({reason}); a wasi:http/proxy or wasi:http/service component is run with `wasi-dapr serve`"
    )]
    NotACommandComponent {
        /// The component path.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
}

/// How the guest ended.
#[derive(Debug)]
pub enum Outcome {
    /// It returned from `_start` or its start function (0), or called `proc_exit`.
    Exited(i32),
    /// It trapped; the message includes the wasm backtrace.
    Trapped(String),
    /// It ran past its deadline.
    TimedOut,
}

impl Outcome {
    /// The process exit code this outcome maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Trapped(_) | Outcome::TimedOut => TRAP_EXIT_CODE,
        }
    }
}

/// Runs the module or component once with inherited stdio, on an engine built from
/// `engine` for it ([`Runtime::for_guest`]).
pub async fn run(engine: RuntimeOptions, options: RunOptions) -> Result<Outcome, RunError> {
    let bytes = std::fs::read(&options.module).map_err(|source| RuntimeError::Read {
        path: options.module.clone(),
        source,
    })?;
    let (runtime, loaded) = Runtime::for_guest(engine, &bytes, |runtime| {
        runtime.load_from(&options.module, &bytes)
    })?;
    drop(bytes);
    let runtime = &runtime;
    let outbound = OutboundHttp::new(
        options.config.clone(),
        options.sidecar.clone(),
        options.api_token.clone(),
    );
    outbound.warm_up();

    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio();
    let program = options
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    wasi.arg(&program);
    wasi.args(&options.args);
    let env = merge_env([options.sidecar.guest_env().to_vec(), options.env.clone()]);
    wasi.envs(&env);
    for dir in &options.dirs {
        wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadWrite)
            .map_err(|e| RunError::Preopen {
                path: dir.host.clone(),
                reason: format!("{e:#}"),
            })?;
    }
    match loaded {
        Loaded::Module(module, facts) => {
            run_module(runtime, &options, module, facts, wasi, outbound).await
        }
        Loaded::Component(component, _) => {
            run_component(runtime, &options, component, wasi, outbound).await
        }
    }
}

async fn run_module(
    runtime: &Runtime,
    options: &RunOptions,
    module: wasmtime::Module,
    facts: GuestFacts,
    mut wasi: WasiCtxBuilder,
    outbound: OutboundHttp,
) -> Result<Outcome, RunError> {
    let linker = runtime.linker()?;
    let state = HostState::new(
        wasi.build_p1(),
        OutboundHttpCtx::new(outbound),
        runtime.options().max_memory_bytes,
        options.timeout,
    );
    // A module without `_start` is still run when it has a wasm start function: old
    // guests (AssemblyScript top-level code) do all their work there.
    let has_command_start = module.get_export("_start").is_some();
    if !has_command_start && !facts.has_start {
        return Err(RunError::NotACommand(options.module.clone()));
    }
    let mut store = runtime.new_store(state);
    let instance = match linker.instantiate_async(&mut store, &module).await {
        Ok(instance) => instance,
        // A trap, `proc_exit` or deadline in the start function is the guest's outcome.
        Err(e) if e.downcast_ref::<Trap>().is_some() || e.downcast_ref::<I32Exit>().is_some() => {
            return Ok(classify(e));
        }
        Err(e) => {
            return Err(RunError::Instantiate {
                module: options.module.clone(),
                reason: format!("{e:#}"),
            });
        }
    };
    if !has_command_start {
        info!(module = %options.module.display(), "ran its start function (no `_start`)");
        return Ok(Outcome::Exited(0));
    }
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|_| RunError::NotACommand(options.module.clone()))?;
    info!(module = %options.module.display(), "running");
    let outcome = match start.call_async(&mut store, ()).await {
        Ok(()) => Outcome::Exited(0),
        Err(e) => classify(e),
    };
    Ok(outcome)
}

async fn run_component(
    runtime: &Runtime,
    options: &RunOptions,
    component: wasmtime::component::Component,
    mut wasi: WasiCtxBuilder,
    outbound: OutboundHttp,
) -> Result<Outcome, RunError> {
    let linker = component::linker(runtime.engine())?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| RunError::Instantiate {
            module: options.module.clone(),
            reason: format!("{e:#}"),
        })?;
    // A WASI 0.2 command, else a 0.3 one (its `run` is async: called in the store's
    // event loop).
    let command = match CommandPre::new(pre.clone()) {
        Ok(pre) => Command::P2(pre),
        // A 0.3 command runs in the store's event loop: only on an engine with
        // concurrency, which `for_guest` chose for every component using the async ABI.
        Err(not_p2) if !runtime.engine().get_concurrency_support() => {
            return Err(RunError::NotACommandComponent {
                path: options.module.clone(),
                reason: format!("{not_p2:#}"),
            });
        }
        Err(not_p2) => Command::P3(wasmtime_wasi::p3::bindings::CommandPre::new(pre).map_err(
            |e| RunError::NotACommandComponent {
                path: options.module.clone(),
                reason: format!("{not_p2:#}; nor a wasi:cli/command@0.3.0: {e:#}"),
            },
        )?),
    };
    let state = ComponentState::new(
        wasi.build(),
        outbound,
        runtime.options().max_memory_bytes,
        options.timeout,
    );
    let mut store = runtime.new_store(state);
    let instantiated = match &command {
        Command::P2(pre) => pre.instantiate_async(&mut store).await.map(Ok),
        Command::P3(pre) => pre.instantiate_async(&mut store).await.map(Err),
    };
    let instance = match instantiated {
        Ok(instance) => instance,
        // A trap or a deadline while instantiating is the guest's outcome, as for `_start`.
        Err(e) if e.downcast_ref::<Trap>().is_some() => return Ok(classify(e)),
        Err(e) => {
            return Err(RunError::Instantiate {
                module: options.module.clone(),
                reason: format!("{e:#}"),
            });
        }
    };
    info!(component = %options.module.display(), "running");
    let ran = match instance {
        Ok(p2) => p2.wasi_cli_run().call_run(&mut store).await,
        Err(p3) => store
            .run_concurrent(async |store| p3.wasi_cli_run().call_run(store).await)
            .await
            .and_then(|ran| ran),
    };
    let outcome = match ran {
        Ok(Ok(())) => Outcome::Exited(0),
        // `run` returned `err`: the command failed, as a program exiting with 1.
        Ok(Err(())) => Outcome::Exited(1),
        Err(e) => classify(e),
    };
    Ok(outcome)
}

/// A prepared `wasi:cli/command` of either WASI version.
enum Command {
    P2(CommandPre<ComponentState>),
    P3(wasmtime_wasi::p3::bindings::CommandPre<ComponentState>),
}

/// Concatenates variable lists where a later list wins: one entry per name, in the order
/// names first appear. (`--env DAPR_HTTP_PORT=...` overrides the host's value.)
pub fn merge_env<const N: usize>(lists: [Vec<(String, String)>; N]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in lists.into_iter().flatten() {
        match merged.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => merged.push((k, v)),
        }
    }
    merged
}

/// Turns a call error into an outcome: `proc_exit`, deadline, or trap with backtrace.
pub fn classify(error: wasmtime::Error) -> Outcome {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return Outcome::TimedOut;
    }
    Outcome::Trapped(format!("{error:#}"))
}

use wasmtime::Trap;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_env_wins_once() {
        let a = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "2".to_string()),
        ];
        let b = vec![
            ("A".to_string(), "3".to_string()),
            ("C".to_string(), "4".to_string()),
        ];
        let merged = merge_env([a, b]);
        assert_eq!(
            merged,
            [
                ("A".into(), "3".into()),
                ("B".into(), "2".into()),
                ("C".into(), "4".into())
            ]
        );
    }

    #[test]
    fn preopen_parsing() {
        let p: Preopen = "./data::/data".parse().unwrap();
        assert_eq!(
            (p.host.to_str().unwrap(), p.guest.as_str()),
            ("./data", "/data")
        );
        let p: Preopen = "/tmp".parse().unwrap();
        assert_eq!(p.guest, "/tmp");
        assert!("::/x".parse::<Preopen>().is_err());
        assert!("/x::".parse::<Preopen>().is_err());
    }
}
