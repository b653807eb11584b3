//! Loading Dapr resource YAML (`kind: Component`, `kind: Subscription`) from a resources folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::error::SidecarError;

/// One `kind: Component` document.
#[derive(Debug, Clone)]
pub(crate) struct ComponentSpec {
    /// The file it came from (for error messages).
    pub file: PathBuf,
    pub name: String,
    pub kind: String,
    pub version: String,
    /// `spec.metadata` as name → value (scalars turned into strings).
    pub metadata: BTreeMap<String, String>,
    /// `secretKeyRef` metadata: name → (secret name, key in the secret).
    pub secret_refs: BTreeMap<String, (String, String)>,
    /// `auth.secretStore`: where `secretKeyRef`s are looked up.
    pub secret_store: Option<String>,
    /// `spec.ignoreErrors`: a component that fails to load is skipped with a warning.
    pub ignore_errors: bool,
}

impl ComponentSpec {
    /// A built-in default component (no file).
    pub fn builtin(name: &str, kind: ComponentKind) -> Self {
        ComponentSpec {
            file: PathBuf::from("<built-in default>"),
            name: name.to_string(),
            kind: kind.type_name().to_string(),
            version: "v1".to_string(),
            metadata: BTreeMap::new(),
            secret_refs: BTreeMap::new(),
            secret_store: None,
            ignore_errors: false,
        }
    }

    /// The same spec with one more metadata entry.
    pub fn with_metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// The implemented type this component names, if any.
    pub fn component_kind(&self) -> Option<ComponentKind> {
        ComponentKind::from_type(&self.kind)
    }

    /// The folder of the file, to resolve relative paths in metadata.
    pub fn dir(&self) -> Option<&Path> {
        self.file.parent()
    }

    /// A metadata value, with Dapr's case-insensitive key lookup.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// An error about this component.
    pub fn init_error(&self, reason: impl Into<String>) -> SidecarError {
        SidecarError::Init {
            path: self.file.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            reason: reason.into(),
        }
    }

    /// A boolean metadata value (Go's `strconv.ParseBool` spellings); absent means `default`.
    pub fn meta_bool(&self, key: &str, default: bool) -> Result<bool, SidecarError> {
        match self.meta(key) {
            None | Some("") => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                self.init_error(format!("metadata {key}: expected true or false, got {v:?}"))
            }),
        }
    }
}

/// The building blocks a component can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildingBlock {
    /// `/v1.0/state`.
    State,
    /// `/v1.0/publish` and delivery to the app.
    PubSub,
    /// `/v1.0/secrets`, and `secretKeyRef` in other components.
    SecretStore,
    /// `/v1.0/bindings` (output) and calls to the app (input).
    Binding,
    /// `/v1.0/configuration`.
    Configuration,
    /// `/v1.0-alpha1/lock` and `/unlock`.
    Lock,
    /// `/v1.0-alpha2/conversation`.
    Conversation,
}

impl BuildingBlock {
    /// The prefix of every `spec.type` of the block (`secretstores.` for secret stores),
    /// implemented or not.
    pub fn type_prefix(self) -> &'static str {
        match self {
            BuildingBlock::State => "state.",
            BuildingBlock::PubSub => "pubsub.",
            BuildingBlock::SecretStore => "secretstores.",
            BuildingBlock::Binding => "bindings.",
            BuildingBlock::Configuration => "configuration.",
            BuildingBlock::Lock => "lock.",
            BuildingBlock::Conversation => "conversation.",
        }
    }

    /// The name used in error messages (`a state component with this name ...`).
    pub fn label(self) -> &'static str {
        match self {
            BuildingBlock::State => "state",
            BuildingBlock::PubSub => "pubsub",
            BuildingBlock::SecretStore => "secret store",
            BuildingBlock::Binding => "binding",
            BuildingBlock::Configuration => "configuration",
            BuildingBlock::Lock => "lock",
            BuildingBlock::Conversation => "conversation",
        }
    }
}

/// A component type this sidecar implements (`spec.type`, version `v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ComponentKind {
    /// `state.in-memory`.
    StateInMemory,
    /// `state.redis`.
    StateRedis,
    /// `pubsub.in-memory`.
    PubSubInMemory,
    /// `secretstores.local.file`.
    SecretStoreLocalFile,
    /// `bindings.localstorage`.
    BindingLocalStorage,
    /// `bindings.cron`.
    BindingCron,
    /// `configuration.in-memory`.
    ConfigurationInMemory,
    /// `lock.in-memory`.
    LockInMemory,
    /// `conversation.echo`.
    ConversationEcho,
}

