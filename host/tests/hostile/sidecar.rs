//! Hostile load on `wasi-dapr sidecar`: bulk-get amplification, pub/sub floods against an
//! app that never answers, symlinks in `rootPath`, metadata and lock floods, invalid
//! percent-encoding.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Proc, normal_request, report};

/// How long a normal request may take while the sidecar is under attack.
const NORMAL_WITHIN: Duration = Duration::from_secs(2);

/// `method path` with `body` on a fresh connection; the status and the response body.
async fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let status = std::str::from_utf8(out.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| out[i + 4..].to_vec())
        .unwrap_or_default();
    (status, body)
}

/// Runs `fut` while watching the process's resident memory: `None` (after printing what
/// was seen) once it passes `limit_kib`, so a runaway build fails the test instead of
/// exhausting the machine. The process is killed when the test drops it.
async fn within_memory<F: Future>(proc: &Proc, limit_kib: u64, fut: F) -> Option<F::Output> {
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            _ = tick.tick() => {
                let rss = proc.rss_kib();
                if rss > limit_kib {
                    println!("hostile: resident memory reached {} MiB; stopping the attack", rss / 1024);
                    return None;
                }
            }
        }
    }
}

/// A folder of component YAML files.
fn resources(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write component");
    }
    dir
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorCode")
                .and_then(|c| c.as_str())
                .map(String::from)
        })
        .unwrap_or_default()
}

/// Whether the process has exited (gone, or a zombie waiting to be reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(s) => s
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|st| st.trim_start().starts_with('Z')),
    }
}

const STATE_URL: &str = "/v1.0/state/statestore";

