//! The `--metrics-listen` listener: `GET /metrics` answers the process's
//! [`crate::metrics::Metrics`] as OpenMetrics text, on its own address, with serve's
//! hardening (the header read timeout, a bounded number of connections).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::listener::{Bounds, OnStop};
use super::{App, Handler, plain};

/// Serves `/metrics` until `stop` changes; open connections are then dropped.
pub(super) async fn accept_loop(listener: TcpListener, app: Arc<App>, stop: watch::Receiver<bool>) {
    let bounds = Bounds {
        name: "metrics",
        max_connections: app.options.limits.metrics_max_connections as usize,
        header_read_timeout: app.options.limits.header_read_timeout,
        on_stop: OnStop::Drop,
    };
    let service = move |_peer| {
        let app = app.clone();
        service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(answer(&app, &req)) }
        })
    };
    super::listener::accept_loop(listener, bounds, stop, service).await;
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
        Handler::Component { instances, .. } => instances.prepared_count(),
        // Idle reusable instances are ready for a request too.
        Handler::Service(service) => service.idle_count(),
    };
    let mut res = Response::new(Full::new(Bytes::from(app.metrics.encode(in_use, prepared))));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    res
}
