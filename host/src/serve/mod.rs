//! `wasi-dapr serve`: the app side of Dapr. An HTTP server that answers each request with a
//! fresh instance of the guest, under per-request limits. The guest is a core module
//! speaking CGI (below) or a `wasi:http/proxy` component (`component.rs`); everything
//! before the instance (health and readiness paths, `APP_API_TOKEN`, the body read under
//! its deadline and cap, the concurrency permit) is the same for both.
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
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, error, info, warn};
use wasmtime::{InstancePre, ModuleExport};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use crate::component::ComponentState;
use crate::config::HostConfig;
use crate::dapr_env::{Secret, SidecarEndpoint};
use crate::defaults;
use crate::metrics::{GuestFailure, Metrics, Route};
use crate::outbound::{OutboundHttp, TraceContext};
use crate::outbound_http::OutboundHttpCtx;
use crate::run::{Outcome, classify, merge_env};
use crate::runtime::{GuestFacts, HostState, Loaded, Runtime, RuntimeError, RuntimeOptions};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

mod cgi;
mod component;
mod instances;
mod listener;
mod metrics;
mod service;

pub use cgi::{CGI_VARIABLES, CgiError, PathError, is_cgi_variable, parse_cgi};
use cgi::{FRAMING_HEADERS, Inbound, StaticEnv, cgi_env};
use instances::{ComponentTemplate, Instances, Prepared, Template};

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
    /// How long a client may take to send the request body (default 10 s; then 408). The
    /// body is read before an instance is taken.
    pub body_read_timeout: Duration,
    /// How long a connection may take to send a request head, counted from when it waits
    /// for one, so idle keep-alive connections close after it too (default 10 s).
    pub header_read_timeout: Duration,
    /// Open client connections (default 512); past it, new ones wait to be accepted.
    pub max_connections: u32,
    /// Open connections to the `--metrics-listen` listener (default 16), counted apart
    /// from `max_connections` so scrapes and app traffic never starve each other.
    pub metrics_max_connections: u32,
    /// Instances kept instantiated ahead of requests (default 2; 0 turns it off; at most
    /// `max_concurrent`), for CGI modules and `wasi:http/proxy` components. Each holds
    /// one more pool slot. Guests whose instantiation runs code (a wasm `start`
    /// function) are never prepared ahead (see `serve/instances.rs`).
    pub prepared_instances: u32,
    /// Requests one instance of a WASI 0.3 `wasi:http/service` component may serve, one
    /// at a time (default 1: a fresh instance per request; opt-in, see `serve/service.rs`
    /// for what reuse shares). Refused for other guests.
    pub reuse_instances: u32,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            request_timeout: defaults::SERVE_REQUEST_TIMEOUT,
            max_memory_bytes: defaults::SERVE_MAX_MEMORY_MIB << 20,
            max_request_body_bytes: defaults::SERVE_MAX_REQUEST_BODY_BYTES,
            max_response_bytes: defaults::SERVE_MAX_RESPONSE_BYTES,
            max_concurrent: defaults::SERVE_MAX_CONCURRENT,
            queue_timeout: defaults::SERVE_QUEUE_TIMEOUT,
            body_read_timeout: defaults::SERVE_BODY_READ_TIMEOUT,
            header_read_timeout: defaults::SERVE_HEADER_READ_TIMEOUT,
            max_connections: defaults::SERVE_MAX_CONNECTIONS,
            metrics_max_connections: defaults::METRICS_MAX_CONNECTIONS,
            prepared_instances: defaults::SERVE_PREPARED_INSTANCES,
            reuse_instances: defaults::SERVE_REUSE_INSTANCES,
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
    /// Where to serve `GET /metrics` (Prometheus / OpenMetrics text); `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl ServeOptions {
    /// Options with defaults for everything but the module and policy.
    pub fn new(module: PathBuf, config: HostConfig, sidecar: SidecarEndpoint) -> Self {
        Self {
            module,
            listen: defaults::SERVE_LISTEN,
            config,
            sidecar,
            api_token: None,
            app_api_token: None,
            env: Vec::new(),
            health_path: defaults::SERVE_HEALTH_PATH.into(),
            ready_path: defaults::SERVE_READY_PATH.into(),
            limits: ServeLimits::default(),
            cache: true,
            cache_dir: None,
            metrics_listen: None,
        }
    }
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Engine or module problem.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The module's imports cannot be satisfied, or it is not a command.
    #[error("preparing {module}: {reason}")]
    Prepare {
        /// The module path.
        module: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// `--env` names a variable that serve sets for each request.
    #[error("--env {name}: serve sets this variable for each request (CGI); choose another name")]
    ReservedEnv {
        /// The variable name.
        name: String,
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
    /// `--reuse-instances` was given for a guest that is not a WASI 0.3 service.
    #[error(
        "--reuse-instances: {module} is not a wasi:http/service@0.3.0 component; only those \
         may serve more than one request per instance (0.2 proxies and modules get a fresh \
         instance per request)"
    )]
    ReuseNeedsService {
        /// The guest's path.
        module: PathBuf,
    },
    /// The helper thread that prepares and retires instances could not start.
    #[error("starting the instance helper thread")]
    Helper(#[source] std::io::Error),
}

