//! `MockServer`: a local HTTP/1 server that records every request and connection and
//! answers each request from a closure.
//!
//! It is the one mock of the test suites: the upstream that guests call out to, and the
//! app that the sidecar calls (subscriptions, deliveries, invocations, bindings).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request the server received, body read whole.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request method.
    pub method: Method,
    /// The request target as sent (origin form: path and query).
    pub uri: Uri,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
}

impl Recorded {
    /// The path and query as sent (`/orders?x=1`), for matching in handlers.
    pub fn target(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// A header as a string, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// A pause before answering (for timeout tests).
    pub delay: Option<Duration>,
}

impl Reply {
    /// 200 with `body` and no headers.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: None,
        }
    }

    /// The same reply with another status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The same reply, sent after `d`.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

/// `status` with `body`, typed `application/json` unless the body is empty: the usual
/// answer of a Dapr app.
pub fn reply(status: u16, body: &str) -> Reply {
    let reply = Reply::ok(body.to_string()).status(status);
    if body.is_empty() {
        reply
    } else {
        reply.header("content-type", "application/json")
    }
}

/// A reply computed later (an async handler, e.g. one that calls back into the sidecar).
pub type ReplyFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

type Handler = dyn Fn(Recorded) -> ReplyFuture + Send + Sync;

/// A local HTTP/1 server on 127.0.0.1 that records every request and connection.
/// Dropping it stops accepting.
pub struct MockServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    requests: Arc<Mutex<VecDeque<Recorded>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockServer {
    /// Starts on a free port; `handler` answers every request.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_on(0, handler).await
    }

    /// [`MockServer::start`] on a given port (0 = any free one).
    pub async fn start_on(
        port: u16,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], port)), handler).await
    }

    /// [`MockServer::start`] on a given loopback address (another 127.x address, `[::1]`).
    pub async fn start_at(
        addr: SocketAddr,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_async_at(addr, move |rec: Recorded| {
            let reply = handler(&rec);
            Box::pin(async move { reply }) as ReplyFuture
        })
        .await
    }

    /// [`MockServer::start`] with an async handler, on a free port: the request is
    /// recorded when it arrives, the handler's future answers it.
    pub async fn start_async(
        handler: impl Fn(Recorded) -> ReplyFuture + Send + Sync + 'static,
    ) -> Self {
        Self::start_async_at(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await
    }

    async fn start_async_at(
        addr: SocketAddr,
        handler: impl Fn(Recorded) -> ReplyFuture + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the mock server");
        let addr = listener.local_addr().expect("mock server address");
        let requests = Arc::new(Mutex::new(VecDeque::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, conns) = (requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let (reqs, handler) = (reqs.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (reqs, handler) = (reqs.clone(), handler.clone());
                        async move { Ok::<_, Infallible>(answer(req, &reqs, &*handler).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        MockServer {
            addr,
            requests,
            connections,
            task,
        }
    }

    /// A server answering 200 `hello` (`text/plain`) to everything.
    pub async fn hello() -> Self {
        Self::start(|_| Reply::ok("hello").header("content-type", "text/plain")).await
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.addr.port(), path)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .cloned()
            .collect()
    }

    /// The requests whose target starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.target().starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests went to `prefix` (at most 10 s), and returns
    /// them (fewer if the time ran out).
    pub async fn wait_for(&self, prefix: &str, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.requests_to(prefix);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn answer(
    req: Request<Incoming>,
    requests: &Mutex<VecDeque<Recorded>>,
    handler: &Handler,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let rec = Recorded {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
    };
    requests.lock().expect("lock").push_back(rec.clone());
    let reply = handler(rec).await;
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut res = Response::new(Full::new(reply.body));
    *res.status_mut() = StatusCode::from_u16(reply.status).expect("reply status");
    for (k, v) in &reply.headers {
        res.headers_mut().append(
            HeaderName::from_bytes(k.as_bytes()).expect("reply header name"),
            HeaderValue::from_str(v).expect("reply header value"),
        );
    }
    res
}
