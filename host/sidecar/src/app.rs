//! The app channel: plain HTTP/1.1 calls from the sidecar to the app on `127.0.0.1:<app port>`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Why a call to the app failed (no HTTP answer was received).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppCallError {
    /// The app's port is not set.
    #[error("app channel is not initialized")]
    NoAppPort,
    /// The TCP connection failed.
    #[error("error invoking app channel: dial tcp 127.0.0.1:{port}: {source}")]
    Connect {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// HTTP failed after connecting.
    #[error("error invoking app channel: {0}")]
    Http(#[source] hyper::Error),
    /// The response body was larger than the cap, or broke off.
    #[error("error invoking app channel: reading the app's response body: {0}")]
    Body(String),
    /// No answer within the timeout.
    #[error("error invoking app channel: timed out after {0:?}")]
    Timeout(Duration),
}

/// The app's answer.
#[derive(Debug)]
pub(crate) struct AppResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Idle keep-alive connections to the app, for the calls that do not keep a connection
/// of their own (invocation, actor turns, bindings, job triggers), as daprd keeps a pooled
/// HTTP client for its app channel. A call takes an idle connection or opens one, and
/// puts it back afterwards if the app kept it open and fewer than `max_idle` are idle;
/// so at most `max_idle` connections stay open between calls, while calls at the same
/// time each have their own.
pub(crate) struct AppPool {
    idle: Mutex<Vec<AppConnection>>,
    max_idle: usize,
}

impl AppPool {
    pub(crate) fn new(max_idle: usize) -> Self {
        AppPool {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Sends `req` (origin-form URI) to the app and reads the whole answer. A request
    /// that meets an idle connection the app had just closed (nothing came back) is sent
    /// once more on a new connection, as Go's transport does for a server-closed idle
    /// connection.
    pub(crate) async fn call(
        &self,
        port: Option<u16>,
        req: Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<AppResponse, AppCallError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            None => {
                let mut conn = AppConnection::default();
                let result = conn.call(port, req, timeout, max_body).await;
                self.put_back(conn);
                result
            }
            Some(mut conn) => {
                let again = duplicate(&req);
                match conn.call(port, req, timeout, max_body).await {
                    Err(AppCallError::Http(e)) if e.is_canceled() || e.is_incomplete_message() => {
                        tracing::debug!(error = %e, "the app closed an idle connection; sending again");
                        let mut fresh = AppConnection::default();
                        let result = fresh.call(port, again, timeout, max_body).await;
                        self.put_back(fresh);
                        result
                    }
                    result => {
                        self.put_back(conn);
                        result
                    }
                }
            }
        }
    }

    fn put_back(&self, conn: AppConnection) {
        if conn.open.is_none() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// How many connections are idle now.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A copy of `req` to send again (its body is shared bytes).
fn duplicate(req: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// One keep-alive HTTP/1.1 connection to the app, opened on first use and again after the
/// app closed it or a call failed (a call that timed out leaves the connection unusable, so
/// it is closed). Dropping it closes the connection.
#[derive(Default)]
pub(crate) struct AppConnection {
    open: Option<(SendRequest<Full<Bytes>>, JoinHandle<()>)>,
}

impl Drop for AppConnection {
    fn drop(&mut self) {
        self.close();
    }
}

impl AppConnection {
    fn close(&mut self) {
        if let Some((_, task)) = self.open.take() {
            task.abort();
        }
    }

    /// Sends `req` on this connection (reconnecting if needed) and reads the whole answer
    /// within `timeout`.
    pub async fn call(
        &mut self,
        port: Option<u16>,
        mut req: Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<AppResponse, AppCallError> {
        let port = port.ok_or(AppCallError::NoAppPort)?;
        if let Ok(host) = HeaderValue::from_str(&format!("127.0.0.1:{port}")) {
            req.headers_mut().insert(header::HOST, host);
        }
        let result = tokio::time::timeout(timeout, self.send(port, req, max_body))
            .await
            .unwrap_or(Err(AppCallError::Timeout(timeout)));
        if result.is_err() {
            self.close();
        }
        result
    }

    async fn send(
        &mut self,
        port: u16,
        req: Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<AppResponse, AppCallError> {
        if let Some((sender, _)) = &mut self.open
            && sender.ready().await.is_err()
        {
            self.close();
        }
        let sender = match &mut self.open {
            Some((sender, _)) => sender,
            None => {
                let stream = TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map_err(|source| AppCallError::Connect { port, source })?;
                let _ = stream.set_nodelay(true);
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(AppCallError::Http)?;
                let task = tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "app connection closed with an error");
                    }
                });
                &mut self.open.insert((sender, task)).0
            }
        };
        let res = sender.send_request(req).await.map_err(AppCallError::Http)?;
        let (parts, body) = res.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| AppCallError::Body(e.to_string()))?
            .to_bytes();
        Ok(AppResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// An app on a free port that answers every request `ok`; with `one_per_connection`,
    /// a second request on a connection is not answered but the connection closed, as an
    /// app closing an idle connection just as a call is sent on it. Counts accepted
    /// connections.
    async fn app(one_per_connection: bool) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut answered = 0;
                    loop {
                        // Each test request is one small GET: one read holds it whole.
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if one_per_connection && answered == 1 => return,
                            Ok(_) => {}
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        answered += 1;
                    }
                });
            }
        });
        (port, accepted)
    }

    fn get() -> Request<Full<Bytes>> {
        Request::get("/ping")
            .body(Full::new(Bytes::new()))
            .expect("request")
    }

    #[tokio::test]
    async fn sequential_calls_reuse_one_idle_connection() {
        let (port, accepted) = app(false).await;
        let pool = AppPool::new(4);
        for _ in 0..5 {
            let answer = pool
                .call(Some(port), get(), Duration::from_secs(5), 1024)
                .await
                .expect("call");
            assert_eq!(&answer.body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle(), 1);
    }

    #[tokio::test]
    async fn a_call_on_an_idle_connection_the_app_closed_is_sent_again() {
        let (port, accepted) = app(true).await;
        let pool = AppPool::new(4);
        for _ in 0..3 {
            let answer = pool
                .call(Some(port), get(), Duration::from_secs(5), 1024)
                .await
                .expect("call on a closed idle connection is sent again");
            assert_eq!(&answer.body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_stay_open() {
        let (port, accepted) = app(false).await;
        let pool = Arc::new(AppPool::new(2));
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    pool.call(Some(port), get(), Duration::from_secs(5), 1024)
                        .await
                        .map(|a| a.body)
                })
            })
            .collect();
        for call in calls {
            assert_eq!(&call.await.expect("join").expect("call")[..], b"ok");
        }
        assert!(accepted.load(Ordering::SeqCst) >= 1);
        assert!(pool.idle() <= 2, "idle {}", pool.idle());
    }
}
