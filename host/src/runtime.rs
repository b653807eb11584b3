//! The wasmtime engine (one per process), module and component compilation with a cache,
//! precompiling to and loading from a `.cwasm` ([`crate::precompiled`]), a module store's
//! state, the module linker (WASI preview 1 + the outbound HTTP import)
//! and deadlines. Components have their state and linker in [`crate::component`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, warn};
use wasmtime::{
    Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline,
};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::outbound_http::{self, OutboundHttpCtx};
use crate::precompiled::{self, FormatError, Header, Kind};

/// How often the engine's epoch advances; deadlines are checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each pooled linear memory kept resident and reset in place between instances.
pub const POOL_KEEP_RESIDENT_MEMORY: usize = 1 << 20;
/// Bytes of each pooled table and async stack kept resident between instances.
pub const POOL_KEEP_RESIDENT_SMALL: usize = 64 << 10;
/// How many slot decommits the pooling allocator batches into one pass.
pub const POOL_DECOMMIT_BATCH: usize = 16;

/// A failure to set up the engine or to load a module.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine configuration was refused by wasmtime.
    #[error("configuring the wasm engine: {0}")]
    Engine(String),
    /// The module file could not be read.
    #[error("reading module {path}")]
    Read {
        /// The module path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The module did not compile (not wasm, invalid, or unsupported features).
    #[error("compiling module {path}: {reason}")]
    Compile {
        /// The module path.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// Linking the host functions failed.
    #[error("linking host functions: {0}")]
    Link(String),
    /// `wasi-dapr compile` was given a file that is not wasm.
    #[error(
        "compiling {path}: it is not a WebAssembly module or component (a .wasm binary or .wat text): {reason}"
    )]
    NotWasm {
        /// The input path.
        path: PathBuf,
        /// What the text parser said.
        reason: String,
    },
    /// `wasi-dapr compile` was given a file that is already precompiled.
    #[error("compiling {path}: it is already precompiled; compile the .wasm it was made from")]
    AlreadyPrecompiled {
        /// The input path.
        path: PathBuf,
    },
    /// A `.cwasm` whose header or checksum is wrong.
    #[error(
        "{path} is not a usable precompiled guest: {reason}; recompile it with `wasi-dapr compile`"
    )]
    Damaged {
        /// The artifact path.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        reason: FormatError,
    },
    /// Wasmtime refused a `.cwasm`: another wasmtime version or engine configuration.
    #[error(
        "{path} was compiled by a different wasi-dapr/wasmtime version or configuration; recompile it with `wasi-dapr compile` (wasmtime: {reason})"
    )]
    Incompatible {
        /// The artifact path.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// A wasmtime artifact that `wasi-dapr compile` did not write (e.g. `wasmtime compile`).
    #[error(
        "{path} is a precompiled wasmtime artifact not written by `wasi-dapr compile`; only `wasi-dapr compile` output is loaded: recompile the .wasm with it"
    )]
    Foreign {
        /// The artifact path.
        path: PathBuf,
    },
}

/// Engine settings.
///
/// Only `concurrency` changes the code wasmtime generates (the cache, the pooling
/// allocator and its sizes, the memory cap are runtime settings; wasmtime's artifact check
/// compares the code-shaping ones, and epoch interruption is always on). `run`, `serve`
/// and `compile` choose it from the guest ([`needs_concurrency`], [`Runtime::for_guest`])
/// and a `.cwasm` records it, so one `.cwasm` loads in `run` and in `serve` alike.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Cache compiled modules on disk so a second start does not recompile (default on;
    /// wasmtime's default cache directory unless `cache_dir` is set).
    pub cache: bool,
    /// Where the compiled-module cache lives.
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling instance allocator sized for this many concurrent instances
    /// (`serve`); `None` allocates on demand (`run`).
    pub pooling_instances: Option<u32>,
    /// Largest linear memory one instance may grow to, in bytes (default 1 GiB).
    pub max_memory_bytes: usize,
    /// Size the pool for components (several core instances and memories each) rather
    /// than core modules.
    pub components: bool,
    /// Concurrency support, which the component model's async ABI (WASI 0.3) needs and
    /// which costs every store some set-up (default on: every guest loads; `run`,
    /// `serve` and `compile` turn it off for guests that do not need it).
    pub concurrency: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            cache: true,
            cache_dir: None,
            pooling_instances: None,
            max_memory_bytes: 1 << 30,
            components: false,
            concurrency: true,
        }
    }
}

