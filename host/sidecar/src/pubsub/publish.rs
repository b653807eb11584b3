//! The publish handlers: `POST /v1.0/publish/{pubsub}/{topic}` and bulk publish on
//! `/v1.0-alpha1/publish/bulk/…` and `/v1.0/publish/bulk/…`, with daprd's kit errors.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use super::broker::dispatch;
use super::cloudevent::{EventInput, Message, build_message, traceparent};
use super::subscription::PubSubComponent;
use crate::api::{ApiError, ApiRequest, Resp, bytes_response, no_content};
use crate::components::parse_bool;
use crate::ctx::Ctx;
use crate::gojson::{self, Shape};

/// A pub/sub kit error (`pkg/api/errors/pubsub.go`): reason `DAPR_PUBSUB_<suffix>`, with a
/// ResourceInfo unless `with_resource` is false.
fn kit(
    status: StatusCode,
    code: &'static str,
    message: String,
    suffix: &str,
    metadata: &BTreeMap<String, String>,
    pubsub: &str,
    with_resource: bool,
) -> ApiError {
    let resource = with_resource.then_some(("pubsub", pubsub));
    ApiError::kit(
        status,
        code,
        message,
        &format!("DAPR_PUBSUB_{suffix}"),
        metadata,
        resource,
    )
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// daprd's `validateAndGetPubsubAndTopic`: configured, named, known, topic given.
fn validate<'a>(
    ctx: &'a Ctx,
    req: &ApiRequest,
    pubsub: &str,
    topic: &str,
) -> Result<&'a PubSubComponent, ApiError> {
    let q = req.query_metadata();
    if ctx.pubsubs.is_empty() {
        return Err(kit(
            StatusCode::BAD_REQUEST,
            "ERR_PUBSUB_NOT_CONFIGURED",
            format!("pubsub {pubsub} is not configured"),
            "NOT_CONFIGURED",
            &q,
            pubsub,
            false,
        ));
    }
    if pubsub.is_empty() {
        return Err(kit(
            StatusCode::NOT_FOUND,
            "ERR_PUBSUB_EMPTY",
            "pubsub name is empty".into(),
            "NAME_EMPTY",
            &q,
            pubsub,
            true,
        ));
    }
    let comp = ctx.pubsubs.get(pubsub).ok_or_else(|| {
        kit(
            StatusCode::NOT_FOUND,
            "ERR_PUBSUB_NOT_FOUND",
            format!("pubsub {pubsub} is not found"),
            "NOT_FOUND",
            &q,
            pubsub,
            false,
        )
    })?;
    if topic.is_empty() {
        return Err(kit(
            StatusCode::NOT_FOUND,
            "ERR_TOPIC_NAME_EMPTY",
            format!("topic is empty in pubsub {pubsub}"),
            "TOPIC_NAME_EMPTY",
            &q,
            pubsub,
            true,
        ));
    }
    Ok(comp)
}

/// `allowedTopics`: the broker refuses other topics (`403 ERR_PUBSUB_FORBIDDEN`).
fn check_allowed(
    ctx: &Ctx,
    comp: &PubSubComponent,
    pubsub: &str,
    topic: &str,
) -> Result<(), ApiError> {
    match &comp.allowed_topics {
        Some(allowed) if !allowed.iter().any(|t| t == topic) => {
            let message = format!("topic {topic} is not allowed for app id {}", ctx.app_id);
            let m = meta(&[("topic", topic), ("error", message.as_str())]);
            Err(kit(
                StatusCode::FORBIDDEN,
                "ERR_PUBSUB_FORBIDDEN",
                message,
                "FORBIDDEN",
                &m,
                pubsub,
                true,
            ))
        }
        _ => Ok(()),
    }
}

/// `metadata.rawPayload` of the query (contrib `IsRawPayload`).
fn raw_payload(req: &ApiRequest, pubsub: &str) -> Result<bool, ApiError> {
    let q = req.query_metadata();
    match q.get("rawPayload").filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| {
            kit(
                StatusCode::BAD_REQUEST,
                "ERR_PUBSUB_REQUEST_METADATA",
                format!(
                    "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is '{v}'"
                ),
                "METADATA_DESERIALIZATION",
                &q,
                pubsub,
                true,
            )
        }),
    }
}

/// daprd's `PublishMessage` kit error (`500 ERR_PUBSUB_PUBLISH_MESSAGE`).
fn publish_error(pubsub: &str, topic: &str, err: &str) -> ApiError {
    kit(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ERR_PUBSUB_PUBLISH_MESSAGE",
        format!("error when publishing to topic {topic} in pubsub {pubsub}: {err}"),
        "PUBLISH_MESSAGE",
        &meta(&[("topic", topic), ("error", err)]),
        pubsub,
        true,
    )
}

