//! Helpers of the hostile suite: `wasi-dapr` processes with their memory read from
//! `/proc`, raw TCP clients that misbehave on purpose, and the normal request that must
//! still be answered.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use wasi_dapr_test_artifacts as guests;
pub use wasi_dapr_test_support::free_port;

/// A `wasi-dapr` process, killed on drop.
pub struct Proc {
    /// Where it listens.
    pub addr: SocketAddr,
    child: tokio::process::Child,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A command for the binary with no inherited Dapr variables. `HOSTILE_WASI_DAPR` names
/// another build to attack instead (to measure an older one for comparison).
pub fn wasi_dapr() -> tokio::process::Command {
    let bin = std::env::var_os("HOSTILE_WASI_DAPR")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_wasi-dapr").into());
    let mut cmd = tokio::process::Command::new(bin);
    for var in [
        "DAPR_API_TOKEN",
        "APP_API_TOKEN",
        "DAPR_HTTP_PORT",
        "DAPR_HTTP_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    cmd
}

impl Proc {
    /// `wasi-dapr sidecar` on a free port with `extra` arguments and environment.
    pub async fn sidecar(extra: &[&str], env: &[(&str, &str)]) -> Proc {
        let port = free_port();
        let mut cmd = wasi_dapr();
        cmd.arg("sidecar")
            .arg("--dapr-http-port")
            .arg(port.to_string())
            .args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd, port, "/v1.0/healthz/outbound", None).await
    }

    /// `wasi-dapr serve MODULE` on a free port, with `extra` options before the module.
    pub async fn serve(module: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        Self::serve_logged(module, extra, env, None).await
    }

    /// [`Proc::serve`] with its stderr (the log, at `info`) written to `log`.
    pub async fn serve_logged(
        module: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Proc {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = wasi_dapr();
        cmd.current_dir(dir.path())
            .arg("serve")
            .arg("--cache-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-cache"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .arg(module);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(log) = log {
            let file = std::fs::File::create(log).expect("create the log file");
            cmd.env("RUST_LOG", "info").stderr(Stdio::from(file));
        }
        Self::spawn(cmd, port, "/healthz", Some(dir)).await
    }

    async fn spawn(
        mut cmd: tokio::process::Command,
        port: u16,
        probe: &str,
        dir: Option<tempfile::TempDir>,
    ) -> Proc {
        let child = cmd.spawn().expect("spawn wasi-dapr");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let proc = Proc {
            addr,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Ok(status)) =
                tokio::time::timeout(Duration::from_secs(2), get_status(addr, probe)).await
                && status < 500
            {
                return proc;
            }
            assert!(
                Instant::now() < deadline,
                "wasi-dapr did not come up on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_kib(&self) -> u64 {
        status_field(self.pid(), "VmHWM:")
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmRSS:")
    }

    /// Open file descriptors now.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("status field")
}

use std::path::Path;

/// `GET path` on a fresh connection; the status code.
pub async fn get_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let (status, _) = request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
    )
    .await?;
    Ok(status)
}

/// Sends raw request bytes on a fresh connection and reads the whole answer (the peer
/// closes); returns the status and the raw response.
pub async fn request(addr: SocketAddr, raw: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(raw.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let status = std::str::from_utf8(out.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, out))
}

/// `GET path` on a fresh connection, answered within 10 s: the status and the raw answer.
pub async fn get_raw(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let raw = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    tokio::time::timeout(Duration::from_secs(10), request(addr, &raw))
        .await
        .unwrap_or_else(|_| panic!("no answer to {path} within 10 s"))
        .expect("answer")
}

/// How long a normal `GET path` takes; panics if it takes longer than `within`.
pub async fn normal_request(addr: SocketAddr, path: &str, within: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let status = tokio::time::timeout(within, get_status(addr, path))
        .await
        .unwrap_or_else(|_| panic!("a normal request to {path} got no answer within {within:?}"))
        .expect("normal request");
    (status, started.elapsed())
}

/// Prints one measured figure of a test (shown with `--nocapture`).
pub fn report(test: &str, what: &str) {
    println!("hostile: {test}: {what}");
}
