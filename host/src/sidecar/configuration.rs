//! Configuration: a static `configuration.in-memory` store (items from component metadata) and `/v1.0/configuration`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::components::ComponentSpec;
use super::errors::{ApiError, json_response, no_content};
use super::server::{ApiRequest, Resp};

/// A configuration store whose items are the component's metadata entries, all at version `1`.
#[derive(Debug)]
pub(crate) struct ConfigStore {
    items: BTreeMap<String, String>,
    subscriptions: Mutex<HashSet<String>>,
}

impl ConfigStore {
    pub fn from_spec(spec: &ComponentSpec) -> Self {
        ConfigStore {
            items: spec.metadata.clone(),
            subscriptions: Mutex::new(HashSet::new()),
        }
    }
}

fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a ConfigStore, ApiError> {
    if ctx.configs.is_empty() {
        return Err(ApiError::internal(
            "ERR_CONFIGURATION_STORE_NOT_CONFIGURED",
            "configuration stores not configured",
        ));
    }
    ctx.configs.get(store).ok_or_else(|| {
        ApiError::bad_request(
            "ERR_CONFIGURATION_STORE_NOT_FOUND",
            format!("configuration store {store} not found"),
        )
    })
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
    for (k, v) in &s.items {
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
    s.subscriptions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone());
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
    if !s
        .subscriptions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id)
    {
        return Err(ApiError::internal(
            "ERR_CONFIGURATION_UNSUBSCRIBE",
            format!(
                "failed to unsubscribe to configuration request {id}: subscription {id} not found"
            ),
        ));
    }
    Ok(json_response(StatusCode::OK, &json!({ "ok": true })))
}