/// `POST|PUT /v1.0/publish/{pubsub}/{topic}`.
pub(crate) async fn publish(
    ctx: &Arc<Ctx>,
    req: &ApiRequest,
    pubsub: &str,
    topic: &str,
) -> Result<Resp, ApiError> {
    let comp = validate(ctx, req, pubsub, topic)?;
    let raw = raw_payload(req, pubsub)?;
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
    let msg = build_message(&ctx.app_id, &input, raw)?;
    check_allowed(ctx, comp, pubsub, topic)?;
    dispatch(ctx, msg).map_err(|e| publish_error(pubsub, topic, &e.to_string()))?;
    Ok(no_content())
}

/// One entry of a bulk publish body (Go `bulkPublishMessageEntry`).
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

/// The Go shape of a bulk publish body, for [`gojson`].
const BULK_ENTRIES: Shape = Shape::List(&Shape::Struct(&[
    ("entryId", Shape::Plain),
    ("event", Shape::Plain),
    ("contentType", Shape::Plain),
    ("metadata", Shape::Map),
]));

/// contrib `isContentType`: lowercased, equal to `expected` or to it before a `;`.
fn is_content_type(content_type: &str, expected: &str) -> bool {
    let lower = content_type.to_ascii_lowercase();
    lower.split(';').next() == Some(expected)
}

const MISMATCH: &str = "error: mismatch between contentType and event";

/// daprd's `ConvertEventToBytes`: the bytes an entry's `event` stands for, by content type.
fn convert_event(event: &Value, content_type: &str) -> Result<Vec<u8>, String> {
    if is_content_type(content_type, "application/octet-stream") {
        let s = event.as_str().ok_or(MISMATCH)?;
        // Go's base64 decoder skips CR and LF.
        let s: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        return B64.decode(s.as_bytes()).map_err(|e| {
            let at = match e {
                base64::DecodeError::InvalidByte(at, _)
                | base64::DecodeError::InvalidLastSymbol(at, _) => at,
                _ => s.len(),
            };
            format!(
                "error: unable to decode base64 application/octect-stream data: illegal base64 data at input byte {at}"
            )
        });
    }
    if content_type.to_ascii_lowercase().starts_with("text/")
        || is_content_type(content_type, "application/xml")
    {
        return event
            .as_str()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| MISMATCH.to_string());
    }
    if is_content_type(content_type, "application/json")
        || is_content_type(content_type, "application/cloudevents+json")
    {
        return serde_json::to_vec(event).map_err(|e| format!("{MISMATCH}: {e}"));
    }
    Err(MISMATCH.to_string())
}

/// The 500 body of a bulk publish with failed entries (Go `BulkPublishResponse`, fields in
/// struct order).
#[derive(serde::Serialize)]
struct BulkPublishResponse {
    #[serde(rename = "failedEntries")]
    failed_entries: Vec<FailedEntry>,
    #[serde(rename = "errorCode")]
    error_code: &'static str,
}

