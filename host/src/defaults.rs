//! Every default of the command line in one place. clap shows these in `--help`, the
//! `Default` impls and `ServeOptions::new` use them, and the Kubernetes manifest check
//! (`tests/all/k8s.rs`) reads them, so a default is written once.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// `serve --listen`: loopback only; in a pod, `--listen 0.0.0.0:8080` is explicit.
pub const SERVE_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// `serve --request-timeout`: the deadline of one request's instance.
pub const SERVE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `serve --max-memory-mib`: linear memory per instance.
pub const SERVE_MAX_MEMORY_MIB: usize = 128;
/// `serve --max-request-body-bytes`: daprd's own default body cap (4 MiB).
pub const SERVE_MAX_REQUEST_BODY_BYTES: usize = 4 << 20;
/// `serve --max-response-bytes`: CGI headers and body a handler may write (16 MiB).
pub const SERVE_MAX_RESPONSE_BYTES: usize = 16 << 20;
/// `serve --max-concurrent`: instances running at once (also sizes the pooling allocator).
pub const SERVE_MAX_CONCURRENT: u32 = 64;
/// `serve --queue-timeout`: how long a request waits for a free instance before a 503.
pub const SERVE_QUEUE_TIMEOUT: Duration = Duration::from_secs(1);
/// `serve --body-read-timeout`: how long a client may take to send a request body. It is
/// read before an instance is taken, so a slow client holds no instance.
pub const SERVE_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `serve --header-read-timeout`: how long a connection may take to send a request head,
/// counted from the moment it waits for one — so an idle keep-alive connection is closed
/// after it too.
pub const SERVE_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `serve --max-connections`: open client connections; past it, new ones wait in the
/// listen backlog until one closes.
pub const SERVE_MAX_CONNECTIONS: u32 = 512;
/// Open connections to the `--metrics-listen` listener at most (scrapers are few).
pub const METRICS_MAX_CONNECTIONS: u32 = 16;
/// How long a `/readyz` answer is reused before the sidecar is asked again.
pub const SERVE_READY_CACHE: Duration = Duration::from_secs(1);
/// `serve --prepared-instances`: instances kept instantiated ahead of requests.
pub const SERVE_PREPARED_INSTANCES: u32 = 2;
/// `serve --reuse-instances`: requests per instance of a WASI 0.3 service (1: a fresh
/// instance per request; reuse is opt-in).
pub const SERVE_REUSE_INSTANCES: u32 = 1;
/// `serve --health-path`: liveness, answered by the host without an instance.
pub const SERVE_HEALTH_PATH: &str = "/healthz";
/// `serve --ready-path`: readiness, 200 once the sidecar's `healthz/outbound` answers.
pub const SERVE_READY_PATH: &str = "/readyz";
/// Guest stderr per served request (64 KiB): captured, and logged — each line escaped and
/// counted with its log overhead — up to this many bytes; the rest is dropped.
pub const SERVE_MAX_GUEST_STDERR_BYTES: usize = 64 * 1024;
/// `run --max-memory-mib`: linear memory of a run guest.
pub const RUN_MAX_MEMORY_MIB: usize = 1024;
/// `sidecar --dapr-http-port`: daprd's default HTTP port.
pub const SIDECAR_HTTP_PORT: u16 = wasi_dapr_sidecar::DEFAULT_HTTP_PORT;
/// `sidecar --app-id` and `--dev --app-id`.
pub const SIDECAR_APP_ID: &str = wasi_dapr_sidecar::DEFAULT_APP_ID;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_default_is_loopback_8080() {
        assert_eq!(SERVE_LISTEN.to_string(), "127.0.0.1:8080");
        assert!(SERVE_LISTEN.ip().is_loopback());
    }
}
