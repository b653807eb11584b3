//! Publishing: single events (JSON, text, bytes, CloudEvents) and bulk publish.

use std::collections::HashSet;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::encode::{self, Query};
use super::{Client, Error, Metadata, error, to_json, to_value};
use crate::http::Request;

/// `application/json`.
const JSON: &str = "application/json";
/// `text/plain`.
const TEXT: &str = "text/plain";
/// `application/octet-stream`.
const BYTES: &str = "application/octet-stream";
/// `application/cloudevents+json`.
const CLOUD_EVENT: &str = "application/cloudevents+json";

/// An event to publish: a body and the content type that tells daprd how to wrap it.
///
/// | constructor | content type | what subscribers get |
/// |---|---|---|
/// | [`Event::json`] | `application/json` | the JSON as the CloudEvent's `data` |
/// | [`Event::text`] | `text/plain` | the text as `data` |
/// | [`Event::bytes`] | `application/octet-stream` | the bytes as `data_base64` |
/// | [`Event::cloud_event`] | `application/cloudevents+json` | your CloudEvent (daprd sets `topic`, `pubsubname` and defaults) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `Content-Type` sent with the body.
    pub content_type: String,
    /// The request body.
    pub data: Vec<u8>,
}

impl Event {
    /// `value` serialised as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        Ok(Self::with_content_type(JSON, to_json("event", value)?))
    }

    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with_content_type(TEXT, text.into())
    }

    /// Raw bytes (`application/octet-stream`).
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::with_content_type(BYTES, bytes)
    }

    /// A complete CloudEvent, e.g. `{"id":…,"source":…,"type":…,"specversion":"1.0","data":…}`.
    pub fn cloud_event<T: Serialize + ?Sized>(event: &T) -> Result<Self, Error> {
        Ok(Self::with_content_type(
            CLOUD_EVENT,
            to_json("cloud event", event)?,
        ))
    }

    /// Any body with any content type.
    pub fn with_content_type(content_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Event {
            content_type: content_type.into(),
            data: data.into(),
        }
    }
}

/// Publish options: `metadata.*` query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Sent as `metadata.<key>=<value>`.
    pub metadata: Metadata,
}

impl PublishOptions {
    /// `metadata.rawPayload`: publish the body as is, without a CloudEvent envelope.
    pub fn raw_payload(self, raw: bool) -> Self {
        self.metadata("rawPayload", if raw { "true" } else { "false" })
    }

    /// `metadata.ttlInSeconds`: the message expires after this many seconds.
    pub fn ttl_in_seconds(self, seconds: u64) -> Self {
        self.metadata("ttlInSeconds", seconds.to_string())
    }

    /// Any other metadata, e.g. `cloudevent.id` or a broker's partition key.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// One entry of a bulk publish: `{"entryId","event","contentType","metadata"?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkPublishEntry {
    /// An id unique within the request, used to report failures.
    pub entry_id: String,
    /// The event, in the shape its content type needs (a string for text, a base64
    /// string for bytes, any JSON for JSON).
    pub event: Value,
    /// The content type of the event.
    pub content_type: String,
    /// Per-entry metadata.
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl BulkPublishEntry {
    /// A JSON entry.
    pub fn json<T: Serialize + ?Sized>(
        entry_id: impl Into<String>,
        value: &T,
    ) -> Result<Self, Error> {
        Ok(Self::new(entry_id, to_value("event", value)?, JSON))
    }

    /// A text entry.
    pub fn text(entry_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(entry_id, Value::String(text.into()), TEXT)
    }

    /// A binary entry, sent base64-encoded.
    pub fn bytes(entry_id: impl Into<String>, bytes: impl AsRef<[u8]>) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        Self::new(entry_id, Value::String(encoded), BYTES)
    }

    /// A CloudEvent entry.
    pub fn cloud_event<T: Serialize + ?Sized>(
        entry_id: impl Into<String>,
        event: &T,
    ) -> Result<Self, Error> {
        Ok(Self::new(
            entry_id,
            to_value("cloud event", event)?,
            CLOUD_EVENT,
        ))
    }

