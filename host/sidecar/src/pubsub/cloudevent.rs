//! CloudEvents: the broker's `Message`, daprd's envelope for a published body (by content
//! type, with overrides from metadata), TTL expiry, W3C trace context, and the event a
//! subscriber receives.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::subscription::Subscription;
use crate::api::{ApiError, ApiRequest, rfc3339};

pub(crate) const CE_CONTENT_TYPE: &str = "application/cloudevents+json";

/// A message on the in-memory broker.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub pubsub: String,
    pub topic: String,
    /// The CloudEvent JSON, or the raw body when published with `rawPayload`.
    pub data: Bytes,
    pub raw: bool,
    pub expires: Option<SystemTime>,
    pub traceparent: String,
    pub tracestate: String,
    /// Already sent to a dead-letter topic once (never dead-letter again).
    pub dead_lettered: bool,
}

/// A W3C `traceparent` for a request: the caller's, or a fresh one.
pub(crate) fn traceparent(req: &ApiRequest) -> (String, String) {
    let given = req
        .header_str("traceparent")
        .filter(|t| t.len() == 55 && t.starts_with("00-"));
    let tp = match given {
        Some(t) => t.to_string(),
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
            format!("00-{id}-{span}-00")
        }
    };
    (
        tp,
        req.header_str("tracestate").unwrap_or_default().to_string(),
    )
}

fn now_rfc3339() -> String {
    rfc3339(SystemTime::now()).unwrap_or_default()
}

/// The media type without parameters, lowercased.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn is_json_type(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

/// Everything a CloudEvent is built from.
pub(crate) struct EventInput<'a> {
    pub pubsub: &'a str,
    pub topic: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub metadata: &'a BTreeMap<String, String>,
    pub traceparent: &'a str,
    pub tracestate: &'a str,
}

/// Wraps a published body into daprd's CloudEvent, by content type.
fn make_cloud_event(app_id: &str, input: &EventInput<'_>) -> Result<Map<String, Value>, ApiError> {
    let ser_err = |e: String| creation_error(app_id, input.pubsub, e);
    let ess = essence(input.content_type);
    let mut ce = if ess == CE_CONTENT_TYPE {
        let mut ce = match serde_json::from_slice::<Value>(input.body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(ser_err("a CloudEvent must be a JSON object".into())),
            Err(e) => return Err(ser_err(e.to_string())),
        };
        let mut default = |k: &str, v: Value| {
            if ce
                .get(k)
                .is_none_or(|x| x.is_null() || x.as_str() == Some(""))
            {
                ce.insert(k.to_string(), v);
            }
        };
        default("id", Value::String(uuid::Uuid::new_v4().to_string()));
        default("source", Value::String("Dapr".into()));
        default("type", Value::String("com.dapr.event.sent".into()));
        default("specversion", Value::String("1.0".into()));
        default("time", Value::String(now_rfc3339()));
        default("traceid", Value::String(input.traceparent.into()));
        default("traceparent", Value::String(input.traceparent.into()));
        default("tracestate", Value::String(input.tracestate.into()));
        ce
    } else {
        let over = |k: &str| {
            input
                .metadata
                .get(&format!("cloudevent.{k}"))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let content_type = if input.content_type.is_empty() {
            "text/plain"
        } else {
            input.content_type
        };
        let mut ce = Map::new();
        ce.insert(
            "id".into(),
            Value::String(over("id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
        );
        ce.insert(
            "source".into(),
            Value::String(over("source").unwrap_or_else(|| app_id.to_string())),
        );
        ce.insert(
            "type".into(),
            Value::String(over("type").unwrap_or_else(|| "com.dapr.event.sent".into())),
        );
        if let Some(subject) = over("subject") {
            ce.insert("subject".into(), Value::String(subject));
        }
        ce.insert("specversion".into(), Value::String("1.0".into()));
        ce.insert("datacontenttype".into(), Value::String(content_type.into()));
        ce.insert("time".into(), Value::String(now_rfc3339()));
        ce.insert("traceid".into(), Value::String(input.traceparent.into()));
        ce.insert(
            "traceparent".into(),
            Value::String(input.traceparent.into()),
        );
        ce.insert("tracestate".into(), Value::String(input.tracestate.into()));
        if is_json_type(&ess) {
            let data = serde_json::from_slice::<Value>(input.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(input.body).into_owned())
            });
            ce.insert("data".into(), data);
        } else if ess == "application/octet-stream" {
            ce.insert("data_base64".into(), Value::String(B64.encode(input.body)));
        } else {
            ce.insert(
                "data".into(),
                Value::String(String::from_utf8_lossy(input.body).into_owned()),
            );
        }
        ce
    };
    ce.insert("topic".into(), Value::String(input.topic.into()));
    ce.insert("pubsubname".into(), Value::String(input.pubsub.into()));
    Ok(ce)
}

/// `ttlInSeconds` → an expiry time; bad values are an error message.
fn ttl_expiry(metadata: &BTreeMap<String, String>) -> Result<Option<SystemTime>, String> {
    match metadata.get("ttlInSeconds").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => {
                Ok(SystemTime::now().checked_add(Duration::from_secs(n.unsigned_abs())))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(format!(
                "incorrect value for metadata 'ttlInSeconds' {v:?}: {e}"
            )),
        },
    }
}

