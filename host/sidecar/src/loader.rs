//! Loading: from component specs to the running backends in `Ctx` (secret stores first,
//! `secretKeyRef` resolved, duplicates refused, capabilities registered for metadata).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use crate::actors::runtime::Actors;
use crate::bindings::component::{Binding, LocalStorage, cron_from_spec};
use crate::components::{BuildingBlock, ComponentKind, ComponentSpec, Resources};
use crate::configuration::component::ConfigStore;
use crate::conversation::component::ConversationComponent;
use crate::ctx::{Ctx, RegisteredComponent};
use crate::error::SidecarError;
use crate::jobs::store::JobTable;
use crate::lock::component::LockStore;
use crate::options::{SidecarOptions, SidecarTuning};
use crate::pubsub::subscription::{PubSubComponent, Subscription};
use crate::secrets::component::SecretStore;
use crate::state::store::{KeyPrefix, StateComponent, StateStore};
use crate::state::{memory, redis};

/// Dapr's `keyPrefix` metadata.
fn key_prefix(spec: &ComponentSpec) -> KeyPrefix {
    match spec.meta("keyPrefix").unwrap_or("appid") {
        "" | "appid" => KeyPrefix::AppId,
        "name" => KeyPrefix::Name,
        "none" => KeyPrefix::None,
        other => KeyPrefix::Custom(other.to_string()),
    }
}

/// dapr/kit's `IsTruthy`: `y yes true t on 1`, any case, trimmed.
fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "on" | "1"
    )
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
    let Some(kind) = spec.component_kind().filter(|_| version_ok) else {
        return Err(SidecarError::UnknownType {
            path: spec.file.clone(),
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            version: spec.version.clone(),
            supported: ComponentKind::supported_list(),
        });
    };
    let block = kind.block();
    let taken = match block {
        BuildingBlock::State => ctx.states.contains_key(&spec.name),
        BuildingBlock::PubSub => ctx.pubsubs.contains_key(&spec.name),
        BuildingBlock::SecretStore => ctx.secrets.contains_key(&spec.name),
        BuildingBlock::Binding => ctx.bindings.contains_key(&spec.name),
        BuildingBlock::Configuration => ctx.configs.contains_key(&spec.name),
        BuildingBlock::Lock => ctx.locks.contains_key(&spec.name),
        BuildingBlock::Conversation => ctx.conversations.contains_key(&spec.name),
    };
    if taken {
        return Err(SidecarError::Duplicate {
            path: spec.file.clone(),
            name: spec.name.clone(),
            category: block.label(),
        });
    }
    let mut capabilities = Vec::new();
    let actor_store = matches!(kind.block(), BuildingBlock::State)
        && spec.meta("actorStateStore").is_some_and(is_truthy);
    if actor_store && let Some(other) = &ctx.actors.state_store {
        return Err(spec.init_error(format!(
            "detected duplicate actor state store: {other:?} already has actorStateStore: \"true\""
        )));
    }
    match kind {
        ComponentKind::StateInMemory => {
            let store: Arc<dyn StateStore> = Arc::new(memory::MemoryStore::default());
            ctx.states.insert(
                spec.name.clone(),
                StateComponent::new(&spec.name, &ctx.app_id, &key_prefix(spec), store),
            );
            capabilities = vec!["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
        }
        ComponentKind::StateRedis => {
            let info = redis::connection_info(spec)?;
            let store = redis::RedisStore::connect(info, ctx.tuning.connect_timeout)
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
        ComponentKind::PubSubInMemory => {
            ctx.pubsubs
                .insert(spec.name.clone(), PubSubComponent::from_spec(spec)?);
        }
        ComponentKind::SecretStoreLocalFile => {
            if spec.meta_bool("multiValued", false)? {
                capabilities = vec!["MULTIPLE_KEY_VALUES_PER_SECRET"];
            }
            ctx.secrets
                .insert(spec.name.clone(), SecretStore::from_spec(spec)?);
        }
        ComponentKind::BindingLocalStorage => {
            let storage = LocalStorage::from_spec(spec, ctx.tuning.max_body_bytes)?;
            ctx.bindings
                .insert(spec.name.clone(), Binding::LocalStorage(storage));
            capabilities = vec!["OUTPUT_BINDING"];
        }
        ComponentKind::BindingCron => {
            let every = cron_from_spec(spec)?;
            ctx.bindings.insert(spec.name.clone(), Binding::Cron(every));
            capabilities = vec!["INPUT_BINDING"];
        }
        ComponentKind::ConfigurationInMemory => {
            ctx.configs
                .insert(spec.name.clone(), ConfigStore::from_spec(spec));
        }
        ComponentKind::LockInMemory => {
            ctx.locks
                .insert(spec.name.clone(), LockStore::new(ctx.tuning.max_locks));
        }
        ComponentKind::ConversationEcho => {
            ctx.conversations
                .insert(spec.name.clone(), ConversationComponent::Echo);
        }
    }
    if actor_store {
        ctx.actors.state_store = Some(spec.name.clone());
        capabilities.push("ACTOR");
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

/// Builds every component's backend; also returns the declarative subscriptions, whose
/// delivery workers start once the `Ctx` is shared.
pub(crate) async fn build_ctx(
    opts: &SidecarOptions,
    tuning: SidecarTuning,
    resources: Resources,
    shutdown: watch::Sender<bool>,
) -> Result<(Ctx, Vec<Subscription>), SidecarError> {
    let jobs = JobTable::new(tuning.max_jobs);
    let actors = Actors::new(
        None,
        tuning.max_active_actors,
        tuning.max_actor_pending_calls,
        tuning.max_actor_reminders,
        tuning.max_actor_timers,
    );
    let app_pool = crate::app::AppPool::new(tuning.max_idle_app_connections);
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
        conversations: BTreeMap::new(),
        registered: Vec::new(),
        extended: Mutex::new(BTreeMap::new()),
        subscriptions: RwLock::new(Vec::new()),
        jobs,
        actors,
        app_pool,
        ready: AtomicBool::new(false),
        shutdown,
    };
    // Secret stores first, so other components can use secretKeyRef.
    let (stores, others): (Vec<_>, Vec<_>) = resources.components.iter().partition(|c| {
        c.kind.starts_with(BuildingBlock::SecretStore.type_prefix()) && c.secret_refs.is_empty()
    });
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
    Ok((ctx, declarative))
}