/// What answers requests: a CGI module, a `wasi:http/proxy` (0.2) or a
/// `wasi:http/service` (0.3) component.
enum Handler {
    Module {
        pre: InstancePre<HostState>,
        /// The module's `_start`, resolved once so requests skip the name lookup.
        start: ModuleExport,
        /// Prepares instances ahead of requests and drops used stores (see [`instances`]).
        instances: Instances<Template>,
    },
    Component {
        pre: ProxyPre<ComponentState>,
        /// As for modules: instances ahead of requests, used stores dropped off the
        /// request path.
        instances: Instances<ComponentTemplate>,
    },
    /// A WASI 0.3 `wasi:http/service` component (see [`service`]).
    Service(service::ServiceHandler),
}

struct App {
    runtime: Runtime,
    handler: Handler,
    outbound: OutboundHttp,
    options: ServeOptions,
    /// What every request's environment shares, built once (see [`StaticEnv`]).
    env: StaticEnv,
    permits: Arc<Semaphore>,
    /// The number of permits `permits` started with (`max_concurrent`).
    permits_total: usize,
    /// What requests and outbound calls count, served by `--metrics-listen`.
    metrics: Arc<Metrics>,
    /// The cached readiness answer.
    ready: ReadyProbe,
    next_id: AtomicU64,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
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
        let bytes = std::fs::read(&options.module).map_err(|source| RuntimeError::Read {
            path: options.module.clone(),
            source,
        })?;
        let is_component = crate::runtime::is_component(&bytes);
        // CGI variables are the module's request interface; a component has its own.
        if !is_component
            && let Some((name, _)) = options.env.iter().find(|(k, _)| is_cgi_variable(k))
        {
            return Err(ServeError::ReservedEnv { name: name.clone() });
        }
        if !is_component && options.limits.reuse_instances > 1 {
            return Err(ServeError::ReuseNeedsService {
                module: options.module.clone(),
            });
        }
        let mut limits = options.limits.clone();
        limits.max_concurrent = limits.max_concurrent.max(1);
        limits.prepared_instances = limits.prepared_instances.min(limits.max_concurrent);
        let engine = RuntimeOptions {
            // A `.cwasm` is never compiled: no cache (and no cache worker thread).
            cache: options.cache && !crate::precompiled::is_precompiled(&bytes),
            cache_dir: options.cache_dir.clone(),
            pooling_instances: Some(instances::pool_size(
                limits.max_concurrent,
                limits.prepared_instances,
            )),
            max_memory_bytes: limits.max_memory_bytes,
            components: is_component,
            concurrency: true, // chosen from the bytes by `for_guest`
        };
        let (runtime, loaded) = Runtime::for_guest(engine, &bytes, |runtime| {
            runtime.load_from(&options.module, &bytes)
        })?;
        let outbound = OutboundHttp::new(
            options.config.clone(),
            options.sidecar.clone(),
            options.api_token.clone(),
        );
        outbound.warm_up();
        let metrics = Arc::new(Metrics::new());
        outbound.record_metrics(metrics.clone());
        let handler = match loaded {
            Loaded::Module(module, facts) => {
                prepare_module(&runtime, &options, &limits, module, facts, &outbound)?
            }
            Loaded::Component(component, facts) => {
                prepare_component(&runtime, &options, &limits, &component, facts, &outbound)?
            }
        };
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
        let metrics_listener = match options.metrics_listen {
            None => None,
            Some(at) => {
                let bind = |source| ServeError::Bind { addr: at, source };
                let listener = TcpListener::bind(at).await.map_err(bind)?;
                let bound = listener.local_addr().map_err(bind)?;
                Some((listener, bound))
            }
        };
        let env = StaticEnv {
            program: options
                .module
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            vars: merge_env([options.sidecar.guest_env().to_vec(), options.env.clone()]),
            server_name: addr.ip().to_string(),
            server_port: addr.port().to_string(),
            authority: addr.to_string(),
        };
        let app = Arc::new(App {
            runtime,
            handler,
            outbound,
            env,
            permits: Arc::new(Semaphore::new(limits.max_concurrent as usize)),
            permits_total: limits.max_concurrent as usize,
            metrics,
            ready: ReadyProbe::new(),
            next_id: AtomicU64::new(1),
            options,
        });
        let kind = match app.handler {
            Handler::Module { .. } => "CGI module",
            Handler::Component { .. } => "wasi:http/proxy@0.2 component",
            Handler::Service(_) => "wasi:http/service@0.3.0 component",
        };
        info!(%addr, module = %app.options.module.display(), kind, "serving");
        let (stop, stop_rx) = watch::channel(false);
        let metrics_addr = metrics_listener.map(|(listener, bound)| {
            info!(addr = %bound, "serving metrics at /metrics");
            tokio::spawn(metrics::accept_loop(listener, app.clone(), stop_rx.clone()));
            bound
        });
        let task = tokio::spawn(accept_loop(listener, app, stop_rx));
        Ok(Server {
            addr,
            metrics_addr,
            stop,
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound `--metrics-listen` address, if metrics are served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops accepting, lets in-flight requests finish, then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// How many instances the helper keeps ready for this guest: none when instantiating it
/// runs guest code (a start function), which would see a prepared store's placeholder
/// context rather than its request's.
fn prepared_ahead(facts: GuestFacts, limits: &ServeLimits) -> usize {
    if facts.has_start {
        debug!("the guest runs code when instantiated: instances are not prepared ahead");
        0
    } else {
        limits.prepared_instances as usize
    }
}

/// Checks the module's `_start`, pre-instantiates it and starts the instance helper.
fn prepare_module(
    runtime: &Runtime,
    options: &ServeOptions,
    limits: &ServeLimits,
    module: wasmtime::Module,
    facts: GuestFacts,
    outbound: &OutboundHttp,
) -> Result<Handler, ServeError> {
    let prepared = prepared_ahead(facts, limits);
    let start = match module.get_export("_start") {
        Some(wasmtime::ExternType::Func(ty))
            if ty.params().len() == 0 && ty.results().len() == 0 =>
        {
            module.get_export_index("_start")
        }
        _ => None,
    };
    let Some(start) = start else {
        return Err(ServeError::Prepare {
            module: options.module.clone(),
            reason: "it has no `_start() -> ()` export: serve needs a WASI command module".into(),
        });
    };
    let linker = runtime.linker()?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| ServeError::Prepare {
            module: options.module.clone(),
            reason: format!("{e:#}"),
        })?;
    let instances = Instances::start(
        Template {
            engine: runtime.engine().clone(),
            pre: pre.clone(),
            outbound: outbound.clone(),
            max_memory_bytes: limits.max_memory_bytes,
            prepared,
        },
        tokio::runtime::Handle::current(),
    )
    .map_err(ServeError::Helper)?;
    Ok(Handler::Module {
        pre,
        start,
        instances,
    })
}

/// Links the component and checks that it is a `wasi:http/proxy` (0.2) or a
/// `wasi:http/service` (0.3); `--reuse-instances` is for the latter only.
fn prepare_component(
    runtime: &Runtime,
    options: &ServeOptions,
    limits: &ServeLimits,
    component: &wasmtime::component::Component,
    facts: GuestFacts,
    outbound: &OutboundHttp,
) -> Result<Handler, ServeError> {
    let prepare = |reason: String| ServeError::Prepare {
        module: options.module.clone(),
        reason,
    };
    let linker = crate::component::linker(runtime.engine())?;
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| prepare(format!("{e:#}")))?;
    let proxy = match ProxyPre::new(pre.clone()) {
        Ok(proxy) => proxy,
        // A 0.3 service only on an engine with concurrency (whose event loop it runs in);
        // `for_guest` chose one for every component that uses the async ABI.
        Err(not_a_proxy) if !runtime.engine().get_concurrency_support() => {
            return Err(prepare(format!(
                "{not_a_proxy:#}; serve needs a wasi:http/proxy@0.2 component (exporting \
                 wasi:http/incoming-handler) or a wasi:http/service@0.3.0 one (exporting \
                 wasi:http/handler); a wasi:cli/command is run with `wasi-dapr run`"
            )));
        }
        Err(not_a_proxy) => {
            let service = wasmtime_wasi_http::p3::bindings::ServicePre::new(pre).map_err(|e| {
                prepare(format!(
                    "{not_a_proxy:#}; nor a WASI 0.3 service: {e:#}; serve needs a wasi:http/proxy@0.2 \
                     component (exporting wasi:http/incoming-handler) or a wasi:http/service@0.3.0 \
                     one (exporting wasi:http/handler); a wasi:cli/command is run with `wasi-dapr run`"
                ))
            })?;
            return Ok(Handler::Service(service::ServiceHandler::new(
                service,
                limits.reuse_instances,
                limits.max_concurrent as usize,
            )));
        }
    };
    if limits.reuse_instances > 1 {
        return Err(ServeError::ReuseNeedsService {
            module: options.module.clone(),
        });
    }
    let prepared = prepared_ahead(facts, limits);
    let instances = Instances::start(
        ComponentTemplate {
            engine: runtime.engine().clone(),
            pre: proxy.clone(),
            outbound: outbound.clone(),
            max_memory_bytes: limits.max_memory_bytes,
            prepared,
        },
        tokio::runtime::Handle::current(),
    )
    .map_err(ServeError::Helper)?;
    Ok(Handler::Component {
        pre: proxy,
        instances,
    })
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, stop: watch::Receiver<bool>) {
    let limits = &app.options.limits;
    let bounds = listener::Bounds {
        name: "app",
        max_connections: limits.max_connections as usize,
        header_read_timeout: limits.header_read_timeout,
        on_stop: listener::OnStop::Drain,
    };
    let service = {
        let app = app.clone();
        move |peer: SocketAddr| {
            let app = app.clone();
            service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(counted(app, req, peer).await) }
            })
        }
    };
    listener::accept_loop(listener, bounds, stop, service).await;
    // Every connection is answered; instances still running after their answer (a
    // component's work of its own) hold their request's permit until they end, within
    // their deadline: wait for those too.
    if app.permits.available_permits() < app.permits_total {
        info!("waiting for running instances to end");
        let all = u32::try_from(app.permits_total).unwrap_or(u32::MAX);
        let bound = app.options.limits.request_timeout + Duration::from_secs(1);
        if tokio::time::timeout(bound, app.permits.acquire_many(all))
            .await
            .is_err()
        {
            warn!(waited = ?bound, "instances still running at exit");
        }
    }
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

