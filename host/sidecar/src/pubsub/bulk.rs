//! Bulk subscribe: a `bulkSubscribe` subscription's messages in batches, POSTed as daprd's bulk envelope per route, with per-entry statuses, retries of the failed entries and dead letters.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use super::broker::dead_letter;
use super::cloudevent::{CE_CONTENT_TYPE, Message, delivery_event};
use super::queue::DeliveryQueue;
use super::subscription::{BulkSettings, Subscription};
use crate::app::AppConnection;
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::gojson::{self, Shape};

/// One delivery worker of a bulk subscription: forms a batch (the workers take turns),
/// delivers it on its kept connection, until shutdown.
pub(crate) async fn worker(ctx: Arc<Ctx>, queue: Arc<DeliveryQueue>, settings: BulkSettings) {
    let mut shutdown = ctx.shutdown_rx();
    let mut conn = AppConnection::default();
    loop {
        let batch = tokio::select! {
            batch = queue.take_batch(settings.max_messages, settings.max_await) => match batch {
                Some(batch) => batch,
                None => return,
            },
            () = wait_for_shutdown(&mut shutdown) => return,
        };
        tokio::select! {
            () = deliver_batch(&ctx, &queue.sub, batch, &mut conn) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
    }
}

/// A message of a batch on its way to the app.
struct Pending {
    entry_id: String,
    event: Value,
    content_type: &'static str,
    msg: Message,
}

/// An entry of the bulk envelope (`BulkSubscribeMessageItem`, fields in struct order;
/// `metadata` has no omitempty: the in-memory broker has none, so it is `null`).
#[derive(serde::Serialize)]
struct EnvelopeEntry<'a> {
    #[serde(rename = "entryId")]
    entry_id: &'a str,
    event: &'a Value,
    metadata: Option<()>,
    #[serde(rename = "contentType")]
    content_type: &'a str,
}

/// The bulk envelope (`NewBulkSubscribeEnvelope`, a Go map: keys sorted).
#[derive(serde::Serialize)]
struct Envelope<'a> {
    entries: Vec<EnvelopeEntry<'a>>,
    id: &'a str,
    metadata: EnvelopeMetadata<'a>,
    pubsubname: &'a str,
    topic: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(serde::Serialize)]
struct EnvelopeMetadata<'a> {
    #[serde(rename = "pubsubName")]
    pubsub_name: &'a str,
}

/// What the app's answer means for one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryOutcome {
    Acked,
    /// Acked, and sent to the dead-letter topic if there is one.
    Dropped,
    Failed,
}

/// The app's answer to a bulk delivery (`AppBulkResponse`).
#[derive(Debug, Default, serde::Deserialize)]
struct AppBulkResponse {
    #[serde(default)]
    statuses: Option<Vec<AppBulkEntry>>,
}

#[derive(Debug, serde::Deserialize)]
struct AppBulkEntry {
    #[serde(default, rename = "entryId")]
    entry_id: String,
    #[serde(default)]
    status: String,
}

/// The Go shape of that answer, for [`gojson`].
const APP_BULK_RESPONSE: Shape = Shape::Struct(&[(
    "statuses",
    Shape::List(&Shape::Struct(&[
        ("entryId", Shape::Plain),
        ("status", Shape::Plain),
    ])),
)]);

/// Reads a 2xx answer: each entry's status (`SUCCESS`, `DROP`; anything else, `""` and a
/// missing entry are failures; unknown entry ids are ignored); a body that does not
/// decode fails every entry.
fn read_statuses(body: &[u8], ids: &[&str]) -> Vec<EntryOutcome> {
    let Ok(answer) = gojson::from_slice::<AppBulkResponse>(body, &APP_BULK_RESPONSE) else {
        return vec![EntryOutcome::Failed; ids.len()];
    };
    let mut out = vec![EntryOutcome::Failed; ids.len()];
    for s in answer.statuses.unwrap_or_default() {
        let Some(i) = ids.iter().position(|id| *id == s.entry_id) else {
            tracing::warn!(entry_id = %s.entry_id, "the app answered a status for an unknown bulk entry; ignored");
            continue;
        };
        out[i] = match s.status.as_str() {
            "SUCCESS" => EntryOutcome::Acked,
            "DROP" => EntryOutcome::Dropped,
            _ => EntryOutcome::Failed,
        };
    }
    out
}

