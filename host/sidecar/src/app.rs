//! The app channel: plain HTTP/1.1 calls from the sidecar to the app on `127.0.0.1:<app port>`.

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

/// Sends `req` (origin-form URI) to the app on a connection of its own and reads the
/// whole answer.
pub(crate) async fn call(
    port: Option<u16>,
    req: Request<Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
) -> Result<AppResponse, AppCallError> {
    AppConnection::default()
        .call(port, req, timeout, max_body)
        .await
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
