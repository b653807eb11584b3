//! `wasi-dapr sidecar`: an embedded stand-in for daprd's HTTP API (state, pub/sub, invocation, secrets, bindings, metadata).
#![doc = include_str!("README.md")]

mod app;
mod bindings;
mod components;
mod configuration;
mod errors;
mod invoke;
mod lock;
mod metadata;
mod pubsub;
mod secrets;
mod server;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use errors::SidecarError;

use components::{ComponentSpec, Resources};
use metadata::RegisteredComponent;
use pubsub::{PubSubComponent, Subscription};
use state::{KeyPrefix, StateComponent, StateStore};

/// What the sidecar listens on and which app it serves.
#[derive(Clone)]
pub struct SidecarOptions {
    /// The HTTP address (default `127.0.0.1:3500`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The app id (default `app`); state keys are stored as `<app_id>||<key>`.
    pub app_id: String,
    /// The app's port on 127.0.0.1, for subscriptions, delivery and invocation (default none).
    pub app_port: Option<u16>,
    /// A folder of component YAML files (default none: in-memory `statestore` and `pubsub`).
    pub resources_path: Option<PathBuf>,
    /// `DAPR_API_TOKEN`: when set, every call but the health checks needs `dapr-api-token`.
    pub api_token: Option<String>,
    /// `APP_API_TOKEN`: sent to the app as `dapr-api-token`.
    pub app_api_token: Option<String>,
}

impl std::fmt::Debug for SidecarOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("SidecarOptions")
            .field("listen", &self.listen)
            .field("app_id", &self.app_id)
            .field("app_port", &self.app_port)
            .field("resources_path", &self.resources_path)
            .field("api_token", &redact(&self.api_token))
            .field("app_api_token", &redact(&self.app_api_token))
            .finish()
    }
}

impl Default for SidecarOptions {
    fn default() -> Self {
        SidecarOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 3500)),
            app_id: "app".to_string(),
            app_port: None,
            resources_path: None,
            api_token: None,
            app_api_token: None,
        }
    }
}

