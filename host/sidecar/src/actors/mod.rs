//! Actors: the client API (`/v1.0/actors/{type}/{id}/method|state|reminders|timers`) and the calls this sidecar makes on the app that hosts them (`/dapr/config`, `/actors/...`), with daprd's statuses and error codes.

pub(crate) mod config;
pub(crate) mod runtime;
pub(crate) mod timers;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{ApiError, ApiRequest, Resp, bytes_response, no_content};
use crate::app::AppResponse;
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::gojson::{self, Shape};
use crate::jobs::scheduler::PATH;
use crate::jobs::store::{Job, Target};
use crate::state::store::{WriteKind, WriteOp};
use runtime::{ActorKey, Turn, TurnError};

/// The header that carries a reentrant call chain's id.
const REENTRANCY_HEADER: &str = "dapr-reentrancy-id";

/// daprd's answer to state and reminder calls without an actor state store.
fn runtime_not_found() -> ApiError {
    ApiError::internal(
        "ERR_ACTOR_RUNTIME_NOT_FOUND",
        "the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: \"true\" in your state store component file?",
    )
}

/// `503 ERR_ACTOR_RUNTIME_CLOSED` once the sidecar is stopping.
fn check_open(ctx: &Ctx) -> Result<(), ApiError> {
    if *ctx.shutdown_rx().borrow() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR_ACTOR_RUNTIME_CLOSED",
            "actor runtime is closed",
        ));
    }
    Ok(())
}

/// daprd's name rule for actor types, ids and reminder/timer names
/// (`pkg/messaging/method/normalize.go`): no `# ? / \`, NUL or control characters, not
/// `.` or `..`, not empty.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| matches!(c, '#' | '?' | '/' | '\\') || c.is_control());
    if bad {
        return Err(ApiError::bad_request(
            "ERR_BAD_REQUEST",
            format!(
                "invalid request: {what} {name:?} is empty, `.` or `..`, or contains one of # ? / \\ or a control character"
            ),
        ));
    }
    Ok(())
}

fn enc(s: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(s, PATH)
}

/// `/actors/{type}/{id}` on the app.
fn app_path(key: &ActorKey) -> String {
    format!("/actors/{}/{}", enc(&key.actor_type), enc(&key.actor_id))
}

/// A request to the app with the app token and, for reentrant types, the turn's id.
fn app_request(
    ctx: &Ctx,
    method: Method,
    uri: &str,
    turn: Option<&Turn>,
) -> http::request::Builder {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    if let Some(id) = turn.and_then(|t| t.reentrancy_id.as_deref())
        && let Ok(v) = HeaderValue::from_str(id)
    {
        builder = builder.header(REENTRANCY_HEADER, v);
    }
    builder
}

/// The invoke error answer: `500 ERR_ACTOR_INVOKE_METHOD "error invoke actor method: …"`.
fn invoke_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(
        "ERR_ACTOR_INVOKE_METHOD",
        format!("error invoke actor method: {e}"),
    )
}

fn turn_error(e: TurnError) -> ApiError {
    match e {
        TurnError::StackDepth => ApiError::internal("ERR_ACTOR_STACK_DEPTH", e.to_string()),
        e => invoke_error(e),
    }
}

/// Whether the app answered a call as daprd requires (exactly 200; 204 is an error).
fn app_ok(res: &AppResponse) -> bool {
    res.status == StatusCode::OK
}

