//! One bounded HTTP/1 accept loop for every listener `serve` opens (the app port and
//! `--metrics-listen`): at most `max_connections` open connections (past that, clients
//! wait in the kernel's listen backlog), a header read timeout against slow clients, a
//! back-off when `accept` fails (descriptor exhaustion must not spin a core), and a stop
//! signal after which open connections are drained or dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

/// How long the loop waits after a failed `accept` before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What becomes of open connections once the stop signal arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnStop {
    /// Let in-flight requests finish (idle keep-alive connections are closed).
    Drain,
    /// Drop every open connection at once.
    Drop,
}

/// The bounds of one listener.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Names the listener in log lines (`app`, `metrics`).
    pub name: &'static str,
    /// Open connections at most (at least one).
    pub max_connections: usize,
    /// The time a client has to send a request's head.
    pub header_read_timeout: Duration,
    /// What the stop signal does to open connections.
    pub on_stop: OnStop,
}

/// Accepts connections on `listener` until `stop` changes, serving each with the service
/// `service(peer)` makes, within `bounds`.
pub(super) async fn accept_loop<F, S>(
    listener: TcpListener,
    bounds: Bounds,
    mut stop: watch::Receiver<bool>,
    service: F,
) where
    F: Fn(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let name = bounds.name;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(bounds.header_read_timeout);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        warn!(listener = name, error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                // A response larger than one write must not wait on Nagle for the
                // client's delayed ACK.
                let _ = stream.set_nodelay(true);
                let conn = http.serve_connection(TokioIo::new(stream), service(peer));
                let conn = graceful.watch(conn);
                tasks.spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(listener = name, error = %e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
            _ = stop.changed() => break,
        }
        // Reap finished connections so the set holds only open ones.
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    match bounds.on_stop {
        OnStop::Drain => graceful.shutdown().await,
        OnStop::Drop => tasks.abort_all(),
    }
}
