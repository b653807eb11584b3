//! What a sidecar is started with: `SidecarOptions` (addresses, app, tokens) and
//! `SidecarTuning` (limits and retry schedules), each default a `pub const`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// daprd's default HTTP port, and the sidecar's (`--dapr-http-port`).
pub const DEFAULT_HTTP_PORT: u16 = 3500;
/// The default app id (`--app-id`).
pub const DEFAULT_APP_ID: &str = "app";
/// The largest request body accepted, daprd's default `max-body-size` (4 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Deadline of one call to the app.
pub const DEFAULT_APP_TIMEOUT: Duration = Duration::from_secs(60);
/// Delivery attempts per message and subscription.
pub const DEFAULT_MAX_DELIVERY_ATTEMPTS: u32 = 5;
/// First pause between delivery attempts.
pub const DEFAULT_RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Longest pause between delivery attempts.
pub const DEFAULT_RETRY_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First pause before asking the app for `GET /dapr/subscribe` again.
pub const DEFAULT_SUBSCRIBE_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Longest pause between those asks.
pub const DEFAULT_SUBSCRIBE_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Deadline for connecting to a component's backend at startup.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages waiting for delivery per subscription; a publish to a full queue is refused.
pub const DEFAULT_DELIVERY_QUEUE: usize = 1024;
/// Bytes of message data waiting for delivery per subscription (64 MiB).
pub const DEFAULT_DELIVERY_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Delivery workers per subscription, each with one keep-alive connection to the app.
pub const DEFAULT_DELIVERY_WORKERS: usize = 4;
/// The most entries `PUT /v1.0/metadata/{key}` keeps in `extended`.
pub const DEFAULT_MAX_METADATA_KEYS: usize = 64;
/// The largest `extended` metadata value (and key) accepted, in bytes.
pub const DEFAULT_MAX_METADATA_VALUE_BYTES: usize = 32 * 1024;
/// The most locks one lock store holds at a time (expired ones are swept first).
pub const DEFAULT_MAX_LOCKS: usize = 10_000;
/// The longest lock `resourceId` or `lockOwner` accepted, in bytes.
pub const DEFAULT_MAX_LOCK_ID_BYTES: usize = 1024;
/// The most jobs (`/v1.0/jobs/{name}`) the sidecar holds at a time.
pub const DEFAULT_MAX_JOBS: usize = 10_000;
/// Job triggers in flight to the app at a time.
pub const DEFAULT_JOB_TRIGGER_CONCURRENCY: usize = 8;

/// How often active actors are checked for idleness (deactivation after their type's
/// `actorIdleTimeout`).
pub const DEFAULT_ACTOR_SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// The most actors active at a time; activating one more is refused.
pub const DEFAULT_MAX_ACTIVE_ACTORS: usize = 10_000;
/// Calls queued for one actor's turn at a time (the one running included).
pub const DEFAULT_MAX_ACTOR_PENDING_CALLS: usize = 256;
/// The most actor reminders held at a time.
pub const DEFAULT_MAX_ACTOR_REMINDERS: usize = 10_000;
/// The most actor timers held at a time.
pub const DEFAULT_MAX_ACTOR_TIMERS: usize = 10_000;
/// Idle keep-alive connections to the app kept between calls.
pub const DEFAULT_MAX_IDLE_APP_CONNECTIONS: usize = 32;

/// What the sidecar listens on and which app it serves.
#[derive(Clone)]
pub struct SidecarOptions {
    /// The HTTP address (default `127.0.0.1:3500`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The app id (default `app`); state keys are stored as `<app_id>||<key>`.
    pub app_id: String,
    /// The app's port on 127.0.0.1, for subscriptions, delivery and invocation (default none).
    pub app_port: Option<u16>,
    /// A folder of component YAML files (default none: in-memory `statestore` and `pubsub`).
    pub resources_path: Option<PathBuf>,
    /// `DAPR_API_TOKEN`: when set, every call but the health checks needs `dapr-api-token`.
    pub api_token: Option<String>,
    /// `APP_API_TOKEN`: sent to the app as `dapr-api-token`.
    pub app_api_token: Option<String>,
}

impl std::fmt::Debug for SidecarOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("SidecarOptions")
            .field("listen", &self.listen)
            .field("app_id", &self.app_id)
            .field("app_port", &self.app_port)
            .field("resources_path", &self.resources_path)
            .field("api_token", &redact(&self.api_token))
            .field("app_api_token", &redact(&self.app_api_token))
            .finish()
    }
}

impl Default for SidecarOptions {
    fn default() -> Self {
        SidecarOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_HTTP_PORT)),
            app_id: DEFAULT_APP_ID.to_string(),
            app_port: None,
            resources_path: None,
            api_token: None,
            app_api_token: None,
        }
    }
}