/// `GET|POST|PUT|DELETE /v1.0/actors/{type}/{id}/method/{method}`: one turn on the actor,
/// the call sent to the app as `PUT /actors/{type}/{id}/method/{method}`.
pub(crate) async fn invoke(
    ctx: &Ctx,
    req: &ApiRequest,
    actor_type: &str,
    actor_id: &str,
    method: &str,
) -> Result<Resp, ApiError> {
    check_name("actor type", actor_type)?;
    check_name("actor id", actor_id)?;
    if method.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_BAD_REQUEST",
            "invalid request: the actor method is empty",
        ));
    }
    check_open(ctx)?;
    let key = ActorKey::new(actor_type, actor_id);
    let Some(config) = ctx.actors.type_config(actor_type).await else {
        return Err(invoke_error(TurnError::NotHosted(key.joined())));
    };
    let incoming = req.header_str(REENTRANCY_HEADER);
    let turn = ctx
        .actors
        .begin_turn(&key, &config, incoming)
        .await
        .map_err(turn_error)?;
    let uri = match req.raw_query.as_deref() {
        Some(q) if !q.is_empty() => format!("{}/method/{}?{q}", app_path(&key), enc(method)),
        _ => format!("{}/method/{}", app_path(&key), enc(method)),
    };
    let mut builder = app_request(ctx, Method::PUT, &uri, Some(&turn));
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in &req.headers {
            let skip = crate::invoke::is_hop_by_hop(name)
                || name == header::CONTENT_LENGTH
                || name == header::HOST
                || name.as_str() == "dapr-api-token"
                || name.as_str() == REENTRANCY_HEADER;
            if !skip {
                headers.append(name.clone(), value.clone());
            }
        }
        if !req.headers.contains_key("traceparent") {
            let (tp, _) = crate::pubsub::cloudevent::traceparent(req);
            if let Ok(v) = HeaderValue::from_str(&tp) {
                headers.insert(HeaderName::from_static("traceparent"), v);
            }
        }
    }
    let out = builder
        .body(Full::new(req.body.clone()))
        .map_err(invoke_error)?;
    let res = ctx.call_app(out).await.map_err(invoke_error);
    drop(turn);
    let res = res?;
    // daprd checks the status first: only a 200 passes, with or without the actor-error
    // header (which a real daprd turns into an actor error carrying that 200 answer).
    if app_ok(&res) {
        let mut answer = Response::new(Full::new(res.body));
        *answer.status_mut() = res.status;
        for (name, value) in &res.headers {
            if !crate::invoke::is_hop_by_hop(name) && name != header::CONTENT_LENGTH {
                answer.headers_mut().append(name.clone(), value.clone());
            }
        }
        return Ok(answer);
    }
    Err(invoke_error(format!(
        "error from actor service: ({}) {}",
        res.status.as_u16(),
        String::from_utf8_lossy(&res.body)
    )))
}

/// The stored key of an actor's state key: `<appId>||<type>||<id>||<key>`.
fn state_key(ctx: &Ctx, key: &ActorKey, state_key: &str) -> String {
    format!(
        "{}||{}||{}||{state_key}",
        ctx.app_id, key.actor_type, key.actor_id
    )
}

/// The actor state store's component.
fn actor_store(ctx: &Ctx) -> Result<&crate::state::store::StateComponent, ApiError> {
    ctx.actors
        .state_store
        .as_deref()
        .and_then(|name| ctx.states.get(name))
        .ok_or_else(runtime_not_found)
}

