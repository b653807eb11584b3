//! Pub/sub on the app side: subscriptions as `GET /dapr/subscribe` lists them, the
//! CloudEvents daprd delivers, and the handler's SUCCESS / RETRY / DROP answer.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::Error;
use super::bulk::BulkSubscribe;
use super::cgi::Response;
use crate::http::Headers;

/// One entry of the app's `GET /dapr/subscribe` answer.
///
/// Built by [`App::subscribe`](super::App::subscribe) and its
/// [`SubscriptionBuilder`](super::SubscriptionBuilder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The pub/sub component, e.g. `pubsub`.
    pub pubsub_name: String,
    /// The topic.
    pub topic: String,
    /// The default route (a path on this app, starting with `/`).
    pub route: String,
    /// Routing rules, tried in order before the default route.
    pub rules: Vec<Rule>,
    /// Where daprd sends messages that were dropped or ran out of retries.
    pub dead_letter_topic: Option<String>,
    /// Subscription metadata, e.g. `rawPayload` = `true`.
    pub metadata: BTreeMap<String, String>,
    /// `bulkSubscribe`, for a subscription made with
    /// [`App::subscribe_bulk`](super::App::subscribe_bulk).
    pub bulk_subscribe: Option<BulkSubscribe>,
}

/// A routing rule: deliver events for which the CEL expression `match` holds to `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The CEL expression, e.g. `event.type == "order.priority"`.
    pub match_expr: String,
    /// The route (a path on this app, starting with `/`).
    pub path: String,
}

impl Subscription {
    /// The JSON daprd expects for this subscription:
    /// `{"pubsubname","topic","route"}`, or with rules
    /// `{"pubsubname","topic","routes":{"rules":[{"match","path"}],"default"}}`, plus
    /// `deadLetterTopic`, `metadata` and `bulkSubscribe` when set.
    pub fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("pubsubname".into(), json!(self.pubsub_name));
        entry.insert("topic".into(), json!(self.topic));
        if self.rules.is_empty() {
            entry.insert("route".into(), json!(self.route));
        } else {
            let rules: Vec<Value> = self
                .rules
                .iter()
                .map(|r| json!({"match": r.match_expr, "path": r.path}))
                .collect();
            entry.insert(
                "routes".into(),
                json!({"rules": rules, "default": self.route}),
            );
        }
        if let Some(topic) = &self.dead_letter_topic {
            entry.insert("deadLetterTopic".into(), json!(topic));
        }
        if !self.metadata.is_empty() {
            entry.insert("metadata".into(), json!(self.metadata));
        }
        if let Some(bulk) = &self.bulk_subscribe {
            entry.insert("bulkSubscribe".into(), bulk.to_json());
        }
        Value::Object(entry)
    }
}

/// What a topic handler tells daprd about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicResult {
    /// Processed: daprd deletes the message.
    Success,
    /// Not processed: daprd delivers it again later (with its retry policy).
    Retry,
    /// Never to be processed: daprd drops it, to the dead-letter topic if one is set.
    Drop,
}

impl TopicResult {
    /// The wire value: `SUCCESS`, `RETRY` or `DROP`.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicResult::Success => "SUCCESS",
            TopicResult::Retry => "RETRY",
            TopicResult::Drop => "DROP",
        }
    }

    /// The answer daprd reads: 200 with `{"status":"SUCCESS"|"RETRY"|"DROP"}`.
    pub fn to_response(self) -> Response {
        Response::json(&json!({"status": self.as_str()}))
    }
}

/// The payload of a CloudEvent.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// No `data` and no `data_base64` (or `data` is `null`).
    None,
    /// `data`: any JSON value; text events have a JSON string here.
    Json(Value),
    /// `data_base64`, decoded (binary events, and every event of a `rawPayload`
    /// subscription).
    Bytes(Vec<u8>),
}

