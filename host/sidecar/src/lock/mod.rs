//! Distributed lock (alpha1): `POST /v1.0-alpha1/lock/{store}` and `/unlock/{store}` over
//! the in-memory store of `component.rs`.

pub(crate) mod component;

use http::StatusCode;
use serde_json::json;

use crate::api::{ApiError, ApiRequest, Resp, json_response};
use crate::ctx::{Ctx, NamedStore, find_store};
use component::LockStore;

#[derive(Debug, serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LockBody {
    resource_id: String,
    lock_owner: String,
    expiry_in_seconds: i64,
}

/// Decodes a lock body as daprd's `protojson` does (`UniversalHTTPHandler`): each field by
/// its lowerCamel name or its proto name (`resourceId` / `resource_id`), case-sensitive;
/// other keys are dropped; a field given under both names is a duplicate field error.
fn decode(body: &[u8]) -> Result<LockBody, ApiError> {
    const NAMES: [(&str, &str); 3] = [
        ("resource_id", "resourceId"),
        ("lock_owner", "lockOwner"),
        ("expiry_in_seconds", "expiryInSeconds"),
    ];
    if body.is_empty() {
        return Ok(LockBody::default());
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).map_err(ApiError::malformed)?;
    if let Some(obj) = v.as_object_mut() {
        for (proto, camel) in NAMES {
            if let Some(x) = obj.remove(proto) {
                if obj.contains_key(camel) {
                    return Err(ApiError::malformed(format!("duplicate field {camel:?}")));
                }
                obj.insert(camel.to_string(), x);
            }
        }
    }
    serde_json::from_value(v).map_err(ApiError::malformed)
}

fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a LockStore, ApiError> {
    find_store(&ctx.locks, NamedStore::Lock, store)
}

fn check(body: &LockBody, store: &str, max_id: usize) -> Result<(), ApiError> {
    if body.resource_id.len() > max_id || body.lock_owner.len() > max_id {
        return Err(ApiError::malformed_input(format!(
            "ResourceId or LockOwner is longer than {max_id} bytes in lock store {store}"
        )));
    }
    if body.resource_id.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_MALFORMED_REQUEST",
            format!("ResourceId is empty in lock store {store}"),
        ));
    }
    if body.lock_owner.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_MALFORMED_REQUEST",
            format!("LockOwner is empty in lock store {store}"),
        ));
    }
    Ok(())
}

/// `POST /v1.0-alpha1/lock/{store}`.
pub(crate) async fn lock(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let body = decode(&req.body)?;
    check(&body, store, ctx.tuning.max_lock_id_bytes)?;
    if body.expiry_in_seconds <= 0 {
        return Err(ApiError::bad_request(
            "ERR_MALFORMED_REQUEST",
            format!("ExpiryInSeconds is not positive in lock store {store}"),
        ));
    }
    let free = find(ctx, store)?
        .try_lock(
            body.resource_id,
            body.lock_owner,
            body.expiry_in_seconds.unsigned_abs(),
        )
        .map_err(|e| {
            ApiError::internal(
                "ERR_TRY_LOCK",
                format!("failed to try acquiring lock in lock store {store}: {e}"),
            )
        })?;
    Ok(json_response(StatusCode::OK, &json!({ "success": free })))
}

/// `POST /v1.0-alpha1/unlock/{store}`: status 0 ok, 1 no such lock, 2 held by another owner.
pub(crate) async fn unlock(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let body = decode(&req.body)?;
    check(&body, store, ctx.tuning.max_lock_id_bytes)?;
    let status = find(ctx, store)?.unlock(&body.resource_id, &body.lock_owner) as u8;
    Ok(json_response(StatusCode::OK, &json!({ "status": status })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_bodies_take_lower_camel_or_proto_names_only() {
        let b = decode(br#"{"resource_id":"r","lockOwner":"o","expiry_in_seconds":5}"#).unwrap();
        assert_eq!(
            (
                b.resource_id.as_str(),
                b.lock_owner.as_str(),
                b.expiry_in_seconds
            ),
            ("r", "o", 5)
        );
        let b = decode(br#"{"ResourceId":"r","LOCKOWNER":"o"}"#).unwrap();
        assert!(
            b.resource_id.is_empty() && b.lock_owner.is_empty(),
            "mis-cased keys are dropped"
        );
        assert!(decode(b"").is_ok_and(|b| b.resource_id.is_empty()));
        assert!(decode(br#"{"resourceId":"a","resource_id":"b"}"#).is_err());
        assert!(decode(b"{").is_err());
    }
}