/// Limits and retry schedules; the defaults suit development, tests shorten them.
#[derive(Debug, Clone)]
pub struct SidecarTuning {
    /// Largest request body accepted (default 4 MiB, daprd's `max-body-size`); larger → 413.
    /// Also caps the app's response bodies.
    pub max_body_bytes: usize,
    /// Deadline of one call to the app (default 60 s).
    pub app_timeout: Duration,
    /// Delivery attempts per message and subscription before giving up (default 5).
    pub max_delivery_attempts: u32,
    /// First pause between delivery attempts, doubled each time (default 200 ms).
    pub retry_initial_backoff: Duration,
    /// Longest pause between delivery attempts (default 5 s).
    pub retry_max_backoff: Duration,
    /// First pause before asking the app for `GET /dapr/subscribe` again (default 200 ms).
    pub subscribe_initial_backoff: Duration,
    /// Longest pause between those asks (default 5 s).
    pub subscribe_max_backoff: Duration,
    /// Deadline for connecting to a component's backend at startup (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for SidecarTuning {
    fn default() -> Self {
        SidecarTuning {
            max_body_bytes: 4 * 1024 * 1024,
            app_timeout: Duration::from_secs(60),
            max_delivery_attempts: 5,
            retry_initial_backoff: Duration::from_millis(200),
            retry_max_backoff: Duration::from_secs(5),
            subscribe_initial_backoff: Duration::from_millis(200),
            subscribe_max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything the handlers share.
pub(crate) struct Ctx {
    pub app_id: String,
    pub app_port: Option<u16>,
    pub api_token: Option<String>,
    pub app_api_token: Option<String>,
    pub tuning: SidecarTuning,
    pub states: BTreeMap<String, StateComponent>,
    pub pubsubs: BTreeMap<String, PubSubComponent>,
    pub secrets: BTreeMap<String, secrets::SecretStore>,
    pub bindings: BTreeMap<String, bindings::Binding>,
    pub configs: BTreeMap<String, configuration::ConfigStore>,
    pub locks: BTreeMap<String, lock::LockStore>,
    pub registered: Vec<RegisteredComponent>,
    pub extended: Mutex<BTreeMap<String, String>>,
    pub subscriptions: RwLock<Vec<Arc<Subscription>>>,
    ready: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl Ctx {
    /// Sends `req` to the app with this sidecar's app timeout and body cap.
    pub async fn call_app(
        &self,
        req: http::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Result<app::AppResponse, app::AppCallError> {
        app::call(
            self.app_port,
            req,
            self.tuning.app_timeout,
            self.tuning.max_body_bytes,
        )
        .await
    }

    /// The app token as a header value, if set and valid.
    pub fn app_token_header(&self) -> Option<HeaderValue> {
        self.app_api_token
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
    }

    pub fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn add_subscriptions(&self, subs: Vec<Subscription>) {
        let mut all = self
            .subscriptions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        all.extend(subs.into_iter().map(Arc::new));
    }
}

/// RFC 3339 in UTC with seconds precision (Go's `time.RFC3339`); `None` past year 9999.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    write!(out, "{}", humantime::format_rfc3339_seconds(t)).ok()?;
    Some(out)
}

/// Resolves once shutdown is requested (or the sender is gone).
pub(crate) async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// A running sidecar. Dropping the handle stops it (without waiting for the drain);
/// [`Sidecar::shutdown`] stops it gracefully.
pub struct Sidecar {
    addr: SocketAddr,
    ctx: Arc<Ctx>,
    server: Option<JoinHandle<()>>,
    subscriber: Option<JoinHandle<()>>,
    inputs: Vec<JoinHandle<()>>,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.ctx.request_shutdown();
        if let Some(sub) = self.subscriber.take() {
            sub.abort();
        }
        for task in self.inputs.drain(..) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar")
            .field("addr", &self.addr)
            .field("app_id", &self.ctx.app_id)
            .finish()
    }
}

/// The state store type names this sidecar implements.
fn category(kind: &str) -> Option<&'static str> {
    match kind {
        "state.in-memory" | "state.redis" => Some("state"),
        "pubsub.in-memory" => Some("pubsub"),
        "secretstores.local.file" => Some("secret store"),
        "bindings.localstorage" | "bindings.cron" => Some("binding"),
        "configuration.in-memory" => Some("configuration"),
        "lock.in-memory" => Some("lock"),
        _ => None,
    }
}

/// Dapr's `keyPrefix` metadata.
fn key_prefix(spec: &ComponentSpec) -> KeyPrefix {
    match spec.meta("keyPrefix").unwrap_or("appid") {
        "" | "appid" => KeyPrefix::AppId,
        "name" => KeyPrefix::Name,
        "none" => KeyPrefix::None,
        other => KeyPrefix::Custom(other.to_string()),
    }
}

/// Replaces `secretKeyRef` metadata with values from the `auth.secretStore` secret store.
fn resolve_secret_refs(ctx: &Ctx, spec: &ComponentSpec) -> Result<ComponentSpec, SidecarError> {
    let store_name = spec.secret_store.as_deref().ok_or_else(|| {
        spec.init_error(
            "secretKeyRef needs `auth: {secretStore: NAME}` naming a secret store component",
        )
    })?;
    let store = ctx.secrets.get(store_name).ok_or_else(|| {
        spec.init_error(format!(
            "auth.secretStore {store_name:?} is not a loaded secret store"
        ))
    })?;
    let mut out = spec.clone();
    for (meta, (secret, key)) in &spec.secret_refs {
        let value = store.secrets.get(secret).and_then(|s| s.get(key)).ok_or_else(|| {
            spec.init_error(format!(
                "metadata {meta:?}: secret {secret:?} key {key:?} not found in secret store {store_name:?}"
            ))
        })?;
        out.metadata.insert(meta.clone(), value.clone());
    }
    out.secret_refs.clear();
    Ok(out)
}

/// Builds one component's backend and registers it.
async fn add_component(ctx: &mut Ctx, spec: &ComponentSpec) -> Result<(), SidecarError> {
    let version_ok = spec.version.is_empty() || spec.version == "v1";
    let Some(cat) = category(&spec.kind).filter(|_| version_ok) else {
        return Err(SidecarError::UnknownType {
            path: spec.file.clone(),
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            version: spec.version.clone(),
        });
    };
    let taken = match cat {
        "state" => ctx.states.contains_key(&spec.name),
        "pubsub" => ctx.pubsubs.contains_key(&spec.name),
        "secret store" => ctx.secrets.contains_key(&spec.name),
        "binding" => ctx.bindings.contains_key(&spec.name),
        "configuration" => ctx.configs.contains_key(&spec.name),
        _ => ctx.locks.contains_key(&spec.name),
    };
    if taken {
        return Err(SidecarError::Duplicate {
            path: spec.file.clone(),
            name: spec.name.clone(),
            category: cat,
        });
    }
    let mut capabilities = Vec::new();
    match spec.kind.as_str() {
        "state.in-memory" => {
            let store: Arc<dyn StateStore> = Arc::new(state::memory::MemoryStore::default());
            ctx.states.insert(
                spec.name.clone(),
                StateComponent::new(&spec.name, &ctx.app_id, &key_prefix(spec), store),
            );
            capabilities = vec!["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
        }
        "state.redis" => {
            let info = state::redis::connection_info(spec)?;
            let store = state::redis::RedisStore::connect(info, ctx.tuning.connect_timeout)
                .await
                .map_err(|source| SidecarError::Connect {
                    path: spec.file.clone(),
                    name: spec.name.clone(),
                    kind: spec.kind.clone(),
                    source: Box::new(source),
                })?;
            let store: Arc<dyn StateStore> = Arc::new(store);
            ctx.states.insert(
                spec.name.clone(),
                StateComponent::new(&spec.name, &ctx.app_id, &key_prefix(spec), store),
            );
            capabilities = vec!["ETAG", "TRANSACTIONAL", "TTL"];
        }
        "pubsub.in-memory" => {
            ctx.pubsubs
                .insert(spec.name.clone(), PubSubComponent::from_spec(spec)?);
        }
        "secretstores.local.file" => {
            if spec.meta_bool("multiValued", false)? {
                capabilities = vec!["MULTIPLE_KEY_VALUES_PER_SECRET"];
            }
            ctx.secrets
                .insert(spec.name.clone(), secrets::SecretStore::from_spec(spec)?);
        }
        "bindings.localstorage" => {
            let storage = bindings::LocalStorage::from_spec(spec)?;
            ctx.bindings
                .insert(spec.name.clone(), bindings::Binding::LocalStorage(storage));
            capabilities = vec!["OUTPUT_BINDING"];
        }
        "bindings.cron" => {
            let every = bindings::cron_from_spec(spec)?;
            ctx.bindings
                .insert(spec.name.clone(), bindings::Binding::Cron(every));
            capabilities = vec!["INPUT_BINDING"];
        }
        "configuration.in-memory" => {
            ctx.configs.insert(
                spec.name.clone(),
                configuration::ConfigStore::from_spec(spec),
            );
        }
        _ => {
            ctx.locks
                .insert(spec.name.clone(), lock::LockStore::default());
        }
    }
    tracing::info!(name = %spec.name, kind = %spec.kind, file = %spec.file.display(), "component loaded");
    ctx.registered.push(RegisteredComponent {
        name: spec.name.clone(),
        kind: spec.kind.clone(),
        version: if spec.version.is_empty() {
            "v1".into()
        } else {
            spec.version.clone()
        },
        capabilities,
    });
    Ok(())
}

/// Builds every component's backend.
async fn build_ctx(
    opts: &SidecarOptions,
    tuning: SidecarTuning,
    resources: Resources,
    shutdown: watch::Sender<bool>,
) -> Result<Ctx, SidecarError> {
    let mut ctx = Ctx {
        app_id: opts.app_id.clone(),
        app_port: opts.app_port,
        api_token: opts.api_token.clone().filter(|t| !t.is_empty()),
        app_api_token: opts.app_api_token.clone().filter(|t| !t.is_empty()),
        tuning,
        states: BTreeMap::new(),
        pubsubs: BTreeMap::new(),
        secrets: BTreeMap::new(),
        bindings: BTreeMap::new(),
        configs: BTreeMap::new(),
        locks: BTreeMap::new(),
        registered: Vec::new(),
        extended: Mutex::new(BTreeMap::new()),
        subscriptions: RwLock::new(Vec::new()),
        ready: AtomicBool::new(false),
        shutdown,
    };
    // Secret stores first, so other components can use secretKeyRef.
    let (stores, others): (Vec<_>, Vec<_>) = resources
        .components
        .iter()
        .partition(|c| c.kind.starts_with("secretstores.") && c.secret_refs.is_empty());
    for spec in stores.into_iter().chain(others) {
        let resolved;
        let spec = if spec.secret_refs.is_empty() {
            spec
        } else {
            match resolve_secret_refs(&ctx, spec) {
                Ok(r) => {
                    resolved = r;
                    &resolved
                }
                Err(e) if spec.ignore_errors => {
                    tracing::warn!(error = %e, "component skipped (ignoreErrors: true)");
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        if let Err(e) = add_component(&mut ctx, spec).await {
            if !spec.ignore_errors {
                return Err(e);
            }
            tracing::warn!(error = %e, "component skipped (ignoreErrors: true)");
        }
    }
    let declarative: Vec<Subscription> = resources
        .subscriptions
        .iter()
        .filter_map(Subscription::from_spec)
        .collect();
    ctx.add_subscriptions(declarative);
    Ok(ctx)
}

impl Sidecar {
    /// Loads components, binds, starts serving and (with an app port) asks the app for its
    /// subscriptions in the background. Returns once listening.
    pub async fn start(opts: SidecarOptions) -> Result<Sidecar, SidecarError> {
        Self::start_with(opts, SidecarTuning::default()).await
    }

    /// [`Sidecar::start`] with explicit limits and retry schedules.
    pub async fn start_with(
        opts: SidecarOptions,
        tuning: SidecarTuning,
    ) -> Result<Sidecar, SidecarError> {
        let resources = match &opts.resources_path {
            Some(dir) => components::load_dir(dir, &opts.app_id)?,
            None => Resources {
                components: vec![
                    ComponentSpec::builtin("statestore", "state.in-memory"),
                    ComponentSpec::builtin("pubsub", "pubsub.in-memory"),
                ],
                subscriptions: Vec::new(),
            },
        };
        let (shutdown, _) = watch::channel(false);
        let ctx = Arc::new(build_ctx(&opts, tuning, resources, shutdown).await?);
        let listener =
            TcpListener::bind(opts.listen)
                .await
                .map_err(|source| SidecarError::Bind {
                    addr: opts.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SidecarError::Bind {
            addr: opts.listen,
            source,
        })?;
        let server = tokio::spawn(server::serve(listener, ctx.clone()));
        let mut inputs = Vec::new();
        if ctx.app_port.is_some() {
            for (name, binding) in &ctx.bindings {
                if let bindings::Binding::Cron(every) = binding {
                    let task = bindings::run_input(ctx.clone(), name.clone(), *every);
                    inputs.push(tokio::spawn(task));
                }
            }
        }
        let subscriber = if ctx.app_port.is_some() {
            Some(tokio::spawn(pubsub::load_app_subscriptions(ctx.clone())))
        } else {
            ctx.set_ready();
            None
        };
        tracing::info!(%addr, app_id = %ctx.app_id, app_port = ?ctx.app_port, "wasi-dapr sidecar listening");
        Ok(Sidecar {
            addr,
            ctx,
            server: Some(server),
            subscriber,
            inputs,
        })
    }

    /// The address the sidecar listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `GET /v1.0/healthz` answers 204 (the app answered, or there is no app port).
    pub fn is_ready(&self) -> bool {
        self.ctx.is_ready()
    }

    /// The stored entries of a state store, with full keys (`<appId>||<key>`), sorted by key;
    /// empty for an unknown store. For tests and debugging.
    pub async fn state_snapshot(&self, store: &str) -> Vec<(String, Vec<u8>)> {
        let Some(comp) = self.ctx.states.get(store) else {
            return Vec::new();
        };
        match comp.store.scan("").await {
            Ok(items) => items.into_iter().map(|(k, item)| (k, item.data)).collect(),
            Err(e) => {
                tracing::warn!(store, error = %e, "state snapshot failed");
                Vec::new()
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish, stops deliveries.
    pub async fn shutdown(self) {
        self.ctx.request_shutdown();
        self.finish().await;
    }

    /// Resolves when `POST /v1.0/shutdown` was called (or another shutdown happened), after
    /// the server has stopped.
    pub async fn wait(self) {
        let mut rx = self.ctx.shutdown_rx();
        wait_for_shutdown(&mut rx).await;
        self.finish().await;
    }

    async fn finish(mut self) {
        if let Some(sub) = self.subscriber.take() {
            sub.abort();
        }
        for task in self.inputs.drain(..) {
            task.abort();
        }
        if let Some(server) = self.server.take()
            && let Err(e) = server.await
            && e.is_panic()
        {
            tracing::error!("the sidecar's server task panicked");
        }
        tracing::info!(addr = %self.addr, "wasi-dapr sidecar stopped");
    }
}