/// [`handle`], counted in the app's metrics by route class, status and latency.
async fn counted(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let path = req.uri().path();
    let route = if path == app.options.health_path {
        Route::Health
    } else if path == app.options.ready_path {
        Route::Ready
    } else {
        Route::App
    };
    let metrics = app.metrics.clone();
    let response = handle(app, req, peer).await;
    metrics.request(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    let path_info = match cgi::decode_path(&path) {
        Ok(p) => p,
        Err(e) => {
            debug!(request = id, "refused: {e}");
            return plain(StatusCode::BAD_REQUEST, &format!("bad request path: {e}"));
        }
    };
    if path == app.options.health_path {
        return plain(StatusCode::OK, "ok");
    }
    if path == app.options.ready_path {
        return if app.ready.is_ready(&app.options.sidecar).await {
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
    // The body first, under its own deadline: a slow client holds no instance.
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, limits.max_request_body_bytes).collect();
    let body = match tokio::time::timeout(limits.body_read_timeout, read).await {
        Err(_) => {
            warn!(request = id, %path, timeout = ?limits.body_read_timeout, "refused: the request body did not arrive in time");
            return plain(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            );
        }
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            }
            return plain(StatusCode::BAD_REQUEST, "could not read the request body");
        }
    };
    // A free instance is the common case: take it without arming the queue timer.
    let permit = match app.permits.clone().try_acquire_owned() {
        Ok(p) => Some(p),
        Err(_) => {
            app.metrics.queue_wait();
            tokio::time::timeout(limits.queue_timeout, app.permits.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
        }
    };
    let Some(permit) = permit else {
        warn!(request = id, %path, "busy: no free instance within the queue timeout");
        app.metrics.queue_rejected();
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: too many concurrent requests",
        );
    };
    let started = Instant::now();
    let request = Inbound {
        parts: &parts,
        path_info: &path_info,
        peer,
    };
    let invoked = match &app.handler {
        Handler::Module {
            pre,
            start,
            instances,
        } => invoke(&app, pre, start, instances, id, &request, body, permit).await,
        Handler::Component { pre, instances } => {
            component::invoke(&app, pre, instances, id, &parts, body, permit).await
        }
        Handler::Service(handler) => service::invoke(&app, handler, id, &parts, body, permit).await,
    };
    let response = match invoked {
        Ok(res) => res,
        Err(failure) => {
            error!(request = id, method = %parts.method, %path, "{failure}");
            app.metrics.guest_failure(failure.kind());
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the wasm handler failed; see the host log",
            )
        }
    };
    debug!(request = id, method = %parts.method, %path, status = response.status().as_u16(), elapsed = ?started.elapsed(), "handled");
    response
}