/// `GET /v1.0/actors/{type}/{id}/state/{key}`: 200 with the stored bytes, 204 if missing.
pub(crate) async fn get_state(
    ctx: &Ctx,
    actor_type: &str,
    actor_id: &str,
    key: &str,
) -> Result<Resp, ApiError> {
    check_open(ctx)?;
    let store = actor_store(ctx)?;
    let actor = ActorKey::new(actor_type, actor_id);
    let full = state_key(ctx, &actor, key);
    match store.store.get(&full).await {
        Ok(Some(item)) => Ok(bytes_response(
            StatusCode::OK,
            "application/json",
            Bytes::from(item.data),
        )),
        Ok(None) => Ok(no_content()),
        Err(e) => Err(ApiError::internal(
            "ERR_ACTOR_STATE_GET",
            format!("error getting actor state: {e}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct TxOperation {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    request: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct TxRequest {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    metadata: Option<std::collections::BTreeMap<String, String>>,
}

/// The Go shape of a transaction body (`[]actors.TransactionalRequest`); each `request`
/// is a Go `any`, decoded after with `mapstructure`.
const TX: Shape = Shape::List(&Shape::Struct(&[
    ("operation", Shape::Plain),
    ("request", Shape::Plain),
]));

const TX_REQUEST: &[gojson::GoField] = &[
    ("key", "Key", &[]),
    ("value", "Value", &[]),
    ("etag", "ETag", &[]),
    ("metadata", "Metadata", &[]),
];

/// `POST|PUT /v1.0/actors/{type}/{id}/state`: the bare array of upserts and deletes,
/// applied atomically; only on an active actor.
pub(crate) async fn transaction(
    ctx: &Ctx,
    req: &ApiRequest,
    actor_type: &str,
    actor_id: &str,
) -> Result<Resp, ApiError> {
    check_open(ctx)?;
    let store = actor_store(ctx)?;
    let ops: Vec<TxOperation> = gojson::from_slice(&req.body, &TX).map_err(ApiError::malformed)?;
    let actor = ActorKey::new(actor_type, actor_id);
    if !ctx.actors.is_active(&actor) {
        return Err(ApiError::bad_request(
            "ERR_ACTOR_INSTANCE_MISSING",
            "actor instance is missing",
        ));
    }
    let fail = |e: String| {
        ApiError::internal(
            "ERR_ACTOR_STATE_TRANSACTION_SAVE",
            format!("error saving actor transaction state: {e}"),
        )
    };
    let mut writes = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        let delete = match op.operation.as_str() {
            "upsert" => false,
            "delete" => true,
            "" => return Err(fail(format!("operation {i} has no operation type"))),
            other => return Err(fail(format!("operation type {other} not supported"))),
        };
        let request = op
            .request
            .ok_or_else(|| fail(format!("operation {i} has no request")))?;
        let item: TxRequest = serde_json::from_value(gojson::mapstructure(request, TX_REQUEST))
            .map_err(|e| fail(format!("operation {i}: {e}")))?;
        let key = item
            .key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| fail(format!("operation {i} has no key")))?;
        if item
            .metadata
            .as_ref()
            .is_some_and(|m| m.contains_key("ttlInSeconds"))
        {
            return Err(fail(
                "ttlInSeconds is not supported without the ActorStateTTL feature".into(),
            ));
        }
        let kind = if delete {
            WriteKind::Delete
        } else {
            WriteKind::Upsert {
                data: serde_json::to_vec(item.value.as_ref().unwrap_or(&Value::Null))
                    .unwrap_or_default(),
                ttl_seconds: None,
            }
        };
        writes.push(WriteOp {
            key: state_key(ctx, &actor, &key),
            kind,
            etag: item.etag.filter(|e| !e.is_empty()),
            first_write: false,
        });
    }
    store
        .store
        .apply(writes)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(no_content())
}

/// A JSON object with its keys in the order given (daprd's struct order), absent values left out.
fn ordered_body(fields: &[(&str, Option<Value>)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_ref()?;
            Some(format!("{}:{}", Value::String((*k).to_string()), v))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// One reminder or timer tick, as a turn on its actor; whether the app took it (200).
pub(crate) async fn fire(ctx: &Ctx, job: &Job) -> bool {
    let (key, path, body) = match &job.target {
        Target::App => return false,
        Target::Reminder {
            actor_type,
            actor_id,
            reminder,
        } => {
            let key = ActorKey::new(actor_type, actor_id);
            // Reminders run through the Scheduler, which sends empty times.
            let body = ordered_body(&[
                ("data", job.data.clone()),
                ("dueTime", Some(Value::String(String::new()))),
                ("period", Some(Value::String(String::new()))),
            ]);
            let path = format!("{}/method/remind/{}", app_path(&key), enc(reminder));
            (key, path, body)
        }
        Target::Timer {
            actor_type,
            actor_id,
            timer,
            callback,
            due_time,
            period,
        } => {
            let key = ActorKey::new(actor_type, actor_id);
            let body = ordered_body(&[
                ("data", job.data.clone()),
                ("callback", Some(Value::String(callback.clone()))),
                ("dueTime", Some(Value::String(due_time.clone()))),
                ("period", Some(Value::String(period.clone()))),
            ]);
            let path = format!("{}/method/timer/{}", app_path(&key), enc(timer));
            (key, path, body)
        }
    };
    let what = if matches!(job.target, Target::Timer { .. }) {
        "timer"
    } else {
        "reminder"
    };
    let Some(config) = ctx.actors.type_config(&key.actor_type).await else {
        tracing::warn!(actor = %key.joined(), kind = what, "the actor type is not hosted; tick failed");
        return false;
    };
    let turn = match ctx.actors.begin_turn(&key, &config, None).await {
        Ok(turn) => turn,
        Err(e) => {
            tracing::warn!(actor = %key.joined(), kind = what, error = %e, "tick failed");
            return false;
        }
    };
    let Ok(req) = app_request(ctx, Method::PUT, &path, Some(&turn))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
    else {
        return false;
    };
    let res = ctx.call_app(req).await;
    drop(turn);
    match res {
        Ok(res) if app_ok(&res) => true,
        Ok(res) if res.headers.contains_key("x-daprremindercancel") => true,
        Ok(res) => {
            tracing::warn!(actor = %key.joined(), kind = what, status = %res.status, "the app failed a tick (it must answer 200)");
            false
        }
        Err(e) => {
            tracing::warn!(actor = %key.joined(), kind = what, error = %e, "a tick failed");
            false
        }
    }
}

/// Tells the app an idle actor is deactivated: `DELETE /actors/{type}/{id}`.
pub(crate) async fn deactivate(ctx: &Ctx, key: &ActorKey) {
    let Ok(req) =
        app_request(ctx, Method::DELETE, &app_path(key), None).body(Full::new(Bytes::new()))
    else {
        return;
    };
    match ctx.call_app(req).await {
        Ok(res) if app_ok(&res) => {
            tracing::debug!(actor = %key.joined(), "actor deactivated");
        }
        Ok(res) => {
            tracing::warn!(actor = %key.joined(), status = %res.status, "the app failed a deactivation (it must answer 200); deactivated anyway");
        }
        Err(e) => {
            tracing::warn!(actor = %key.joined(), error = %e, "telling the app of a deactivation failed; deactivated anyway");
        }
    }
}

/// Runs until shutdown: every `actor_scan_interval`, deactivates the idle actors with
/// `DELETE /actors/{type}/{id}` on the app (within their turn).
pub(crate) async fn deactivate_idle(ctx: Arc<Ctx>) {
    let mut shutdown = ctx.shutdown_rx();
    let every = ctx
        .tuning
        .actor_scan_interval
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        let Some(hosted) = ctx.actors.hosted() else {
            continue;
        };
        for (key, slot, guard) in ctx.actors.take_idle(&hosted) {
            deactivate(&ctx, &key).await;
            ctx.actors.finish_deactivation(&key, &slot);
            drop(guard);
        }
    }
}

/// Asks the app for its actor types (`GET /dapr/config`, once, as daprd does at start);
/// any answer but a 200 with a valid body hosts none.
pub(crate) async fn load_app_config(ctx: &Ctx, conn: &mut crate::app::AppConnection) {
    let mut builder = Request::builder().method(Method::GET).uri("/dapr/config");
    if let Ok(v) = HeaderValue::from_str(&ctx.app_id) {
        builder = builder.header("dapr-app-id", v);
    }
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    let Ok(req) = builder.body(Full::new(Bytes::new())) else {
        return;
    };
    let hosted = match ctx.call_app_on(conn, req).await {
        Ok(res) if res.status == StatusCode::OK => match config::parse(&res.body) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "the app's /dapr/config answer is not an actor configuration; no actor types hosted");
                config::HostedTypes::default()
            }
        },
        Ok(res) => {
            tracing::debug!(status = %res.status, "the app has no /dapr/config; no actor types hosted");
            config::HostedTypes::default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "asking the app for /dapr/config failed; no actor types hosted");
            config::HostedTypes::default()
        }
    };
    ctx.actors.set_hosted(hosted);
}

