//! Bindings: `POST /v1.0/bindings/{name}` (output) and the events an input binding posts
//! to the app, over the backends of `component.rs`.

pub(crate) mod component;
pub(crate) mod confined;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use crate::api::{ApiError, ApiRequest, Resp, bytes_response, no_content};
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::gojson::{self, Shape};

/// Input bindings: probes `OPTIONS /{name}` until the app answers, then (when 2xx or 405)
/// posts an event every interval until shutdown.
pub(crate) async fn run_input(ctx: Arc<Ctx>, name: String, every: Duration) {
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.subscribe_initial_backoff;
    let path = format!("/{name}");
    let request = |method: Method| {
        let mut b = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = ctx.app_token_header() {
            b = b.header("dapr-api-token", token);
        }
        b.body(Full::new(Bytes::new()))
    };
    loop {
        let Ok(req) = request(Method::OPTIONS) else {
            return;
        };
        match ctx.call_app(req).await {
            Ok(res) if res.status.is_success() || res.status == StatusCode::METHOD_NOT_ALLOWED => {
                break;
            }
            Ok(res) => {
                tracing::info!(binding = %name, status = %res.status, "the app does not take this input binding");
                return;
            }
            Err(e) => {
                tracing::debug!(binding = %name, error = %e, "the app does not answer yet; probing the input binding again")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.subscribe_max_backoff);
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        let Ok(req) = request(Method::POST) else {
            return;
        };
        match ctx.call_app(req).await {
            Ok(res) if res.status.is_success() => {}
            Ok(res) => {
                tracing::warn!(binding = %name, status = %res.status, "the app failed an input binding event")
            }
            Err(e) => {
                tracing::warn!(binding = %name, error = %e, "delivering an input binding event failed")
            }
        }
    }
}

#[derive(Debug, serde::Deserialize, Default)]
#[serde(default)]
struct BindingRequest {
    data: Value,
    metadata: Option<BTreeMap<String, String>>,
    operation: Option<String>,
}

/// The Go shape of an output binding body (`OutputBindingRequest`), for [`gojson`].
const BINDING_REQUEST: Shape = Shape::Struct(&[
    ("metadata", Shape::Map),
    ("data", Shape::Plain),
    ("operation", Shape::Plain),
]);

/// `POST|PUT /v1.0/bindings/{name}`.
pub(crate) async fn invoke(ctx: &Ctx, req: &ApiRequest, name: &str) -> Result<Resp, ApiError> {
    let body: BindingRequest =
        gojson::from_slice(&req.body, &BINDING_REQUEST).map_err(ApiError::malformed)?;
    let fail = |e: String| {
        ApiError::internal(
            "ERR_INVOKE_OUTPUT_BINDING",
            format!("error invoking output binding {name}: {e}"),
        )
    };
    let binding = ctx
        .bindings
        .get(name)
        .ok_or_else(|| fail(format!("couldn't find output binding {name}")))?;
    let operation = body
        .operation
        .filter(|o| !o.is_empty())
        .ok_or_else(|| fail("operation field is missing from request".into()))?;
    let mut metadata = body.metadata.unwrap_or_default();
    metadata.extend(req.query_metadata());
    let data = match &body.data {
        Value::Null => Vec::new(),
        Value::String(s) => s.as_bytes().to_vec(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    };
    match binding
        .invoke(&operation, data, &metadata)
        .await
        .map_err(fail)?
    {
        Some(bytes) if !bytes.is_empty() => {
            let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
            if is_json {
                Ok(json_response_bytes(bytes))
            } else {
                Ok(bytes_response(
                    StatusCode::OK,
                    "application/octet-stream",
                    bytes,
                ))
            }
        }
        _ => Ok(no_content()),
    }
}

fn json_response_bytes(bytes: Bytes) -> Resp {
    bytes_response(StatusCode::OK, "application/json", bytes)
}
