//! Delivery and retry: a fixed number of workers per subscription (each on one keep-alive
//! connection to the app; bulk subscriptions' workers are in `bulk.rs`), SUCCESS/RETRY/DROP
//! and dead-letter topics, and loading the app's subscriptions at startup.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use super::broker;
use super::bulk;
use super::cloudevent::{CE_CONTENT_TYPE, Message, delivery_event};
use super::queue::DeliveryQueue;
use super::subscription::{Subscription, parse_app_subscriptions};
use crate::app::AppConnection;
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::gojson::{self, Shape};

/// The Go shape of the app's answer to a delivery (`AppResponse`), for [`gojson`].
const APP_RESPONSE: Shape = Shape::Struct(&[("status", Shape::Plain)]);

/// Installs subscriptions: a bounded queue each, and its delivery workers (batching ones
/// for a `bulkSubscribe` subscription).
pub(crate) fn install(ctx: &Arc<Ctx>, subs: Vec<Subscription>) {
    for sub in subs {
        let bulk = sub.bulk;
        let queue = Arc::new(DeliveryQueue::new(
            Arc::new(sub),
            ctx.tuning.delivery_queue,
            ctx.tuning.delivery_queue_bytes,
        ));
        for _ in 0..ctx.tuning.delivery_workers.max(1) {
            match bulk {
                Some(settings) => tokio::spawn(bulk::worker(ctx.clone(), queue.clone(), settings)),
                None => tokio::spawn(worker(ctx.clone(), queue.clone())),
            };
        }
        ctx.add_subscription(queue);
    }
}

/// One delivery worker: takes messages from its subscription's queue one at a time and
/// delivers each on its own kept connection, until shutdown.
async fn worker(ctx: Arc<Ctx>, queue: Arc<DeliveryQueue>) {
    let mut shutdown = ctx.shutdown_rx();
    let mut conn = AppConnection::default();
    loop {
        let msg = tokio::select! {
            msg = queue.take() => match msg {
                Some(msg) => msg,
                None => return,
            },
            () = wait_for_shutdown(&mut shutdown) => return,
        };
        tokio::select! {
            () = deliver(&ctx, &queue.sub, msg, &mut conn) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
    }
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Retry,
    Drop,
    NotFound,
}

async fn deliver_once(
    ctx: &Ctx,
    conn: &mut AppConnection,
    route: &str,
    pubsub: &str,
    body: &Bytes,
    msg: &Message,
) -> Outcome {
    let path = format!("/{}", route.trim_start_matches('/'));
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::CONTENT_TYPE, CE_CONTENT_TYPE)
        .header("traceparent", msg.traceparent.as_str());
    if !msg.tracestate.is_empty() {
        builder = builder.header("tracestate", msg.tracestate.as_str());
    }
    if let Ok(v) = HeaderValue::from_str(pubsub) {
        builder = builder.header("pubsubName", v);
    }
    if let Some(token) = ctx.app_token_header() {
        builder = builder.header("dapr-api-token", token);
    }
    let Ok(req) = builder.body(Full::new(body.clone())) else {
        tracing::warn!(%route, "invalid subscription route; message dropped");
        return Outcome::Drop;
    };
    match ctx.call_app_on(conn, req).await {
        Err(e) => {
            tracing::warn!(%route, error = %e, "delivering a pub/sub message failed; will retry");
            Outcome::Retry
        }
        Ok(res) if res.status == StatusCode::NOT_FOUND => {
            tracing::warn!(%route, "app answered 404 to a pub/sub message; dropped");
            Outcome::NotFound
        }
        Ok(res) if res.status.is_success() => {
            match gojson::to_value(&res.body, &APP_RESPONSE)
                .ok()
                .and_then(|v| v.get("status").cloned())
            {
                Some(Value::String(s)) => match s.to_ascii_uppercase().as_str() {
                    "" | "SUCCESS" => Outcome::Success,
                    "DROP" => Outcome::Drop,
                    "RETRY" => Outcome::Retry,
                    other => {
                        tracing::warn!(%route, status = other, "unknown status from the app; will retry");
                        Outcome::Retry
                    }
                },
                _ => Outcome::Success,
            }
        }
        Ok(res) => {
            tracing::warn!(%route, status = %res.status, "app failed a pub/sub message; will retry");
            Outcome::Retry
        }
    }
}