/// daprd's `CloudEventCreation` kit error: `500 ERR_PUBSUB_CLOUD_EVENTS_SER` "cannot create
/// cloudevent", with the cause in the ErrorInfo metadata.
fn creation_error(app_id: &str, pubsub: &str, cause: String) -> ApiError {
    let meta = BTreeMap::from([
        ("appID".to_string(), app_id.to_string()),
        ("error".to_string(), cause),
    ]);
    ApiError::kit(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "ERR_PUBSUB_CLOUD_EVENTS_SER",
        "cannot create cloudevent",
        "DAPR_PUBSUB_CLOUD_EVENT_CREATION",
        &meta,
        Some(("pubsub", pubsub)),
    )
}

/// The published bytes for one message (`raw`: the body as is, else its CloudEvent), or
/// the error answer.
pub(crate) fn build_message(
    app_id: &str,
    input: &EventInput<'_>,
    raw: bool,
) -> Result<Message, ApiError> {
    let expires =
        ttl_expiry(input.metadata).map_err(|e| creation_error(app_id, input.pubsub, e))?;
    let data = if raw {
        Bytes::copy_from_slice(input.body)
    } else {
        let mut ce = make_cloud_event(app_id, input)?;
        if let Some(exp) = expires.and_then(rfc3339) {
            ce.insert("expiration".into(), Value::String(exp));
        }
        Bytes::from(serde_json::to_vec(&Value::Object(ce)).unwrap_or_default())
    };
    Ok(Message {
        pubsub: input.pubsub.to_string(),
        topic: input.topic.to_string(),
        data,
        raw,
        expires,
        traceparent: input.traceparent.to_string(),
        tracestate: input.tracestate.to_string(),
        dead_lettered: false,
    })
}

/// The CloudEvent delivered for a message to a subscription.
pub(crate) fn delivery_event(app_id: &str, sub: &Subscription, msg: &Message) -> Value {
    let parsed = if sub.raw_payload() || msg.raw {
        None
    } else {
        serde_json::from_slice::<Value>(&msg.data)
            .ok()
            .filter(Value::is_object)
    };
    if let Some(ce) = parsed {
        return ce;
    }
    // A raw message that happens to be a CloudEvent is delivered as is.
    if msg.raw
        && !sub.raw_payload()
        && let Ok(ce @ Value::Object(_)) = serde_json::from_slice::<Value>(&msg.data)
        && ce.get("specversion").is_some()
    {
        return ce;
    }
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "source": app_id,
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/octet-stream",
        "data_base64": B64.encode(&msg.data),
        "topic": msg.topic,
        "pubsubname": msg.pubsub,
        "time": now_rfc3339(),
        "traceid": msg.traceparent,
        "traceparent": msg.traceparent,
        "tracestate": msg.tracestate,
    })
}
