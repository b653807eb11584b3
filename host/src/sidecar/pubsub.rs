//! Pub/sub: publish and bulk publish into CloudEvents, the in-memory broker, app subscriptions and delivery.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::components::{ComponentSpec, SubscriptionSpec, parse_bool};
use super::errors::{ApiError, SidecarError, json_response, no_content};
use super::server::{ApiRequest, Resp};

const CE_CONTENT_TYPE: &str = "application/cloudevents+json";

/// A `pubsub.in-memory` component.
#[derive(Debug)]
pub(crate) struct PubSubComponent {
    /// `allowedTopics` (comma separated); `None` = every topic.
    pub allowed_topics: Option<Vec<String>>,
}

impl PubSubComponent {
    pub fn from_spec(spec: &ComponentSpec) -> Result<Self, SidecarError> {
        let allowed_topics = spec
            .meta("allowedTopics")
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            });
        Ok(PubSubComponent { allowed_topics })
    }
}

/// A message on the in-memory broker.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub pubsub: String,
    pub topic: String,
    /// The CloudEvent JSON, or the raw body when published with `rawPayload`.
    pub data: Bytes,
    pub raw: bool,
    pub expires: Option<SystemTime>,
    pub traceparent: String,
    pub tracestate: String,
    /// Already sent to a dead-letter topic once (never dead-letter again).
    pub dead_lettered: bool,
}

/// A rule's `match` in the supported CEL subset: `event.<path> == "lit"` or `!=`.
#[derive(Debug, Clone)]
enum Matcher {
    Eq(Vec<String>, String),
    Ne(Vec<String>, String),
}

impl Matcher {
    fn parse(expr: &str) -> Option<Matcher> {
        let (lhs, rhs, eq) = if let Some((l, r)) = expr.split_once("==") {
            (l, r, true)
        } else {
            let (l, r) = expr.split_once("!=")?;
            (l, r, false)
        };
        let path = lhs.trim().strip_prefix("event.")?;
        if path.is_empty()
            || !path
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return None;
        }
        let rhs = rhs.trim();
        let lit = rhs
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .or_else(|| rhs.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))?;
        if lit.contains(['"', '\'']) {
            return None;
        }
        let path = path.split('.').map(str::to_string).collect();
        Some(if eq {
            Matcher::Eq(path, lit.to_string())
        } else {
            Matcher::Ne(path, lit.to_string())
        })
    }

    fn matches(&self, event: &Value) -> bool {
        let get = |path: &[String]| {
            path.iter()
                .try_fold(event, |v, p| v.get(p))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match self {
            Matcher::Eq(p, lit) => get(p).as_deref() == Some(lit.as_str()),
            Matcher::Ne(p, lit) => get(p).as_deref() != Some(lit.as_str()),
        }
    }
}

/// One routing rule of a subscription.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub expr: String,
    pub path: String,
    matcher: Option<Matcher>,
}

/// A subscription, from the app (`GET /dapr/subscribe`) or from a `kind: Subscription` file.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub pubsub: String,
    pub topic: String,
    pub rules: Vec<Rule>,
    pub default_route: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub dead_letter: Option<String>,
    pub declarative: bool,
}

