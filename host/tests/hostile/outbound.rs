//! The outbound token and the allowlist under hostile configuration: the token only to the
//! sidecar origin, a 200k-entry allowlist loading in linear time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use wasi_dapr_test_support::mock::{MockServer, Reply};

use crate::support::{guests, report, wasi_dapr};

/// Runs the `http_fetch` guest on `url` with `DAPR_API_TOKEN` set and the sidecar at
/// 127.0.0.1:`port`; the guest's exit code.
async fn fetch(url: &str, extra: &[&str], port: u16, allowlist: &std::path::Path) -> Option<i32> {
    let mut cmd = wasi_dapr();
    cmd.arg("run")
        .arg("--allowlist")
        .arg(allowlist)
        .arg(guests::HTTP_FETCH)
        .arg("--")
        .arg(url)
        .args(extra)
        .env("DAPR_API_TOKEN", "s3cr3t-token")
        .env("DAPR_HTTP_PORT", port.to_string());
    let status = tokio::time::timeout(Duration::from_secs(60), cmd.status())
        .await
        .expect("the guest finished")
        .expect("ran");
    status.code()
}

/// Row 6: with `DAPR_API_TOKEN` set and an allowlist that also allows other loopback
/// addresses on the sidecar's port, the token reaches the sidecar and nothing else —
/// not 127.0.0.2, not [::1], not `localhost`, not after a redirect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_reaches_only_the_sidecar_origin() {
    let sidecar = MockServer::start(|r| {
        if r.target() == "/bounce" {
            let to = r.header("x-to").unwrap_or_default().to_string();
            Reply::ok("").status(307).header("location", &to)
        } else {
            Reply::ok("sidecar")
        }
    })
    .await;
    let port = sidecar.addr.port();
    let other = MockServer::start_at(SocketAddr::from(([127, 0, 0, 2], port)), |_| {
        Reply::ok("other")
    })
    .await;
    // [::1] on the same port, where the machine has IPv6 loopback.
    let v6 = match std::net::TcpListener::bind(("::1", 0)) {
        Ok(_) => Some(
            MockServer::start_at(
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
                |_| Reply::ok("v6"),
            )
            .await,
        ),
        Err(_) => None,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let allow = dir.path().join("allowlist.toml");
    std::fs::write(
        &allow,
        format!(
            "allowed_hosts = [\"http://127.0.0.1:{port}\", \"http://127.0.0.2:{port}\", \"http://[::1]:{port}\", \"http://localhost:{port}\"]\n[limits]\nmax_redirects = 2\n"
        ),
    )
    .expect("write allowlist");
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    assert_eq!(
        fetch(&url("127.0.0.1", "/v1.0/healthz"), &[], port, &allow).await,
        Some(0)
    );
    assert_eq!(
        fetch(&url("127.0.0.2", "/steal"), &[], port, &allow).await,
        Some(0)
    );
    fetch(&url("localhost", "/steal"), &[], port, &allow).await;
    if v6.is_some() {
        assert_eq!(
            fetch(&url("[::1]", "/steal"), &[], port, &allow).await,
            Some(0)
        );
    }
    // The sidecar redirects to 127.0.0.2: the token is not carried over.
    let to = format!("x-to: {}", url("127.0.0.2", "/after-redirect"));
    fetch(
        &url("127.0.0.1", "/bounce"),
        &["--header", &to],
        port,
        &allow,
    )
    .await;
    let with_token = |m: &MockServer| {
        m.requests()
            .iter()
            .filter(|r| r.header("dapr-api-token").is_some())
            .count()
    };
    let sidecar_got = sidecar.requests().len();
    assert!(sidecar_got >= 1, "the sidecar was called");
    assert_eq!(
        with_token(&sidecar),
        sidecar
            .requests()
            .iter()
            .filter(|r| r.target() != "/steal")
            .count()
    );
    assert_eq!(
        other.requests().len(),
        2,
        "127.0.0.2 was called directly and after the redirect"
    );
    assert_eq!(with_token(&other), 0, "the token reached 127.0.0.2");
    if let Some(v6) = &v6 {
        assert_eq!(with_token(v6), 0, "the token reached [::1]");
    }
    // `localhost` is not the sidecar as configured (127.0.0.1): whichever address it
    // resolved to, no token.
    let localhost_token = sidecar
        .requests()
        .iter()
        .filter(|r| r.target() == "/steal" && r.header("dapr-api-token").is_some())
        .count();
    assert_eq!(
        localhost_token, 0,
        "the token reached http://localhost:{port}"
    );
    report(
        "the_token_reaches_only_the_sidecar_origin",
        &format!(
            "sidecar requests with token {}; 127.0.0.2: {} requests, 0 with token; [::1]: {}",
            with_token(&sidecar),
            other.requests().len(),
            if v6.is_some() {
                "0 with token"
            } else {
                "no IPv6 loopback on this machine"
            }
        ),
    );
}

/// Row 13: a 200k-entry allowlist (half of them duplicates) loads in linear time: `run`
/// starts and denies as it should well before the old quadratic check would finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_allowlist_loads_in_linear_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let allow = dir.path().join("allowlist.toml");
    let mut text = String::from("allowed_hosts = [\n");
    for i in 0..200_000u32 {
        let n = i % 100_000;
        text.push_str(&format!("\"https://h{n}.example:{}\",\n", 1 + (n % 60_000)));
    }
    text.push_str("]\n");
    std::fs::write(&allow, text).expect("write allowlist");
    let started = Instant::now();
    let mut cmd = wasi_dapr();
    cmd.arg("run")
        .arg("--allowlist")
        .arg(&allow)
        .arg(guests::HTTP_FETCH)
        .arg("--")
        .arg("http://127.0.0.1:9/denied")
        .stdout(std::process::Stdio::piped());
    // Bounded: the quadratic check took over 30 s on this machine for this size.
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("a 200k-entry allowlist loads within 20 s")
        .expect("ran");
    let took = started.elapsed();
    report(
        "a_long_allowlist_loads_in_linear_time",
        &format!("200,000 entries: run finished in {took:?}"),
    );
    // The list loaded and was applied: the guest's request was denied (error 7).
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("error=7"), "{stdout}");
}
