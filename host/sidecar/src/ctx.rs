//! `Ctx`: what every handler shares — the loaded components by building block, the app
//! channel, the tokens, readiness and the shutdown signal — and the one store lookup that
//! answers daprd's "not configured" / "not found" errors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use http::{HeaderValue, StatusCode};
use tokio::sync::watch;

use crate::actors::runtime::Actors;
use crate::api::ApiError;
use crate::app::{AppCallError, AppConnection, AppPool, AppResponse};
use crate::bindings::component::Binding;
use crate::configuration::component::ConfigStore;
use crate::conversation::component::ConversationComponent;
use crate::jobs::store::JobTable;
use crate::lock::component::LockStore;
use crate::options::SidecarTuning;
use crate::pubsub::queue::DeliveryQueue;
use crate::pubsub::subscription::PubSubComponent;
use crate::secrets::component::SecretStore;
use crate::state::store::StateComponent;

/// A loaded component as listed in metadata.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredComponent {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub capabilities: Vec<&'static str>,
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
    pub secrets: BTreeMap<String, SecretStore>,
    pub bindings: BTreeMap<String, Binding>,
    pub configs: BTreeMap<String, ConfigStore>,
    pub locks: BTreeMap<String, LockStore>,
    pub conversations: BTreeMap<String, ConversationComponent>,
    pub registered: Vec<RegisteredComponent>,
    pub extended: Mutex<BTreeMap<String, String>>,
    /// Every subscription with its delivery queue.
    pub subscriptions: RwLock<Vec<Arc<DeliveryQueue>>>,
    /// The scheduled jobs (in memory).
    pub jobs: JobTable,
    /// The actor runtime: hosted types, active actors, reminders and timers.
    pub actors: Actors,
    /// Idle keep-alive connections to the app (at most `max_idle_app_connections`).
    pub(crate) app_pool: AppPool,
    pub(crate) ready: AtomicBool,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl Ctx {
    /// Sends `req` to the app with this sidecar's app timeout and body cap, on an idle
    /// connection of [`Ctx::app_pool`] or a new one.
    pub async fn call_app(
        &self,
        req: http::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Result<AppResponse, AppCallError> {
        self.app_pool
            .call(
                self.app_port,
                req,
                self.tuning.app_timeout,
                self.tuning.max_body_bytes,
            )
            .await
    }

    /// [`Ctx::call_app`] on a kept connection (reused while the app keeps it open).
    pub async fn call_app_on(
        &self,
        conn: &mut AppConnection,
        req: http::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Result<AppResponse, AppCallError> {
        conn.call(
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

    pub fn add_subscription(&self, queue: Arc<DeliveryQueue>) {
        self.subscriptions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(queue);
    }
}

/// Resolves once shutdown is requested (or the sender is gone).
pub(crate) async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The building blocks whose requests name a store, for [`find_store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedStore {
    /// `/v1.0/state/{store}`.
    State,
    /// `/v1.0/secrets/{store}`.
    Secret,
    /// `/v1.0-alpha1/lock/{store}`.
    Lock,
    /// `/v1.0/configuration/{store}`.
    Configuration,
}

impl NamedStore {
    /// daprd's answers when no store of the block is loaded (500: errorCode, message), and
    /// when none has the name asked for (status, errorCode, message with `{name}`).
    #[rustfmt::skip]
    fn missing(self) -> ((&'static str, &'static str), (StatusCode, &'static str, &'static str)) {
        match self {
            NamedStore::State => (("ERR_STATE_STORE_NOT_CONFIGURED", "state store is not configured"), (StatusCode::BAD_REQUEST, "ERR_STATE_STORE_NOT_FOUND", "state store {name} is not found")),
            NamedStore::Secret => (("ERR_SECRET_STORES_NOT_CONFIGURED", "secret store is not configured"), (StatusCode::UNAUTHORIZED, "ERR_SECRET_STORE_NOT_FOUND", "failed finding secret store with key {name}")),
            NamedStore::Lock => (("ERR_LOCK_STORE_NOT_CONFIGURED", "lock store is not configured"), (StatusCode::BAD_REQUEST, "ERR_LOCK_STORE_NOT_FOUND", "lock store {name} not found")),
            NamedStore::Configuration => (("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", "configuration stores not configured"), (StatusCode::BAD_REQUEST, "ERR_CONFIGURATION_STORE_NOT_FOUND", "configuration store {name} not found")),
        }
    }
}

/// Looks up the store `name` of `kind`, answering as daprd does when there is none.
pub(crate) fn find_store<'a, T>(
    stores: &'a BTreeMap<String, T>,
    kind: NamedStore,
    name: &str,
) -> Result<&'a T, ApiError> {
    let ((none_code, none_message), (status, code, message)) = kind.missing();
    if stores.is_empty() {
        return Err(ApiError::internal(none_code, none_message));
    }
    stores
        .get(name)
        .ok_or_else(|| ApiError::new(status, code, message.replace("{name}", name)))
}
