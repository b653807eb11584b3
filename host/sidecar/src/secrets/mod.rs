//! Secrets: `GET /v1.0/secrets/{store}/{key}` and `/bulk` over the local-file store of
//! `component.rs`.

pub(crate) mod component;

use http::StatusCode;
use serde_json::json;

use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::{Ctx, NamedStore, find_store};
use component::SecretStore;

fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a SecretStore, ApiError> {
    find_store(&ctx.secrets, NamedStore::Secret, store)
}

/// `GET /v1.0/secrets/{store}/{key}`.
pub(crate) async fn get(
    ctx: &Ctx,
    _req: &ApiRequest,
    store: &str,
    key: &str,
) -> Result<Resp, ApiError> {
    let s = find(ctx, store)?;
    let secret = s.secrets.get(key).ok_or_else(|| {
        ApiError::internal(
            "ERR_SECRET_GET",
            format!("failed getting secret with key {key} from secret store {store}: secret {key} not found"),
        )
    })?;
    if secret.is_empty() {
        return Ok(no_content());
    }
    Ok(json_response(StatusCode::OK, &json!(secret)))
}

/// `GET /v1.0/secrets/{store}/bulk`.
pub(crate) async fn bulk(ctx: &Ctx, _req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let s = find(ctx, store)?;
    Ok(json_response(StatusCode::OK, &json!(s.secrets)))
}
