//! Shared test helpers: allowlist files, the `wasi-dapr` binary with a clean
//! environment, and `Guest`, a `wasi-dapr run` of one guest with its output captured. The
//! mock server, raw HTTP client, Redis and sidecar helpers come from the crate
//! `wasi-dapr-test-support`; README checks from its `readme` module.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use wasi_dapr_test_artifacts as guests;
pub use wasi_dapr_test_support::mock::{MockServer, Reply};
pub use wasi_dapr_test_support::readme;

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

/// A `wasi-dapr run` of one guest, built up and then run:
///
/// ```ignore
/// let out = Guest::new(guests::HTTP_FETCH).allowlist(&allow).args(&[&url]).run().await;
/// ```
///
/// Without [`Guest::allowlist`] the guest runs in a folder with no `allowlist.toml`, so
/// every outbound request is denied.
pub struct Guest<'a> {
    module: &'a str,
    allowlist: Option<&'a Allowlist>,
    options: Vec<&'a str>,
    args: Vec<&'a str>,
    env: Vec<(&'a str, &'a str)>,
}

impl<'a> Guest<'a> {
    /// The module to run (a path, usually one of [`guests`]).
    pub fn new(module: &'a str) -> Self {
        Guest {
            module,
            allowlist: None,
            options: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Runs with this allowlist (`--allowlist`), from its folder.
    pub fn allowlist(mut self, allow: &'a Allowlist) -> Self {
        self.allowlist = Some(allow);
        self
    }

    /// Options for `wasi-dapr run`, before the module (`--env`, `--dir`, `--dev`, ...).
    pub fn options(mut self, options: &[&'a str]) -> Self {
        self.options.extend_from_slice(options);
        self
    }

    /// Arguments for the guest, after `--`.
    pub fn args(mut self, args: &[&'a str]) -> Self {
        self.args.extend_from_slice(args);
        self
    }

    /// Variables in the host process's environment (not the guest's).
    pub fn envs(mut self, env: &[(&'a str, &'a str)]) -> Self {
        self.env.extend_from_slice(env);
        self
    }

    /// Runs it and collects the output (at most 120 s).
    pub async fn run(self) -> Output {
        let mut cmd = wasi_dapr();
        cmd.arg("run").arg("--cache-dir").arg(cache_dir());
        if let Some(a) = self.allowlist {
            cmd.arg("--allowlist").arg(&a.path);
            cmd.current_dir(a.dir.path());
        } else {
            // A directory with no allowlist.toml: the deny-all default.
            cmd.current_dir(env!("CARGO_TARGET_TMPDIR"));
        }
        for (k, v) in self.env {
            cmd.env(k, v);
        }
        cmd.args(self.options)
            .arg(self.module)
            .arg("--")
            .args(self.args);
        output(cmd).await
    }
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

/// Statuses of `tasks` clients each sending `each` GETs to `url` one after another, all
/// at once: a burst for the concurrency-cap tests.
pub async fn burst(client: &reqwest::Client, url: &str, tasks: usize, each: usize) -> Vec<u16> {
    let mut running = Vec::new();
    for _ in 0..tasks {
        let (c, url) = (client.clone(), url.to_string());
        running.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..each {
                let res = c.get(&url).send().await.expect("request");
                statuses.push(res.status().as_u16());
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for task in running {
        statuses.extend(task.await.expect("join"));
    }
    statuses
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, as text (panics naming the file).
pub fn read_repo_file(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// The `## Expected output` text blocks of `examples/<example>/README.md`, in order.
pub fn example_output(example: &str) -> Vec<String> {
    readme::expected_output(&repo_root().join("examples").join(example).join("README.md"))
}

/// Sends SIGTERM to process `pid` (with the system's `kill`).
pub async fn sigterm(pid: u32) {
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(kill.success(), "kill -TERM {pid}: {kill}");
}

/// `GET url` on the send path itself; the final status, or how it failed.
pub async fn outbound_get(
    http: &wasi_dapr::outbound::OutboundHttp,
    url: &str,
) -> Result<u16, wasi_dapr::outbound::SendError> {
    let request = wasi_dapr::outbound::OutboundRequest {
        url: url::Url::parse(url).expect("url"),
        method: http::Method::GET,
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
    };
    http.send(request).await.map(|r| r.status.as_u16())
}
