//! Shared test helpers: a recording upstream HTTP server, allowlist files, and running
//! guests through the `wasi-dapr` binary with their output captured.

#![allow(dead_code)]

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use wasi_dapr_test_artifacts as guests;

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the upstream answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![],
            body: body.into(),
            delay: None,
        }
    }
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A local HTTP/1 server on 127.0.0.1:0 that records every request and connection.
pub struct Upstream {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, conns) = (requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let (reqs, handler) = (reqs.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let (reqs, handler) = (reqs.clone(), handler.clone());
                        async move {
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
                            let reply = handler(&rec);
                            reqs.lock().expect("lock").push(rec);
                            if let Some(d) = reply.delay {
                                tokio::time::sleep(d).await;
                            }
                            let mut res = Response::builder()
                                .status(StatusCode::from_u16(reply.status).expect("status"));
                            for (k, v) in &reply.headers {
                                res = res.header(k, v);
                            }
                            Ok::<_, Infallible>(
                                res.body(Full::new(Bytes::from(reply.body)))
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            connections,
            task,
        }
    }

    /// An upstream answering 200 `hello` to everything.
    pub async fn hello() -> Self {
        Self::start(|_| Reply::ok("hello").header("content-type", "text/plain")).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.addr.port(), path)
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An `allowlist.toml` in a temporary directory.
pub struct Allowlist {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn allowlist(entries: &[String], limits: &str) -> Allowlist {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("allowlist.toml");
    let list = entries
        .iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!("allowed_hosts = [{list}]\n");
    if !limits.is_empty() {
        text.push_str("[limits]\n");
        text.push_str(limits);
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write allowlist");
    Allowlist { dir, path }
}

/// What a `wasi-dapr` process printed and how it ended.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// The value of the first stdout line `key=value`.
    pub fn value(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{self}");
        self
    }
}

/// The `wasi-dapr` binary under test.
pub fn wasi_dapr_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wasi-dapr")
}

/// A command for the binary with a clean environment: no inherited Dapr variables or
/// tokens, logs at `info`, compiled modules cached under the test target directory.
pub fn wasi_dapr() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(wasi_dapr_bin());
    for var in [
        "DAPR_API_TOKEN",
        "APP_API_TOKEN",
        "DAPR_HTTP_PORT",
        "DAPR_HTTP_ENDPOINT",
        "DAPR_GRPC_PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info");
    cmd.env("NO_COLOR", "1");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.kill_on_drop(true);
    cmd
}

/// The cache directory tests share, so a fixture is compiled once per test run.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache")
}

/// Runs `wasi-dapr run` on a guest; `extra` are options before the module, `args` go
/// to the guest.
pub async fn run_guest(
    module: &str,
    allow: Option<&Allowlist>,
    extra: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = wasi_dapr();
    cmd.arg("run").arg("--cache-dir").arg(cache_dir());
    if let Some(a) = allow {
        cmd.arg("--allowlist").arg(&a.path);
        cmd.current_dir(a.dir.path());
    } else {
        // A directory with no allowlist.toml: the deny-all default.
        cmd.current_dir(env!("CARGO_TARGET_TMPDIR"));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(extra).arg(module).arg("--").args(args);
    output(cmd).await
}

/// Waits (at most 120 s) for the process and collects its output.
pub async fn output(mut cmd: tokio::process::Command) -> Output {
    let child = cmd.spawn().expect("spawn wasi-dapr");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("wasi-dapr did not finish within 120 s")
        .expect("wait for wasi-dapr");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A plain HTTP client for tests (no redirects followed, TLS provider installed).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}