impl Subscription {
    /// Builds a subscription; `None` (with a warning) when it has no route at all.
    fn new(spec: SubscriptionSpec, declarative: bool) -> Option<Subscription> {
        let SubscriptionSpec {
            pubsub,
            topic,
            route,
            default_route,
            rules,
            metadata,
            dead_letter,
        } = spec;
        let default_route = default_route
            .filter(|r| !r.is_empty())
            .or(route.filter(|r| !r.is_empty()));
        let rules: Vec<Rule> = rules
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(expr, path)| {
                let matcher = Matcher::parse(&expr);
                if matcher.is_none() && !expr.trim().is_empty() {
                    tracing::warn!(%topic, rule = %expr, "unsupported rule expression (only event.<field> == \"value\" / != is supported); the rule never matches");
                }
                Rule { expr, path, matcher }
            })
            .collect();
        if default_route.is_none() && rules.is_empty() {
            tracing::warn!(%pubsub, %topic, "subscription without a route is ignored");
            return None;
        }
        Some(Subscription {
            pubsub,
            topic,
            rules,
            default_route,
            metadata,
            dead_letter,
            declarative,
        })
    }

    pub fn from_spec(s: &SubscriptionSpec) -> Option<Subscription> {
        Subscription::new(s.clone(), true)
    }

    /// The route for an event: the first matching rule, else the default.
    fn route_for(&self, event: &Value) -> Option<&str> {
        for r in &self.rules {
            let hit = if r.expr.trim().is_empty() {
                true
            } else {
                r.matcher.as_ref().is_some_and(|m| m.matches(event))
            };
            if hit {
                return Some(&r.path);
            }
        }
        self.default_route.as_deref()
    }

    fn raw_payload(&self) -> bool {
        self.metadata
            .get("rawPayload")
            .and_then(|v| parse_bool(v))
            .unwrap_or(false)
    }

    /// The JSON shape in `GET /v1.0/metadata`.
    pub fn to_metadata_json(&self) -> Value {
        let mut rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut o = json!({ "path": r.path });
                if !r.expr.is_empty() {
                    o["match"] = Value::String(r.expr.clone());
                }
                o
            })
            .collect();
        if let Some(d) = &self.default_route {
            rules.push(json!({ "path": d }));
        }
        let mut o = json!({
            "pubsubname": self.pubsub,
            "topic": self.topic,
            "rules": rules,
            "type": if self.declarative { "DECLARATIVE" } else { "PROGRAMMATIC" },
        });
        if !self.metadata.is_empty() {
            o["metadata"] = json!(self.metadata);
        }
        if let Some(d) = &self.dead_letter {
            o["deadLetterTopic"] = Value::String(d.clone());
        }
        o
    }
}

/// Parses the app's answer to `GET /dapr/subscribe`.
pub(crate) fn parse_app_subscriptions(body: &[u8]) -> Result<Vec<Subscription>, String> {
    let list: Vec<Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for entry in list {
        let (Some(pubsub), Some(topic)) = (s(&entry, "pubsubname"), s(&entry, "topic")) else {
            tracing::warn!(%entry, "subscription without pubsubname or topic is ignored");
            continue;
        };
        let routes = entry.get("routes");
        let rules = routes
            .and_then(|r| r.get("rules"))
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        (
                            s(r, "match").unwrap_or_default(),
                            s(r, "path").unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let metadata = entry
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let default_route = routes.and_then(|r| s(r, "default"));
        let dead_letter = s(&entry, "deadLetterTopic").filter(|t| !t.is_empty());
        let spec = SubscriptionSpec {
            pubsub,
            topic,
            route: s(&entry, "route"),
            default_route,
            rules,
            metadata,
            dead_letter,
        };
        out.extend(Subscription::new(spec, false));
    }
    Ok(out)
}

/// A W3C `traceparent` for a request: the caller's, or a fresh one.
pub(crate) fn traceparent(req: &ApiRequest) -> (String, String) {
    let given = req
        .header_str("traceparent")
        .filter(|t| t.len() == 55 && t.starts_with("00-"));
    let tp = match given {
        Some(t) => t.to_string(),
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
            format!("00-{id}-{span}-00")
        }
    };
    (
        tp,
        req.header_str("tracestate").unwrap_or_default().to_string(),
    )
}

fn now_rfc3339() -> String {
    super::rfc3339(SystemTime::now()).unwrap_or_default()
}

/// The media type without parameters, lowercased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_type(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

/// Everything a CloudEvent is built from.
struct EventInput<'a> {
    pubsub: &'a str,
    topic: &'a str,
    content_type: &'a str,
    body: &'a [u8],
    metadata: &'a BTreeMap<String, String>,
    traceparent: &'a str,
    tracestate: &'a str,
}

