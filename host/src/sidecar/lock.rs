//! Distributed lock (alpha1): a process-local `lock.in-memory` store with expiry, and `/v1.0-alpha1/lock|unlock`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;

use super::Ctx;
use super::errors::{ApiError, json_response};
use super::server::{ApiRequest, Resp};

/// resourceId → (owner, expiry).
#[derive(Debug, Default)]
pub(crate) struct LockStore {
    locks: Mutex<HashMap<String, (String, Instant)>>,
}

#[derive(Debug, serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LockBody {
    resource_id: String,
    lock_owner: String,
    expiry_in_seconds: i64,
}

fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a LockStore, ApiError> {
    if ctx.locks.is_empty() {
        return Err(ApiError::internal(
            "ERR_LOCK_STORE_NOT_CONFIGURED",
            "lock store is not configured",
        ));
    }
    ctx.locks.get(store).ok_or_else(|| {
        ApiError::bad_request(
            "ERR_LOCK_STORE_NOT_FOUND",
            format!("lock store {store} not found"),
        )
    })
}

fn check(body: &LockBody, store: &str) -> Result<(), ApiError> {
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
    let body: LockBody = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    check(&body, store)?;
    if body.expiry_in_seconds <= 0 {
        return Err(ApiError::bad_request(
            "ERR_MALFORMED_REQUEST",
            format!("ExpiryInSeconds is not positive in lock store {store}"),
        ));
    }
    let s = find(ctx, store)?;
    let now = Instant::now();
    let mut locks = s.locks.lock().unwrap_or_else(|p| p.into_inner());
    let free = locks
        .get(&body.resource_id)
        .is_none_or(|(_, exp)| *exp <= now);
    if free {
        // Capped at ten years, so a huge expiry cannot overflow the clock.
        let secs = body
            .expiry_in_seconds
            .unsigned_abs()
            .min(10 * 365 * 24 * 3600);
        let exp = now + Duration::from_secs(secs);
        locks.insert(body.resource_id, (body.lock_owner, exp));
    }
    Ok(json_response(StatusCode::OK, &json!({ "success": free })))
}

/// `POST /v1.0-alpha1/unlock/{store}`: status 0 ok, 1 no such lock, 2 held by another owner.
pub(crate) async fn unlock(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let body: LockBody = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    check(&body, store)?;
    let s = find(ctx, store)?;
    let now = Instant::now();
    let mut locks = s.locks.lock().unwrap_or_else(|p| p.into_inner());
    let status = match locks.get(&body.resource_id) {
        None => 1,
        Some((_, exp)) if *exp <= now => {
            locks.remove(&body.resource_id);
            1
        }
        Some((owner, _)) if *owner != body.lock_owner => 2,
        Some(_) => {
            locks.remove(&body.resource_id);
            0
        }
    };
    Ok(json_response(StatusCode::OK, &json!({ "status": status })))
}