#[derive(serde::Serialize)]
struct FailedEntry {
    #[serde(rename = "entryId")]
    entry_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic}` and `/v1.0/publish/bulk/…`
/// (dapr-http-api.md § Bulk publish).
pub(crate) async fn bulk_publish(
    ctx: &Arc<Ctx>,
    req: &ApiRequest,
    pubsub: &str,
    topic: &str,
) -> Result<Resp, ApiError> {
    let comp = validate(ctx, req, pubsub, topic)?;
    let raw = raw_payload(req, pubsub)?;
    let app = meta(&[("appID", ctx.app_id.as_str())]);
    let entries: Vec<BulkEntry> = gojson::from_slice(&req.body, &BULK_ENTRIES).map_err(|e| {
        kit(
            StatusCode::BAD_REQUEST,
            "ERR_PUBSUB_EVENTS_SER",
            format!("error when unmarshaling the request for topic {topic} pubsub {pubsub}: {e}"),
            "UNMARSHAL_EVENTS",
            &app,
            pubsub,
            true,
        )
    })?;
    let with_error = |e: &str| meta(&[("appID", ctx.app_id.as_str()), ("error", e)]);
    let query_meta = req.query_metadata();
    let mut seen = HashSet::new();
    let mut converted = Vec::with_capacity(entries.len());
    for entry in entries {
        let content_type = entry.content_type.unwrap_or_default();
        let bytes = convert_event(&entry.event, &content_type).map_err(|e| {
            kit(
                StatusCode::BAD_REQUEST,
                "ERR_PUBSUB_EVENTS_SER",
                format!("error when marshalling cloud event envelope for topic {topic} pubsub {pubsub}: {e}"),
                "MARSHAL_ENVELOPE",
                &with_error(&e),
                pubsub,
                true,
            )
        })?;
        // Entry metadata over the query's, only for an entry that has a `metadata` object.
        let metadata = match entry.metadata {
            Some(own) => {
                let mut m = query_meta.clone();
                m.extend(own);
                m
            }
            None => BTreeMap::new(),
        };
        let id = entry.entry_id.unwrap_or_default();
        if id.is_empty() || !seen.insert(id.clone()) {
            let e = "entryId is duplicated or not present for entry";
            return Err(kit(
                StatusCode::BAD_REQUEST,
                "ERR_PUBSUB_EVENTS_SER",
                format!(
                    "error marshaling events to bytes for topic {topic} pubsub {pubsub}. error: {e}"
                ),
                "MARSHAL_EVENTS",
                &with_error(e),
                pubsub,
                true,
            ));
        }
        converted.push((id, content_type, bytes, metadata));
    }
    let mut messages: Vec<(String, Message)> = Vec::with_capacity(converted.len());
    for (id, content_type, bytes, metadata) in converted {
        // A trace parent of its own per entry, as daprd starts a child span for each.
        let (tp, ts) = traceparent(req);
        let input = EventInput {
            pubsub,
            topic,
            content_type: &content_type,
            body: &bytes,
            metadata: &metadata,
            traceparent: &tp,
            tracestate: &ts,
        };
        messages.push((id, build_message(&ctx.app_id, &input, raw)?));
    }
    check_allowed(ctx, comp, pubsub, topic)?;
    let mut failed = Vec::new();
    for (id, m) in messages {
        if let Err(e) = dispatch(ctx, m) {
            failed.push(FailedEntry {
                entry_id: id,
                error: Some(e.to_string()),
            });
        }
    }
    if failed.is_empty() {
        return Ok(no_content());
    }
    let first = failed
        .iter()
        .find_map(|f| f.error.clone())
        .unwrap_or_default();
    let body = serde_json::to_string(&BulkPublishResponse {
        failed_entries: failed,
        error_code: "ERR_PUBSUB_PUBLISH_MESSAGE",
    })
    .unwrap_or_default();
    let kit_error = publish_error(pubsub, topic, &first);
    let mut res = bytes_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        Bytes::from(body.clone()),
    );
    let error_string = format!("api error: code = Internal desc = {}", kit_error.message);
    for (name, value) in [
        ("metadata.responsedata", body),
        ("metadata.error", error_string),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn convert_event_by_content_type() {
        assert_eq!(
            convert_event(&json!("AQI="), "application/octet-stream"),
            Ok(vec![1, 2])
        );
        assert_eq!(
            convert_event(&json!("AQI=\n"), "Application/Octet-Stream; x=y"),
            Ok(vec![1, 2])
        );
        assert_eq!(
            convert_event(&json!("hi"), "text/anything"),
            Ok(b"hi".to_vec())
        );
        assert_eq!(
            convert_event(&json!("<a/>"), "application/xml"),
            Ok(b"<a/>".to_vec())
        );
        assert_eq!(
            convert_event(&json!({"b":1,"a":null}), "application/json"),
            Ok(br#"{"a":null,"b":1}"#.to_vec())
        );
        assert_eq!(
            convert_event(&Value::Null, "application/cloudevents+json"),
            Ok(b"null".to_vec())
        );
        assert_eq!(
            convert_event(&json!("s"), "application/json;charset=utf-8"),
            Ok(br#""s""#.to_vec())
        );
    }

    #[test]
    fn convert_event_refuses_mismatches() {
        for (event, ct) in [
            (json!(1), "application/octet-stream"),
            (json!({"a": 1}), "text/plain"),
            (json!("x"), ""),
            (json!("x"), "image/png"),
            (json!("x"), "application/json "),
        ] {
            assert_eq!(
                convert_event(&event, ct),
                Err(MISMATCH.to_string()),
                "{event} {ct:?}"
            );
        }
        let e = convert_event(&json!("%%%"), "application/octet-stream").unwrap_err();
        assert_eq!(
            e,
            "error: unable to decode base64 application/octect-stream data: illegal base64 data at input byte 0"
        );
        assert!(
            convert_event(&json!("AQI"), "application/octet-stream").is_err(),
            "padding is required"
        );
    }

    #[test]
    fn bulk_entries_decode_case_insensitively() {
        let e: Vec<BulkEntry> = gojson::from_slice(
            br#"[{"entryID":"1","Event":"x","CONTENTTYPE":"text/plain","Metadata":{"k":"v"}}]"#,
            &BULK_ENTRIES,
        )
        .unwrap();
        assert_eq!(e[0].entry_id.as_deref(), Some("1"));
        assert_eq!(e[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(e[0].event, json!("x"));
        assert!(e[0].metadata.as_ref().is_some_and(|m| m["k"] == "v"));
        assert!(
            gojson::from_slice::<Vec<BulkEntry>>(br#"{"entryId":"1"}"#, &BULK_ENTRIES).is_err()
        );
        assert!(
            gojson::from_slice::<Vec<BulkEntry>>(br#"[{"entryId":1}]"#, &BULK_ENTRIES).is_err()
        );
    }
}