impl ComponentKind {
    /// Every implemented type, in the order the docs list them.
    pub const ALL: [ComponentKind; 9] = [
        ComponentKind::StateInMemory,
        ComponentKind::StateRedis,
        ComponentKind::PubSubInMemory,
        ComponentKind::SecretStoreLocalFile,
        ComponentKind::BindingLocalStorage,
        ComponentKind::BindingCron,
        ComponentKind::ConfigurationInMemory,
        ComponentKind::LockInMemory,
        ComponentKind::ConversationEcho,
    ];

    /// The `spec.type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            ComponentKind::StateInMemory => "state.in-memory",
            ComponentKind::StateRedis => "state.redis",
            ComponentKind::PubSubInMemory => "pubsub.in-memory",
            ComponentKind::SecretStoreLocalFile => "secretstores.local.file",
            ComponentKind::BindingLocalStorage => "bindings.localstorage",
            ComponentKind::BindingCron => "bindings.cron",
            ComponentKind::ConfigurationInMemory => "configuration.in-memory",
            ComponentKind::LockInMemory => "lock.in-memory",
            ComponentKind::ConversationEcho => "conversation.echo",
        }
    }

    /// The kind named by a `spec.type` string, if implemented.
    pub fn from_type(type_name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_name() == type_name)
    }

    /// The building block the kind belongs to.
    pub fn block(self) -> BuildingBlock {
        match self {
            ComponentKind::StateInMemory | ComponentKind::StateRedis => BuildingBlock::State,
            ComponentKind::PubSubInMemory => BuildingBlock::PubSub,
            ComponentKind::SecretStoreLocalFile => BuildingBlock::SecretStore,
            ComponentKind::BindingLocalStorage | ComponentKind::BindingCron => {
                BuildingBlock::Binding
            }
            ComponentKind::ConfigurationInMemory => BuildingBlock::Configuration,
            ComponentKind::LockInMemory => BuildingBlock::Lock,
            ComponentKind::ConversationEcho => BuildingBlock::Conversation,
        }
    }

    /// `state.in-memory, state.redis, ...`: the list that error messages show.
    pub fn supported_list() -> String {
        Self::ALL.map(ComponentKind::type_name).join(", ")
    }
}

/// A declarative `kind: Subscription` document.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionSpec {
    pub pubsub: String,
    pub topic: String,
    pub route: Option<String>,
    pub default_route: Option<String>,
    pub rules: Vec<(String, String)>,
    pub metadata: BTreeMap<String, String>,
    pub dead_letter: Option<String>,
    /// `bulkSubscribe`, as given (defaults are applied by the subscription).
    pub bulk: Option<BulkSubscribeSpec>,
}

/// A subscription's `bulkSubscribe: {enabled, maxMessagesCount, maxAwaitDurationMs}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BulkSubscribeSpec {
    pub enabled: bool,
    /// 0 when absent.
    pub max_messages_count: i64,
    /// 0 when absent.
    pub max_await_duration_ms: i64,
}

/// What a resources folder holds.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    pub components: Vec<ComponentSpec>,
    pub subscriptions: Vec<SubscriptionSpec>,
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Reads every `*.yaml` / `*.yml` file of `dir` (not recursive), in name order.
pub(crate) fn load_dir(dir: &Path, app_id: &str) -> Result<Resources, SidecarError> {
    let read_err = |source| SidecarError::ReadResources {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut out = Resources::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| SidecarError::ReadFile {
            path: file.clone(),
            source,
        })?;
        parse_file(&file, &text, app_id, &mut out)?;
    }
    Ok(out)
}

