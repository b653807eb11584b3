//! Receives the orders: a pub/sub subscriber that daprd calls.
//!
//! One source, two targets: built for `wasm32-wasip1` it is a module served by
//! `wasi-dapr serve` (CGI), for `wasm32-wasip2` a `wasi:http/proxy` component
//! (`wasmtime serve`, `wasi-dapr serve`); `export!` picks the entry point.
//!
//! Every request runs a fresh instance, which calls `build_app` and answers the
//! sidecar's `GET /dapr/subscribe` or decodes a delivery to `/orders` into a
//! `TopicEvent`. Good orders are `SUCCESS`, an invalid one is `DROP` (the sidecar then
//! sends it to the dead-letter topic, which this app also handles), and a flaky one is
//! `RETRY` on its first attempt. Nothing survives between instances, so attempts are
//! counted in the state store, keyed by the CloudEvent id (which a redelivery keeps).

use pubsub_rust::Order;
use wasi_dapr_sdk::app::{App, TopicEvent, TopicResult};
use wasi_dapr_sdk::dapr::Client;

wasi_dapr_sdk::app::export!(build_app);

fn build_app() -> App {
    let pubsub = std::env::var("PUBSUB_NAME").unwrap_or_else(|_| "pubsub".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "orders".into());
    let dead_letters = format!("{topic}-dead");
    let mut app = App::new();
    // Dropped orders go to the dead-letter topic, which this app also subscribes to.
    app.subscribe(&pubsub, &topic, "/orders", on_order)
        .dead_letter_topic(&dead_letters);
    app.subscribe(&pubsub, &dead_letters, "/orders-dead", on_dead_letter);
    app
}

fn on_dead_letter(event: &TopicEvent) -> TopicResult {
    match event.data_json::<Order>() {
        Ok(order) => eprintln!("dead letter: order {} ({})", order.order_id, order.item),
        Err(_) => eprintln!("dead letter: event {}", event.id),
    }
    TopicResult::Success
}

fn on_order(event: &TopicEvent) -> TopicResult {
    let order: Order = match event.data_json() {
        Ok(order) => order,
        Err(error) => {
            eprintln!("event {}: not an order ({error}), DROP", event.id);
            return TopicResult::Drop;
        }
    };
    if order.quantity == 0 {
        eprintln!("order {}: invalid (quantity 0), DROP", order.order_id);
        return TopicResult::Drop;
    }
    let mut attempt = String::new();
    if order.flaky {
        match count_attempt(&event.id) {
            Ok(1) => {
                eprintln!(
                    "order {}: flaky, failing attempt 1 on purpose, RETRY",
                    order.order_id
                );
                return TopicResult::Retry;
            }
            Ok(n) => attempt = format!(" (attempt {n})"),
            Err(error) => {
                eprintln!(
                    "order {}: cannot count attempts ({error}), RETRY",
                    order.order_id
                );
                return TopicResult::Retry;
            }
        }
    }
    eprintln!(
        "order {}: {} x {}{attempt}, SUCCESS",
        order.order_id, order.quantity, order.item
    );
    TopicResult::Success
}

/// Adds one to the delivery count of event `id` in the state store; returns the count.
fn count_attempt(id: &str) -> Result<u32, wasi_dapr_sdk::dapr::Error> {
    let store = std::env::var("STATE_STORE").unwrap_or_else(|_| "statestore".into());
    let client = Client::new();
    let key = format!("pubsub-rust-attempts-{id}");
    let attempts = client.get_state_json::<u32>(&store, &key)?.unwrap_or(0) + 1;
    client.save_state_json(&store, &key, &attempts)?;
    Ok(attempts)
}
