//! The `--metrics-listen` listener: `GET /metrics` answers the process's
//! [`crate::metrics::Metrics`] as OpenMetrics text, on its own address, with serve's
//! hardening (the header read timeout, a bounded number of connections).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

use super::{App, Handler, plain};
use crate::defaults;

/// Serves `/metrics` until `stop` changes; open connections are then dropped.
pub(super) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let connections = Arc::new(Semaphore::new(defaults::METRICS_MAX_CONNECTIONS as usize));
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(app.options.limits.header_read_timeout);
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
                let (stream, _) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        warn!(error = %e, "metrics: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(answer(&app, &req)) }
                });
                let conn = http.serve_connection(TokioIo::new(stream), service);
                tasks.spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(error = %e, "metrics connection ended with an error");
                    }
                    drop(slot);
                });
            }
            _ = stop.changed() => break,
        }
        while tasks.try_join_next().is_some() {}
    }
    tasks.abort_all();
}

fn answer(app: &App, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found; metrics are at /metrics");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics");
    }
    let limit = app.permits_total;
    let in_use = limit.saturating_sub(app.permits.available_permits());
    let prepared = match &app.handler {
        Handler::Module { instances, .. } => instances.prepared_count(),
        Handler::Component { .. } => 0,
    };
    let mut res = Response::new(Full::new(Bytes::from(app.metrics.encode(in_use, prepared))));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    res
}