/// The `/readyz` answer: the sidecar's `healthz/outbound`, asked with one client and
/// reused for [`defaults::SERVE_READY_CACHE`], so a flood of probes costs one request to
/// the sidecar per interval.
struct ReadyProbe {
    /// The client (built at the first probe, so start-up does not load the root
    /// certificates for it) and when the sidecar was last asked, with what it answered.
    /// Held across the ask, so concurrent probes wait for one answer instead of asking
    /// again.
    state: tokio::sync::Mutex<ProbeState>,
}

#[derive(Default)]
struct ProbeState {
    /// `None` until the first probe; `Some(None)` if the client could not be built.
    client: Option<Option<reqwest::Client>>,
    last: Option<(Instant, bool)>,
}

impl ReadyProbe {
    fn new() -> Self {
        ReadyProbe {
            state: tokio::sync::Mutex::new(ProbeState::default()),
        }
    }

    async fn is_ready(&self, sidecar: &SidecarEndpoint) -> bool {
        let mut state = self.state.lock().await;
        if let Some((at, ready)) = state.last
            && at.elapsed() < defaults::SERVE_READY_CACHE
        {
            return ready;
        }
        let client = state.client.get_or_insert_with(|| {
            reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(2))
                .build()
                .map_err(
                    |e| warn!(error = %e, "building the readiness client failed: /readyz answers 503"),
                )
                .ok()
        });
        let url = format!("{}/v1.0/healthz/outbound", sidecar.origin());
        let ready = match client {
            Some(c) => c
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            None => false,
        };
        state.last = Some((Instant::now(), ready));
        ready
    }
}