/// Row 1: one request naming one 1 MiB key 2,000 times must not build a 2 GB answer.
#[tokio::test]
async fn bulk_get_naming_one_big_key_many_times_stays_bounded() {
    const TEST: &str = "bulk_get_naming_one_big_key_many_times_stays_bounded";
    let sc = Proc::sidecar(&[], &[]).await;
    let big = "x".repeat(1 << 20);
    let save = format!(r#"[{{"key":"big","value":"{big}"}}]"#);
    let (status, _) = send(sc.addr, "POST", STATE_URL, save.as_bytes()).await;
    assert_eq!(status, 204, "saving the big value");
    let keys = vec!["big"; 2000];
    let bulk = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap();

    let started = Instant::now();
    let bulk_url = format!("{STATE_URL}/bulk");
    let attack = send(sc.addr, "POST", &bulk_url, &bulk);
    let normal = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        normal_request(sc.addr, "/v1.0/healthz", NORMAL_WITHIN).await
    };
    let both = async { tokio::join!(attack, normal) };
    let outcome = within_memory(&sc, 1024 * 1024, both).await;
    let peak = sc.peak_kib();
    report(TEST, &format!("peak memory {} MiB", peak / 1024));
    let ((status, body), (normal_status, latency)) =
        outcome.expect("the bulk-get answer was built without bound");
    report(
        TEST,
        &format!(
            "bulk get answered {status} ({} bytes) after {:?}; healthz {normal_status} in {latency:?}",
            body.len(),
            started.elapsed()
        ),
    );
    assert_eq!(normal_status, 204);
    assert!(
        status == 500 && error_code(&body) == "ERR_STATE_BULK_GET"
            || status == 200 && body.len() <= 4 * 1024 * 1024 + 4096,
        "an error or a bounded answer, got {status} with {} bytes",
        body.len()
    );
    assert!(peak < 200 * 1024, "peak memory {} MiB", peak / 1024);

    // SIGTERM during a large bulk get stops the process.
    let pid = sc.pid();
    let keys: Vec<String> = (0..200_000).map(|i| format!("k{i}")).collect();
    let bulk = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap();
    let addr = sc.addr;
    let flood =
        tokio::spawn(async move { send(addr, "POST", "/v1.0/state/statestore/bulk", &bulk).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let term = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    while !exited(pid) && term.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report(TEST, &format!("SIGTERM to exit: {:?}", term.elapsed()));
    assert!(exited(pid), "SIGTERM did not stop the sidecar");
    flood.abort();
}

/// Row 4: thousands of messages to a topic whose app accepts connections and never answers.
#[tokio::test]
async fn pubsub_flood_to_an_app_that_never_answers_stays_bounded() {
    const TEST: &str = "pubsub_flood_to_an_app_that_never_answers_stays_bounded";
    let app = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let app_port = app.local_addr().unwrap().port();
    let held = Arc::new(AtomicUsize::new(0));
    let held_in = held.clone();
    let holder = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = app.accept().await {
            conns.push(s);
            held_in.store(conns.len(), Ordering::SeqCst);
        }
    });
    let dir = resources(&[
        (
            "pubsub.yaml",
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.in-memory\n  version: v1\n",
        ),
        (
            "subscription.yaml",
            "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: orders\nspec:\n  pubsubname: pubsub\n  topic: orders\n  routes:\n    default: /orders\n",
        ),
    ]);
    let port = app_port.to_string();
    let path = dir.path().to_str().unwrap();
    let sc = Proc::sidecar(&["--app-port", &port, "--resources-path", path], &[]).await;
    let base_fds = sc.open_fds();

    const MESSAGES: usize = 3000;
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut publishers = Vec::new();
    for _ in 0..16 {
        let (next, accepted, refused) = (next.clone(), accepted.clone(), refused.clone());
        let addr = sc.addr;
        publishers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < MESSAGES {
                let (status, body) =
                    send(addr, "POST", "/v1.0/publish/pubsub/orders", br#"{"n":1}"#).await;
                match status {
                    204 => accepted.fetch_add(1, Ordering::SeqCst),
                    500 if error_code(&body) == "ERR_PUBSUB_PUBLISH_MESSAGE" => {
                        refused.fetch_add(1, Ordering::SeqCst)
                    }
                    other => panic!(
                        "publish answered {other}: {}",
                        String::from_utf8_lossy(&body)
                    ),
                };
            }
        }));
    }
    for p in publishers {
        p.await.expect("publisher");
    }
    let publish_time = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds = sc.open_fds();
    let (health, latency) = normal_request(sc.addr, "/v1.0/healthz", NORMAL_WITHIN).await;
    let peak = sc.peak_kib();
    let (accepted, refused) = (
        accepted.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
    );
    report(
        TEST,
        &format!(
            "{MESSAGES} publishes in {publish_time:?}: {accepted} accepted, {refused} refused; \
             open fds {base_fds} -> {fds}; app connections {}; peak memory {} MiB; healthz {health} in {latency:?}",
            held.load(Ordering::SeqCst),
            peak / 1024
        ),
    );
    assert!(
        fds < base_fds + 100,
        "open fds grew from {base_fds} to {fds}"
    );
    assert!(refused > 0, "the publisher never saw the queue full");
    assert!(accepted > 0, "no message was accepted");
    assert!(peak < 200 * 1024, "peak memory {} MiB", peak / 1024);
    holder.abort();
}

