//! The in-memory broker's publish side: a message queued for every subscription of its pub/sub and topic.

use std::sync::Arc;

use super::cloudevent::Message;
use super::queue::{DeliveryQueue, QueueFull};
use super::subscription::Subscription;
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

/// Sends a message to the subscription's dead-letter topic, if it has one (never twice).
pub(crate) fn dead_letter(ctx: &Arc<Ctx>, sub: &Subscription, msg: &Message) {
    let Some(dlt) = sub.dead_letter.as_ref().filter(|_| !msg.dead_lettered) else {
        tracing::debug!(topic = %msg.topic, "message dropped without a dead-letter topic");
        return;
    };
    let mut dl = msg.clone();
    dl.topic = dlt.clone();
    dl.dead_lettered = true;
    if let Err(e) = dispatch(ctx, dl) {
        tracing::warn!(topic = %dlt, error = %e, "dead-letter message dropped");
    }
}
