//! Publishes a JSON, a text and a binary event to a Dapr pub/sub topic.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use wasi_dapr_sdk::dapr::{Client, Event, PublishOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("publish-rust failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let pubsub = std::env::var("PUBSUB_NAME").unwrap_or_else(|_| "pubsub".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "orders".into());
    let client = Client::new();
    client.wait_for_sidecar(Duration::from_secs(10))?;

    // The content type decides how daprd wraps each body in a CloudEvent: JSON becomes
    // `data`, text becomes `data` as a string, bytes become `data_base64`.
    let events = [
        (
            "json",
            Event::json(&json!({"orderId": 1, "item": "lightsaber"}))?,
        ),
        ("text", Event::text("order 2: one astromech droid")),
        ("bytes", Event::bytes(vec![0x00, 0x01, 0xfe, 0xff])),
    ];
    for (kind, event) in &events {
        client.publish_event(&pubsub, &topic, event)?;
        println!(
            "published {kind} ({}, {} bytes) to {pubsub}/{topic}",
            event.content_type,
            event.data.len()
        );
    }

    // Metadata travels as `metadata.*` query parameters; this message expires after
    // a minute if nobody takes it.
    let options = PublishOptions::default().ttl_in_seconds(60);
    client.publish_event_with(&pubsub, &topic, &Event::text("order 3: expires"), &options)?;
    println!("published text with ttlInSeconds=60 to {pubsub}/{topic}");
    println!("publish-rust: done");
    Ok(())
}