/// Limits and retry schedules; the defaults suit development, tests shorten them.
#[derive(Debug, Clone)]
pub struct SidecarTuning {
    /// Largest request body accepted (default 4 MiB, daprd's `max-body-size`); larger → 413.
    /// Also caps the app's response bodies.
    pub max_body_bytes: usize,
    /// Deadline of one call to the app (default 60 s).
    pub app_timeout: Duration,
    /// Delivery attempts per message and subscription before giving up (default 5).
    pub max_delivery_attempts: u32,
    /// First pause between delivery attempts, doubled each time (default 200 ms).
    pub retry_initial_backoff: Duration,
    /// Longest pause between delivery attempts (default 5 s).
    pub retry_max_backoff: Duration,
    /// First pause before asking the app for `GET /dapr/subscribe` again (default 200 ms).
    pub subscribe_initial_backoff: Duration,
    /// Longest pause between those asks (default 5 s).
    pub subscribe_max_backoff: Duration,
    /// Deadline for connecting to a component's backend at startup (default 5 s).
    pub connect_timeout: Duration,
    /// Messages waiting for delivery per subscription (default 1024); when full, a publish
    /// is answered `500 ERR_PUBSUB_PUBLISH_MESSAGE`.
    pub delivery_queue: usize,
    /// Bytes of message data waiting per subscription (default 64 MiB; one message is
    /// always taken by an empty queue); past it a publish is refused the same way.
    pub delivery_queue_bytes: usize,
    /// Delivery workers per subscription (default 4), each reusing one keep-alive
    /// connection to the app: at most this many messages of one subscription are in flight.
    pub delivery_workers: usize,
    /// The most `extended` metadata entries (default 64); a new key beyond → 400.
    pub max_metadata_keys: usize,
    /// The largest `extended` metadata key or value in bytes (default 32 KiB); larger → 413.
    pub max_metadata_value_bytes: usize,
    /// The most locks per lock store (default 10,000), expired locks swept first; a new
    /// lock beyond → 500 `ERR_TRY_LOCK`.
    pub max_locks: usize,
    /// The longest lock `resourceId` / `lockOwner` in bytes (default 1024); longer → 400.
    pub max_lock_id_bytes: usize,
    /// The most jobs held at a time (default 10,000); a new job beyond → 500
    /// `DAPR_SCHEDULER_SCHEDULE_JOB` (replacing one with `overwrite` is fine).
    pub max_jobs: usize,
    /// Job triggers in flight to the app at a time (default 8); due triggers wait. Also
    /// the reminder ticks and the timer ticks in flight, each.
    pub job_trigger_concurrency: usize,
    /// How often active actors are checked for idleness (default 1 s).
    pub actor_scan_interval: Duration,
    /// The most actors active at a time (default 10,000); a call that would activate one
    /// more is `500 ERR_ACTOR_INVOKE_METHOD`.
    pub max_active_actors: usize,
    /// Calls queued for one actor at a time, the running turn included (default 256); one
    /// more is `500 ERR_ACTOR_INVOKE_METHOD`.
    pub max_actor_pending_calls: usize,
    /// The most actor reminders (default 10,000); a new one beyond is
    /// `500 ERR_ACTOR_REMINDER_CREATE`.
    pub max_actor_reminders: usize,
    /// The most actor timers (default 10,000); a new one beyond is
    /// `500 ERR_ACTOR_TIMER_CREATE`.
    pub max_actor_timers: usize,
    /// Idle keep-alive connections to the app kept for the next calls (default 32);
    /// calls beyond them open connections of their own, closed after the call.
    pub max_idle_app_connections: usize,
}

impl Default for SidecarTuning {
    fn default() -> Self {
        SidecarTuning {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            app_timeout: DEFAULT_APP_TIMEOUT,
            max_delivery_attempts: DEFAULT_MAX_DELIVERY_ATTEMPTS,
            retry_initial_backoff: DEFAULT_RETRY_INITIAL_BACKOFF,
            retry_max_backoff: DEFAULT_RETRY_MAX_BACKOFF,
            subscribe_initial_backoff: DEFAULT_SUBSCRIBE_INITIAL_BACKOFF,
            subscribe_max_backoff: DEFAULT_SUBSCRIBE_MAX_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            delivery_queue: DEFAULT_DELIVERY_QUEUE,
            delivery_queue_bytes: DEFAULT_DELIVERY_QUEUE_BYTES,
            delivery_workers: DEFAULT_DELIVERY_WORKERS,
            max_metadata_keys: DEFAULT_MAX_METADATA_KEYS,
            max_metadata_value_bytes: DEFAULT_MAX_METADATA_VALUE_BYTES,
            max_locks: DEFAULT_MAX_LOCKS,
            max_lock_id_bytes: DEFAULT_MAX_LOCK_ID_BYTES,
            max_jobs: DEFAULT_MAX_JOBS,
            job_trigger_concurrency: DEFAULT_JOB_TRIGGER_CONCURRENCY,
            actor_scan_interval: DEFAULT_ACTOR_SCAN_INTERVAL,
            max_active_actors: DEFAULT_MAX_ACTIVE_ACTORS,
            max_actor_pending_calls: DEFAULT_MAX_ACTOR_PENDING_CALLS,
            max_actor_reminders: DEFAULT_MAX_ACTOR_REMINDERS,
            max_actor_timers: DEFAULT_MAX_ACTOR_TIMERS,
            max_idle_app_connections: DEFAULT_MAX_IDLE_APP_CONNECTIONS,
        }
    }
}
