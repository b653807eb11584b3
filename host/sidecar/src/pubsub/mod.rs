//! Pub/sub: publishing (`publish.rs`), CloudEvents (`cloudevent.rs`), subscriptions and
//! routing rules (`subscription.rs`), each subscription's bounded queue (`queue.rs`), the
//! broker's fan-out (`broker.rs`), and delivery to the app with retries (`delivery.rs`,
//! batched for bulk subscriptions in `bulk.rs`), over an in-memory broker.

pub(crate) mod broker;
pub(crate) mod bulk;
pub(crate) mod cloudevent;
pub(crate) mod delivery;
pub(crate) mod publish;
pub(crate) mod queue;
pub(crate) mod subscription;
