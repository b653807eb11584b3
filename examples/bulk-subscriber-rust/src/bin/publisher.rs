//! Publishes five orders in one request with the stable bulk publish API
//! (`POST /v1.0/publish/bulk/pubsub/orders`), one entry per order.

use std::process::ExitCode;

use bulk_subscriber_rust::sample_orders;
use wasi_dapr_sdk::dapr::{BulkPublishEntry, Client, Error};

fn main() -> ExitCode {
    let pubsub = std::env::var("PUBSUB_NAME").unwrap_or_else(|_| "pubsub".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "orders".into());
    match publish(&Client::new(), &pubsub, &topic) {
        Ok(count) => {
            println!("bulk-published {count} orders to {pubsub}/{topic}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // A partial failure names the entries that were not published.
            eprintln!(
                "bulk publish failed: {error}; failed entries: {:?}",
                error.failed_entry_ids()
            );
            ExitCode::FAILURE
        }
    }
}

fn publish(client: &Client, pubsub: &str, topic: &str) -> Result<usize, Error> {
    let entries = sample_orders()
        .iter()
        .map(|order| BulkPublishEntry::json(format!("order-{}", order.order_id), order))
        .collect::<Result<Vec<_>, _>>()?;
    client.bulk_publish(pubsub, topic, &entries)?;
    Ok(entries.len())
}