/// Logs a request's guest stderr, one line per line, each escaped (control characters,
/// `\r` included, cannot rewrite the log) and counted with its log overhead against
/// [`defaults::SERVE_MAX_GUEST_STDERR_BYTES`]; what does not fit is counted, not logged.
fn log_guest_stderr(id: u64, stderr: &[u8]) {
    // What one log line costs besides the guest's text: timestamp, level, target, field.
    const LINE_OVERHEAD: usize = 64;
    let mut budget = defaults::SERVE_MAX_GUEST_STDERR_BYTES;
    let mut dropped = 0usize;
    for line in String::from_utf8_lossy(stderr)
        .split('\n')
        .filter(|l| !l.trim().is_empty())
    {
        let line = cgi::escape_log_text(line.strip_suffix('\r').unwrap_or(line));
        let cost = line.len() + LINE_OVERHEAD;
        if cost > budget {
            dropped += line.len();
            budget = 0;
            continue;
        }
        budget -= cost;
        info!(request = id, "guest: {line}");
    }
    if dropped > 0 {
        warn!(
            request = id,
            dropped_bytes = dropped,
            "guest stderr over the log cap; the rest was dropped"
        );
    }
}

/// Why a served request got a 500 (logged with the request; the client sees only that the
/// handler failed).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The module could not be instantiated for this request.
    #[error("instantiation failed: {0}")]
    Instantiate(String),
    /// The module's `_start` export is not a function.
    #[error("the module's _start is not a function")]
    StartNotAFunction,
    /// `_start` does not have the type `() -> ()`.
    #[error("_start: {0}")]
    StartType(String),
    /// The handler called `proc_exit` with a non-zero code.
    #[error("the handler exited with code {0}")]
    Exited(i32),
    /// The handler ran past `--request-timeout`.
    #[error("the handler ran past its {0:?} deadline")]
    TimedOut(Duration),
    /// The handler trapped; the wasm backtrace.
    #[error("the handler trapped: {0}")]
    Trapped(String),
    /// The handler's stdout reached `--max-response-bytes`.
    #[error("the handler's output reached max_response_bytes ({0})")]
    OutputTooLarge(usize),
    /// The handler's stdout is not a CGI response.
    #[error("malformed CGI output: {0}")]
    MalformedOutput(#[source] CgiError),
    /// A component set an error code as its response.
    #[error("the component answered with an error code: {0}")]
    GuestError(String),
    /// A component's instance ended without setting a response.
    #[error("the component ended without setting a response")]
    NoResponse,
    /// A component's response body broke off.
    #[error("the component's response body failed: {0}")]
    BodyFailed(String),
    /// A component answered with a status outside 200-599.
    #[error("the component answered with status {0}; only 200-599 are served")]
    BadStatus(u16),
}

