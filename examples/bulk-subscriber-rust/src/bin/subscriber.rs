//! Receives the orders in batches: a bulk subscription that daprd calls with up to 10
//! messages at a time, answered with one status per message.
//!
//! One source, two targets: a module served by `wasi-dapr serve` (CGI) on
//! `wasm32-wasip1`, a `wasi:http/proxy` component on `wasm32-wasip2`.

use bulk_subscriber_rust::Order;
use wasi_dapr_sdk::app::{App, BulkEntry, BulkEntryStatus, BulkMessage, TopicResult};

wasi_dapr_sdk::app::export!(build_app);

fn build_app() -> App {
    let pubsub = std::env::var("PUBSUB_NAME").unwrap_or_else(|_| "pubsub".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "orders".into());
    let mut app = App::new();
    // daprd delivers a batch once it has 10 messages, or 1 s after the first one.
    app.subscribe_bulk(&pubsub, &topic, "/orders", on_batch)
        .max_messages_count(10)
        .max_await_duration_ms(1000);
    app
}

fn on_batch(batch: &BulkMessage) -> Vec<BulkEntryStatus> {
    // Logged by the host as `guest: ...`.
    eprintln!(
        "batch of {} from {}/{}",
        batch.entries.len(),
        batch.pubsub_name,
        batch.topic
    );
    batch.each(on_order)
}

fn on_order(entry: &BulkEntry) -> TopicResult {
    match entry.data_json::<Order>() {
        Ok(order) if order.quantity == 0 => {
            eprintln!("order {}: invalid (quantity 0), DROP", order.order_id);
            TopicResult::Drop
        }
        Ok(order) => {
            eprintln!(
                "order {}: {} x {}, SUCCESS",
                order.order_id, order.quantity, order.item
            );
            TopicResult::Success
        }
        Err(error) => {
            eprintln!("entry {}: not an order ({error}), DROP", entry.entry_id);
            TopicResult::Drop
        }
    }
}