/// Wraps a published body into daprd's CloudEvent, by content type.
fn make_cloud_event(ctx: &Ctx, input: &EventInput<'_>) -> Result<Map<String, Value>, ApiError> {
    let ser_err = |e: String| {
        ApiError::internal(
            "ERR_PUBSUB_CLOUD_EVENTS_SER",
            format!(
                "error when marshalling cloud event envelope for topic {} pubsub {}: {e}",
                input.topic, input.pubsub
            ),
        )
    };
    let ess = essence(input.content_type);
    let mut ce = if ess == CE_CONTENT_TYPE {
        let mut ce = match serde_json::from_slice::<Value>(input.body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(ser_err("a CloudEvent must be a JSON object".into())),
            Err(e) => return Err(ser_err(e.to_string())),
        };
        let mut default = |k: &str, v: Value| {
            if ce
                .get(k)
                .is_none_or(|x| x.is_null() || x.as_str() == Some(""))
            {
                ce.insert(k.to_string(), v);
            }
        };
        default("id", Value::String(uuid::Uuid::new_v4().to_string()));
        default("source", Value::String("Dapr".into()));
        default("type", Value::String("com.dapr.event.sent".into()));
        default("specversion", Value::String("1.0".into()));
        default("time", Value::String(now_rfc3339()));
        default("traceid", Value::String(input.traceparent.into()));
        default("traceparent", Value::String(input.traceparent.into()));
        default("tracestate", Value::String(input.tracestate.into()));
        ce
    } else {
        let over = |k: &str| {
            input
                .metadata
                .get(&format!("cloudevent.{k}"))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let content_type = if input.content_type.is_empty() {
            "text/plain"
        } else {
            input.content_type
        };
        let mut ce = Map::new();
        ce.insert(
            "id".into(),
            Value::String(over("id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
        );
        ce.insert(
            "source".into(),
            Value::String(over("source").unwrap_or_else(|| ctx.app_id.clone())),
        );
        ce.insert(
            "type".into(),
            Value::String(over("type").unwrap_or_else(|| "com.dapr.event.sent".into())),
        );
        if let Some(subject) = over("subject") {
            ce.insert("subject".into(), Value::String(subject));
        }
        ce.insert("specversion".into(), Value::String("1.0".into()));
        ce.insert("datacontenttype".into(), Value::String(content_type.into()));
        ce.insert("time".into(), Value::String(now_rfc3339()));
        ce.insert("traceid".into(), Value::String(input.traceparent.into()));
        ce.insert(
            "traceparent".into(),
            Value::String(input.traceparent.into()),
        );
        ce.insert("tracestate".into(), Value::String(input.tracestate.into()));
        if is_json_type(&ess) {
            let data = serde_json::from_slice::<Value>(input.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(input.body).into_owned())
            });
            ce.insert("data".into(), data);
        } else if ess == "application/octet-stream" {
            ce.insert("data_base64".into(), Value::String(B64.encode(input.body)));
        } else {
            ce.insert(
                "data".into(),
                Value::String(String::from_utf8_lossy(input.body).into_owned()),
            );
        }
        ce
    };
    ce.insert("topic".into(), Value::String(input.topic.into()));
    ce.insert("pubsubname".into(), Value::String(input.pubsub.into()));
    Ok(ce)
}

/// `ttlInSeconds` → an expiry time; bad values are an error message.
fn ttl_expiry(metadata: &BTreeMap<String, String>) -> Result<Option<SystemTime>, String> {
    match metadata.get("ttlInSeconds").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => {
                Ok(SystemTime::now().checked_add(Duration::from_secs(n.unsigned_abs())))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(format!(
                "incorrect value for metadata 'ttlInSeconds' {v:?}: {e}"
            )),
        },
    }
}

/// The published bytes for one message, or the error answer.
fn build_message(ctx: &Ctx, input: &EventInput<'_>) -> Result<Message, ApiError> {
    let raw = match input.metadata.get("rawPayload").filter(|v| !v.is_empty()) {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| {
            ApiError::bad_request(
                "ERR_PUBSUB_REQUEST_METADATA",
                format!("failed deserializing metadata: rawPayload: strconv.ParseBool: parsing {v:?}: invalid syntax"),
            )
        })?,
    };
    let expires = ttl_expiry(input.metadata).map_err(|e| {
        ApiError::internal(
            "ERR_PUBSUB_CLOUD_EVENTS_SER",
            format!("cannot create cloudevent: {e}"),
        )
    })?;
    let data = if raw {
        Bytes::copy_from_slice(input.body)
    } else {
        let mut ce = make_cloud_event(ctx, input)?;
        if let Some(exp) = expires.and_then(super::rfc3339) {
            ce.insert("expiration".into(), Value::String(exp));
        }
        Bytes::from(serde_json::to_vec(&Value::Object(ce)).unwrap_or_default())
    };
    Ok(Message {
        pubsub: input.pubsub.to_string(),
        topic: input.topic.to_string(),
        data,
        raw,
        expires,
        traceparent: input.traceparent.to_string(),
        tracestate: input.tracestate.to_string(),
        dead_lettered: false,
    })
}

