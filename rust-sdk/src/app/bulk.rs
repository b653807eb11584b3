//! Bulk subscriptions on the app side: daprd's bulk envelope of entries, and the one
//! SUCCESS / RETRY / DROP status per entry the app answers.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::Error;
use super::cgi::Response;
use super::topic::{TopicEvent, TopicResult};
use crate::http::Headers;

/// `bulkSubscribe` of a subscription: daprd batches messages and posts up to
/// `max_messages_count` at a time, waiting at most `max_await_duration_ms` after the
/// first one. The defaults are daprd's: 100 messages, 1000 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkSubscribe {
    /// `maxMessagesCount`.
    pub max_messages_count: u32,
    /// `maxAwaitDurationMs`.
    pub max_await_duration_ms: u32,
}

impl Default for BulkSubscribe {
    fn default() -> Self {
        BulkSubscribe {
            max_messages_count: 100,
            max_await_duration_ms: 1000,
        }
    }
}

impl BulkSubscribe {
    /// The `GET /dapr/subscribe` form:
    /// `{"enabled":true,"maxMessagesCount":N,"maxAwaitDurationMs":M}`.
    pub fn to_json(&self) -> Value {
        json!({
            "enabled": true,
            "maxMessagesCount": self.max_messages_count,
            "maxAwaitDurationMs": self.max_await_duration_ms,
        })
    }
}

/// The payload of one bulk entry.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkEntryEvent {
    /// `event` was a JSON object: the CloudEvent daprd wrapped (or the publisher sent).
    CloudEvent(Box<TopicEvent>),
    /// `event` was a base64 string: the raw bytes of a `rawPayload` message, decoded.
    Raw(Vec<u8>),
}

/// One message of a bulk delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkEntry {
    /// `entryId`: what the status of this entry must name.
    pub entry_id: String,
    /// `contentType`, e.g. `application/cloudevents+json` (empty if daprd sent none).
    pub content_type: String,
    /// `metadata`: the broker's metadata of this message (`null` reads as empty).
    pub metadata: BTreeMap<String, String>,
    /// The message.
    pub event: BulkEntryEvent,
}

impl BulkEntry {
    /// The CloudEvent, unless the entry is a raw payload.
    pub fn cloud_event(&self) -> Option<&TopicEvent> {
        match &self.event {
            BulkEntryEvent::CloudEvent(event) => Some(event),
            BulkEntryEvent::Raw(_) => None,
        }
    }

    /// The payload as bytes: the CloudEvent's data ([`TopicEvent::data_bytes`]) or the
    /// raw bytes.
    pub fn data_bytes(&self) -> Vec<u8> {
        match &self.event {
            BulkEntryEvent::CloudEvent(event) => event.data_bytes(),
            BulkEntryEvent::Raw(bytes) => bytes.clone(),
        }
    }

    /// The payload as text ([`Error::DataNotUtf8`] for bytes that are not UTF-8).
    pub fn data_text(&self) -> Result<String, Error> {
        match &self.event {
            BulkEntryEvent::CloudEvent(event) => event.data_text(),
            BulkEntryEvent::Raw(bytes) => {
                String::from_utf8(bytes.clone()).map_err(|_| Error::DataNotUtf8)
            }
        }
    }

    /// The payload decoded as JSON into `T` (the CloudEvent's data, or the raw bytes
    /// parsed as JSON text).
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match &self.event {
            BulkEntryEvent::CloudEvent(event) => event.data_json(),
            BulkEntryEvent::Raw(bytes) => serde_json::from_slice(bytes).map_err(Error::DataNotJson),
        }
    }

    /// This entry's status: `entry.status(TopicResult::Success)`.
    pub fn status(&self, result: TopicResult) -> BulkEntryStatus {
        BulkEntryStatus {
            entry_id: self.entry_id.clone(),
            status: result,
        }
    }
}

/// What the handler says about one entry: `{"entryId","status"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkEntryStatus {
    /// The entry's `entryId`.
    pub entry_id: String,
    /// SUCCESS, RETRY or DROP.
    pub status: TopicResult,
}