/// Row 5: a dangling symlink inside `rootPath`, then `create` on that name.
#[tokio::test]
async fn localstorage_create_through_a_dangling_symlink_stays_in_root_path() {
    const TEST: &str = "localstorage_create_through_a_dangling_symlink_stays_in_root_path";
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(outside.join("escaped.txt"), root.join("evil")).unwrap();
    std::os::unix::fs::symlink(outside.join("newdir"), root.join("dirlink")).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("peek")).unwrap();
    let binding = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: files\nspec:\n  type: bindings.localstorage\n  version: v1\n  metadata:\n  - name: rootPath\n    value: {}\n",
        root.display()
    );
    let dir = resources(&[("binding.yaml", &binding)]);
    let sc = Proc::sidecar(&["--resources-path", dir.path().to_str().unwrap()], &[]).await;

    let mut answers = Vec::new();
    for (op, name) in [
        ("create", "evil"),
        ("create", "dirlink/x.txt"),
        ("create", "peek"),
        ("get", "peek"),
    ] {
        let body = format!(
            r#"{{"operation":"{op}","data":"escaped","metadata":{{"fileName":"{name}"}}}}"#
        );
        let (status, resp) = send(sc.addr, "POST", "/v1.0/bindings/files", body.as_bytes()).await;
        answers.push((
            status,
            format!("{op} {name}: {status} {}", String::from_utf8_lossy(&resp)),
        ));
    }
    let (ok, _) = send(
        sc.addr,
        "POST",
        "/v1.0/bindings/files",
        // Not valid base64 (daprd stores a string that is valid base64 decoded).
        br#"{"operation":"create","data":"fine text","metadata":{"fileName":"sub/ok.txt"}}"#,
    )
    .await;
    let (status, latency) = normal_request(sc.addr, "/v1.0/healthz", NORMAL_WITHIN).await;
    let peak = sc.peak_kib();
    for (_, a) in &answers {
        report(TEST, a);
    }
    let written: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    report(
        TEST,
        &format!(
            "outside rootPath: {written:?}; peak memory {} MiB; healthz {status} in {latency:?}",
            peak / 1024
        ),
    );
    assert_eq!(
        written,
        vec!["secret.txt".to_string()],
        "a file was written outside rootPath"
    );
    for (status, what) in &answers {
        assert_ne!(*status, 200, "went through a symlink: {what}");
    }
    assert!(Path::new(&outside.join("secret.txt")).exists());
    assert_eq!(ok, 200, "a normal create inside rootPath");
    assert_eq!(
        std::fs::read(root.join("sub/ok.txt")).unwrap(),
        b"fine text"
    );
    assert_eq!(status, 204);
    assert!(peak < 100 * 1024, "peak memory {} MiB", peak / 1024);
}

/// Row 10: large metadata values read in parallel, and a flood of large lock ids.
#[tokio::test]
async fn metadata_and_lock_floods_stay_bounded() {
    const TEST: &str = "metadata_and_lock_floods_stay_bounded";
    let lock = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: lockstore\nspec:\n  type: lock.in-memory\n  version: v1\n";
    let state = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.in-memory\n  version: v1\n";
    let dir = resources(&[("lock.yaml", lock), ("state.yaml", state)]);
    let sc = Proc::sidecar(&["--resources-path", dir.path().to_str().unwrap()], &[]).await;
    let value = vec![b'v'; 3 << 20];
    let attack = async {
        let mut refused = 0;
        for i in 0..25 {
            let (status, _) = send(sc.addr, "PUT", &format!("/v1.0/metadata/k{i}"), &value).await;
            if status != 204 {
                refused += 1;
            }
        }
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let addr = sc.addr;
                tokio::spawn(async move { send(addr, "GET", "/v1.0/metadata", b"").await })
            })
            .collect();
        let mut biggest = 0;
        for r in reads {
            let (status, body) = r.await.expect("metadata read");
            assert_eq!(status, 200);
            biggest = biggest.max(body.len());
        }
        // 3,000 lock ids of 64 KiB each.
        let mut locks_refused = 0;
        for i in 0..3000 {
            let id = format!("{i}-{}", "r".repeat(64 << 10));
            let body = format!(r#"{{"resourceId":"{id}","lockOwner":"o","expiryInSeconds":3600}}"#);
            let (status, _) = send(
                sc.addr,
                "POST",
                "/v1.0-alpha1/lock/lockstore",
                body.as_bytes(),
            )
            .await;
            if status != 200 {
                locks_refused += 1;
            }
        }
        (refused, biggest, locks_refused)
    };
    let outcome = within_memory(&sc, 1024 * 1024, attack).await;
    let peak = sc.peak_kib();
    report(TEST, &format!("peak memory {} MiB", peak / 1024));
    let (refused, biggest, locks_refused) =
        outcome.expect("metadata reads were built without bound");
    let (status, latency) = normal_request(sc.addr, "/v1.0/healthz", NORMAL_WITHIN).await;
    let (lock_status, lock_body) = send(
        sc.addr,
        "POST",
        "/v1.0-alpha1/lock/lockstore",
        br#"{"resourceId":"normal","lockOwner":"o","expiryInSeconds":5}"#,
    )
    .await;
    report(
        TEST,
        &format!(
            "metadata puts refused {refused}/25, largest metadata answer {biggest} bytes, \
             large lock ids refused {locks_refused}/3000; healthz {status} in {latency:?}; \
             a normal lock {lock_status} {}",
            String::from_utf8_lossy(&lock_body)
        ),
    );
    assert_eq!(status, 204);
    assert_eq!(lock_status, 200);
    assert_eq!(lock_body, br#"{"success":true}"#);
    assert!(biggest <= 4 << 20, "a metadata answer of {biggest} bytes");
    assert!(peak < 200 * 1024, "peak memory {} MiB", peak / 1024);
}