/// A pub/sub message as daprd delivers it: a CloudEvent.
///
/// The standard attributes are fields (empty when the event does not have them); every
/// attribute, extensions included, is reachable through [`TopicEvent::get`] and
/// [`TopicEvent::fields`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopicEvent {
    /// `id`: unique per message; redeliveries keep it.
    pub id: String,
    /// `source`: for events daprd wraps, the publisher's app id.
    pub source: String,
    /// `type`, e.g. `com.dapr.event.sent`.
    pub event_type: String,
    /// `specversion`, e.g. `1.0`.
    pub spec_version: String,
    /// `datacontenttype`, e.g. `application/json`.
    pub data_content_type: String,
    /// `subject`, if set.
    pub subject: Option<String>,
    /// `time` (RFC 3339), if set.
    pub time: Option<String>,
    /// `topic`.
    pub topic: String,
    /// `pubsubname`.
    pub pubsub_name: String,
    /// The route it was delivered to, e.g. `/orders`.
    pub route: String,
    /// The delivery's HTTP headers (`pubsubname`, `traceparent`, ...).
    pub headers: Headers,
    data: EventData,
    fields: Map<String, Value>,
}

impl TopicEvent {
    /// Decodes the body of a delivery to `route`.
    ///
    /// The body must be a JSON object; `data_base64`, when present, must be a base64
    /// string (it wins over `data`). Missing attributes are left empty. Anything else is
    /// an [`Error::MalformedEvent`].
    pub fn parse(route: &str, headers: Headers, body: &[u8]) -> Result<TopicEvent, Error> {
        let fields = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return Err(Error::MalformedEvent("not a JSON object".into())),
            Err(e) => return Err(Error::MalformedEvent(format!("not JSON: {e}"))),
        };
        let data = match fields.get("data_base64") {
            None | Some(Value::Null) => match fields.get("data") {
                None | Some(Value::Null) => EventData::None,
                Some(value) => EventData::Json(value.clone()),
            },
            Some(Value::String(encoded)) => EventData::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| Error::MalformedEvent(format!("data_base64: {e}")))?,
            ),
            Some(_) => {
                return Err(Error::MalformedEvent("data_base64 is not a string".into()));
            }
        };
        let text = |name: &str| -> Option<String> {
            match fields.get(name)? {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        };
        Ok(TopicEvent {
            id: text("id").unwrap_or_default(),
            source: text("source").unwrap_or_default(),
            event_type: text("type").unwrap_or_default(),
            spec_version: text("specversion").unwrap_or_default(),
            data_content_type: text("datacontenttype").unwrap_or_default(),
            subject: text("subject"),
            time: text("time"),
            topic: text("topic").unwrap_or_default(),
            pubsub_name: text("pubsubname").unwrap_or_default(),
            route: route.to_owned(),
            headers,
            data,
            fields,
        })
    }

    /// The payload.
    pub fn data(&self) -> &EventData {
        &self.data
    }

    /// The payload decoded as JSON into `T`.
    ///
    /// `data` is converted directly; if that fails and `data` is a string, the string is
    /// parsed as JSON text (some publishers send JSON that way). `data_base64` bytes are
    /// parsed as JSON text. No payload decodes like JSON `null` (so `Option<T>` is
    /// `None`).
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match &self.data {
            EventData::None => serde_json::from_value(Value::Null).map_err(Error::DataNotJson),
            EventData::Json(value) => match serde_json::from_value(value.clone()) {
                Ok(decoded) => Ok(decoded),
                Err(e) => match value {
                    Value::String(text) => {
                        serde_json::from_str(text).map_err(|_| Error::DataNotJson(e))
                    }
                    _ => Err(Error::DataNotJson(e)),
                },
            },
            EventData::Bytes(bytes) => serde_json::from_slice(bytes).map_err(Error::DataNotJson),
        }
    }

    /// The payload as text: a JSON string as is, other JSON as its JSON text, bytes if
    /// they are UTF-8 ([`Error::DataNotUtf8`] otherwise), nothing as `""`.
    pub fn data_text(&self) -> Result<String, Error> {
        match &self.data {
            EventData::None => Ok(String::new()),
            EventData::Json(Value::String(text)) => Ok(text.clone()),
            EventData::Json(value) => Ok(value.to_string()),
            EventData::Bytes(bytes) => {
                String::from_utf8(bytes.clone()).map_err(|_| Error::DataNotUtf8)
            }
        }
    }

    /// The payload as bytes: decoded `data_base64`, the UTF-8 of a JSON string, the JSON
    /// text of other JSON, nothing as empty.
    pub fn data_bytes(&self) -> Vec<u8> {
        match &self.data {
            EventData::None => Vec::new(),
            EventData::Json(Value::String(text)) => text.clone().into_bytes(),
            EventData::Json(value) => value.to_string().into_bytes(),
            EventData::Bytes(bytes) => bytes.clone(),
        }
    }

    /// Any attribute of the event by name, extensions included (e.g. `traceparent`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The whole event as delivered.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        #[serde(rename = "orderId")]
        order_id: u32,
    }

    fn parse(body: &str) -> Result<TopicEvent, Error> {
        TopicEvent::parse("/orders", Headers::new(), body.as_bytes())
    }

    #[test]
    fn json_event_from_daprd() {
        let body = r#"{"data":{"orderId":7},"datacontenttype":"application/json",
            "id":"5929aaac-a5e2-4ca1-859c-edfe73f11565","pubsubname":"pubsub",
            "source":"checkout","specversion":"1.0","time":"2024-01-01T00:00:00Z",
            "topic":"orders","traceid":"00-1-2-01","traceparent":"00-1-2-01",
            "tracestate":"","type":"com.dapr.event.sent","myext":{"a":1}}"#;
        let ev = parse(body).unwrap();
        assert_eq!(ev.id, "5929aaac-a5e2-4ca1-859c-edfe73f11565");
        assert_eq!(ev.source, "checkout");
        assert_eq!(ev.event_type, "com.dapr.event.sent");
        assert_eq!(ev.spec_version, "1.0");
        assert_eq!(ev.data_content_type, "application/json");
        assert_eq!(ev.topic, "orders");
        assert_eq!(ev.pubsub_name, "pubsub");
        assert_eq!(ev.time.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(ev.subject, None);
        assert_eq!(ev.route, "/orders");
        assert_eq!(ev.data(), &EventData::Json(json!({"orderId": 7})));
        assert_eq!(ev.data_json::<Order>().unwrap(), Order { order_id: 7 });
        assert_eq!(ev.data_text().unwrap(), r#"{"orderId":7}"#);
        assert_eq!(ev.data_bytes(), br#"{"orderId":7}"#);
        assert_eq!(ev.get("myext"), Some(&json!({"a": 1})));
        assert_eq!(ev.get("traceparent"), Some(&json!("00-1-2-01")));
        assert_eq!(ev.fields().len(), 13);
    }

    #[test]
    fn text_event() {
        let ev = parse(r#"{"data":"hello","datacontenttype":"text/plain"}"#).unwrap();
        assert_eq!(ev.data_text().unwrap(), "hello");
        assert_eq!(ev.data_bytes(), b"hello");
        assert_eq!(ev.data_json::<String>().unwrap(), "hello");
        assert!(matches!(
            ev.data_json::<Order>(),
            Err(Error::DataNotJson(_))
        ));
    }

    #[test]
    fn json_sent_as_a_string_is_parsed() {
        let ev =
            parse(r#"{"data":"{\"orderId\":3}","datacontenttype":"application/json"}"#).unwrap();
        assert_eq!(ev.data_json::<Order>().unwrap(), Order { order_id: 3 });
    }

    #[test]
    fn base64_event() {
        let ev =
            parse(r#"{"data_base64":"AAH+/w==","datacontenttype":"application/octet-stream"}"#)
                .unwrap();
        assert_eq!(ev.data(), &EventData::Bytes(vec![0, 1, 0xfe, 0xff]));
        assert_eq!(ev.data_bytes(), [0, 1, 0xfe, 0xff]);
        assert!(matches!(ev.data_text(), Err(Error::DataNotUtf8)));
        assert!(matches!(
            ev.data_json::<Order>(),
            Err(Error::DataNotJson(_))
        ));
        // A rawPayload envelope: the published JSON comes back as bytes.
        let ev = parse(r#"{"data_base64":"eyJvcmRlcklkIjoxfQ==","data":"ignored"}"#).unwrap();
        assert_eq!(ev.data_json::<Order>().unwrap(), Order { order_id: 1 });
        assert_eq!(ev.data_text().unwrap(), r#"{"orderId":1}"#);
    }

    #[test]
    fn no_data() {
        for body in ["{}", r#"{"data":null}"#, r#"{"data_base64":null}"#] {
            let ev = parse(body).unwrap();
            assert_eq!(ev.data(), &EventData::None, "{body}");
            assert_eq!(ev.data_bytes(), b"");
            assert_eq!(ev.data_text().unwrap(), "");
            assert_eq!(ev.data_json::<Option<Order>>().unwrap(), None);
            assert!(ev.data_json::<Order>().is_err());
            assert_eq!(ev.id, "");
        }
    }

    #[test]
    fn attributes_that_are_not_strings_are_kept_as_json_text() {
        let ev = parse(r#"{"id":17,"subject":null,"time":"t"}"#).unwrap();
        assert_eq!(ev.id, "17");
        assert_eq!(ev.subject, None);
        assert_eq!(ev.time.as_deref(), Some("t"));
    }

    #[test]
    fn malformed_events() {
        for (body, reason) in [
            ("not json", "not JSON"),
            ("[1,2]", "not a JSON object"),
            (r#""text""#, "not a JSON object"),
            (r#"{"data_base64":"***"}"#, "data_base64"),
            (r#"{"data_base64":12}"#, "data_base64 is not a string"),
        ] {
            match parse(body) {
                Err(Error::MalformedEvent(why)) => assert!(why.contains(reason), "{body}: {why}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn results_on_the_wire() {
        for (result, status) in [
            (TopicResult::Success, "SUCCESS"),
            (TopicResult::Retry, "RETRY"),
            (TopicResult::Drop, "DROP"),
        ] {
            assert_eq!(result.as_str(), status);
            let r = result.to_response();
            assert_eq!(r.status, 200);
            assert_eq!(r.headers.get("content-type"), Some("application/json"));
            assert_eq!(r.body, format!(r#"{{"status":"{status}"}}"#).into_bytes());
        }
    }

    #[test]
    fn subscription_json() {
        let mut sub = Subscription {
            pubsub_name: "pubsub".into(),
            topic: "orders".into(),
            route: "/orders".into(),
            rules: vec![],
            dead_letter_topic: None,
            metadata: BTreeMap::new(),
            bulk_subscribe: None,
        };
        assert_eq!(
            sub.to_json(),
            json!({"pubsubname": "pubsub", "topic": "orders", "route": "/orders"})
        );
        sub.rules.push(Rule {
            match_expr: r#"event.type == "priority""#.into(),
            path: "/orders/priority".into(),
        });
        sub.dead_letter_topic = Some("orders-dead".into());
        sub.metadata.insert("rawPayload".into(), "true".into());
        assert_eq!(
            sub.to_json(),
            json!({
                "pubsubname": "pubsub",
                "topic": "orders",
                "routes": {
                    "rules": [{"match": "event.type == \"priority\"", "path": "/orders/priority"}],
                    "default": "/orders"
                },
                "deadLetterTopic": "orders-dead",
                "metadata": {"rawPayload": "true"}
            })
        );
    }
}
