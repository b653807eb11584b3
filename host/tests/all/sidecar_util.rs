//! Helpers for the sidecar tests: an HTTP client, a recording test app, a throwaway redis-server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use wasi_dapr::sidecar::{Sidecar, SidecarOptions, SidecarTuning};

/// A whole HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

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

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, Method::GET, path, &[], Bytes::new()).await
}

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

/// Test tuning: fast retries.
pub fn fast_tuning() -> SidecarTuning {
    SidecarTuning {
        max_delivery_attempts: 3,
        retry_initial_backoff: Duration::from_millis(20),
        retry_max_backoff: Duration::from_millis(50),
        subscribe_initial_backoff: Duration::from_millis(20),
        subscribe_max_backoff: Duration::from_millis(100),
        app_timeout: Duration::from_secs(5),
        ..SidecarTuning::default()
    }
}

/// Starts a sidecar on an ephemeral port.
pub async fn sidecar(f: impl FnOnce(&mut SidecarOptions)) -> Sidecar {
    let mut opts = SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SidecarOptions::default()
    };
    f(&mut opts);
    Sidecar::start_with(opts, fast_tuning())
        .await
        .unwrap_or_else(|e| panic!("sidecar start: {e:#}"))
}

/// A request the test app received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Handler = dyn Fn(&Received) -> (u16, Vec<(String, String)>, Bytes) + Send + Sync;

/// A local app on 127.0.0.1:0 that records every request and answers with a closure.
pub struct TestApp {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<VecDeque<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestApp {
    pub async fn start(
        handler: impl Fn(&Received) -> (u16, Vec<(String, String)>, Bytes) + Send + Sync + 'static,
    ) -> TestApp {
        Self::start_on(0, handler).await
    }

    /// Like [`TestApp::start`] on a given port (0 = any).
    pub async fn start_on(
        port: u16,
        handler: impl Fn(&Received) -> (u16, Vec<(String, String)>, Bytes) + Send + Sync + 'static,
    ) -> TestApp {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind test app");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(VecDeque::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let rec = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let rec = rec.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let rec = rec.clone();
                        let handler = handler.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let r = Received {
                                method: parts.method,
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            };
                            let (status, headers, body) = handler(&r);
                            rec.lock().expect("lock").push_back(r);
                            let mut res = Response::new(Full::new(body));
                            *res.status_mut() = StatusCode::from_u16(status).expect("status");
                            for (k, v) in headers {
                                res.headers_mut().append(
                                    http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                                    http::HeaderValue::from_str(&v).expect("value"),
                                );
                            }
                            Ok::<_, std::convert::Infallible>(res)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestApp {
            addr,
            received,
            task,
        }
    }

    /// Requests whose URI starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Received> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.uri.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests went to `prefix` (at most 10 s).
    pub async fn wait_for(&self, prefix: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.requests_to(prefix);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A simple answer for `TestApp` handlers.
pub fn reply(status: u16, body: &str) -> (u16, Vec<(String, String)>, Bytes) {
    let headers = if body.is_empty() {
        vec![]
    } else {
        vec![("content-type".to_string(), "application/json".to_string())]
    };
    (status, headers, Bytes::from(body.to_string()))
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

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Child,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisServer {
    /// Starts `redis-server`; fails (never skips) when it is not installed.
    pub async fn start() -> Result<RedisServer> {
        Self::start_with(&[]).await
    }

    /// [`RedisServer::start`] with extra server arguments (e.g. `--requirepass pw`).
    pub async fn start_with(extra: &[&str]) -> Result<RedisServer> {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .map(str::to_string)
            .or_else(|| which("redis-server"));
        let Some(bin) = bin else {
            bail!(
                "redis-server is not installed: the Redis conformance tests need it (apt-get install redis-server)"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = RedisServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
            .map(|p| p.display().to_string())
    })
}

/// Writes `files` (name, text) into a new temp folder.
pub fn resources(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write resource");
    }
    dir
}
