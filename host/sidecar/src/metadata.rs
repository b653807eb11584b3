//! Metadata, health and shutdown: `/v1.0/metadata`, `/v1.0/healthz`, `/v1.0/healthz/outbound`, `/v1.0/shutdown`.

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::Ctx;

/// The `runtimeVersion` reported by this sidecar.
pub(crate) const RUNTIME_VERSION: &str = concat!("wasi-dapr-", env!("CARGO_PKG_VERSION"));

/// `GET /v1.0/metadata`.
pub(crate) async fn get(ctx: &Ctx, _req: &ApiRequest) -> Result<Resp, ApiError> {
    let mut body = Map::new();
    body.insert("id".into(), json!(ctx.app_id));
    body.insert("runtimeVersion".into(), json!(RUNTIME_VERSION));
    let components: Vec<Value> = ctx
        .registered
        .iter()
        .map(|c| {
            let mut o = json!({ "name": c.name, "type": c.kind, "version": c.version });
            if !c.capabilities.is_empty() {
                o["capabilities"] = json!(c.capabilities);
            }
            o
        })
        .collect();
    if !components.is_empty() {
        body.insert("components".into(), Value::Array(components));
    }
    let subs: Vec<Value> = ctx
        .subscriptions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|q| q.sub.to_metadata_json())
        .collect();
    if !subs.is_empty() {
        body.insert("subscriptions".into(), Value::Array(subs));
    }
    // daprd overwrites a `daprRuntimeVersion` set with `PUT /v1.0/metadata/{key}`.
    let mut extended = ctx
        .extended
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    extended.insert("daprRuntimeVersion".into(), RUNTIME_VERSION.to_string());
    body.insert("extended".into(), json!(extended));
    // Only the non-zero fields: no `maxConcurrency`, no `health` (no app health checks).
    let mut conn = json!({ "protocol": "http", "channelAddress": "127.0.0.1" });
    if let Some(port) = ctx.app_port.filter(|p| *p != 0) {
        conn["port"] = json!(port);
    }
    body.insert("appConnectionProperties".into(), conn);
    // Always present: INITIALIZING until the app was asked for its actor types.
    let (runtime, actors) = crate::actors::metadata(ctx);
    if let Some(actors) = actors {
        body.insert("actors".into(), actors);
    }
    body.insert("actorRuntime".into(), runtime);
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

/// `PUT /v1.0/metadata/{key}`: the body becomes `extended[key]`. A key or value over
/// `max_metadata_value_bytes` is 413; a new key beyond `max_metadata_keys` is 400.
pub(crate) async fn put(ctx: &Ctx, req: &ApiRequest, key: &str) -> Result<Resp, ApiError> {
    let limit = ctx.tuning.max_metadata_value_bytes;
    if key.len() > limit || req.body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ERR_BODY_TOO_LARGE",
            format!("an extended metadata key or value exceeds the maximum size of {limit} bytes"),
        ));
    }
    let value = String::from_utf8_lossy(&req.body).into_owned();
    let mut extended = ctx.extended.lock().unwrap_or_else(|p| p.into_inner());
    let max_keys = ctx.tuning.max_metadata_keys;
    if !extended.contains_key(key) && extended.len() >= max_keys {
        return Err(ApiError::malformed_input(format!(
            "extended metadata already holds the maximum of {max_keys} keys"
        )));
    }
    extended.insert(key.to_string(), value);
    Ok(no_content())
}

/// `GET /v1.0/healthz`: 204 once ready (the app answered, or there is no app port).
pub(crate) async fn healthz(ctx: &Ctx) -> Result<Resp, ApiError> {
    if ctx.is_ready() {
        Ok(no_content())
    } else {
        Err(ApiError::internal(
            "ERR_HEALTH_NOT_READY",
            "dapr is not ready",
        ))
    }
}

/// `GET /v1.0/healthz/outbound`: 204 as soon as the sidecar listens.
pub(crate) async fn healthz_outbound() -> Result<Resp, ApiError> {
    Ok(no_content())
}

/// `POST /v1.0/shutdown`: answers 204, then stops the sidecar.
pub(crate) async fn shutdown(ctx: &Ctx) -> Result<Resp, ApiError> {
    tracing::info!("shutdown requested over the API");
    ctx.request_shutdown();
    Ok(no_content())
}
