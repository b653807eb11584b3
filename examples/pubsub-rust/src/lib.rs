//! The order both halves of the example agree on.

use serde::{Deserialize, Serialize};

/// An order, published as JSON: `{"orderId":1,"item":"lightsaber","quantity":1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The order number.
    pub order_id: u32,
    /// What was ordered.
    pub item: String,
    /// How many; 0 makes the order invalid (the subscriber drops it).
    pub quantity: u32,
    /// Asks the subscriber to fail the first delivery, to show a retry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
}

/// The orders the publisher sends: a good one, a flaky one and an invalid one.
pub fn sample_orders() -> Vec<Order> {
    let order = |order_id, item: &str, quantity, flaky| Order {
        order_id,
        item: item.to_owned(),
        quantity,
        flaky,
    };
    vec![
        order(1, "lightsaber", 1, false),
        order(2, "astromech droid", 2, true),
        order(3, "thermal detonator", 0, false),
    ]
}
