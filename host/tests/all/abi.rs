//! The import's ABI edge cases, driven from a WAT module that re-exports the five
//! functions so a test can call them with any arguments: bad pointers, unknown handles,
//! small buffers, a missing memory. None of these may trap or panic the host.

use wasi_dapr::config::HostConfig;
use wasi_dapr::dapr_env::SidecarEndpoint;
use wasi_dapr::outbound::OutboundHttp;
use wasi_dapr::outbound_http::OutboundHttpCtx;
use wasi_dapr::runtime::{HostState, Runtime, RuntimeOptions};
use wasmtime::{Instance, Memory, Store, TypedFunc};
use wasmtime_wasi::WasiCtxBuilder;

use crate::support::{MockServer, Reply};

/// Imports the five functions and exports wrappers that call them from wasm, so the
/// host sees a real wasm caller (with its memory) whatever arguments a test passes.
const IMPORTS: &str = r#"
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_experimental_http" "header_get" (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all" (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (func (export "req") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $req (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
               (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9)))
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "header_get") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $header_get (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)))
  (func (export "headers_get_all") (param i32 i32 i32 i32) (result i32)
    (call $headers_get_all (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "body_read") (param i32 i32 i32 i32) (result i32)
    (call $body_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
"#;

type Req = TypedFunc<(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32), i32>;

struct Guest {
    _runtime: Runtime,
    store: Store<HostState>,
    memory: Option<Memory>,
    instance: Instance,
}

impl Guest {
    async fn new(allowed: &[String], with_memory: bool) -> Self {
        let runtime = Runtime::new(RuntimeOptions {
            cache: false,
            ..Default::default()
        })
        .expect("runtime");
        let toml = format!(
            "allowed_hosts = [{}]",
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let config = HostConfig::from_toml_str(&toml, "test").expect("config");
        let http = OutboundHttp::new(
            config,
            SidecarEndpoint::parse("http://127.0.0.1:3500").expect("endpoint"),
            None,
        );
        let memory = if with_memory {
            r#"(memory (export "memory") 1)"#
        } else {
            ""
        };
        let wat = format!("(module {IMPORTS} {memory})");
        let module = wasmtime::Module::new(runtime.engine(), wat).expect("module");
        let linker = runtime.linker().expect("linker");
        let state = HostState::new(
            WasiCtxBuilder::new().build_p1(),
            OutboundHttpCtx::new(http.clone()),
            1 << 26,
            None,
        );
        let mut store = runtime.new_store(state);
        let instance = linker
            .instantiate_async(&mut store, &module)
            .await
            .expect("instantiate");
        let memory = instance.get_memory(&mut store, "memory");
        Self {
            _runtime: runtime,
            store,
            memory,
            instance,
        }
    }

    fn write(&mut self, at: usize, bytes: &[u8]) {
        self.memory
            .expect("memory")
            .write(&mut self.store, at, bytes)
            .expect("write");
    }

    fn read(&self, at: usize, len: usize) -> Vec<u8> {
        self.memory.expect("memory").data(&self.store)[at..at + len].to_vec()
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.read(at, 4).try_into().expect("4 bytes"))
    }

    /// Sends a GET to `url` (written at 0) with results at 1000 (status) / 1004 (handle).
    async fn get(&mut self, url: &str) -> i32 {
        self.write(0, url.as_bytes());
        self.write(200, b"GET");
        self.req((0, url.len() as i32, 200, 3, 0, 0, 0, 0, 1000, 1004))
            .await
    }

    async fn req(&mut self, args: (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)) -> i32 {
        let f: Req = self
            .instance
            .get_typed_func(&mut self.store, "req")
            .expect("req");
        f.call_async(&mut self.store, args)
            .await
            .expect("req must not trap")
    }

    async fn call4(&mut self, name: &str, args: (i32, i32, i32, i32)) -> i32 {
        let f: TypedFunc<(i32, i32, i32, i32), i32> = self
            .instance
            .get_typed_func(&mut self.store, name)
            .expect("func");
        f.call_async(&mut self.store, args)
            .await
            .expect("must not trap")
    }

    async fn header_get(&mut self, args: (i32, i32, i32, i32, i32, i32)) -> i32 {
        let f: TypedFunc<(i32, i32, i32, i32, i32, i32), i32> = self
            .instance
            .get_typed_func(&mut self.store, "header_get")
            .expect("func");
        f.call_async(&mut self.store, args)
            .await
            .expect("must not trap")
    }

    async fn close(&mut self, handle: i32) -> i32 {
        let f: TypedFunc<i32, i32> = self
            .instance
            .get_typed_func(&mut self.store, "close")
            .expect("close");
        f.call_async(&mut self.store, handle)
            .await
            .expect("must not trap")
    }
}

const PAGE: i32 = 65536;

#[tokio::test]
async fn results_are_written_little_endian() {
    let up = MockServer::start(|_| Reply::ok("abc").status(418).header("x-a", "1")).await;
    let mut g = Guest::new(&[up.origin()], true).await;
    assert_eq!(g.get(&up.url("/")).await, 0);
    assert_eq!(g.read(1000, 2), 418u16.to_le_bytes());
    let handle = g.u32_at(1004) as i32;
    assert_eq!(g.call4("body_read", (handle, 2000, 100, 1008)).await, 0);
    assert_eq!(g.u32_at(1008), 3);
    assert_eq!(g.read(2000, 3), b"abc");
    assert_eq!(g.call4("body_read", (handle, 2000, 100, 1008)).await, 0);
    assert_eq!(g.u32_at(1008), 0, "end of body");
    assert_eq!(g.close(handle).await, 0);
}

#[tokio::test]
async fn out_of_bounds_pointers_are_error_3_and_send_nothing() {
    let up = MockServer::hello().await;
    let mut g = Guest::new(&[up.origin()], true).await;
    let url = up.url("/");
    g.write(0, url.as_bytes());
    g.write(200, b"GET");
    let n = url.len() as i32;
    // URL past the end of memory; length overflowing; negative (huge) pointers.
    assert_eq!(
        g.req((PAGE - 2, n, 200, 3, 0, 0, 0, 0, 1000, 1004)).await,
        3
    );
    assert_eq!(g.req((0, -1, 200, 3, 0, 0, 0, 0, 1000, 1004)).await, 3);
    assert_eq!(g.req((-8, n, 200, 3, 0, 0, 0, 0, 1000, 1004)).await, 3);
    // Header and body pointers out of bounds.
    assert_eq!(g.req((0, n, 200, 3, PAGE, 10, 0, 0, 1000, 1004)).await, 3);
    assert_eq!(
        g.req((0, n, 200, 3, 0, 0, PAGE - 1, 2, 1000, 1004)).await,
        3
    );
    // Result pointers out of bounds are caught before anything is sent.
    assert_eq!(g.req((0, n, 200, 3, 0, 0, 0, 0, PAGE - 1, 1004)).await, 3);
    assert_eq!(g.req((0, n, 200, 3, 0, 0, 0, 0, 1000, PAGE - 3)).await, 3);
    assert_eq!(up.connections(), 0);
}

#[tokio::test]
async fn reads_with_bad_buffers_are_error_3_and_lose_nothing() {
    let up = MockServer::start(|_| Reply::ok("body!").header("x-a", "value")).await;
    let mut g = Guest::new(&[up.origin()], true).await;
    assert_eq!(g.get(&up.url("/")).await, 0);
    let h = g.u32_at(1004) as i32;
    assert_eq!(g.call4("body_read", (h, PAGE - 2, 100, 1008)).await, 3);
    assert_eq!(g.call4("body_read", (h, 2000, 100, PAGE)).await, 3);
    assert_eq!(g.call4("headers_get_all", (h, 2000, 100, -4)).await, 3);
    g.write(300, b"x-a");
    assert_eq!(g.header_get((h, 300, 3, 2000, 100, PAGE - 1)).await, 3);
    assert_eq!(g.header_get((h, PAGE - 1, 3, 2000, 100, 1008)).await, 3);
    // Nothing was consumed by the failed reads.
    assert_eq!(g.call4("body_read", (h, 2000, 100, 1008)).await, 0);
    assert_eq!(g.read(2000, g.u32_at(1008) as usize), b"body!");
}

#[tokio::test]
async fn unknown_handles_are_error_1() {
    let mut g = Guest::new(&[], true).await;
    assert_eq!(g.close(0).await, 1);
    assert_eq!(g.close(-1).await, 1);
    assert_eq!(g.call4("body_read", (42, 0, 10, 100)).await, 1);
    assert_eq!(g.call4("headers_get_all", (42, 0, 10, 100)).await, 1);
    g.write(300, b"x");
    assert_eq!(g.header_get((42, 300, 1, 0, 10, 100)).await, 1);
}

#[tokio::test]
async fn handles_belong_to_their_store() {
    let up = MockServer::hello().await;
    let mut a = Guest::new(&[up.origin()], true).await;
    let mut b = Guest::new(&[up.origin()], true).await;
    assert_eq!(a.get(&up.url("/")).await, 0);
    let handle = a.u32_at(1004) as i32;
    assert_eq!(
        b.close(handle).await,
        1,
        "another instance's handle is unknown here"
    );
    assert_eq!(b.call4("body_read", (handle, 0, 10, 100)).await, 1);
    assert_eq!(a.close(handle).await, 0);
}

#[tokio::test]
async fn header_get_buffer_too_small_reports_size() {
    let up = MockServer::start(|_| Reply::ok("").header("x-a", "0123456789")).await;
    let mut g = Guest::new(&[up.origin()], true).await;
    assert_eq!(g.get(&up.url("/")).await, 0);
    let h = g.u32_at(1004) as i32;
    g.write(300, b"X-A");
    assert_eq!(g.header_get((h, 300, 3, 2000, 4, 1008)).await, 4);
    assert_eq!(g.u32_at(1008), 10);
    assert_eq!(g.header_get((h, 300, 3, 2000, 10, 1008)).await, 0);
    assert_eq!(g.read(2000, 10), b"0123456789");
    g.write(300, &[0xff, 0xfe]);
    assert_eq!(
        g.header_get((h, 300, 2, 2000, 10, 1008)).await,
        6,
        "a non-UTF-8 name is error 6"
    );
}

#[tokio::test]
async fn non_utf8_url_is_error_6() {
    let mut g = Guest::new(&[], true).await;
    g.write(0, &[0xff, 0xfe, 0xfd]);
    g.write(200, b"GET");
    assert_eq!(g.req((0, 3, 200, 3, 0, 0, 0, 0, 1000, 1004)).await, 6);
}

#[tokio::test]
async fn module_without_memory_gets_error_2() {
    let mut g = Guest::new(&[], false).await;
    assert_eq!(g.req((0, 1, 0, 1, 0, 0, 0, 0, 0, 4)).await, 2);
    assert_eq!(g.call4("body_read", (1, 0, 1, 0)).await, 2);
    assert_eq!(g.close(1).await, 1, "close needs no memory");
}

#[tokio::test]
async fn connection_refused_is_error_11() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut g = Guest::new(std::slice::from_ref(&origin), true).await;
    assert_eq!(g.get(&format!("{origin}/")).await, 11);
}
