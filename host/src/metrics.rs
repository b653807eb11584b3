//! The process's Prometheus metrics (`serve --metrics-listen`): what serve and the
//! outbound send path count, and their OpenMetrics text. Every label comes from a small
//! fixed set; no label holds a raw request path or a denied URL.

use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Distinct outbound origins given their own label; later ones are counted as `other`
/// (an allowlist with wildcards, or `*`, allows any number of origins).
pub const MAX_OUTBOUND_ORIGINS: usize = 32;

/// What an inbound request was, for the `route` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The liveness path (`--health-path`).
    Health,
    /// The readiness path (`--ready-path`).
    Ready,
    /// Everything else: requests for the guest (or refused before reaching it).
    App,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Ready => "ready",
            Route::App => "app",
        }
    }
}

/// Why a guest's request failed, for the `kind` label of `guest_failures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestFailure {
    /// The guest trapped.
    Trap,
    /// The guest ran past `--request-timeout`.
    Timeout,
    /// The guest exited with a non-zero code.
    Exit,
    /// Anything else (instantiation, malformed or oversized output, no response).
    Other,
}

/// Why an outbound request was refused before it was sent, for `outbound_denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The allowlist does not allow the destination.
    Allowlist,
    /// The connect policy refuses every address of the destination.
    ConnectPolicy,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    origin: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The counters, gauges and histograms, and the registry that encodes them. Shared by