/// A bulk delivery: daprd's envelope `{"entries","id","metadata","pubsubname","topic","type"}`.
///
/// Entries that are malformed (an `event` neither an object nor a base64 string, a
/// CloudEvent with a bad `data_base64`) are not in [`entries`](Self::entries): the
/// [`App`](super::App) answers them `DROP` itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkMessage {
    /// The envelope's `id`.
    pub id: String,
    /// `topic`.
    pub topic: String,
    /// `pubsubname`.
    pub pubsub_name: String,
    /// `type`, `com.dapr.event.sent.bulk`.
    pub event_type: String,
    /// The envelope's `metadata` (e.g. `pubsubName`).
    pub metadata: BTreeMap<String, String>,
    /// The route it was delivered to, e.g. `/orders`.
    pub route: String,
    /// The delivery's HTTP headers.
    pub headers: Headers,
    /// The well-formed entries, in the order daprd sent them.
    pub entries: Vec<BulkEntry>,
}

impl BulkMessage {
    /// Calls `handler` on every entry and collects its statuses, in order.
    pub fn each(&self, mut handler: impl FnMut(&BulkEntry) -> TopicResult) -> Vec<BulkEntryStatus> {
        self.entries
            .iter()
            .map(|entry| entry.status(handler(entry)))
            .collect()
    }
}

impl BulkMessage {
    /// A batch of one: `event`, delivered on its own, with its `id` as the entry id.
    pub(crate) fn single(route: &str, headers: Headers, event: TopicEvent) -> BulkMessage {
        BulkMessage {
            id: String::new(),
            topic: event.topic.clone(),
            pubsub_name: event.pubsub_name.clone(),
            event_type: event.event_type.clone(),
            metadata: BTreeMap::new(),
            route: route.to_owned(),
            headers,
            entries: vec![BulkEntry {
                entry_id: event.id.clone(),
                content_type: "application/cloudevents+json".to_owned(),
                metadata: BTreeMap::new(),
                event: BulkEntryEvent::CloudEvent(Box::new(event)),
            }],
        }
    }
}

/// A parsed delivery: the message for the handler and the entries it cannot see.
#[derive(Debug)]
pub(crate) struct ParsedBulk {
    pub(crate) message: BulkMessage,
    /// Every entry id in the order received (well-formed or not).
    pub(crate) order: Vec<String>,
    /// Malformed entries: id and why.
    pub(crate) malformed: Vec<(String, String)>,
}

/// Metadata as a string map: a `null` or missing object is empty, non-string values
/// keep their JSON text.
fn string_map(value: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => Ok(map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()),
        Some(_) => Err("metadata is not an object".into()),
    }
}

fn text(fields: &Map<String, Value>, name: &str) -> String {
    match fields.get(name) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

impl BulkMessage {
    /// Decodes a bulk delivery to `route`.
    ///
    /// The body must be a JSON object whose `entries` is an array of objects, each with
    /// a string `entryId`; anything else is an [`Error::MalformedEvent`] (there is no
    /// entry id to answer for). Entries whose event cannot be decoded are left out of
    /// [`BulkMessage::entries`] and reported separately.
    pub(crate) fn parse(route: &str, headers: Headers, body: &[u8]) -> Result<ParsedBulk, Error> {
        let fields = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => {
                return Err(Error::MalformedEvent(
                    "bulk envelope is not a JSON object".into(),
                ));
            }
            Err(e) => {
                return Err(Error::MalformedEvent(format!(
                    "bulk envelope is not JSON: {e}"
                )));
            }
        };
        let raw_entries = match fields.get("entries") {
            Some(Value::Array(entries)) => entries,
            None | Some(Value::Null) => &Vec::new(),
            Some(_) => return Err(Error::MalformedEvent("entries is not an array".into())),
        };
        let mut entries = Vec::new();
        let mut order = Vec::new();
        let mut malformed = Vec::new();
        for (i, raw) in raw_entries.iter().enumerate() {
            let Some(Value::String(entry_id)) = raw.get("entryId") else {
                return Err(Error::MalformedEvent(format!(
                    "entry {i} has no string entryId"
                )));
            };
            order.push(entry_id.clone());
            match parse_entry(route, &headers, entry_id, raw) {
                Ok(entry) => entries.push(entry),
                Err(why) => malformed.push((entry_id.clone(), why)),
            }
        }
        let metadata = string_map(fields.get("metadata")).map_err(Error::MalformedEvent)?;
        Ok(ParsedBulk {
            message: BulkMessage {
                id: text(&fields, "id"),
                topic: text(&fields, "topic"),
                pubsub_name: text(&fields, "pubsubname"),
                event_type: text(&fields, "type"),
                metadata,
                route: route.to_owned(),
                headers,
                entries,
            },
            order,
            malformed,
        })
    }
}

