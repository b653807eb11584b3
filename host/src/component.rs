//! WASI 0.2 and 0.3 components: the store state, the linker (`wasi:cli`, `wasi:io`,
//! `wasi:filesystem`, `wasi:sockets`, `wasi:clocks`, `wasi:random` from wasmtime-wasi,
//! `wasi:http` from wasmtime-wasi-http with every outgoing request sent through
//! [`crate::wasi_http::PolicyHooks`]), the check that tells a component from a core
//! module by its bytes, the one that tells whether it needs concurrency (the
//! component model's async ABI, which WASI 0.3 is built on), and the one that tells
//! whether instantiating it runs guest code.
//!
//! `run` instantiates a `wasi:cli/command` (0.2 or 0.3) and calls `wasi:cli/run`; `serve`
//! pre-instantiates a `wasi:http/proxy` (0.2) and calls `wasi:http/incoming-handler` once
//! per request, or a `wasi:http/service` (0.3) and calls `wasi:http/handler` ([`crate::serve`]).

use std::time::{Duration, Instant};

use wasmtime::StoreLimits;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::outbound::OutboundHttp;
use crate::runtime::{RuntimeError, StoreGuard};
use crate::wasi_http::PolicyHooks;

/// Core instances one component may create in a store (a Rust component has a few; an
/// interpreter packaged as a component, such as componentize-py's, a dozen or more).
pub const MAX_CORE_INSTANCES: usize = 64;
/// Linear memories one component may create in a store.
pub const MAX_MEMORIES: usize = 16;
/// Tables one component may create in a store.
pub const MAX_TABLES: usize = 64;

/// Whether `bytes` is a component rather than a core module (binary or `.wat` text).
pub fn is_component(bytes: &[u8]) -> bool {
    match wat::parse_bytes(bytes) {
        Ok(binary) => wasmparser::Parser::is_component(&binary),
        Err(_) => false,
    }
}

/// Everything one component instance's store holds.
pub struct ComponentState {
    /// The WASI context (args, env, stdio, preopens).
    pub wasi: WasiCtx,
    /// The resources the guest holds (streams, fields, requests, ...).
    pub table: ResourceTable,
    /// wasi:http's own state.
    pub http: WasiHttpCtx,
    /// Where outgoing requests go: the host's send path.
    pub hooks: PolicyHooks,
    /// Memory, table and instance limits.
    pub limits: StoreLimits,
    /// When the instance must stop; `None` runs without a deadline.
    pub deadline: Option<Instant>,
}