/// The process's wasm engine, with an epoch ticker thread that drives deadlines.
pub struct Runtime {
    engine: Engine,
    options: RuntimeOptions,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine: async support, epoch interruption, optional pooling and cache.
    pub fn new(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // WASI 0.3 components (`wasi:http/service`, 0.3 commands) use the component
        // model's async ABI, which needs concurrency support in every store; an engine
        // without it serves the rest about 1.5x faster (BENCHMARKS.md).
        config.concurrency_support(options.concurrency);
        config.wasm_component_model_async(options.concurrency);
        if options.cache {
            let mut cache_config = wasmtime::CacheConfig::new();
            if let Some(dir) = &options.cache_dir {
                cache_config.with_directory(dir.clone());
            }
            match wasmtime::Cache::new(cache_config) {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => {
                    warn!(error = %e, "compiled-module cache unavailable; modules will be compiled on every start")
                }
            }
        }
        if let Some(instances) = options.pooling_instances {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_core_instances(instances)
                .total_memories(instances)
                .total_tables(instances)
                .total_stacks(instances)
                .max_memory_size(options.max_memory_bytes);
            if options.components {
                use crate::component::{MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES};
                let per = |n: usize| instances.saturating_mul(n as u32);
                pool.total_component_instances(instances)
                    .total_core_instances(per(MAX_CORE_INSTANCES))
                    .total_memories(per(MAX_MEMORIES))
                    .total_tables(per(MAX_TABLES))
                    .max_core_instances_per_component(MAX_CORE_INSTANCES as u32)
                    .max_memories_per_component(MAX_MEMORIES as u32)
                    .max_tables_per_component(MAX_TABLES as u32);
            }
            // Recycling a slot is the main per-request cost after instantiation: reset
            // only the dirty pages of the first MiB in place (pagemap scan where the
            // kernel has it) instead of unmapping, and batch the remaining decommits.
            // Measured in benches/serve.rs: about 2x the throughput of the defaults.
            pool.linear_memory_keep_resident(POOL_KEEP_RESIDENT_MEMORY)
                .table_keep_resident(POOL_KEEP_RESIDENT_SMALL)
                .async_stack_keep_resident(POOL_KEEP_RESIDENT_SMALL)
                .decommit_batch_size(POOL_DECOMMIT_BATCH)
                .pagemap_scan(wasmtime::Enabled::Auto);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;

        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        thread::Builder::new()
            .name("wasi-dapr-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("starting the epoch thread: {e}")))?;
        Ok(Self {
            engine,
            options,
            stop,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The options the engine was built with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// Reads and compiles a core module (binary `.wasm`, `.wat` text, or a `.cwasm` from
    /// `wasi-dapr compile`).
    pub fn load_module(&self, path: &Path) -> Result<Module, RuntimeError> {
        match self.load(path)? {
            Loaded::Module(module, _) => Ok(module),
            Loaded::Component(..) => Err(RuntimeError::Compile {
                path: path.to_path_buf(),
                reason: "it is a component; a core module is needed here".into(),
            }),
        }
    }

    /// Builds the engine the guest `bytes` need ([`needs_concurrency`] decides
    /// `options.concurrency`) and calls `with` with it. A component taken for one without
    /// the async ABI that the engine then refuses (`with` fails with
    /// [`RuntimeError::Compile`]) is tried once more on an engine with concurrency, so the
    /// check can only cost time, never refuse a guest.
    pub fn for_guest<T>(
        mut options: RuntimeOptions,
        bytes: &[u8],
        with: impl Fn(&Runtime) -> Result<T, RuntimeError>,
    ) -> Result<(Runtime, T), RuntimeError> {
        let started = Instant::now();
        options.concurrency = needs_concurrency(bytes);
        debug!(concurrency = options.concurrency, elapsed = ?started.elapsed(), "engine chosen for the guest");
        let runtime = Runtime::new(options.clone())?;
        match with(&runtime) {
            Ok(value) => Ok((runtime, value)),
            Err(RuntimeError::Compile { reason, .. })
                if !options.concurrency
                    && is_component(bytes)
                    && !precompiled::is_precompiled(bytes) =>
            {
                debug!(%reason, "compiling again on an engine with concurrency support");
                drop(runtime);
                let runtime = Runtime::new(RuntimeOptions {
                    concurrency: true,
                    ..options
                })?;
                let value = with(&runtime)?;
                Ok((runtime, value))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads and compiles a core module or a component, told apart by the bytes; a
    /// `.cwasm` from `wasi-dapr compile` is loaded without compiling.
    pub fn load(&self, path: &Path) -> Result<Loaded, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_from(path, &bytes)
    }

    /// [`Runtime::load`] of bytes already read from `path`.
    pub fn load_from(&self, path: &Path, bytes: &[u8]) -> Result<Loaded, RuntimeError> {
        if precompiled::is_precompiled(bytes) {
            return self.load_precompiled(path, bytes);
        }
        if Engine::detect_precompiled(bytes).is_some() {
            return Err(RuntimeError::Foreign {
                path: path.to_path_buf(),
            });
        }
        let started = Instant::now();
        let compile_error = |e: wasmtime::Error| RuntimeError::Compile {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        if !crate::component::is_component(bytes) {
            let facts = GuestFacts {
                has_start: has_start_function(bytes),
            };
            let module = Module::new(&self.engine, bytes).map_err(compile_error)?;
            debug!(path = %path.display(), elapsed = ?started.elapsed(), "module ready");
            return Ok(Loaded::Module(module, facts));
        }
        let facts = GuestFacts {
            has_start: crate::component::runs_code_at_instantiation(bytes),
        };
        let component =
            wasmtime::component::Component::new(&self.engine, bytes).map_err(compile_error)?;
        debug!(path = %path.display(), elapsed = ?started.elapsed(), "component ready");
        Ok(Loaded::Component(component, facts))
    }

    /// Loads a `.cwasm`: its header and checksum checked here, its engine version and
    /// configuration by wasmtime.
    // Deserializing trusts the machine code in the file (wasmtime does not validate it):
    // the one place the host opts out of `unsafe_code = "deny"`.
    #[allow(unsafe_code)]
    fn load_precompiled(&self, path: &Path, bytes: &[u8]) -> Result<Loaded, RuntimeError> {
        let started = Instant::now();
        let (header, artifact) =
            precompiled::decode(bytes).map_err(|reason| RuntimeError::Damaged {
                path: path.to_path_buf(),
                reason,
            })?;
        let incompatible = |e: wasmtime::Error| RuntimeError::Incompatible {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        let loaded = match header.kind {
            // SAFETY: the file starts with the header `wasi-dapr compile` writes and its
            // checksum matches, and wasmtime checks its own header (version, target,
            // engine settings). That it was written by a trusted `wasi-dapr compile` is
            // the user's promise, as documented for `run`, `serve` and `compile`.
            Kind::Module => Loaded::Module(
                unsafe { Module::deserialize(&self.engine, artifact) }.map_err(incompatible)?,
                GuestFacts {
                    has_start: header.has_start,
                },
            ),
            // SAFETY: as above.
            Kind::Component => Loaded::Component(
                unsafe { wasmtime::component::Component::deserialize(&self.engine, artifact) }
                    .map_err(incompatible)?,
                GuestFacts {
                    has_start: header.has_start,
                },
            ),
        };
        debug!(path = %path.display(), elapsed = ?started.elapsed(), "precompiled guest loaded");
        Ok(loaded)
    }

    /// Compiles a module or component (`.wasm` or `.wat`) ahead of time into a `.cwasm`
    /// that [`Runtime::load`] of an engine with the same settings loads without compiling.
    pub fn precompile(&self, path: &Path) -> Result<Vec<u8>, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.precompile_from(path, &bytes)
    }

    /// [`Runtime::precompile`] of bytes already read from `path`.
    pub fn precompile_from(&self, path: &Path, bytes: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        if precompiled::is_precompiled(bytes) || Engine::detect_precompiled(bytes).is_some() {
            return Err(RuntimeError::AlreadyPrecompiled {
                path: path.to_path_buf(),
            });
        }
        let binary = wat::parse_bytes(bytes).map_err(|e| RuntimeError::NotWasm {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let compile_error = |e: wasmtime::Error| RuntimeError::Compile {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        let concurrency = self.engine.get_concurrency_support();
        let (header, artifact) = if wasmparser::Parser::is_component(&binary) {
            let artifact = self
                .engine
                .precompile_component(&binary)
                .map_err(compile_error)?;
            let header = Header {
                kind: Kind::Component,
                has_start: crate::component::runs_code_at_instantiation(&binary),
                concurrency,
            };
            (header, artifact)
        } else {
            let artifact = self
                .engine
                .precompile_module(&binary)
                .map_err(compile_error)?;
            let header = Header {
                kind: Kind::Module,
                has_start: has_start_function(&binary),
                concurrency,
            };
            (header, artifact)
        };
        Ok(precompiled::encode(header, &artifact))
    }

    /// A linker with WASI preview 1 (its `fd_write` writing every buffer, see
    /// [`crate::fd_write`]) and the outbound HTTP import.
    pub fn linker(&self) -> Result<Linker<HostState>, RuntimeError> {
        let mut linker = Linker::new(&self.engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        // Old guests ignore short writes: stdio `fd_write` writes every buffer.
        crate::fd_write::add_to_linker(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        outbound_http::add_to_linker(&mut linker, |s: &mut HostState| &mut s.http)
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        Ok(linker)
    }

    /// A store for one instance, with memory limits and the deadline armed.
    pub fn new_store<T: StoreGuard>(&self, state: T) -> Store<T> {
        new_store(&self.engine, state)
    }
}

/// A compiled guest: a core module (with what `serve` needs to know of it) or a
/// component.
pub enum Loaded {
    /// A core wasm module (WASI preview 1).
    Module(Module, GuestFacts),
    /// A component (WASI 0.2 or 0.3).
    Component(wasmtime::component::Component, GuestFacts),
}

/// What `serve` needs to know of a guest that wasmtime's [`Module`] and `Component` do
/// not say; read from the wasm, or from a `.cwasm`'s header.
#[derive(Debug, Clone, Copy)]
pub struct GuestFacts {
    /// Whether instantiating runs guest code: a module's wasm `start` function
    /// ([`has_start_function`]); for a component, a start function in any of its core
    /// modules or its own ([`crate::component::runs_code_at_instantiation`]).
    pub has_start: bool,
}

/// Whether `bytes` (wasm, text, or a `.cwasm`) hold a component rather than a core module.
/// A damaged `.cwasm` is reported when it is loaded.
pub fn is_component(bytes: &[u8]) -> bool {
    if precompiled::is_precompiled(bytes) {
        return precompiled::decode_kind(bytes) == Some(Kind::Component);
    }
    crate::component::is_component(bytes)
}

/// Whether the guest `bytes` (wasm, text, or a `.cwasm`) need an engine with concurrency
/// support ([`RuntimeOptions::concurrency`]): a component that uses the async ABI
/// ([`crate::component::needs_concurrency`]), or a `.cwasm` compiled by such an engine. A
/// core module never does; a damaged `.cwasm` is reported when it is loaded.
pub fn needs_concurrency(bytes: &[u8]) -> bool {
    if precompiled::is_precompiled(bytes) {
        return precompiled::decode_concurrency(bytes);
    }
    match wat::parse_bytes(bytes) {
        Ok(binary) => {
            wasmparser::Parser::is_component(&binary)
                && crate::component::needs_concurrency(&binary)
        }
        Err(_) => false,
    }
}

/// What [`new_store`] needs from a store's state: its limits and its deadline.
pub trait StoreGuard: Send + 'static {
    /// The memory, table and instance limits.
    fn limits(&mut self) -> &mut StoreLimits;
    /// When the instance must stop; `None` runs without a deadline.
    fn deadline(&self) -> Option<Instant>;
}

impl StoreGuard for HostState {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// A store for one instance of `engine`, with memory limits and the deadline armed: the
/// guest traps once `state.deadline` has passed, and yields to the async runtime on
/// every epoch tick before that.
pub fn new_store<T: StoreGuard>(engine: &Engine, state: T) -> Store<T> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| s.limits());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        match ctx.data().deadline() {
            Some(deadline) if Instant::now() >= deadline => Err(Trap::Interrupt.into()),
            // Yield on every tick so a busy guest never starves the async runtime.
            _ => Ok(UpdateDeadline::Yield(1)),
        }
    });
    store
}

/// Whether a module (binary or `.wat` text) declares a wasm `start` function, which runs
/// during instantiation. Unreadable input counts as yes: the answer decides whether
/// instantiating ahead of time, before the real WASI context exists, is safe.
pub fn has_start_function(module: &[u8]) -> bool {
    let Ok(binary) = wat::parse_bytes(module) else {
        return true;
    };
    for payload in wasmparser::Parser::new(0).parse_all(&binary) {
        match payload {
            Ok(wasmparser::Payload::StartSection { .. }) => return true,
            // The start section comes before the code: nothing after it matters.
            Ok(wasmparser::Payload::CodeSectionStart { .. } | wasmparser::Payload::End(_)) => {
                return false;
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Everything one instance's store holds.
pub struct HostState {
    /// The WASI preview 1 context (args, env, stdio, preopens).
    pub wasi: WasiP1Ctx,
    /// The outbound HTTP import's handle table.
    pub http: OutboundHttpCtx,
    /// Memory and table limits.
    pub limits: StoreLimits,
    /// When the instance must stop; `None` runs without a deadline.
    pub deadline: Option<Instant>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("http", &self.http)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl HostState {
    /// State for one instance: `max_memory_bytes` caps linear memory growth.
    pub fn new(
        wasi: WasiP1Ctx,
        http: OutboundHttpCtx,
        max_memory_bytes: usize,
        timeout: Option<Duration>,
    ) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(max_memory_bytes)
            .instances(4)
            .trap_on_grow_failure(false)
            .build();
        Self {
            wasi,
            http,
            limits,
            deadline: timeout.map(|t| Instant::now() + t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(options: RuntimeOptions) -> Runtime {
        Runtime::new(RuntimeOptions {
            cache: false,
            ..options
        })
        .expect("engine")
    }

    /// Compiles `wat` with `wasi-dapr compile`'s engine into a temporary `.cwasm`.
    fn precompiled(wat: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("guest.wat");
        std::fs::write(&source, wat).expect("write");
        let options = RuntimeOptions {
            cache: false,
            ..RuntimeOptions::default()
        };
        let (_, artifact) = Runtime::for_guest(options, wat.as_bytes(), |rt| {
            rt.precompile_from(&source, wat.as_bytes())
        })
        .expect("precompile");
        let path = dir.path().join("guest.cwasm");
        std::fs::write(&path, artifact).expect("write");
        (dir, path)
    }

    #[test]
    fn a_cwasm_loads_in_the_engines_of_run_and_serve() {
        let (_dir, module) =
            precompiled(r#"(module (func $init) (start $init) (func (export "_start")))"#);
        let (_dir2, component) = precompiled("(component)");
        let bytes = std::fs::read(&component).expect("read");
        assert!(is_component(&bytes));
        assert!(!is_component(&std::fs::read(&module).expect("read")));
        let serve = |components| RuntimeOptions {
            pooling_instances: Some(4),
            max_memory_bytes: 16 << 20,
            components,
            ..RuntimeOptions::default()
        };
        for options in [RuntimeOptions::default(), serve(false), serve(true)] {
            let options = RuntimeOptions {
                cache: false,
                ..options
            };
            let module_bytes = std::fs::read(&module).expect("read");
            let (rt, loaded) =
                Runtime::for_guest(options.clone(), &module_bytes, |rt| rt.load(&module))
                    .expect("module");
            assert!(!rt.engine().get_concurrency_support());
            match loaded {
                Loaded::Module(_, facts) => assert!(facts.has_start),
                Loaded::Component(..) => panic!("a module"),
            }
            let (rt, loaded) =
                Runtime::for_guest(options, &bytes, |rt| rt.load(&component)).expect("component");
            assert!(!rt.engine().get_concurrency_support());
            assert!(matches!(loaded, Loaded::Component(_, facts) if !facts.has_start));
        }
    }

    #[test]
    fn a_component_that_runs_code_when_instantiated_says_so_from_wasm_and_cwasm() {
        let wat = r#"(component
            (core module $m (func $init) (start $init))
            (core instance $i (instantiate $m)))"#;
        let (_dir, cwasm) = precompiled(wat);
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("start.wat");
        std::fs::write(&source, wat).expect("write");
        let rt = Runtime::new(RuntimeOptions {
            cache: false,
            concurrency: false,
            ..RuntimeOptions::default()
        })
        .expect("runtime");
        for path in [&source, &cwasm] {
            match rt.load(path).expect("load") {
                Loaded::Component(_, facts) => assert!(facts.has_start, "{}", path.display()),
                Loaded::Module(..) => panic!("a component"),
            }
        }
    }

    #[test]
    fn a_component_the_engine_refuses_is_tried_once_more_with_concurrency() {
        // Valid but for a function body, which the check does not read: taken for
        // synchronous, refused, tried again with concurrency, refused with the reason.
        let bad_body =
            wat::parse_str(r#"(component (core module (func (result i32) i64.const 1)))"#)
                .expect("wat");
        assert!(!needs_concurrency(&bad_body));
        let path = Path::new("bad-body.wasm");
        let tries = std::sync::Mutex::new(Vec::new());
        let options = RuntimeOptions {
            cache: false,
            ..RuntimeOptions::default()
        };
        let err = Runtime::for_guest(options, &bad_body, |rt| {
            tries
                .lock()
                .expect("lock")
                .push(rt.engine().get_concurrency_support());
            rt.load_from(path, &bad_body)
        })
        .err()
        .expect("refused");
        assert!(matches!(err, RuntimeError::Compile { .. }), "{err}");
        assert!(err.to_string().contains("type mismatch"), "{err}");
        assert_eq!(*tries.lock().expect("lock"), [false, true]);
    }

    #[test]
    fn a_cwasm_records_the_concurrency_of_its_engine() {
        // Compiled without concurrency (nothing in it needs it): an engine with
        // concurrency refuses it, the one the header names loads it.
        let (_dir, component) = precompiled("(component)");
        let bytes = std::fs::read(&component).expect("read");
        assert!(!needs_concurrency(&bytes));
        let err = runtime(RuntimeOptions::default())
            .load(&component)
            .err()
            .expect("refused");
        assert!(matches!(err, RuntimeError::Incompatible { .. }), "{err}");
        let sync = RuntimeOptions {
            concurrency: false,
            ..RuntimeOptions::default()
        };
        assert!(runtime(sync.clone()).load(&component).is_ok());
        // Compiled with concurrency: the header says so and only that engine loads it.
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("guest.wat");
        std::fs::write(&source, "(component)").expect("write");
        let artifact = runtime(RuntimeOptions::default())
            .precompile(&source)
            .expect("precompile");
        assert!(needs_concurrency(&artifact));
        let path = dir.path().join("guest.cwasm");
        std::fs::write(&path, &artifact).expect("write");
        assert!(runtime(RuntimeOptions::default()).load(&path).is_ok());
        let err = runtime(sync).load(&path).err().expect("refused");
        assert!(matches!(err, RuntimeError::Incompatible { .. }), "{err}");
    }

    #[test]
    fn a_cwasm_of_another_engine_configuration_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new();
        config.epoch_interruption(false);
        let engine = Engine::new(&config).expect("engine");
        let artifact = engine.precompile_module(b"(module)").expect("precompile");
        let header = Header {
            kind: Kind::Module,
            has_start: false,
            concurrency: true,
        };
        let path = dir.path().join("other.cwasm");
        std::fs::write(&path, precompiled::encode(header, &artifact)).expect("write");
        let err = runtime(RuntimeOptions::default())
            .load(&path)
            .err()
            .expect("refused");
        assert!(matches!(err, RuntimeError::Incompatible { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("recompile it with `wasi-dapr compile`")
        );
        // wasmtime's own artifact, without the wasi-dapr header, is refused too.
        std::fs::write(&path, &artifact).expect("write");
        let err = runtime(RuntimeOptions::default())
            .load(&path)
            .err()
            .expect("refused");
        assert!(matches!(err, RuntimeError::Foreign { .. }), "{err}");
    }

    #[test]
    fn start_functions_are_found_in_text_and_binary() {
        let with = r#"(module (func $init) (start $init) (func (export "_start")))"#;
        let without = r#"(module (func (export "_start")))"#;
        assert!(has_start_function(with.as_bytes()));
        assert!(!has_start_function(without.as_bytes()));
        let binary = wat::parse_str(with).unwrap();
        assert!(has_start_function(&binary));
        let binary = wat::parse_str(without).unwrap();
        assert!(!has_start_function(&binary));
        // What cannot be read is assumed to have one.
        assert!(has_start_function(b"\0asm\x01\0\0\0\x08\xff"));
        assert!(has_start_function(b"not a module"));
    }
}