/// One POST of `pending` to `route`; the outcome of each entry.
async fn post(
    ctx: &Ctx,
    conn: &mut AppConnection,
    sub: &Subscription,
    route: &str,
    envelope_id: &str,
    pending: &[Pending],
) -> Vec<EntryOutcome> {
    let envelope = Envelope {
        entries: pending
            .iter()
            .map(|p| EnvelopeEntry {
                entry_id: &p.entry_id,
                event: &p.event,
                metadata: None,
                content_type: p.content_type,
            })
            .collect(),
        id: envelope_id,
        metadata: EnvelopeMetadata {
            pubsub_name: &sub.pubsub,
        },
        pubsubname: &sub.pubsub,
        topic: &sub.topic,
        kind: "com.dapr.event.sent.bulk",
    };
    let all = |o: EntryOutcome| vec![o; pending.len()];
    let body = match serde_json::to_vec(&envelope) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            tracing::warn!(%route, error = %e, "serializing a bulk envelope failed");
            return all(EntryOutcome::Failed);
        }
    };
    let path = format!("/{}", route.trim_start_matches('/'));
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Ok(v) = HeaderValue::from_str(&sub.pubsub) {
        builder = builder.header("pubsubName", v);
    }
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    let Ok(req) = builder.body(Full::new(body)) else {
        tracing::warn!(%route, "invalid subscription route; bulk entries dropped");
        return all(EntryOutcome::Acked);
    };
    match ctx.call_app_on(conn, req).await {
        Err(e) => {
            tracing::warn!(%route, error = %e, "delivering bulk pub/sub messages failed; will retry");
            all(EntryOutcome::Failed)
        }
        Ok(res) if res.status == StatusCode::NOT_FOUND => {
            tracing::warn!(%route, "app answered 404 to bulk pub/sub messages; dropped");
            all(EntryOutcome::Acked)
        }
        Ok(res) if res.status.is_success() => {
            let ids: Vec<&str> = pending.iter().map(|p| p.entry_id.as_str()).collect();
            read_statuses(&res.body, &ids)
        }
        Ok(res) => {
            tracing::warn!(%route, status = %res.status, "app failed bulk pub/sub messages; will retry");
            all(EntryOutcome::Failed)
        }
    }
}

/// Delivers one route's entries: re-POSTs only the failed ones on the retry schedule,
/// then dead-letters what is still failed.
async fn deliver_route(
    ctx: &Arc<Ctx>,
    sub: &Subscription,
    conn: &mut AppConnection,
    route: &str,
    mut pending: Vec<Pending>,
) {
    let envelope_id = uuid::Uuid::new_v4().to_string();
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.retry_initial_backoff;
    let attempts = ctx.tuning.max_delivery_attempts.max(1);
    for attempt in 1..=attempts {
        let outcomes = post(ctx, conn, sub, route, &envelope_id, &pending).await;
        let mut failed = Vec::new();
        for (p, outcome) in pending.into_iter().zip(outcomes) {
            match outcome {
                EntryOutcome::Acked => {}
                EntryOutcome::Dropped => dead_letter(ctx, sub, &p.msg),
                EntryOutcome::Failed => failed.push(p),
            }
        }
        pending = failed;
        if pending.is_empty() || attempt == attempts {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.retry_max_backoff);
    }
    if !pending.is_empty() {
        tracing::warn!(topic = %sub.topic, entries = pending.len(), attempts, "giving up on bulk pub/sub entries after the last retry");
        for p in &pending {
            dead_letter(ctx, sub, &p.msg);
        }
    }
}