impl std::fmt::Debug for ComponentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentState")
            .field("hooks", &self.hooks)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl ComponentState {
    /// State for one instance: `max_memory_bytes` caps each linear memory's growth.
    pub fn new(
        wasi: WasiCtx,
        outbound: OutboundHttp,
        max_memory_bytes: usize,
        timeout: Option<Duration>,
    ) -> Self {
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(max_memory_bytes)
            .instances(MAX_CORE_INSTANCES)
            .memories(MAX_MEMORIES)
            .tables(MAX_TABLES)
            .trap_on_grow_failure(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: PolicyHooks::new(outbound),
            limits,
            deadline: timeout.map(|t| Instant::now() + t),
        }
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl StoreGuard for ComponentState {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// A component linker with WASI 0.2 and 0.3 and `wasi:http` of both (every outgoing
/// request, `outgoing-handler` or `client.send`, through the host's policy). A WASI 0.3
/// component usually imports both versions: its language's standard library still
/// speaks 0.2.
pub fn linker(engine: &wasmtime::Engine) -> Result<Linker<ComponentState>, RuntimeError> {
    let link = |e: wasmtime::Error| RuntimeError::Link(format!("{e:#}"));
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
    if engine.get_concurrency_support() {
        wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(link)?;
    }
    Ok(linker)
}

/// The component model features that need an engine with concurrency support.
const CONCURRENCY_FEATURES: wasmparser::WasmFeatures = wasmparser::WasmFeatures::CM_ASYNC
    .union(wasmparser::WasmFeatures::CM_ASYNC_STACKFUL)
    .union(wasmparser::WasmFeatures::CM_MORE_ASYNC_BUILTINS)
    .union(wasmparser::WasmFeatures::CM_THREADING)
    .union(wasmparser::WasmFeatures::CM_ERROR_CONTEXT);

/// Whether the component `binary` uses the component model's async ABI (async lifts or
/// lowers, `stream` and `future` types, task and waitable builtins, error contexts) and
/// so needs an engine with concurrency support: every WASI 0.3 component does, a WASI
/// 0.2 one does not.
///
/// Everything but the core function bodies is validated with those features off (the
/// bodies are most of the bytes and cannot use them); a component that fails this for
/// any reason is taken to need concurrency, so an invalid one is reported by the engine
/// that accepts the most.
pub fn needs_concurrency(binary: &[u8]) -> bool {
    let features = wasmparser::WasmFeatures::all().difference(CONCURRENCY_FEATURES);
    let mut validator = wasmparser::Validator::new_with_features(features);
    let mut parser = wasmparser::Parser::new(0);
    parser.set_features(features);
    for payload in parser.parse_all(binary) {
        let valid = payload.and_then(|payload| validator.payload(&payload));
        if valid.is_err() {
            return true;
        }
    }
    false
}

/// Whether instantiating the component (binary or `.wat` text) runs guest code: a
/// `start` function in any of its core modules, nested ones included, or a component
/// start function. `serve` prepares instances ahead of requests only when it does not,
/// since such code would see a prepared store's placeholder context. Unreadable input
/// counts as yes.
pub fn runs_code_at_instantiation(bytes: &[u8]) -> bool {
    let Ok(binary) = wat::parse_bytes(bytes) else {
        return true;
    };
    for payload in wasmparser::Parser::new(0).parse_all(&binary) {
        match payload {
            Ok(
                wasmparser::Payload::StartSection { .. }
                | wasmparser::Payload::ComponentStartSection { .. },
            ) => return true,
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{is_component, needs_concurrency, runs_code_at_instantiation};

    #[test]
    fn start_functions_anywhere_in_a_component_are_found() {
        let none = r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m)))"#;
        assert!(!runs_code_at_instantiation(none.as_bytes()));
        let core_start = r#"(component
            (core module $m (func $s) (start $s))
            (core instance $i (instantiate $m)))"#;
        assert!(runs_code_at_instantiation(core_start.as_bytes()));
        let nested = r#"(component
            (component $inner
              (core module $m (func $s) (start $s))
              (core instance $i (instantiate $m)))
            (instance (instantiate $inner)))"#;
        assert!(runs_code_at_instantiation(nested.as_bytes()));
        let component_start = r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (start $f))"#;
        assert!(runs_code_at_instantiation(component_start.as_bytes()));
        assert!(runs_code_at_instantiation(b"\0asm\x0d\0\x01\0garbage"));
        // The Rust `http-proxy` fixture (wasm32-wasip2) runs nothing until called.
        let proxy = std::fs::read(wasi_dapr_test_artifacts::COMPONENT_HTTP_PROXY)
            .expect("the http-proxy fixture is built");
        assert!(!runs_code_at_instantiation(&proxy));
    }

    #[test]
    fn components_are_told_from_modules() {
        assert!(is_component(b"(component)"));
        assert!(!is_component(b"(module)"));
        assert!(is_component(b"\0asm\x0d\0\x01\0"));
        assert!(!is_component(b"\0asm\x01\0\0\0"));
        assert!(!is_component(b"not wasm"));
    }

    fn binary(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).expect("valid wat")
    }

    #[test]
    fn the_async_abi_is_told_from_the_sync_one() {
        let sync = binary(
            r#"(component
                (core module $m (func (export "f") (result i32) i32.const 1))
                (core instance $i (instantiate $m))
                (func (export "f") (result u32) (canon lift (core func $i "f"))))"#,
        );
        assert!(!needs_concurrency(&sync));
        // What the check says is what wasmtime's engines accept.
        let engine = |concurrency: bool| {
            let mut config = wasmtime::Config::new();
            config.concurrency_support(concurrency);
            config.wasm_component_model_async(concurrency);
            wasmtime::Engine::new(&config).expect("engine")
        };
        let compile = |concurrency, binary: &[u8]| {
            wasmtime::component::Component::new(&engine(concurrency), binary)
        };
        assert!(compile(false, &sync).is_ok());
        let async_lift = binary(
            r#"(component
                (core module $m
                  (func (export "f") (result i32) i32.const 0)
                  (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func (export "f") async (result u32)
                  (canon lift (core func $i "f") async (callback (core func $i "cb")))))"#,
        );
        let stream_type = binary(r#"(component (type (stream u8)))"#);
        let builtin = binary(r#"(component (core func (canon waitable-set.new)))"#);
        for needs in [async_lift, stream_type, builtin] {
            assert!(needs_concurrency(&needs));
            if let Err(e) = compile(true, &needs) {
                panic!("refused with concurrency: {e:#}");
            }
            assert!(compile(false, &needs).is_err());
        }
        // Not a component at all: the engine with the most features reports it.
        assert!(needs_concurrency(b"\0asm\x0d\0\x01\0garbage"));
    }
}