/// Row 12: `k%FF` and `k%FE` are not valid UTF-8; they must not both become `k\u{FFFD}`.
#[tokio::test]
async fn invalid_percent_encoding_does_not_alias_keys() {
    const TEST: &str = "invalid_percent_encoding_does_not_alias_keys";
    let sc = Proc::sidecar(&[], &[]).await;
    let (save_ff, _) = send(
        sc.addr,
        "POST",
        STATE_URL,
        br#"[{"key":"k\uFFFD","value":"first"}]"#,
    )
    .await;
    assert_eq!(save_ff, 204);
    let (get_ff, body_ff) = send(sc.addr, "GET", &format!("{STATE_URL}/k%FF"), b"").await;
    let (get_fe, body_fe) = send(sc.addr, "GET", &format!("{STATE_URL}/k%FE"), b"").await;
    let (del_fe, _) = send(sc.addr, "DELETE", &format!("{STATE_URL}/k%FE"), b"").await;
    let (get_q, body_q) = send(
        sc.addr,
        "GET",
        &format!("{STATE_URL}/k?metadata.a=%FF"),
        b"",
    )
    .await;
    let (still, still_body) = send(sc.addr, "GET", &format!("{STATE_URL}/k%EF%BF%BD"), b"").await;
    let (status, latency) = normal_request(sc.addr, "/v1.0/healthz", NORMAL_WITHIN).await;
    let peak = sc.peak_kib();
    report(
        TEST,
        &format!(
            "GET k%FF {get_ff} {}; GET k%FE {get_fe} {}; DELETE k%FE {del_fe}; query %FF {get_q} {}; \
             GET k\u{FFFD} {still} {}; healthz {status} in {latency:?}; peak memory {} MiB",
            String::from_utf8_lossy(&body_ff),
            String::from_utf8_lossy(&body_fe),
            String::from_utf8_lossy(&body_q),
            String::from_utf8_lossy(&still_body),
            peak / 1024
        ),
    );
    for (what, st, body) in [
        ("k%FF", get_ff, &body_ff),
        ("k%FE", get_fe, &body_fe),
        ("query", get_q, &body_q),
    ] {
        assert_eq!(st, 400, "{what}: {}", String::from_utf8_lossy(body));
        assert_eq!(error_code(body), "ERR_MALFORMED_REQUEST", "{what}");
    }
    assert_eq!(del_fe, 400, "a delete of k%FE must not remove k\u{FFFD}");
    assert_eq!(
        (still, still_body.as_slice()),
        (200, br#""first""#.as_slice())
    );
    assert_eq!(status, 204);
    assert!(peak < 100 * 1024, "peak memory {} MiB", peak / 1024);
}