/// The common checks of publish and bulk publish.
fn find<'a>(ctx: &'a Ctx, pubsub: &str, topic: &str) -> Result<&'a PubSubComponent, ApiError> {
    if ctx.pubsubs.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_PUBSUB_NOT_CONFIGURED",
            "no pubsub is configured",
        ));
    }
    if pubsub.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ERR_PUBSUB_EMPTY",
            "pubsub name is empty",
        ));
    }
    let comp = ctx.pubsubs.get(pubsub).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ERR_PUBSUB_NOT_FOUND",
            format!("pubsub {pubsub} not found"),
        )
    })?;
    if topic.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ERR_TOPIC_NAME_EMPTY",
            format!("topic is empty in pubsub {pubsub}"),
        ));
    }
    if let Some(allowed) = &comp.allowed_topics
        && !allowed.iter().any(|t| t == topic)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ERR_PUBSUB_FORBIDDEN",
            format!("topic {topic} is not allowed for app id {}", ctx.app_id),
        ));
    }
    Ok(comp)
}

/// `POST|PUT /v1.0/publish/{pubsub}/{topic}`.
pub(crate) async fn publish(
    ctx: &Arc<Ctx>,
    req: &ApiRequest,
    pubsub: &str,
    topic: &str,
) -> Result<Resp, ApiError> {
    find(ctx, pubsub, topic)?;
    let metadata = req.query_metadata();
    let (tp, ts) = traceparent(req);
    let content_type = req
        .header_str(header::CONTENT_TYPE.as_str())
        .unwrap_or_default();
    let input = EventInput {
        pubsub,
        topic,
        content_type,
        body: &req.body,
        metadata: &metadata,
        traceparent: &tp,
        tracestate: &ts,
    };
    let msg = build_message(ctx, &input)?;
    dispatch(ctx, msg);
    Ok(no_content())
}

#[derive(Debug, serde::Deserialize)]
struct BulkEntry {
    #[serde(default, rename = "entryId")]
    entry_id: Option<String>,
    #[serde(default)]
    event: Value,
    #[serde(default, rename = "contentType")]
    content_type: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

/// The bytes of a bulk entry's `event`, checked against its content type.
fn bulk_event_bytes(entry: &BulkEntry, content_type: &str) -> Result<Vec<u8>, String> {
    let ess = essence(content_type);
    if ess == "application/octet-stream" {
        let s = entry
            .event
            .as_str()
            .ok_or("event must be a base64 string for application/octet-stream")?;
        return B64
            .decode(s)
            .map_err(|e| format!("event is not valid base64: {e}"));
    }
    if is_json_type(&ess) {
        if ess == CE_CONTENT_TYPE
            && let Some(s) = entry.event.as_str()
        {
            return Ok(s.as_bytes().to_vec());
        }
        return serde_json::to_vec(&entry.event).map_err(|e| e.to_string());
    }
    entry
        .event
        .as_str()
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| format!("event must be a string for content type {content_type}"))
}

/// `POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic}`.
pub(crate) async fn bulk_publish(
    ctx: &Arc<Ctx>,
    req: &ApiRequest,
    pubsub: &str,
    topic: &str,
) -> Result<Resp, ApiError> {
    find(ctx, pubsub, topic)?;
    let entries: Vec<BulkEntry> = serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::bad_request(
            "ERR_PUBSUB_EVENTS_SER",
            format!("error when unmarshaling the request for topic {topic} pubsub {pubsub}: {e}"),
        )
    })?;
    let mut seen = HashSet::new();
    for e in &entries {
        let id = e.entry_id.as_deref().unwrap_or_default();
        if id.is_empty() || !seen.insert(id.to_string()) {
            return Err(ApiError::bad_request(
                "ERR_PUBSUB_EVENTS_SER",
                format!(
                    "error when unmarshaling the request for topic {topic} pubsub {pubsub}: entryId is duplicated or not present for entry"
                ),
            ));
        }
    }
    let query_meta = req.query_metadata();
    let (tp, ts) = traceparent(req);
    let mut failed = Vec::new();
    let mut messages = Vec::new();
    for entry in &entries {
        let id = entry.entry_id.clone().unwrap_or_default();
        let content_type = entry
            .content_type
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| {
                if entry.event.is_string() {
                    "text/plain".into()
                } else {
                    "application/json".into()
                }
            });
        // Query `metadata.*` wins over the entry's own metadata.
        let mut metadata = entry.metadata.clone().unwrap_or_default();
        metadata.extend(query_meta.clone());
        let built = bulk_event_bytes(entry, &content_type).and_then(|body| {
            let input = EventInput {
                pubsub,
                topic,
                content_type: &content_type,
                body: &body,
                metadata: &metadata,
                traceparent: &tp,
                tracestate: &ts,
            };
            build_message(ctx, &input).map_err(|e| e.message)
        });
        match built {
            Ok(m) => messages.push(m),
            Err(error) => failed.push(json!({ "entryId": id, "error": error })),
        }
    }
    for m in messages {
        dispatch(ctx, m);
    }
    if failed.is_empty() {
        Ok(no_content())
    } else {
        let body = json!({ "failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE" });
        Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, &body))
    }
}

