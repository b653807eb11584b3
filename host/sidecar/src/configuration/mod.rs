//! Configuration: `GET /v1.0/configuration/{store}`, `/subscribe` and `/{id}/unsubscribe`
//! (stable and alpha1) over the in-memory store of `component.rs`.

pub(crate) mod component;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::{Ctx, NamedStore, find_store};
use component::ConfigStore;

fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a ConfigStore, ApiError> {
    find_store(&ctx.configs, NamedStore::Configuration, store)
}

/// `GET /v1.0/configuration/{store}?key=a&key=b` (no key: every item).
pub(crate) async fn get(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let s = find(ctx, store)?;
    let keys: Vec<&str> = req
        .query
        .iter()
        .filter(|(k, _)| k == "key")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = Map::new();
    for (k, v) in s.items() {
        if keys.is_empty() || keys.contains(&k.as_str()) {
            out.insert(k.clone(), json!({ "value": v, "version": "1" }));
        }
    }
    if out.is_empty() {
        return Ok(no_content());
    }
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

/// `GET /v1.0/configuration/{store}/subscribe`: items never change, so no update is ever sent.
pub(crate) async fn subscribe(ctx: &Ctx, _req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let s = find(ctx, store)?;
    let id = uuid::Uuid::new_v4().to_string();
    s.subscribe(id.clone());
    Ok(json_response(StatusCode::OK, &json!({ "id": id })))
}

/// `GET /v1.0/configuration/{store}/{id}/unsubscribe`.
pub(crate) async fn unsubscribe(
    ctx: &Ctx,
    _req: &ApiRequest,
    store: &str,
    id: &str,
) -> Result<Resp, ApiError> {
    let s = find(ctx, store)?;
    if !s.unsubscribe(id) {
        return Err(ApiError::internal(
            "ERR_CONFIGURATION_UNSUBSCRIBE",
            format!(
                "failed to unsubscribe to configuration request {id}: subscription {id} not found"
            ),
        ));
    }
    Ok(json_response(StatusCode::OK, &json!({ "ok": true })))
}