/// Delivers a message to one subscription with bounded retries, then dead-letters if asked.
async fn deliver(ctx: &Arc<Ctx>, sub: &Subscription, msg: Message, conn: &mut AppConnection) {
    if msg.expires.is_some_and(|t| t <= SystemTime::now()) {
        tracing::debug!(topic = %msg.topic, "message expired before delivery");
        return;
    }
    // daprd refuses the delivery (and dead-letters it) when the subscription's rawPayload
    // does not parse as a boolean.
    if let Err(e) = sub.raw_payload_setting() {
        tracing::error!(topic = %sub.topic, error = %e, "subscription metadata rawPayload is no boolean; message not delivered");
        broker::dead_letter(ctx, sub, &msg);
        return;
    }
    let event = delivery_event(&ctx.app_id, sub, &msg);
    let Some(route) = sub.route_for(&event).map(str::to_string) else {
        tracing::debug!(topic = %msg.topic, "no rule matched and no default route; message dropped");
        return;
    };
    let body = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.retry_initial_backoff;
    let attempts = ctx.tuning.max_delivery_attempts.max(1);
    let mut outcome = Outcome::Retry;
    for attempt in 1..=attempts {
        outcome = deliver_once(ctx, conn, &route, &sub.pubsub, &body, &msg).await;
        if outcome != Outcome::Retry || attempt == attempts {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.retry_max_backoff);
    }
    let dead_letter = match outcome {
        Outcome::Success | Outcome::NotFound => false,
        Outcome::Drop => true,
        Outcome::Retry => {
            tracing::warn!(topic = %msg.topic, attempts, "giving up on a pub/sub message after the last retry");
            true
        }
    };
    if dead_letter {
        broker::dead_letter(ctx, sub, &msg);
    }
}

/// Asks the app for its subscriptions until it answers, then installs them and marks ready.
pub(crate) async fn load_app_subscriptions(ctx: Arc<Ctx>) {
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.subscribe_initial_backoff;
    // One connection for `/dapr/subscribe` and `/dapr/config`, as daprd's app channel.
    let mut conn = crate::app::AppConnection::default();
    loop {
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri("/dapr/subscribe");
        if let Ok(v) = HeaderValue::from_str(&ctx.app_id) {
            builder = builder.header("dapr-app-id", v);
        }
        if let Some(token) = ctx.app_token_header() {
            builder = builder.header("dapr-api-token", token);
        }
        let Ok(req) = builder.body(Full::new(Bytes::new())) else {
            return;
        };
        match ctx.call_app_on(&mut conn, req).await {
            Ok(res) if res.status == StatusCode::OK => {
                let subs = parse_app_subscriptions(&res.body).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "the app's /dapr/subscribe answer is not a subscription list; no subscriptions");
                    Vec::new()
                });
                tracing::info!(count = subs.len(), "loaded the app's subscriptions");
                crate::actors::load_app_config(&ctx, &mut conn).await;
                install(&ctx, subs);
                ctx.set_ready();
                return;
            }
            Ok(res) if res.status == StatusCode::NOT_FOUND => {
                tracing::info!("the app has no /dapr/subscribe; no programmatic subscriptions");
                crate::actors::load_app_config(&ctx, &mut conn).await;
                ctx.set_ready();
                return;
            }
            Ok(res) => {
                tracing::warn!(status = %res.status, "the app failed GET /dapr/subscribe; asking again");
                if ctx.actors.hosted().is_none() {
                    crate::actors::load_app_config(&ctx, &mut conn).await;
                }
                ctx.set_ready();
            }
            Err(e) => {
                tracing::debug!(error = %e, "the app does not answer yet; asking again for subscriptions")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.subscribe_max_backoff);
    }
}