/// Delivers a batch: expired messages and those no route matches are dead-lettered, the
/// others grouped by route (in order of first appearance), one envelope per route.
async fn deliver_batch(
    ctx: &Arc<Ctx>,
    sub: &Subscription,
    batch: Vec<Message>,
    conn: &mut AppConnection,
) {
    let now = SystemTime::now();
    let raw = match sub.raw_payload_setting() {
        Ok(raw) => raw,
        Err(e) => {
            tracing::error!(topic = %sub.topic, error = %e, "subscription metadata rawPayload is no boolean; batch not delivered");
            for msg in &batch {
                dead_letter(ctx, sub, msg);
            }
            return;
        }
    };
    let mut routes: Vec<(String, Vec<Pending>)> = Vec::new();
    for msg in batch {
        if msg.expires.is_some_and(|t| t <= now) {
            tracing::debug!(topic = %msg.topic, "message expired before delivery");
            dead_letter(ctx, sub, &msg);
            continue;
        }
        let event = delivery_event(&ctx.app_id, sub, &msg);
        let Some(route) = sub.route_for(&event).map(str::to_string) else {
            tracing::debug!(topic = %msg.topic, "no rule matched and no default route");
            dead_letter(ctx, sub, &msg);
            continue;
        };
        let (event, content_type) = if raw {
            (
                Value::String(B64.encode(&msg.data)),
                "application/octet-stream",
            )
        } else {
            (event, CE_CONTENT_TYPE)
        };
        let p = Pending {
            entry_id: uuid::Uuid::new_v4().to_string(),
            event,
            content_type,
            msg,
        };
        match routes.iter_mut().find(|(r, _)| *r == route) {
            Some((_, list)) => list.push(p),
            None => routes.push((route, vec![p])),
        }
    }
    for (route, pending) in routes {
        deliver_route(ctx, sub, conn, &route, pending).await;
    }
}

#[cfg(test)]
mod tests {
    use super::EntryOutcome::*;
    use super::*;

    #[test]
    fn statuses_per_entry() {
        let ids = ["a", "b", "c", "d", "e"];
        let body = br#"{"statuses":[{"entryId":"a","status":"SUCCESS"},{"entryId":"b","status":"DROP"},
            {"entryId":"c","status":"RETRY"},{"entryId":"d","status":""},{"entryId":"zz","status":"SUCCESS"}]}"#;
        assert_eq!(
            read_statuses(body, &ids),
            [Acked, Dropped, Failed, Failed, Failed]
        );
        let mis_cased = br#"{"Statuses":[{"EntryID":"a","STATUS":"SUCCESS"},{"entryId":"b","status":"success"}]}"#;
        assert_eq!(
            read_statuses(mis_cased, &ids[..2]),
            [Acked, Failed],
            "keys fold, values do not"
        );
    }

    #[test]
    fn undecodable_answers_fail_every_entry() {
        let ids = ["a", "b"];
        for body in [
            &b""[..],
            b"ok",
            b"{",
            br#"{"statuses":"x"}"#,
            br#"{"statuses":[{"entryId":1}]}"#,
        ] {
            assert_eq!(
                read_statuses(body, &ids),
                [Failed, Failed],
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [&b"{}"[..], br#"{"statuses":[]}"#, br#"{"statuses":null}"#] {
            assert_eq!(
                read_statuses(body, &ids),
                [Failed, Failed],
                "missing entries are failures"
            );
        }
    }

    #[test]
    fn the_envelope_has_daprd_key_order() {
        let ev = serde_json::json!({"id": "1"});
        let env = Envelope {
            entries: vec![EnvelopeEntry {
                entry_id: "e",
                event: &ev,
                metadata: None,
                content_type: CE_CONTENT_TYPE,
            }],
            id: "x",
            metadata: EnvelopeMetadata {
                pubsub_name: "pubsub",
            },
            pubsubname: "pubsub",
            topic: "orders",
            kind: "com.dapr.event.sent.bulk",
        };
        assert_eq!(
            serde_json::to_string(&env).unwrap_or_default(),
            r#"{"entries":[{"entryId":"e","event":{"id":"1"},"metadata":null,"contentType":"application/cloudevents+json"}],"id":"x","metadata":{"pubsubName":"pubsub"},"pubsubname":"pubsub","topic":"orders","type":"com.dapr.event.sent.bulk"}"#
        );
    }
}