impl HandlerError {
    /// The failure's kind, for the `guest_failures` metric.
    fn kind(&self) -> GuestFailure {
        match self {
            HandlerError::Trapped(_) => GuestFailure::Trap,
            HandlerError::TimedOut(_) => GuestFailure::Timeout,
            HandlerError::Exited(_) => GuestFailure::Exit,
            _ => GuestFailure::Other,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn invoke(
    app: &App,
    pre: &InstancePre<HostState>,
    start: &ModuleExport,
    instances: &Instances<Template>,
    id: u64,
    request: &Inbound<'_>,
    body: Bytes,
    permit: OwnedSemaphorePermit,
) -> Result<Response<Full<Bytes>>, HandlerError> {
    let limits = &app.options.limits;
    let stdout = MemoryOutputPipe::new(limits.max_response_bytes);
    let stderr = MemoryOutputPipe::new(defaults::SERVE_MAX_GUEST_STDERR_BYTES);
    let mut wasi = WasiCtxBuilder::new();
    let body_len = body.len();
    wasi.stdin(MemoryInputPipe::new(body))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .arg(&app.env.program);
    cgi_env(&app.env, &mut wasi, request, body_len);
    let trace = TraceContext::from_headers(&request.parts.headers);
    // The store goes back to the helper thread with the permit when `lease` is dropped,
    // however this function ends.
    let (mut lease, instance) = match instances.take_prepared() {
        Some(Prepared { store, instance }) => {
            let mut lease = instances.lease(store, permit, true);
            lease.set_request(|state| std::mem::replace(&mut state.wasi, wasi.build_p1()));
            let store = lease.store();
            store.data_mut().http.set_trace(trace);
            store.data_mut().deadline = Some(Instant::now() + limits.request_timeout);
            // Count epochs from now rather than from when the store was prepared, so the
            // guest's first check does not yield needlessly.
            store.set_epoch_deadline(1);
            (lease, instance)
        }
        None => {
            let state = HostState::new(
                wasi.build_p1(),
                OutboundHttpCtx::new(app.outbound.clone().with_trace(trace)),
                limits.max_memory_bytes,
                Some(limits.request_timeout),
            );
            let mut lease = instances.lease(app.runtime.new_store(state), permit, true);
            let instance = pre
                .instantiate_async(lease.store())
                .await
                .map_err(|e| HandlerError::Instantiate(format!("{e:#}")))?;
            (lease, instance)
        }
    };
    let store = lease.store();
    let start = instance
        .get_module_export(&mut *store, start)
        .and_then(|e| e.into_func())
        .ok_or(HandlerError::StartNotAFunction)?
        .typed::<(), ()>(&*store)
        .map_err(|e| HandlerError::StartType(format!("{e:#}")))?;
    let outcome = match start.call_async(&mut *store, ()).await {
        Ok(()) => Outcome::Exited(0),
        Err(e) => classify(e),
    };
    drop(lease);
    log_guest_stderr(id, &stderr.contents());
    match outcome {
        Outcome::Exited(0) => {}
        Outcome::Exited(code) => return Err(HandlerError::Exited(code)),
        Outcome::TimedOut => return Err(HandlerError::TimedOut(limits.request_timeout)),
        Outcome::Trapped(trace) => return Err(HandlerError::Trapped(trace)),
    }
    let out = stdout.contents();
    if out.len() >= limits.max_response_bytes {
        return Err(HandlerError::OutputTooLarge(limits.max_response_bytes));
    }
    parse_cgi(&out).map_err(HandlerError::MalformedOutput)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abd", b"abc"));
        assert!(!token_matches(b"ab", b"abc"));
        assert!(!token_matches(b"", b"abc"));
    }
}
