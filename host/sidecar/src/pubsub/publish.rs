//! The publish handlers: `POST /v1.0/publish/{pubsub}/{topic}` and
//! `POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use http::{StatusCode, header};
use serde_json::{Value, json};

use super::cloudevent::{
    CE_CONTENT_TYPE, EventInput, build_message, essence, is_json_type, traceparent,
};
use super::delivery::dispatch;
use super::subscription::PubSubComponent;
use crate::api::{ApiError, ApiRequest, Resp, json_response, no_content};
use crate::ctx::Ctx;

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
    let msg = build_message(&ctx.app_id, &input)?;
    dispatch(ctx, msg).map_err(|e| {
        ApiError::internal(
            "ERR_PUBSUB_PUBLISH_MESSAGE",
            format!("error when publish to topic {topic} in pubsub {pubsub}: {e}"),
        )
    })?;
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
            build_message(&ctx.app_id, &input).map_err(|e| e.message)
        });
        match built {
            Ok(m) => messages.push((id, m)),
            Err(error) => failed.push(json!({ "entryId": id, "error": error })),
        }
    }
    for (id, m) in messages {
        if let Err(e) = dispatch(ctx, m) {
            failed.push(json!({ "entryId": id, "error": e.to_string() }));
        }
    }
    if failed.is_empty() {
        Ok(no_content())
    } else {
        let body = json!({ "failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE" });
        Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, &body))
    }
}
