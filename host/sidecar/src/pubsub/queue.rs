//! A subscription's delivery queue: bounded in messages and in bytes, shared by the
//! subscription's delivery workers. A message offered to a full queue is refused, so the
//! publisher sees the back-pressure instead of the sidecar growing without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

use super::cloudevent::Message;
use super::subscription::Subscription;

/// The queue of one subscription.
pub(crate) struct DeliveryQueue {
    pub sub: Arc<Subscription>,
    tx: mpsc::Sender<Message>,
    rx: Mutex<mpsc::Receiver<Message>>,
    capacity: usize,
    max_bytes: usize,
    queued_bytes: AtomicUsize,
    /// A warning was logged since the queue was last accepting (one per episode).
    warned_full: AtomicBool,
}

/// Why a message was not queued.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the delivery queue of the subscription to topic {topic} is full ({capacity} messages or {max_bytes} bytes waiting); the app is not keeping up"
)]
pub(crate) struct QueueFull {
    pub topic: String,
    pub capacity: usize,
    pub max_bytes: usize,
}

impl DeliveryQueue {
    /// An empty queue of at most `capacity` messages and `max_bytes` bytes of message data
    /// (a single message larger than `max_bytes` is still taken when the queue is empty).
    pub fn new(sub: Arc<Subscription>, capacity: usize, max_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        DeliveryQueue {
            sub,
            tx,
            rx: Mutex::new(rx),
            capacity,
            max_bytes,
            queued_bytes: AtomicUsize::new(0),
            warned_full: AtomicBool::new(false),
        }
    }

    fn full(&self) -> QueueFull {
        let err = QueueFull {
            topic: self.sub.topic.clone(),
            capacity: self.capacity,
            max_bytes: self.max_bytes,
        };
        if !self.warned_full.swap(true, Ordering::SeqCst) {
            tracing::warn!(pubsub = %self.sub.pubsub, error = %err, "refusing publishes until the queue drains");
        }
        err
    }

    /// Queues `msg` without waiting; refused when the queue is full.
    pub fn offer(&self, msg: Message) -> Result<(), QueueFull> {
        let size = msg.data.len();
        let before = self.queued_bytes.fetch_add(size, Ordering::SeqCst);
        if before > 0 && before.saturating_add(size) > self.max_bytes {
            self.queued_bytes.fetch_sub(size, Ordering::SeqCst);
            return Err(self.full());
        }
        match self.tx.try_send(msg) {
            Ok(()) => {
                self.warned_full.store(false, Ordering::SeqCst);
                Ok(())
            }
            Err(_) => {
                self.queued_bytes.fetch_sub(size, Ordering::SeqCst);
                Err(self.full())
            }
        }
    }

    /// The next message, waiting until there is one.
    pub async fn take(&self) -> Option<Message> {
        let msg = self.rx.lock().await.recv().await?;
        self.queued_bytes
            .fetch_sub(msg.data.len(), Ordering::SeqCst);
        Some(msg)
    }

    /// A batch for a bulk subscription: waits for a first message, then takes more until
    /// `max` or until `max_await` after the first. One worker forms a batch at a time (the
    /// others wait), so batches keep the queue's order. The batch's bytes count against
    /// the queue's byte budget until it is complete.
    pub async fn take_batch(&self, max: usize, max_await: Duration) -> Option<Vec<Message>> {
        let mut rx = self.rx.lock().await;
        let first = rx.recv().await?;
        let deadline = tokio::time::Instant::now() + max_await;
        let mut batch = vec![first];
        while batch.len() < max.max(1) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) | Err(_) => break,
            }
        }
        drop(rx);
        let bytes: usize = batch.iter().map(|m| m.data.len()).sum();
        self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn sub() -> Arc<Subscription> {
        let body = br#"[{"pubsubname":"p","topic":"t","route":"/t"}]"#;
        let mut subs = super::super::subscription::parse_app_subscriptions(body).unwrap();
        Arc::new(subs.remove(0))
    }

    fn msg(len: usize) -> Message {
        Message {
            pubsub: "p".into(),
            topic: "t".into(),
            data: Bytes::from(vec![b'x'; len]),
            raw: false,
            expires: None,
            traceparent: String::new(),
            tracestate: String::new(),
            dead_lettered: false,
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_until_a_worker_takes_a_message() {
        let q = DeliveryQueue::new(sub(), 2, 1 << 20);
        q.offer(msg(1)).unwrap();
        q.offer(msg(1)).unwrap();
        assert!(q.offer(msg(1)).is_err());
        assert!(q.take().await.is_some());
        q.offer(msg(1)).unwrap();
    }

    #[tokio::test]
    async fn batches_flush_at_the_count_or_after_the_wait() {
        let q = DeliveryQueue::new(sub(), 100, 1 << 20);
        for _ in 0..5 {
            q.offer(msg(1)).unwrap();
        }
        let wait = Duration::from_millis(30);
        assert_eq!(q.take_batch(2, wait).await.map(|b| b.len()), Some(2));
        assert_eq!(q.take_batch(2, wait).await.map(|b| b.len()), Some(2));
        let started = std::time::Instant::now();
        assert_eq!(q.take_batch(2, wait).await.map(|b| b.len()), Some(1));
        assert!(
            started.elapsed() >= wait,
            "a short batch waits for max_await"
        );
        q.offer(msg(7)).unwrap();
        assert_eq!(
            q.take_batch(0, wait).await.map(|b| b.len()),
            Some(1),
            "max 0 is 1"
        );
        q.offer(msg(1)).unwrap();
        q.offer(msg(1)).unwrap();
        assert!(
            q.offer(msg(1 << 20)).is_err(),
            "the byte budget still holds"
        );
    }

    #[tokio::test]
    async fn the_byte_budget_bounds_the_queue_too() {
        let q = DeliveryQueue::new(sub(), 100, 10);
        q.offer(msg(25)).unwrap(); // alone, a large message still fits
        assert!(q.offer(msg(1)).is_err());
        assert_eq!(q.take().await.map(|m| m.data.len()), Some(25));
        q.offer(msg(6)).unwrap();
        assert!(q.offer(msg(6)).is_err());
        q.offer(msg(4)).unwrap();
    }
}