    fn new(entry_id: impl Into<String>, event: Value, content_type: &str) -> Self {
        BulkPublishEntry {
            entry_id: entry_id.into(),
            event,
            content_type: content_type.to_owned(),
            metadata: Metadata::new(),
        }
    }

    /// Adds a per-entry metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// An entry that a bulk publish could not publish.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedEntry {
    /// The entry's id.
    pub entry_id: String,
    /// Why it failed.
    #[serde(default)]
    pub error: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkPublishFailure {
    #[serde(default)]
    failed_entries: Vec<FailedEntry>,
    #[serde(default)]
    error_code: String,
}

impl Client {
    fn publish_url(
        &self,
        prefix: &str,
        pubsub: &str,
        topic: &str,
        options: &PublishOptions,
    ) -> Result<String, Error> {
        let mut query = Query::default();
        query.metadata(&options.metadata);
        Ok(self.url(&format!(
            "{prefix}/{}/{}{}",
            encode::segment("pubsub name", pubsub)?,
            encode::path("topic", topic)?,
            query.finish()
        )))
    }

    /// Publishes `event` to `topic` on the `pubsub` component.
    pub fn publish_event(&self, pubsub: &str, topic: &str, event: &Event) -> Result<(), Error> {
        self.publish_event_with(pubsub, topic, event, &PublishOptions::default())
    }

    /// Publishes with metadata (`rawPayload`, `ttlInSeconds`, ...).
    ///
    /// `POST /v1.0/publish/{pubsub}/{topic}?metadata.k=v`; a topic may contain `/`, which
    /// is kept between percent-encoded segments.
    pub fn publish_event_with(
        &self,
        pubsub: &str,
        topic: &str,
        event: &Event,
        options: &PublishOptions,
    ) -> Result<(), Error> {
        let url = self.publish_url("/v1.0/publish", pubsub, topic, options)?;
        let request = Request::post(url)
            .header("content-type", event.content_type.as_str())
            .body(event.data.clone());
        self.call(request)?;
        Ok(())
    }

    /// Publishes several events in one request, on the stable path (Dapr 1.17+).
    ///
    /// Entry ids must be present and unique. If some entries fail, the call fails with
    /// [`Error::BulkPublishFailed`] listing them (see
    /// [`Error::failed_entry_ids`]); the others were published.
    pub fn bulk_publish(
        &self,
        pubsub: &str,
        topic: &str,
        entries: &[BulkPublishEntry],
    ) -> Result<(), Error> {
        self.bulk_publish_with(pubsub, topic, entries, &PublishOptions::default())
    }