/// reference ([`std::sync::Arc`]); recording is a few atomic operations.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<RouteLabels>,
    queue_waits: Counter,
    queue_rejected: Counter,
    instances_in_use: Gauge,
    instances_prepared: Gauge,
    guest_failures: Family<KindLabels, Counter>,
    outbound: Family<OutboundLabels, Counter>,
    outbound_denied: Family<ReasonLabels, Counter>,
    origins: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered under the `wasi_dapr` prefix, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wasi_dapr");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Inbound requests by route class (health, ready, app) and status",
            requests.clone(),
        );
        let duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Inbound request latency by route class, from the request head to the response",
            duration.clone(),
        );
        let queue_waits = Counter::default();
        registry.register(
            "queue_waits",
            "Requests that found every instance busy and waited for one",
            queue_waits.clone(),
        );
        let queue_rejected = Counter::default();
        registry.register(
            "queue_rejected",
            "Requests answered 503 because no instance freed up within --queue-timeout",
            queue_rejected.clone(),
        );
        let instances_in_use = Gauge::default();
        registry.register(
            "instances_in_use",
            "Instances running a request now (at most --max-concurrent)",
            instances_in_use.clone(),
        );
        let instances_prepared = Gauge::default();
        registry.register(
            "instances_prepared",
            "Instances instantiated ahead of requests and ready now",
            instances_prepared.clone(),
        );
        let guest_failures = Family::<KindLabels, Counter>::default();
        registry.register(
            "guest_failures",
            "Requests the guest failed (500) by kind: trap, timeout, exit, other",
            guest_failures.clone(),
        );
        let outbound = Family::<OutboundLabels, Counter>::default();
        registry.register(
            "outbound_requests",
            "Outbound requests sent, by destination origin and result (2xx..5xx, timeout, error, too_large)",
            outbound.clone(),
        );
        let outbound_denied = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "outbound_denied",
            "Outbound requests refused by policy, by reason (allowlist, connect_policy)",
            outbound_denied.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            queue_waits,
            queue_rejected,
            instances_in_use,
            instances_prepared,
            guest_failures,
            outbound,
            outbound_denied,
            origins: Mutex::new(Vec::new()),
        }
    }

    /// Counts one answered inbound request and its latency.
    pub fn request(&self, route: Route, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.label(),
                status: status_label(status),
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                route: route.label(),
            })
            .observe(seconds);
    }

    /// Counts a request that had to wait for a free instance.
    pub fn queue_wait(&self) {
        self.queue_waits.inc();
    }

    /// Counts a request refused with 503 at the concurrency limit.
    pub fn queue_rejected(&self) {
        self.queue_rejected.inc();
    }

    /// Counts a guest failure.
    pub fn guest_failure(&self, kind: GuestFailure) {
        let kind = match kind {
            GuestFailure::Trap => "trap",
            GuestFailure::Timeout => "timeout",
            GuestFailure::Exit => "exit",
            GuestFailure::Other => "other",
        };
        self.guest_failures
            .get_or_create(&KindLabels { kind })
            .inc();
    }

    /// Counts an outbound request sent to `origin` (an allowed destination) with its
    /// result: the final status, or why there was none.
    pub fn outbound(&self, origin: &str, result: OutboundResult) {
        let origin = self.origin_label(origin);
        let result = match result {
            OutboundResult::Status(code) => status_class(code),
            OutboundResult::Timeout => "timeout",
            OutboundResult::Error => "error",
            OutboundResult::TooLarge => "too_large",
        };
        self.outbound
            .get_or_create(&OutboundLabels { origin, result })
            .inc();
    }

    /// Counts an outbound request refused by policy. No destination is recorded.
    pub fn outbound_denied(&self, reason: Denial) {
        let reason = match reason {
            Denial::Allowlist => "allowlist",
            Denial::ConnectPolicy => "connect_policy",
        };
        self.outbound_denied
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    fn origin_label(&self, origin: &str) -> String {
        let mut seen = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.iter().any(|o| o == origin) {
            return origin.to_string();
        }
        if seen.len() < MAX_OUTBOUND_ORIGINS {
            seen.push(origin.to_string());
            return origin.to_string();
        }
        "other".to_string()
    }

    /// The OpenMetrics text of every metric, with the instance gauges set first.
    pub fn encode(&self, in_use: usize, prepared: usize) -> String {
        self.instances_in_use
            .set(i64::try_from(in_use).unwrap_or(i64::MAX));
        self.instances_prepared
            .set(i64::try_from(prepared).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// An outbound request's result, for the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundResult {
    /// An answer with this status (labelled by class, `2xx`..`5xx`).
    Status(u16),
    /// No answer before the deadline.
    Timeout,
    /// The connection or exchange failed.
    Error,
    /// A request or response over a size cap.
    TooLarge,
}

/// The status code itself for common codes, its class for the rest: a bounded set.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => status_class(other),
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_a_bounded_set() {
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(299), "2xx");
        assert_eq!(status_label(999), "other");
    }

    #[test]
    fn origins_past_the_cap_are_other() {
        let m = Metrics::new();
        for i in 0..MAX_OUTBOUND_ORIGINS {
            m.outbound(&format!("http://h{i}:80"), OutboundResult::Status(200));
        }
        m.outbound("http://one-too-many:80", OutboundResult::Status(200));
        m.outbound("http://h0:80", OutboundResult::Status(503));
        let text = m.encode(0, 0);
        assert!(
            text.contains(r#"wasi_dapr_outbound_requests_total{origin="other",result="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"wasi_dapr_outbound_requests_total{origin="http://h0:80",result="5xx"} 1"#
            ),
            "{text}"
        );
        assert!(!text.contains("one-too-many"), "{text}");
    }

    #[test]
    fn encodes_every_metric_family() {
        let m = Metrics::new();
        m.request(Route::App, 200, 0.002);
        m.outbound_denied(Denial::Allowlist);
        let text = m.encode(3, 1);
        assert!(
            text.contains(r#"wasi_dapr_http_requests_total{route="app",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"wasi_dapr_http_request_duration_seconds_count{route="app"} 1"#),
            "{text}"
        );
        assert!(text.contains("wasi_dapr_instances_in_use 3"), "{text}");
        assert!(text.contains("wasi_dapr_instances_prepared 1"), "{text}");
        assert!(
            text.contains(r#"wasi_dapr_outbound_denied_total{reason="allowlist"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