/// Hands a message to every matching subscription (in-memory broker: fire and forget).
pub(crate) fn dispatch(ctx: &Arc<Ctx>, msg: Message) {
    let subs: Vec<Arc<Subscription>> = ctx
        .subscriptions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|s| s.pubsub == msg.pubsub && s.topic == msg.topic)
        .cloned()
        .collect();
    if subs.is_empty() {
        tracing::debug!(pubsub = %msg.pubsub, topic = %msg.topic, "no subscriber; message dropped");
    }
    for sub in subs {
        let ctx = ctx.clone();
        let msg = msg.clone();
        tokio::spawn(async move { deliver(ctx, sub, msg).await });
    }
}

/// The CloudEvent delivered for a message to a subscription.
fn delivery_event(ctx: &Ctx, sub: &Subscription, msg: &Message) -> Value {
    let parsed = if sub.raw_payload() || msg.raw {
        None
    } else {
        serde_json::from_slice::<Value>(&msg.data)
            .ok()
            .filter(Value::is_object)
    };
    if let Some(ce) = parsed {
        return ce;
    }
    // A raw message that happens to be a CloudEvent is delivered as is.
    if msg.raw
        && !sub.raw_payload()
        && let Ok(ce @ Value::Object(_)) = serde_json::from_slice::<Value>(&msg.data)
        && ce.get("specversion").is_some()
    {
        return ce;
    }
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "source": ctx.app_id,
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/octet-stream",
        "data_base64": B64.encode(&msg.data),
        "topic": msg.topic,
        "pubsubname": msg.pubsub,
        "time": now_rfc3339(),
        "traceid": msg.traceparent,
        "traceparent": msg.traceparent,
        "tracestate": msg.tracestate,
    })
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Retry,
    Drop,
    NotFound,
}

async fn deliver_once(
    ctx: &Ctx,
    route: &str,
    pubsub: &str,
    body: &Bytes,
    msg: &Message,
) -> Outcome {
    let path = format!("/{}", route.trim_start_matches('/'));
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::CONTENT_TYPE, CE_CONTENT_TYPE)
        .header("traceparent", msg.traceparent.as_str());
    if !msg.tracestate.is_empty() {
        builder = builder.header("tracestate", msg.tracestate.as_str());
    }
    if let Ok(v) = HeaderValue::from_str(pubsub) {
        builder = builder.header("pubsubName", v);
    }
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    let Ok(req) = builder.body(Full::new(body.clone())) else {
        tracing::warn!(%route, "invalid subscription route; message dropped");
        return Outcome::Drop;
    };
    match ctx.call_app(req).await {
        Err(e) => {
            tracing::warn!(%route, error = %e, "delivering a pub/sub message failed; will retry");
            Outcome::Retry
        }
        Ok(res) if res.status == StatusCode::NOT_FOUND => {
            tracing::warn!(%route, "app answered 404 to a pub/sub message; dropped");
            Outcome::NotFound
        }
        Ok(res) if res.status.is_success() => {
            match serde_json::from_slice::<Value>(&res.body)
                .ok()
                .and_then(|v| v.get("status").cloned())
            {
                Some(Value::String(s)) => match s.to_ascii_uppercase().as_str() {
                    "" | "SUCCESS" => Outcome::Success,
                    "DROP" => Outcome::Drop,
                    "RETRY" => Outcome::Retry,
                    other => {
                        tracing::warn!(%route, status = other, "unknown status from the app; will retry");
                        Outcome::Retry
                    }
                },
                _ => Outcome::Success,
            }
        }
        Ok(res) => {
            tracing::warn!(%route, status = %res.status, "app failed a pub/sub message; will retry");
            Outcome::Retry
        }
    }
}

