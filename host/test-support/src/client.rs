//! A raw HTTP/1.1 client for tests: one request on a fresh connection, the answer read
//! whole, with assertions for daprd's error shape.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// A whole HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, read whole.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as a string, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a daprd error answer: status, JSON content type, errorCode; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            self.text()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "error content type"
        );
        let v = self.json();
        assert_eq!(v["errorCode"], code, "errorCode; body: {v}");
        v["message"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts 204 with an empty body.
    #[track_caller]
    pub fn assert_no_content(&self) {
        assert_eq!(self.status, StatusCode::NO_CONTENT, "body: {}", self.text());
        assert!(self.body.is_empty(), "204 must have no body");
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    try_send(addr, method, path, headers, body.into())
        .await
        .unwrap_or_else(|e| panic!("request to {addr}{path}: {e:#}"))
}

/// [`send`], with failures as errors instead of panics.
pub async fn try_send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Answer> {
    let stream = TcpStream::connect(addr).await.context("connecting")?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = tokio::time::timeout(
        Duration::from_secs(20),
        sender.send_request(req.body(Full::new(body))?),
    )
    .await
    .context("timed out")??;
    let (parts, body) = res.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, Method::GET, path, &[], Bytes::new()).await
}

/// `DELETE path` with `headers` and no body.
pub async fn delete(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(addr, Method::DELETE, path, headers, Bytes::new()).await
}

/// `POST path` with a JSON body.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Answer {
    send(
        addr,
        Method::POST,
        path,
        &[("content-type", "application/json")],
        Bytes::from(body.to_string()),
    )
    .await
}

/// Waits until the sidecar lists `n` subscriptions in its metadata.
pub async fn wait_subscriptions(addr: SocketAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = get(addr, "/v1.0/metadata").await.json();
        let have = m["subscriptions"].as_array().map_or(0, Vec::len);
        if have >= n {
            return;
        }
        assert!(Instant::now() < deadline, "subscriptions never loaded: {m}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