/// `actorRuntime` in `/v1.0/metadata`, and the deprecated top-level `actors` copy.
pub(crate) fn metadata(ctx: &Ctx) -> (Value, Option<Value>) {
    if ctx.actors.hosted().is_none() {
        return (
            serde_json::json!({"runtimeStatus": "INITIALIZING", "hostReady": false}),
            None,
        );
    }
    let counts: Vec<Value> = ctx
        .actors
        .counts()
        .into_iter()
        .map(|(t, n)| {
            if n == 0 {
                serde_json::json!({ "type": t })
            } else {
                serde_json::json!({ "type": t, "count": n })
            }
        })
        .collect();
    let mut runtime = serde_json::json!({"runtimeStatus": "RUNNING"});
    if !counts.is_empty() {
        runtime["activeActors"] = Value::Array(counts.clone());
    }
    runtime["hostReady"] = Value::Bool(true);
    runtime["placement"] = Value::String("placement: connected".into());
    let actors = (!counts.is_empty()).then_some(Value::Array(counts));
    (runtime, actors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_daprds_rule() {
        for ok in ["T", "my-actor", "a.b", "ü", "a b"] {
            assert!(check_name("actor id", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a#b", "a?b", "a\\b", "a\0b", "a\nb"] {
            let e = check_name("actor id", bad).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, "ERR_BAD_REQUEST"),
                "{bad:?}"
            );
        }
    }
}
