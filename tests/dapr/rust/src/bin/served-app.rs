//! A `wasi-dapr serve` app for the host's `app_rust` tests, built on `wasi_dapr_sdk::app`.
//! It records what it receives in the state store (`STATE_STORE`, default `statestore`)
//! so a test can read it back from the sidecar:
//!
//! - topic `orders` on `pubsub` at `/orders`, rule `event.type == "priority"` →
//!   `/orders/priority`, dead-letter topic `orders-dead`; topic `raw` at `/raw` with
//!   `rawPayload`. Each delivery counts `attempts-<case>` and saves `event-<case>` =
//!   `{"attempt","route","event","decoded"}`, where `<case>` is the data's `case` field,
//!   else the CloudEvent id. The data's `answer` picks the result: `retry` (always),
//!   `retry-once` (RETRY on the first attempt), `drop`, anything else SUCCESS.
//! - topic `orders-dead` at `/dead`: saves `dead-<case>` = the event.
//! - bulk topic `bulk-orders` at `/bulk` (at most 3 messages per batch, 200 ms,
//!   dead-letter topic `orders-dead`) and bulk topic `bulk-raw` at `/bulk-raw` with
//!   `rawPayload`: each batch saves `batch-<envelope id>` = `{"route","topic","entries"}`
//!   (the entry ids); each entry counts `attempts-<case>` and saves `bulk-<case>` =
//!   `{"attempt","route","entryId","contentType","metadata","event","data"}`, the status
//!   picked by `answer` as above (`<case>`: the data's `case`, else the entry id).
//! - jobs `served-job` (saves `job-served-job` = `{"count","data","contentType"}`) and
//!   `failing-job` (counts `attempts-failing-job`, always fails).
//! - input binding `tick`: counts `ticks`.
//! - configuration store `configstore`: saves `config-<key>` = the update.
//! - invocation `publish`: publishes the request's JSON body to `pubsub/orders` and
//!   answers 204 (a guest that calls the sidecar while serving a request, for the trace
//!   context tests); a body that is not JSON gets 400.

use std::error::Error;

use serde_json::{Map, Value, json};
use wasi_dapr_sdk::app::{
    App, BindingEvent, BulkEntry, BulkEntryEvent, BulkEntryStatus, BulkMessage,
    ConfigurationUpdate, HandlerResult, JobEvent, Request, Response, TopicEvent, TopicResult,
};
use wasi_dapr_sdk::dapr::{Client, Event};