    /// Publishes several events with request metadata.
    ///
    /// `POST /v1.0/publish/bulk/{pubsub}/{topic}?metadata.k=v` with
    /// `[{"entryId","event","contentType","metadata"?}]`; 204 when every entry was
    /// published.
    ///
    /// daprd merges the request metadata only into entries that have metadata of
    /// their own ([`BulkPublishEntry::metadata`]); an entry without any gets none, so
    /// e.g. `cloudevent.*` overrides in `options` do not reach it. `rawPayload` is read
    /// from the request metadata for every entry.
    pub fn bulk_publish_with(
        &self,
        pubsub: &str,
        topic: &str,
        entries: &[BulkPublishEntry],
        options: &PublishOptions,
    ) -> Result<(), Error> {
        let mut seen = HashSet::new();
        for entry in entries {
            if entry.entry_id.is_empty() {
                return Err(Error::InvalidArgument(
                    "bulk publish entry id must not be empty".into(),
                ));
            }
            if !seen.insert(entry.entry_id.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "bulk publish entry id {:?} is repeated",
                    entry.entry_id
                )));
            }
        }
        let url = self.publish_url("/v1.0/publish/bulk", pubsub, topic, options)?;
        let request = Request::post(url)
            .header("content-type", JSON)
            .body(to_json("bulk publish entries", entries)?);
        let reply = self.execute(request)?;
        if reply.is_success() {
            return Ok(());
        }
        match serde_json::from_slice::<BulkPublishFailure>(&reply.body) {
            Ok(failure) if !failure.failed_entries.is_empty() => Err(Error::BulkPublishFailed {
                status: reply.status,
                error_code: failure.error_code,
                failed_entries: failure.failed_entries,
            }),
            _ => Err(error::from_response(reply.status, &reply.body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn publish_json() {
        let rec = Recorder::default();
        let event = Event::json(&json!({"orderId": 1})).unwrap();
        rec.client()
            .publish_event("pubsub", "orders", &event)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/publish/pubsub/orders");
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(req.body, br#"{"orderId":1}"#);
    }

    #[test]
    fn publish_text_bytes_and_cloud_event_content_types() {
        let cases = [
            (Event::text("hello"), "text/plain", b"hello".to_vec()),
            (
                Event::bytes(vec![0u8, 1, 255]),
                "application/octet-stream",
                vec![0, 1, 255],
            ),
            (
                Event::cloud_event(
                    &json!({"id": "1", "source": "s", "type": "t", "specversion": "1.0"}),
                )
                .unwrap(),
                "application/cloudevents+json",
                br#"{"id":"1","source":"s","specversion":"1.0","type":"t"}"#.to_vec(),
            ),
            (
                Event::with_content_type("application/xml", "<a/>"),
                "application/xml",
                b"<a/>".to_vec(),
            ),
        ];
        for (event, content_type, body) in cases {
            let rec = Recorder::default();
            rec.client().publish_event("pubsub", "t", &event).unwrap();
            let req = rec.single();
            assert_eq!(req.headers.get("content-type"), Some(content_type));
            assert_eq!(req.body, body);
        }
    }

    #[test]
    fn publish_metadata_and_topic_with_slashes() {
        let rec = Recorder::default();
        let options = PublishOptions::default()
            .raw_payload(true)
            .ttl_in_seconds(30)
            .metadata("cloudevent.id", "a b");
        rec.client()
            .publish_event_with(
                "my pubsub",
                "orders/eu west/#1",
                &Event::text("x"),
                &options,
            )
            .unwrap();
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0/publish/my%20pubsub/orders/eu%20west/%231?metadata.cloudevent.id=a%20b&metadata.rawPayload=true&metadata.ttlInSeconds=30"
        );
    }

    #[test]
    fn publish_errors() {
        let rec = Recorder::default();
        rec.reply(
            404,
            &[],
            r#"{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope not found"}"#,
        );
        let err = rec
            .client()
            .publish_event("nope", "t", &Event::text("x"))
            .unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_PUBSUB_NOT_FOUND"));
        assert!(matches!(
            rec.client().publish_event("p", "", &Event::text("x")),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn bulk_publish_body() {
        let rec = Recorder::default();
        let entries = [
            BulkPublishEntry::json("1", &json!({"a": 1})).unwrap(),
            BulkPublishEntry::text("2", "hi").metadata("k", "v"),
            BulkPublishEntry::bytes("3", [0u8, 255]),
            BulkPublishEntry::cloud_event("4", &json!({"id": "x"})).unwrap(),
        ];
        let options = PublishOptions::default().metadata("batch", "yes");
        rec.client()
            .bulk_publish_with("pubsub", "a/b", &entries, &options)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/publish/bulk/pubsub/a/b?metadata.batch=yes"
        );
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!([
                {"entryId": "1", "event": {"a": 1}, "contentType": "application/json"},
                {"entryId": "2", "event": "hi", "contentType": "text/plain", "metadata": {"k": "v"}},
                {"entryId": "3", "event": "AP8=", "contentType": "application/octet-stream"},
                {"entryId": "4", "event": {"id": "x"}, "contentType": "application/cloudevents+json"}
            ])
        );
    }

    #[test]
    fn bulk_publish_partial_failure() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"failedEntries":[{"entryId":"2","error":"broker down"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}"#,
        );
        let entries = [
            BulkPublishEntry::text("1", "a"),
            BulkPublishEntry::text("2", "b"),
        ];
        let err = rec.client().bulk_publish("p", "t", &entries).unwrap_err();
        let Error::BulkPublishFailed {
            status,
            error_code,
            failed_entries,
        } = err
        else {
            panic!("expected BulkPublishFailed, got {err:?}");
        };
        assert_eq!(status, 500);
        assert_eq!(error_code, "ERR_PUBSUB_PUBLISH_MESSAGE");
        assert_eq!(
            failed_entries,
            [FailedEntry {
                entry_id: "2".into(),
                error: "broker down".into()
            }]
        );
    }

    #[test]
    fn bulk_publish_failed_entry_ids_as_daprd_answers_them() {
        // 500 with no `message`, `error` omitted when nil, the JSON repeated in headers.
        let body = r#"{"failedEntries":[{"entryId":"b"},{"entryId":"c","error":"x"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}"#;
        let rec = Recorder::default();
        rec.reply(
            500,
            &[
                ("Content-Type", "application/json"),
                ("Metadata.responsedata", body),
                ("Metadata.error", "rpc error"),
            ],
            body,
        );
        let entries = [
            BulkPublishEntry::text("a", "1"),
            BulkPublishEntry::text("b", "2"),
            BulkPublishEntry::text("c", "3"),
        ];
        let err = rec.client().bulk_publish("p", "t", &entries).unwrap_err();
        assert_eq!(err.failed_entry_ids(), ["b", "c"]);
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.error_code(), Some("ERR_PUBSUB_PUBLISH_MESSAGE"));
        assert_eq!(
            err.to_string(),
            "bulk publish failed for 2 entries (ERR_PUBSUB_PUBLISH_MESSAGE)"
        );
        let Error::BulkPublishFailed { failed_entries, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(failed_entries[0].error, "");
        assert_eq!(failed_entries[1].error, "x");
    }

    #[test]
    fn bulk_publish_kit_errors_and_an_empty_failure_list() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[("content-type", "application/json")],
            r#"{"errorCode":"ERR_PUBSUB_EVENTS_SER","message":"error when marshalling cloud event envelope for topic t pubsub p: error: mismatch between contentType and event","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_PUBSUB_EVENTS_SER","domain":"dapr.io","metadata":{"pubsubName":"p","topic":"t"}},{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resource_type":"pubsub","resource_name":"p"}]}"#,
        );
        rec.reply(
            500,
            &[],
            r#"{"failedEntries":[],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}"#,
        );
        rec.reply(403, &[], r#"{"errorCode":"ERR_PUBSUB_FORBIDDEN","message":"topic t is not allowed","details":[]}"#);
        let entries = [BulkPublishEntry::text("1", "a")];
        let err = rec.client().bulk_publish("p", "t", &entries).unwrap_err();
        assert!(
            matches!(&err, Error::Dapr { status: 400, error_code, message }
                if error_code == "ERR_PUBSUB_EVENTS_SER" && message.ends_with("mismatch between contentType and event")),
            "{err:?}"
        );
        assert!(err.failed_entry_ids().is_empty());
        let err = rec.client().bulk_publish("p", "t", &entries).unwrap_err();
        assert!(
            matches!(&err, Error::Dapr { status: 500, error_code, message }
                if error_code == "ERR_PUBSUB_PUBLISH_MESSAGE" && message.is_empty()),
            "{err:?}"
        );
        let err = rec.client().bulk_publish("p", "t", &entries).unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_PUBSUB_FORBIDDEN"));
        // Every attempt went to the stable path.
        for req in rec.requests() {
            assert_eq!(req.url, "http://dapr:3500/v1.0/publish/bulk/p/t");
        }
    }

    #[test]
    fn bulk_publish_plain_error() {
        let rec = Recorder::default();
        rec.reply(
            404,
            &[],
            r#"{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"x"}"#,
        );
        let err = rec
            .client()
            .bulk_publish("p", "t", &[BulkPublishEntry::text("1", "a")])
            .unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_PUBSUB_NOT_FOUND"));
    }

    #[test]
    fn bulk_publish_refuses_bad_entry_ids() {
        let rec = Recorder::default();
        let dup = [
            BulkPublishEntry::text("1", "a"),
            BulkPublishEntry::text("1", "b"),
        ];
        assert!(matches!(
            rec.client().bulk_publish("p", "t", &dup),
            Err(Error::InvalidArgument(_))
        ));
        let empty = [BulkPublishEntry::text("", "a")];
        assert!(matches!(
            rec.client().bulk_publish("p", "t", &empty),
            Err(Error::InvalidArgument(_))
        ));
        assert!(rec.requests().is_empty());
    }
}