/// Parses one file's documents into `out`.
pub(crate) fn parse_file(
    file: &Path,
    text: &str,
    app_id: &str,
    out: &mut Resources,
) -> Result<(), SidecarError> {
    let perr = |reason: String| SidecarError::Parse {
        path: file.to_path_buf(),
        reason,
    };
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value =
            <Value as serde::Deserialize>::deserialize(doc).map_err(|e| perr(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !in_scope(&value, app_id) {
            continue;
        }
        match kind {
            "Component" => out
                .components
                .push(parse_component(file, &value).map_err(perr)?),
            "Subscription" => out
                .subscriptions
                .push(parse_subscription(&value).map_err(perr)?),
            other => {
                tracing::debug!(file = %file.display(), kind = other, "skipping resource that is not a Component or Subscription");
            }
        }
    }
    Ok(())
}

/// `scopes`: when present, only the listed app ids load the resource.
fn in_scope(doc: &Value, app_id: &str) -> bool {
    match doc.get("scopes").and_then(Value::as_sequence) {
        Some(scopes) if !scopes.is_empty() => scopes.iter().any(|s| s.as_str() == Some(app_id)),
        _ => true,
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn parse_component(file: &Path, doc: &Value) -> Result<ComponentSpec, String> {
    const FORM: &str = "expected `apiVersion: dapr.io/v1alpha1`, `kind: Component`, `metadata: {name: NAME}`, \
                        `spec: {type: TYPE, version: v1, metadata: [{name: K, value: V}]}`";
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("a Component without metadata.name; {FORM}"))?;
    let spec = doc
        .get("spec")
        .ok_or_else(|| format!("component {name:?} has no spec; {FORM}"))?;
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("component {name:?} has no spec.type; {FORM}"))?;
    let version = spec.get("version").and_then(scalar).unwrap_or_default();
    let mut metadata = BTreeMap::new();
    let mut secret_refs = BTreeMap::new();
    if let Some(items) = spec.get("metadata") {
        let items = items
            .as_sequence()
            .ok_or_else(|| format!("component {name:?}: spec.metadata must be a list; {FORM}"))?;
        for item in items {
            let key = item.get("name").and_then(Value::as_str).ok_or_else(|| {
                format!("component {name:?}: a spec.metadata entry without name; {FORM}")
            })?;
            if let Some(r) = item.get("secretKeyRef") {
                let secret = r
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        format!(
                            "component {name:?}: metadata {key:?}: secretKeyRef needs a name, \
                             e.g. secretKeyRef: {{name: redis-password, key: redis-password}}"
                        )
                    })?;
                let secret_key = r.get("key").and_then(Value::as_str).unwrap_or(secret);
                secret_refs.insert(
                    key.to_string(),
                    (secret.to_string(), secret_key.to_string()),
                );
                continue;
            }
            let value = match item.get("value") {
                None => String::new(),
                Some(v) => scalar(v).ok_or_else(|| {
                    format!("component {name:?}: metadata {key:?} must have a scalar value")
                })?,
            };
            metadata.insert(key.to_string(), value);
        }
    }
    Ok(ComponentSpec {
        file: file.to_path_buf(),
        name: name.to_string(),
        kind: kind.to_string(),
        version,
        metadata,
        secret_refs,
        secret_store: doc
            .get("auth")
            .and_then(|a| a.get("secretStore"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ignore_errors: spec
            .get("ignoreErrors")
            .and_then(scalar)
            .and_then(|v| parse_bool(&v))
            .unwrap_or(false),
    })
}

fn parse_subscription(doc: &Value) -> Result<SubscriptionSpec, String> {
    const FORM: &str = "expected `kind: Subscription`, `spec: {pubsubname: P, topic: T, route: /path}` \
                        or `spec: {pubsubname: P, topic: T, routes: {default: /path, rules: [{match: M, path: /p}]}}`";
    let spec = doc
        .get("spec")
        .ok_or_else(|| format!("a Subscription without spec; {FORM}"))?;
    let field = |k: &str| spec.get(k).and_then(Value::as_str).map(str::to_string);
    let pubsub = field("pubsubname")
        .ok_or_else(|| format!("a Subscription without spec.pubsubname; {FORM}"))?;
    let topic =
        field("topic").ok_or_else(|| format!("a Subscription without spec.topic; {FORM}"))?;
    let routes = spec.get("routes");
    let default_route = routes
        .and_then(|r| r.get("default"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut rules = Vec::new();
    if let Some(list) = routes
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_sequence)
    {
        for rule in list {
            let m = rule
                .get("match")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let p = rule
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a Subscription rule without path; {FORM}"))?;
            rules.push((m.to_string(), p.to_string()));
        }
    }
    let mut metadata = BTreeMap::new();
    if let Some(map) = spec.get("metadata").and_then(Value::as_mapping) {
        for (k, v) in map {
            if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                metadata.insert(k.to_string(), v);
            }
        }
    }
    let bulk = match spec.get("bulkSubscribe") {
        None | Some(Value::Null) => None,
        Some(b) => {
            const BULK: &str = "expected `bulkSubscribe: {enabled: true, maxMessagesCount: N, maxAwaitDurationMs: MS}`";
            let int = |k: &str| match b.get(k) {
                None | Some(Value::Null) => Ok(0),
                Some(v) => v
                    .as_i64()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| {
                        format!("spec.bulkSubscribe.{k} is not a 32-bit integer; {BULK}")
                    }),
            };
            let enabled = match b.get("enabled") {
                None | Some(Value::Null) => false,
                Some(v) => v.as_bool().ok_or_else(|| {
                    format!("spec.bulkSubscribe.enabled is not a boolean; {BULK}")
                })?,
            };
            Some(BulkSubscribeSpec {
                enabled,
                max_messages_count: int("maxMessagesCount")?,
                max_await_duration_ms: int("maxAwaitDurationMs")?,
            })
        }
    };
    Ok(SubscriptionSpec {
        pubsub,
        topic,
        route: field("route"),
        default_route,
        rules,
        metadata,
        dead_letter: field("deadLetterTopic").filter(|t| !t.is_empty()),
        bulk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Resources, SidecarError> {
        let mut out = Resources::default();
        parse_file(Path::new("c.yaml"), text, "app", &mut out).map(|()| out)
    }

    #[test]
    fn every_kind_round_trips_through_its_type_name() {
        for kind in ComponentKind::ALL {
            assert_eq!(ComponentKind::from_type(kind.type_name()), Some(kind));
        }
        assert_eq!(ComponentKind::from_type("state.mongodb"), None);
        assert_eq!(ComponentKind::from_type("lock.redis"), None);
        assert_eq!(ComponentKind::LockInMemory.block(), BuildingBlock::Lock);
        for kind in ComponentKind::ALL {
            assert!(
                kind.type_name().starts_with(kind.block().type_prefix()),
                "{kind:?}"
            );
        }
        assert!(ComponentKind::supported_list().starts_with("state.in-memory, state.redis, "));
    }

    #[test]
    fn component_with_metadata() {
        let r = parse(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: s\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: localhost:6379\n  - name: redisDB\n    value: 2\n  - name: enableTLS\n    value: false\n",
        )
        .expect("parses");
        let c = &r.components[0];
        assert_eq!(
            (c.name.as_str(), c.kind.as_str(), c.version.as_str()),
            ("s", "state.redis", "v1")
        );
        assert_eq!(c.meta("redishost"), Some("localhost:6379"));
        assert_eq!(c.meta("redisDB"), Some("2"));
        assert_eq!(c.meta_bool("enableTLS", true).ok(), Some(false));
    }

    #[test]
    fn several_documents_and_other_kinds() {
        let r = parse(
            "kind: Component\nmetadata: {name: a}\nspec: {type: state.in-memory, version: v1}\n---\nkind: Configuration\nmetadata: {name: c}\n---\nkind: Subscription\nspec: {pubsubname: p, topic: t, routes: {default: /d, rules: [{match: 'event.type == \"x\"', path: /x}]}}\n",
        )
        .expect("parses");
        assert_eq!(r.components.len(), 1);
        assert_eq!(r.subscriptions.len(), 1);
        assert_eq!(r.subscriptions[0].default_route.as_deref(), Some("/d"));
        assert_eq!(r.subscriptions[0].rules[0].1, "/x");
    }

    #[test]
    fn subscription_bulk_subscribe() {
        let r = parse(
            "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nspec: {pubsubname: p, topic: t, routes: {default: /d}, bulkSubscribe: {enabled: true, maxMessagesCount: 5, maxAwaitDurationMs: 40}}\n---\napiVersion: dapr.io/v1alpha1\nkind: Subscription\nspec: {pubsubname: p, topic: u, route: /u, bulkSubscribe: {enabled: true}}\n---\nkind: Subscription\nspec: {pubsubname: p, topic: v, route: /v}\n",
        )
        .expect("parses");
        let bulk: Vec<Option<BulkSubscribeSpec>> = r.subscriptions.iter().map(|s| s.bulk).collect();
        assert_eq!(
            bulk,
            [
                Some(BulkSubscribeSpec {
                    enabled: true,
                    max_messages_count: 5,
                    max_await_duration_ms: 40
                }),
                Some(BulkSubscribeSpec {
                    enabled: true,
                    max_messages_count: 0,
                    max_await_duration_ms: 0
                }),
                None
            ]
        );
    }

    #[test]
    fn scopes_filter_by_app_id() {
        let r = parse("kind: Component\nmetadata: {name: a}\nspec: {type: state.in-memory}\nscopes: [other]\n")
            .expect("parses");
        assert!(r.components.is_empty());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for text in [
            "kind: Component\nspec: {type: x}\n",
            "kind: Component\nmetadata: {name: a}\n",
            "kind: Component\nmetadata: {name: a}\nspec: {type: t, metadata: {a: b}}\n",
            "kind: Component\nmetadata: {name: a}\nspec: {type: t, metadata: [{value: b}]}\n",
            "kind: [\n",
            "kind: Subscription\nspec: {topic: t}\n",
            "kind: Subscription\nspec: {pubsubname: p, topic: t, route: /r, bulkSubscribe: {enabled: yes}}\n",
            "kind: Subscription\nspec: {pubsubname: p, topic: t, route: /r, bulkSubscribe: {enabled: true, maxMessagesCount: 1.5}}\n",
            "kind: Subscription\nspec: {pubsubname: p, topic: t, route: /r, bulkSubscribe: {maxAwaitDurationMs: 99999999999}}\n",
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains("c.yaml"), "{err}");
        }
    }

    #[test]
    fn go_parse_bool() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
