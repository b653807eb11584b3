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
}

/// The five orders the publisher sends in one bulk publish; the third is invalid.
pub fn sample_orders() -> Vec<Order> {
    [
        (1, "lightsaber", 1),
        (2, "astromech droid", 2),
        (3, "thermal detonator", 0),
        (4, "holocron", 1),
        (5, "kyber crystal", 3),
    ]
    .into_iter()
    .map(|(order_id, item, quantity)| Order {
        order_id,
        item: item.to_owned(),
        quantity,
    })
    .collect()
}
