//! `wasi-dapr serve`: the app side of Dapr. An HTTP server that answers each request with a
//! fresh instance of the module (WAGI/CGI convention), under per-request limits.
//!
//! The guest sees the request in its environment (`REQUEST_METHOD`, `PATH_INFO`,
//! `QUERY_STRING`, `CONTENT_TYPE`, `CONTENT_LENGTH`, `HTTP_*` headers, `SERVER_NAME`,
//! `SERVER_PORT`, `X_FULL_URL`, ...) and the body on stdin, and writes a CGI response on
//! stdout: header lines (`Content-Type`, `Status`, `Location`, any other), a blank line,
//! the body. A trap, a deadline, memory exhaustion, a non-zero exit or malformed output
//! is a 500 for that request alone.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{debug, error, info, warn};
use wasmtime::InstancePre;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use crate::config::HostConfig;
use crate::dapr_env::{Secret, SidecarEndpoint};
use crate::outbound_http::{OutboundHttp, OutboundSetupError};
use crate::run::{Outcome, classify, merge_env};
use crate::runtime::{HostState, Runtime, RuntimeError, RuntimeOptions};

/// Per-request limits. Every one has a safe default and a command-line flag.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Wall-clock deadline for one request's instance (default 30 s).
    pub request_timeout: Duration,
    /// Linear-memory cap per instance (default 128 MiB).
    pub max_memory_bytes: usize,
    /// Largest request body accepted (default 4 MiB, daprd's own default); larger → 413.
    pub max_request_body_bytes: usize,
    /// Largest response (CGI headers + body) a guest may write (default 16 MiB).
    pub max_response_bytes: usize,
    /// Instances running at once (default 64); also sizes the pooling allocator.
    pub max_concurrent: u32,
    /// How long a request may wait for a free instance before a 503 (default 1 s).
    pub queue_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            max_memory_bytes: 128 << 20,
            max_request_body_bytes: 4 << 20,
            max_response_bytes: 16 << 20,
            max_concurrent: 64,
            queue_timeout: Duration::from_secs(1),
        }
    }
}

/// What to serve and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The module (a WASI command; `_start` handles one request).
    pub module: PathBuf,
    /// Where to listen (default `127.0.0.1:8080`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The outbound policy for handlers.
    pub config: HostConfig,
    /// The sidecar handlers are told about.
    pub sidecar: SidecarEndpoint,
    /// `DAPR_API_TOKEN`, attached by the host to calls to the sidecar.
    pub api_token: Option<Secret>,
    /// `APP_API_TOKEN`: when set, requests must carry it as `dapr-api-token`.
    pub app_api_token: Option<Secret>,
    /// Extra environment for every instance.
    pub env: Vec<(String, String)>,
    /// Path answered by the host itself (200, no instance), for liveness probes.
    pub health_path: String,
    /// Path answered 200 once the sidecar's `healthz/outbound` answers, else 503.
    pub ready_path: String,
    /// Per-request limits.
    pub limits: ServeLimits,
    /// Compiled-module cache settings.
    pub cache: bool,
    /// Compiled-module cache directory.
    pub cache_dir: Option<PathBuf>,
}