fn parse_entry(
    route: &str,
    headers: &Headers,
    entry_id: &str,
    raw: &Value,
) -> Result<BulkEntry, String> {
    let metadata = string_map(raw.get("metadata"))?;
    let content_type = match raw.get("contentType") {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let event = match raw.get("event") {
        Some(object @ Value::Object(_)) => {
            let bytes = object.to_string();
            let event = TopicEvent::parse(route, headers.clone(), bytes.as_bytes())
                .map_err(|e| e.to_string())?;
            BulkEntryEvent::CloudEvent(Box::new(event))
        }
        Some(Value::String(encoded)) => BulkEntryEvent::Raw(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("event is not base64: {e}"))?,
        ),
        _ => {
            return Err(format!(
                "entry {entry_id}: event is neither a CloudEvent object nor a base64 string"
            ));
        }
    };
    Ok(BulkEntry {
        entry_id: entry_id.to_owned(),
        content_type,
        metadata,
        event,
    })
}

/// The answer daprd reads: `{"statuses":[{"entryId","status"}]}`, exactly one status
/// per received entry in the order received.
///
/// An entry the handler gave no status is answered `RETRY` (what daprd does with a
/// missing one anyway); a status for an id daprd did not send is left out; the first
/// status for an id wins. Malformed entries are `DROP`.
pub(crate) fn answer(
    parsed: &ParsedBulk,
    statuses: Vec<BulkEntryStatus>,
) -> (Response, Vec<String>) {
    let mut given: HashMap<String, TopicResult> = HashMap::new();
    let mut unknown = Vec::new();
    for status in statuses {
        if parsed.order.contains(&status.entry_id) {
            given.entry(status.entry_id).or_insert(status.status);
        } else {
            unknown.push(status.entry_id);
        }
    }
    for (id, _) in &parsed.malformed {
        given.insert(id.clone(), TopicResult::Drop);
    }
    let mut seen = std::collections::HashSet::new();
    let wire: Vec<Value> = parsed
        .order
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .map(|id| {
            let status = given.get(id).copied().unwrap_or(TopicResult::Retry);
            json!({"entryId": id, "status": status.as_str()})
        })
        .collect();
    (Response::json(&json!({ "statuses": wire })), unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ParsedBulk, Error> {
        BulkMessage::parse("/bulk", Headers::new(), body.as_bytes())
    }

    const ENVELOPE: &str = r#"{"entries":[
        {"entryId":"e1","event":{"data":{"orderId":1},"datacontenttype":"application/json","id":"ce-1",
          "pubsubname":"pubsub","source":"app","specversion":"1.0","topic":"orders","type":"com.dapr.event.sent"},
         "metadata":null,"contentType":"application/cloudevents+json"},
        {"entryId":"e2","event":"aGVsbG8=","metadata":{"partition":"3"},"contentType":"application/octet-stream"}],
        "id":"env-1","metadata":{"pubsubName":"pubsub"},"pubsubname":"pubsub","topic":"orders",
        "type":"com.dapr.event.sent.bulk"}"#;

    #[test]
    fn envelope_from_daprd() {
        let parsed = parse(ENVELOPE).unwrap();
        let m = &parsed.message;
        assert_eq!(m.id, "env-1");
        assert_eq!(m.topic, "orders");
        assert_eq!(m.pubsub_name, "pubsub");
        assert_eq!(m.event_type, "com.dapr.event.sent.bulk");
        assert_eq!(m.metadata["pubsubName"], "pubsub");
        assert_eq!(m.route, "/bulk");
        assert_eq!(parsed.order, ["e1", "e2"]);
        assert!(parsed.malformed.is_empty());
        let [first, second] = m.entries.as_slice() else {
            panic!("{m:?}");
        };
        assert_eq!(first.entry_id, "e1");
        assert_eq!(first.content_type, "application/cloudevents+json");
        assert!(first.metadata.is_empty());
        let ce = first.cloud_event().unwrap();
        assert_eq!(ce.id, "ce-1");
        assert_eq!(ce.topic, "orders");
        assert_eq!(ce.route, "/bulk");
        assert_eq!(first.data_json::<Value>().unwrap(), json!({"orderId": 1}));
        assert_eq!(first.data_text().unwrap(), r#"{"orderId":1}"#);
        assert_eq!(second.event, BulkEntryEvent::Raw(b"hello".to_vec()));
        assert_eq!(second.cloud_event(), None);
        assert_eq!(second.data_bytes(), b"hello");
        assert_eq!(second.data_text().unwrap(), "hello");
        assert!(second.data_json::<Value>().is_err());
        assert_eq!(second.metadata["partition"], "3");
    }

    #[test]
    fn raw_json_bytes_and_missing_fields() {
        // `eyJuIjoxfQ==` is `{"n":1}`.
        let parsed = parse(r#"{"entries":[{"entryId":"r","event":"eyJuIjoxfQ=="}]}"#).unwrap();
        let entry = &parsed.message.entries[0];
        assert_eq!(entry.data_json::<Value>().unwrap(), json!({"n": 1}));
        assert_eq!(entry.content_type, "");
        assert_eq!(parsed.message.id, "");
        assert!(parsed.message.metadata.is_empty());
        let bytes = parse(r#"{"entries":[{"entryId":"x","event":"/w=="}]}"#).unwrap();
        assert!(matches!(
            bytes.message.entries[0].data_text(),
            Err(Error::DataNotUtf8)
        ));
        // No entries at all.
        assert!(parse("{}").unwrap().order.is_empty());
        assert!(parse(r#"{"entries":null}"#).unwrap().order.is_empty());
    }

    #[test]
    fn malformed_entries_are_set_aside() {
        let parsed = parse(
            r#"{"entries":[{"entryId":"ok","event":{"data":1}},{"entryId":"num","event":5},
                {"entryId":"b64","event":"***"},{"entryId":"ce","event":{"data_base64":"%%"}},
                {"entryId":"md","event":{},"metadata":[1]},{"entryId":"none"}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.message.entries.len(), 1);
        let ids: Vec<&str> = parsed.malformed.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["num", "b64", "ce", "md", "none"]);
        assert!(
            parsed.malformed[1].1.contains("base64"),
            "{:?}",
            parsed.malformed
        );
    }

    #[test]
    fn malformed_envelopes() {
        for (body, why) in [
            ("", "not JSON"),
            ("[]", "not a JSON object"),
            (r#"{"entries":{}}"#, "entries is not an array"),
            (
                r#"{"entries":[{"event":{}}]}"#,
                "entry 0 has no string entryId",
            ),
            (
                r#"{"entries":[{"entryId":1}]}"#,
                "entry 0 has no string entryId",
            ),
            (
                r#"{"entries":[],"metadata":"x"}"#,
                "metadata is not an object",
            ),
        ] {
            match parse(body) {
                Err(Error::MalformedEvent(m)) => assert!(m.contains(why), "{body}: {m}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn one_status_per_entry_in_order() {
        let parsed = parse(
            r#"{"entries":[{"entryId":"a","event":{}},{"entryId":"b","event":{}},
                {"entryId":"c","event":{}},{"entryId":"bad","event":7}]}"#,
        )
        .unwrap();
        let statuses = vec![
            BulkEntryStatus {
                entry_id: "b".into(),
                status: TopicResult::Drop,
            },
            BulkEntryStatus {
                entry_id: "zz".into(),
                status: TopicResult::Success,
            },
            BulkEntryStatus {
                entry_id: "a".into(),
                status: TopicResult::Success,
            },
            BulkEntryStatus {
                entry_id: "a".into(),
                status: TopicResult::Retry,
            },
            BulkEntryStatus {
                entry_id: "bad".into(),
                status: TopicResult::Success,
            },
        ];
        let (response, unknown) = answer(&parsed, statuses);
        assert_eq!(response.status, 200);
        assert_eq!(
            response.headers.get("content-type"),
            Some("application/json")
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&response.body).unwrap(),
            json!({"statuses": [
                {"entryId": "a", "status": "SUCCESS"},
                {"entryId": "b", "status": "DROP"},
                {"entryId": "c", "status": "RETRY"},
                {"entryId": "bad", "status": "DROP"},
            ]})
        );
        assert_eq!(unknown, ["zz"]);
    }

    #[test]
    fn each_maps_entries_to_statuses() {
        let parsed = parse(ENVELOPE).unwrap();
        let statuses = parsed.message.each(|e| match e.event {
            BulkEntryEvent::Raw(_) => TopicResult::Retry,
            BulkEntryEvent::CloudEvent(_) => TopicResult::Success,
        });
        assert_eq!(
            statuses,
            [
                BulkEntryStatus {
                    entry_id: "e1".into(),
                    status: TopicResult::Success
                },
                BulkEntryStatus {
                    entry_id: "e2".into(),
                    status: TopicResult::Retry
                },
            ]
        );
    }

    #[test]
    fn bulk_subscribe_json() {
        assert_eq!(
            BulkSubscribe::default().to_json(),
            json!({"enabled": true, "maxMessagesCount": 100, "maxAwaitDurationMs": 1000})
        );
    }
}