/// Delivers a message to one subscription with bounded retries, then dead-letters if asked.
async fn deliver(ctx: Arc<Ctx>, sub: Arc<Subscription>, msg: Message) {
    if msg.expires.is_some_and(|t| t <= SystemTime::now()) {
        tracing::debug!(topic = %msg.topic, "message expired before delivery");
        return;
    }
    let event = delivery_event(&ctx, &sub, &msg);
    let Some(route) = sub.route_for(&event).map(str::to_string) else {
        tracing::debug!(topic = %msg.topic, "no rule matched and no default route; message dropped");
        return;
    };
    let body = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.retry_initial_backoff;
    let attempts = ctx.tuning.max_delivery_attempts.max(1);
    let mut outcome = Outcome::Retry;
    for attempt in 1..=attempts {
        outcome = deliver_once(&ctx, &route, &sub.pubsub, &body, &msg).await;
        if outcome != Outcome::Retry || attempt == attempts {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = super::wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.retry_max_backoff);
    }
    let dead_letter = match outcome {
        Outcome::Success | Outcome::NotFound => false,
        Outcome::Drop => true,
        Outcome::Retry => {
            tracing::warn!(topic = %msg.topic, attempts, "giving up on a pub/sub message after the last retry");
            true
        }
    };
    if dead_letter
        && !msg.dead_lettered
        && let Some(dlt) = &sub.dead_letter
    {
        let mut dl = msg.clone();
        dl.topic = dlt.clone();
        dl.dead_lettered = true;
        dispatch(&ctx, dl);
    }
}

/// Asks the app for its subscriptions until it answers, then installs them and marks ready.
pub(crate) async fn load_app_subscriptions(ctx: Arc<Ctx>) {
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.subscribe_initial_backoff;
    loop {
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri("/dapr/subscribe");
        if let Ok(v) = HeaderValue::from_str(&ctx.app_id) {
            builder = builder.header("dapr-app-id", v);
        }
        if let Some(token) = ctx.app_token_header() {
            builder = builder.header("dapr-api-token", token);
        }
        let Ok(req) = builder.body(Full::new(Bytes::new())) else {
            return;
        };
        match ctx.call_app(req).await {
            Ok(res) if res.status == StatusCode::OK => {
                let subs = parse_app_subscriptions(&res.body).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "the app's /dapr/subscribe answer is not a subscription list; no subscriptions");
                    Vec::new()
                });
                tracing::info!(count = subs.len(), "loaded the app's subscriptions");
                ctx.add_subscriptions(subs);
                ctx.set_ready();
                return;
            }
            Ok(res) if res.status == StatusCode::NOT_FOUND => {
                tracing::info!("the app has no /dapr/subscribe; no programmatic subscriptions");
                ctx.set_ready();
                return;
            }
            Ok(res) => {
                tracing::warn!(status = %res.status, "the app failed GET /dapr/subscribe; asking again");
                ctx.set_ready();
            }
            Err(e) => {
                tracing::debug!(error = %e, "the app does not answer yet; asking again for subscriptions")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = super::wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.subscribe_max_backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_matcher_subset() {
        let ev = json!({"type": "widget", "data": {"kind": "a"}});
        assert!(Matcher::parse(r#"event.type == "widget""#).is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse("event.data.kind == 'a'").is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse(r#"event.type != "gadget""#).is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse(r#"event.type == "gadget""#).is_some_and(|m| !m.matches(&ev)));
        assert!(Matcher::parse("event.type.startsWith('w')").is_none());
        assert!(Matcher::parse("").is_none());
    }

    #[test]
    fn app_subscriptions_default_wins_and_routeless_dropped() {
        let subs = parse_app_subscriptions(
            br#"[{"pubsubname":"p","topic":"a","route":"/r","routes":{"default":"/d"}},
                {"pubsubname":"p","topic":"b"},
                {"pubsubname":"p","topic":"c","route":"c","deadLetterTopic":"dl","metadata":{"rawPayload":"true"}}]"#,
        )
        .unwrap_or_default();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].default_route.as_deref(), Some("/d"));
        assert_eq!(subs[1].dead_letter.as_deref(), Some("dl"));
        assert!(subs[1].raw_payload());
        assert!(parse_app_subscriptions(b"{").is_err());
    }
}
