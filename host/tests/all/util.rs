//! Shared test helpers: a recording upstream HTTP server, allowlist files, and running
//! guests through the `wasi-dapr` binary with their output captured.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use wasi_dapr_test_artifacts as guests;
pub use wasi_dapr_test_support::mock::{MockServer, Reply};

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