fn main() {
    let mut app = App::new();
    app.subscribe("pubsub", "orders", "/orders", on_event)
        .rule(r#"event.type == "priority""#, "/orders/priority", on_event)
        .dead_letter_topic("orders-dead");
    app.subscribe("pubsub", "raw", "/raw", on_event)
        .raw_payload(true);
    app.subscribe("pubsub", "orders-dead", "/dead", on_dead);
    app.subscribe_bulk("pubsub", "bulk-orders", "/bulk", on_bulk)
        .max_messages_count(3)
        .max_await_duration_ms(200)
        .dead_letter_topic("orders-dead");
    app.subscribe_bulk("pubsub", "bulk-raw", "/bulk-raw", on_bulk)
        .raw_payload(true);
    app.on_job("served-job", on_served_job);
    app.on_job("failing-job", on_failing_job);
    app.on_binding("tick", on_tick);
    app.on_configuration("configstore", on_configuration);
    app.on_invoke("publish", on_publish);
    app.run();
}

fn on_publish(request: &Request) -> Response {
    let data = match request.json::<Value>() {
        Ok(data) => data,
        Err(error) => return Response::text(format!("not JSON: {error}\n")).with_status(400),
    };
    let published = Event::json(&data)
        .and_then(|event| Client::new().publish_event("pubsub", "orders", &event));
    match published {
        Ok(()) => Response::new(204),
        Err(error) => Response::text(format!("publish failed: {error}\n")).with_status(502),
    }
}

fn store() -> String {
    std::env::var("STATE_STORE").unwrap_or_else(|_| "statestore".into())
}

/// The data's `case` field, else the CloudEvent id.
fn case_of(event: &TopicEvent) -> String {
    event
        .data_json::<Value>()
        .ok()
        .and_then(|data| data.get("case").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| event.id.clone())
}

/// Adds one to the number stored at `key`; returns the new count.
fn count(client: &Client, key: &str) -> Result<u64, wasi_dapr_sdk::dapr::Error> {
    let n = client.get_state_json::<u64>(&store(), key)?.unwrap_or(0) + 1;
    client.save_state_json(&store(), key, &n)?;
    Ok(n)
}

/// What the SDK decoded, for the test to compare with the raw event.
fn decoded(event: &TopicEvent) -> Value {
    json!({
        "id": event.id,
        "source": event.source,
        "type": event.event_type,
        "specversion": event.spec_version,
        "datacontenttype": event.data_content_type,
        "subject": event.subject,
        "time": event.time,
        "topic": event.topic,
        "pubsubname": event.pubsub_name,
        "pubsubname_header": event.headers.get("pubsubname"),
        "data_json": event.data_json::<Value>().ok(),
        "data_text": event.data_text().ok(),
        "data_bytes": event.data_bytes(),
    })
}

fn on_event(event: &TopicEvent) -> TopicResult {
    match record(event) {
        Ok(result) => result,
        Err(error) => {
            eprintln!("served-app: recording event {} failed: {error}", event.id);
            TopicResult::Retry
        }
    }
}

fn record(event: &TopicEvent) -> Result<TopicResult, Box<dyn Error>> {
    let client = Client::new();
    let case = case_of(event);
    let attempt = count(&client, &format!("attempts-{case}"))?;
    let record = json!({
        "attempt": attempt,
        "route": event.route,
        "event": Value::Object(event.fields().clone()),
        "decoded": decoded(event),
    });
    client.save_state_json(&store(), &format!("event-{case}"), &record)?;
    let answer = event.data_json::<Value>().ok().and_then(|data| {
        data.get("answer")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let result = match answer.as_deref() {
        Some("retry") => TopicResult::Retry,
        Some("retry-once") if attempt == 1 => TopicResult::Retry,
        Some("drop") => TopicResult::Drop,
        _ => TopicResult::Success,
    };
    eprintln!(
        "served-app: {case} attempt {attempt} on {}: {}",
        event.route,
        result.as_str()
    );
    Ok(result)
}

fn on_dead(event: &TopicEvent) -> TopicResult {
    let client = Client::new();
    let key = format!("dead-{}", case_of(event));
    match client.save_state_json(&store(), &key, &Value::Object(event.fields().clone())) {
        Ok(()) => TopicResult::Success,
        Err(error) => {
            eprintln!("served-app: saving {key} failed: {error}");
            TopicResult::Retry
        }
    }
}

fn on_tick(event: &BindingEvent) -> HandlerResult {
    let n = count(&Client::new(), "ticks")?;
    eprintln!("served-app: {} event {n}", event.name);
    Ok(())
}

fn on_configuration(update: &ConfigurationUpdate) -> HandlerResult {
    let items: Map<String, Value> = update
        .items
        .iter()
        .map(|(key, item)| {
            (
                key.clone(),
                json!({"value": item.value, "version": item.version}),
            )
        })
        .collect();
    let record = json!({"store": update.store, "key": update.key, "id": update.id, "items": items});
    Client::new().save_state_json(&store(), &format!("config-{}", update.key), &record)?;
    Ok(())
}

fn on_bulk(batch: &BulkMessage) -> Vec<BulkEntryStatus> {
    let client = Client::new();
    let ids: Vec<&str> = batch.entries.iter().map(|e| e.entry_id.as_str()).collect();
    let record = json!({"route": batch.route, "topic": batch.topic, "entries": ids});
    if let Err(error) = client.save_state_json(&store(), &format!("batch-{}", batch.id), &record) {
        eprintln!("served-app: recording batch {} failed: {error}", batch.id);
    }
    batch
        .entries
        .iter()
        .map(|entry| {
            let result = record_entry(&client, batch, entry).unwrap_or_else(|error| {
                eprintln!(
                    "served-app: recording entry {} failed: {error}",
                    entry.entry_id
                );
                TopicResult::Retry
            });
            entry.status(result)
        })
        .collect()
}

fn record_entry(
    client: &Client,
    batch: &BulkMessage,
    entry: &BulkEntry,
) -> Result<TopicResult, Box<dyn Error>> {
    let data = entry.data_json::<Value>().ok();
    let case = data
        .as_ref()
        .and_then(|d| d.get("case").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| entry.entry_id.clone());
    let attempt = count(client, &format!("attempts-{case}"))?;
    let event = match &entry.event {
        BulkEntryEvent::CloudEvent(event) => Value::Object(event.fields().clone()),
        BulkEntryEvent::Raw(bytes) => json!({"raw": bytes}),
    };
    let record = json!({
        "attempt": attempt,
        "route": batch.route,
        "entryId": entry.entry_id,
        "contentType": entry.content_type,
        "metadata": entry.metadata,
        "event": event,
        "data": data,
    });
    client.save_state_json(&store(), &format!("bulk-{case}"), &record)?;
    let answer = data
        .as_ref()
        .and_then(|d| d.get("answer").and_then(Value::as_str));
    let result = match answer {
        Some("retry") => TopicResult::Retry,
        Some("retry-once") if attempt == 1 => TopicResult::Retry,
        Some("drop") => TopicResult::Drop,
        _ => TopicResult::Success,
    };
    eprintln!(
        "served-app: bulk {case} attempt {attempt} on {}: {}",
        batch.route,
        result.as_str()
    );
    Ok(result)
}

fn on_served_job(job: &JobEvent) -> HandlerResult {
    let client = Client::new();
    let n = count(&client, &format!("attempts-{}", job.name))?;
    let record = json!({
        "count": n,
        "data": job.json::<Value>().ok(),
        "contentType": job.headers.get("content-type"),
    });
    client.save_state_json(&store(), &format!("job-{}", job.name), &record)?;
    eprintln!("served-app: job {} triggered ({n})", job.name);
    Ok(())
}

fn on_failing_job(job: &JobEvent) -> HandlerResult {
    let n = count(&Client::new(), &format!("attempts-{}", job.name))?;
    Err(format!("job {} fails on purpose (attempt {n})", job.name).into())
}