impl ServeOptions {
    /// Options with defaults for everything but the module and policy.
    pub fn new(module: PathBuf, config: HostConfig, sidecar: SidecarEndpoint) -> Self {
        Self {
            module,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            config,
            sidecar,
            api_token: None,
            app_api_token: None,
            env: Vec::new(),
            health_path: "/healthz".into(),
            ready_path: "/readyz".into(),
            limits: ServeLimits::default(),
            cache: true,
            cache_dir: None,
        }
    }
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Engine or module problem.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Outbound(#[from] OutboundSetupError),
    /// The module's imports cannot be satisfied, or it is not a command.
    #[error("preparing {module}: {reason}")]
    Prepare {
        /// The module path.
        module: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("listening on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

struct App {
    runtime: Runtime,
    pre: InstancePre<HostState>,
    outbound: OutboundHttp,
    options: ServeOptions,
    permits: Semaphore,
    next_id: AtomicU64,
    local: SocketAddr,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Compiles and pre-instantiates the module, binds, and starts serving.
    pub async fn start(options: ServeOptions) -> Result<Server, ServeError> {
        let limits = options.limits.clone();
        let runtime = Runtime::new(RuntimeOptions {
            cache: options.cache,
            cache_dir: options.cache_dir.clone(),
            pooling_instances: Some(limits.max_concurrent.max(1)),
            max_memory_bytes: limits.max_memory_bytes,
        })?;
        let module = runtime.load_module(&options.module)?;
        if module.get_export("_start").is_none() {
            return Err(ServeError::Prepare {
                module: options.module.clone(),
                reason: "it has no `_start` export: serve needs a WASI command module".into(),
            });
        }
        let linker = runtime.linker()?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| ServeError::Prepare {
                module: options.module.clone(),
                reason: format!("{e:#}"),
            })?;
        let outbound = OutboundHttp::new(
            options.config.clone(),
            options.sidecar.clone(),
            options.api_token.clone(),
        )?;
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
        let app = Arc::new(App {
            runtime,
            pre,
            outbound,
            permits: Semaphore::new(limits.max_concurrent.max(1) as usize),
            next_id: AtomicU64::new(1),
            local: addr,
            options,
        });
        info!(%addr, module = %app.options.module.display(), "serving");
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, app, stop_rx));
        Ok(Server { addr, stop, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish, then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(app, req, peer).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    info!("no longer accepting; waiting for in-flight requests");
    graceful.shutdown().await;
    info!("stopped");
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(text.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timing.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    if path == app.options.health_path {
        return plain(StatusCode::OK, "ok");
    }
    if path == app.options.ready_path {
        return if sidecar_ready(&app).await {
            plain(StatusCode::OK, "ready")
        } else {
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the Dapr sidecar is not ready",
            )
        };
    }
    if let Some(expected) = &app.options.app_api_token {
        let given = req
            .headers()
            .get("dapr-api-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !token_matches(given, expected.expose().as_bytes()) {
            warn!(request = id, %path, "refused: missing or wrong dapr-api-token");
            return plain(StatusCode::UNAUTHORIZED, "invalid api token");
        }
    }
    let limits = &app.options.limits;
    let permit = match tokio::time::timeout(limits.queue_timeout, app.permits.acquire()).await {
        Ok(Ok(p)) => p,
        _ => {
            warn!(request = id, %path, "busy: no free instance within the queue timeout");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: too many concurrent requests",
            );
        }
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, limits.max_request_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            }
            return plain(StatusCode::BAD_REQUEST, "could not read the request body");
        }
    };
    let started = Instant::now();
    let response = match invoke(&app, id, &parts, body, peer).await {
        Ok(res) => res,
        Err(failure) => {
            error!(request = id, method = %parts.method, %path, "{failure}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the wasm handler failed; see the host log",
            )
        }
    };
    drop(permit);
    debug!(request = id, method = %parts.method, %path, status = response.status().as_u16(), elapsed = ?started.elapsed(), "handled");
    response
}

async fn sidecar_ready(app: &App) -> bool {
    let url = format!("{}/v1.0/healthz/outbound", app.options.sidecar.origin());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build();
    match client {
        Ok(c) => c
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    }
}

/// The CGI environment for one request.
fn cgi_env(
    app: &App,
    parts: &http::request::Parts,
    body_len: usize,
    peer: SocketAddr,
) -> Vec<(String, String)> {
    let uri = &parts.uri;
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| app.local.to_string());
    let mut env = vec![
        ("REQUEST_METHOD".into(), parts.method.to_string()),
        (
            "PATH_INFO".into(),
            percent_encoding::percent_decode_str(uri.path())
                .decode_utf8_lossy()
                .into_owned(),
        ),
        ("SCRIPT_NAME".into(), String::new()),
        ("QUERY_STRING".into(), uri.query().unwrap_or("").to_string()),
        (
            "REQUEST_URI".into(),
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
        ),
        ("CONTENT_LENGTH".into(), body_len.to_string()),
        ("SERVER_NAME".into(), app.local.ip().to_string()),
        ("SERVER_PORT".into(), app.local.port().to_string()),
        ("SERVER_PROTOCOL".into(), format!("{:?}", parts.version)),
        (
            "SERVER_SOFTWARE".into(),
            concat!("wasi-dapr/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("REMOTE_ADDR".into(), peer.ip().to_string()),
        (
            "X_FULL_URL".into(),
            format!(
                "http://{host}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            ),
        ),
    ];
    if let Some(ct) = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        env.push(("CONTENT_TYPE".into(), ct.to_string()));
    }
    for (name, value) in &parts.headers {
        // The app token was checked by the host; handlers have no use for it.
        if name == "dapr-api-token" {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        let key = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            None => env.push((key, value.to_string())),
        }
    }
    env
}

async fn invoke(
    app: &App,
    id: u64,
    parts: &http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, String> {
    let limits = &app.options.limits;
    let stdout = MemoryOutputPipe::new(limits.max_response_bytes);
    let stderr = MemoryOutputPipe::new(64 * 1024);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdin(MemoryInputPipe::new(body.clone()))
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    let program = app
        .options
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    wasi.arg(program);
    let env = merge_env([
        app.options.sidecar.guest_env().to_vec(),
        app.options.env.clone(),
        cgi_env(app, parts, body.len(), peer),
    ]);
    wasi.envs(&env);
    let state = HostState::new(
        wasi.build_p1(),
        app.outbound.new_ctx(),
        limits.max_memory_bytes,
        Some(limits.request_timeout),
    );
    let mut store = app.runtime.new_store(state);
    let instantiated = Instant::now();
    let instance = app
        .pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| format!("instantiation failed: {e:#}"))?;
    debug!(request = id, elapsed = ?instantiated.elapsed(), "instantiated");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| format!("no _start: {e:#}"))?;
    let outcome = match start.call_async(&mut store, ()).await {
        Ok(()) => Outcome::Exited(0),
        Err(e) => classify(e),
    };
    let guest_stderr = stderr.contents();
    if !guest_stderr.is_empty() {
        for line in String::from_utf8_lossy(&guest_stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            info!(request = id, "guest: {line}");
        }
    }
    match outcome {
        Outcome::Exited(0) => {}
        Outcome::Exited(code) => return Err(format!("the handler exited with code {code}")),
        Outcome::TimedOut => {
            return Err(format!(
                "the handler ran past its {:?} deadline",
                limits.request_timeout
            ));
        }
        Outcome::Trapped(trace) => return Err(format!("the handler trapped: {trace}")),
    }
    let out = stdout.contents();
    if out.len() >= limits.max_response_bytes {
        return Err(format!(
            "the handler's output reached max_response_bytes ({})",
            limits.max_response_bytes
        ));
    }
    parse_cgi(&out).map_err(|e| format!("malformed CGI output: {e}"))
}

/// Parses a CGI response: header lines, a blank line, the body.
pub fn parse_cgi(out: &[u8]) -> Result<Response<Full<Bytes>>, String> {
    let (head, body) = split_head(out).ok_or("no blank line after the headers")?;
    let head = std::str::from_utf8(head).map_err(|_| "headers are not UTF-8".to_string())?;
    let mut status: Option<StatusCode> = None;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line without ':': {line:?}"))?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("");
            let code: u16 = code.parse().map_err(|_| format!("bad Status {value:?}"))?;
            status = Some(StatusCode::from_u16(code).map_err(|_| format!("bad Status {value:?}"))?);
            continue;
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("bad header name {name:?}"))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("bad value for {name}"))?;
        headers.append(name, value);
    }
    let status = status.unwrap_or(if headers.contains_key(http::header::LOCATION) {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    let mut res = Response::new(Full::new(Bytes::copy_from_slice(body)));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    Ok(res)
}

fn split_head(out: &[u8]) -> Option<(&[u8], &[u8])> {
    // The first empty line ends the headers; lines may end in \n or \r\n.
    let mut i = 0;
    let mut line_start = 0;
    while i < out.len() {
        if out[i] == b'\n' {
            let line = &out[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some((&out[..line_start], &out[i + 1..]));
            }
            line_start = i + 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(res: Response<Full<Bytes>>) -> Bytes {
        res.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn cgi_with_status_and_headers() {
        let res = parse_cgi(
            b"Content-Type: application/json\nStatus: 404 Not Found\nX-A: 1\nX-A: 2\n\n{\"a\":1}",
        )
        .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(body(res).await, "{\"a\":1}");
    }

    #[tokio::test]
    async fn cgi_defaults_and_crlf() {
        let res = parse_cgi(b"Content-Type: text/plain\r\n\r\nhi\n\nthere").unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(body(res).await, "hi\n\nthere");
        let res = parse_cgi(b"Location: /elsewhere\n\n").unwrap();
        assert_eq!(res.status(), 302);
        let res = parse_cgi(b"\nbody only").unwrap();
        assert_eq!(res.status(), 200);
    }

    #[test]
    fn malformed_cgi_is_an_error() {
        assert!(parse_cgi(b"").is_err());
        assert!(parse_cgi(b"Content-Type: text/plain\nno blank line").is_err());
        assert!(parse_cgi(b"no colon here\n\n").is_err());
        assert!(parse_cgi(b"Status: abc\n\n").is_err());
        assert!(parse_cgi(b"Status: 99\n\n").is_err());
        assert!(parse_cgi(b"bad name: x\n\n").is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abd", b"abc"));
        assert!(!token_matches(b"ab", b"abc"));
        assert!(!token_matches(b"", b"abc"));
    }
}
