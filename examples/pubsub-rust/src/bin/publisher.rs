//! Publishes a few JSON orders to a Dapr pub/sub topic; run it with `wasi-dapr run`.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use pubsub_rust::sample_orders;
use wasi_dapr_sdk::dapr::{Client, Event};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pubsub-rust-publisher failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let pubsub = std::env::var("PUBSUB_NAME").unwrap_or_else(|_| "pubsub".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "orders".into());
    let client = Client::new();
    client.wait_for_sidecar(Duration::from_secs(10))?;

    // Each order goes out as `application/json`: the sidecar wraps it in a CloudEvent
    // (`data` = the order) and delivers it to every app subscribed to the topic.
    for order in sample_orders() {
        let event = Event::json(&order)?;
        client.publish_event(&pubsub, &topic, &event)?;
        println!(
            "published order {} to {pubsub}/{topic}: {}",
            order.order_id,
            String::from_utf8_lossy(&event.data)
        );
    }
    println!("pubsub-rust-publisher: done");
    Ok(())
}
