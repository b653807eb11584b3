//! The in-memory broker's publish side: a message queued for every subscription of its pub/sub and topic.

use std::sync::Arc;

use super::cloudevent::Message;
use super::queue::{DeliveryQueue, QueueFull};
use crate::ctx::Ctx;

/// Queues a message for every matching subscription. A full queue refuses it (the other
/// subscriptions still get it) and the error is returned for the publisher.
pub(crate) fn dispatch(ctx: &Arc<Ctx>, msg: Message) -> Result<(), QueueFull> {
    let queues: Vec<Arc<DeliveryQueue>> = ctx
        .subscriptions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|q| q.sub.pubsub == msg.pubsub && q.sub.topic == msg.topic)
        .cloned()
        .collect();
    if queues.is_empty() {
        tracing::debug!(pubsub = %msg.pubsub, topic = %msg.topic, "no subscriber; message dropped");
    }
    let mut refused = None;
    for q in queues {
        if let Err(e) = q.offer(msg.clone()) {
            refused = Some(e);
        }
    }
    refused.map_or(Ok(()), Err)
}
