//! Hostile load on `wasi-dapr serve`: slow bodies, half-sent heads and idle connections,
//! forged CGI framing, NUL in paths, readiness floods, guest stderr floods.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasi_dapr_test_support::mock::{MockServer, Reply};

use crate::support::{Proc, get_raw, guests, normal_request, report};

/// Peak memory a serve process may reach in these tests (its pool reserves address
/// space, not resident memory; resident stays far below this).
const SERVE_PEAK_KIB: u64 = 400 * 1024;

/// Row 2: clients that declare a body and send it at a trickle hold no instance: other
/// requests are answered, and the trickling ones get 408 at the body deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_hold_no_instance() {
    let served = Proc::serve(
        guests::CGI,
        &[
            "--max-concurrent",
            "4",
            "--queue-timeout",
            "200ms",
            "--body-read-timeout",
            "2s",
        ],
        &[],
    )
    .await;
    let addr = served.addr;
    let mut trickles = Vec::new();
    for _ in 0..24 {
        trickles.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n")
                .await
                .expect("head");
            let started = Instant::now();
            let mut answer = Vec::new();
            // One byte every 100 ms until the server answers or 8 s pass.
            while started.elapsed() < Duration::from_secs(8) {
                if s.write_all(b"x").await.is_err() {
                    break;
                }
                let mut buf = [0u8; 256];
                match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        answer.extend_from_slice(&buf[..n]);
                        break;
                    }
                    Err(_) => {}
                }
            }
            (
                String::from_utf8_lossy(&answer).into_owned(),
                started.elapsed(),
            )
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, latency) = normal_request(addr, "/hello", Duration::from_secs(5)).await;
    assert_eq!(status, 200, "a normal request while 24 bodies trickle");
    let mut timed_out = 0;
    for t in trickles {
        let (answer, took) = t.await.expect("trickle task");
        assert!(
            took < Duration::from_secs(8),
            "a trickling body was never cut off"
        );
        if answer.starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert_eq!(
        timed_out, 24,
        "every trickling body gets 408 at --body-read-timeout"
    );
    let peak = served.peak_kib();
    report(
        "slow_bodies_hold_no_instance",
        &format!("normal request {latency:?} (200); 24/24 trickles got 408; peak {peak} KiB"),
    );
    assert!(peak < SERVE_PEAK_KIB, "peak {peak} KiB");
}

/// Row 3: half-sent request heads and idle keep-alive connections are closed at the
/// header-read timeout, and open connections are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_and_idle_connections_are_closed() {
    let served = Proc::serve(
        guests::CGI,
        &["--header-read-timeout", "1s", "--max-connections", "64"],
        &[],
    )
    .await;
    let addr = served.addr;
    let mut held = Vec::new();
    for i in 0..200 {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        else {
            continue; // the backlog is full: that is the bound working
        };
        if i % 2 == 0 {
            let _ = s
                .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\nx-half: ")
                .await;
        }
        held.push(s);
    }
    let fds_while_held = served.open_fds();
    // Every held connection is closed by the server within a few seconds: a read ends.
    let started = Instant::now();
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 512];
        let deadline = Duration::from_secs(6).saturating_sub(started.elapsed());
        loop {
            match tokio::time::timeout(deadline, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue, // a 408 answer, then the close
                Err(_) => break,
            }
        }
    }
    let took = started.elapsed();
    assert_eq!(closed, held.len(), "connections still open after {took:?}");
    let (status, latency) = normal_request(addr, "/hello", Duration::from_secs(5)).await;
    assert_eq!(status, 200);
    let peak = served.peak_kib();
    report(
        "half_sent_heads_and_idle_connections_are_closed",
        &format!(
            "{} connections held, {fds_while_held} fds in serve, all closed within {took:?}; normal request {latency:?}; peak {peak} KiB",
            held.len()
        ),
    );
    // 64 connections plus the listener, the engine and the runtime's own descriptors.
    assert!(
        fds_while_held < 64 + 64,
        "{fds_while_held} open descriptors"
    );
    assert!(peak < SERVE_PEAK_KIB, "peak {peak} KiB");
}

/// Row 7: a guest cannot frame the response: its `Content-Length`, `Transfer-Encoding`,
/// `Connection` are dropped and a `Status: 101` is a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_framing_headers_are_the_hosts() {
    let served = Proc::serve(guests::CGI, &[], &[]).await;
    let addr = served.addr;
    let (status, raw) = get_raw(addr, "/forge-length").await;
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("content-length: 5\r\n"), "{text}");
    assert!(!text.contains("content-length: 1000"), "{text}");
    let (status, raw) = get_raw(addr, "/forge-chunked").await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status, 200, "{text}");
    // One response: its head frames the whole guest body (the forged "second response"
    // is only bytes of it), with the host's length and no chunking.
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let head = head.to_ascii_lowercase();
    assert!(!head.contains("transfer-encoding"), "{head}");
    let length = format!("content-length: {}", body.len());
    assert!(head.lines().any(|l| l.trim() == length), "{head}");
    assert!(body.ends_with("forged"), "{body}");
    for code in ["101", "100", "600"] {
        let (status, _) = get_raw(addr, &format!("/status/{code}")).await;
        assert_eq!(status, 500, "Status: {code}");
    }
    let (status, latency) = normal_request(addr, "/hello", Duration::from_secs(5)).await;
    assert_eq!(status, 200);
    report(
        "guest_framing_headers_are_the_hosts",
        &format!(
            "forged lengths and chunking dropped, 1xx/600 are 500; normal request {latency:?}"
        ),
    );
}

/// Row 8: a decoded NUL or invalid UTF-8 in the path is a 400, not a truncated or
/// aliased `PATH_INFO`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_and_invalid_utf8_in_paths_are_refused() {
    let served = Proc::serve(guests::CGI, &[], &[]).await;
    for path in ["/hello%00xyz", "/hello%FF", "/hello%fe", "/%C3"] {
        let (status, _) = normal_request(served.addr, path, Duration::from_secs(5)).await;
        assert_eq!(status, 400, "{path}");
    }
    let (status, latency) = normal_request(served.addr, "/hello", Duration::from_secs(5)).await;
    assert_eq!(status, 200);
    report(
        "nul_and_invalid_utf8_in_paths_are_refused",
        &format!("4 paths refused with 400; normal request {latency:?}"),
    );
}

/// Row 9: a flood of `/readyz` probes reuses one client and one cached answer: the
/// sidecar is asked about once a second, not once a probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_floods_ask_the_sidecar_once_per_interval() {
    let sidecar = MockServer::start(|_| Reply::ok("")).await;
    let port = sidecar.addr.port().to_string();
    let served = Proc::serve(guests::CGI, &[], &[("DAPR_HTTP_PORT", &port)]).await;
    let addr = served.addr;
    let started = Instant::now();
    let mut probes = Vec::new();
    for _ in 0..8 {
        probes.push(tokio::spawn(async move {
            let mut ok = 0u32;
            while started.elapsed() < Duration::from_secs(2) {
                if crate::support::get_status(addr, "/readyz").await.ok() == Some(200) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let (status, latency) = normal_request(addr, "/hello", Duration::from_secs(5)).await;
    let mut answered = 0;
    for p in probes {
        answered += p.await.expect("probe task");
    }
    let elapsed = started.elapsed();
    let asked = sidecar.requests_to("/v1.0/healthz/outbound").len();
    report(
        "readiness_floods_ask_the_sidecar_once_per_interval",
        &format!(
            "{answered} probes answered 200 in {elapsed:?}; the sidecar was asked {asked} times; normal request {latency:?}"
        ),
    );
    assert_eq!(status, 200);
    assert!(answered > 20, "{answered} probes answered");
    let bound = elapsed.as_secs() as usize + 2;
    assert!(
        asked <= bound,
        "the sidecar was asked {asked} times for {answered} probes"
    );
}

/// Row 11: a guest's stderr flood is logged up to the cap, escaped, with the rest
/// counted, not multiplied by per-line log overhead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_stderr_floods_are_capped_and_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("serve.log");
    let served = Proc::serve_logged(guests::CGI, &[], &[], Some(&log)).await;
    let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let (status, latency) =
        normal_request(served.addr, "/stderr-flood", Duration::from_secs(20)).await;
    assert_eq!(status, 200);
    // Let the log lines reach the file.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).expect("log");
    let grown = text.len() as u64 - before;
    report(
        "guest_stderr_floods_are_capped_and_escaped",
        &format!(
            "64 KiB of guest stderr in 40,001 lines became {grown} bytes of log; request {latency:?}"
        ),
    );
    assert!(grown < 80 * 1024, "the log grew by {grown} bytes");
    assert!(text.contains("evil\\rline"), "the \\r is escaped");
    assert!(
        !text.contains('\r'),
        "no raw carriage return reaches the log"
    );
    assert!(
        text.contains("dropped_bytes"),
        "what was dropped is counted"
    );
}

/// The metrics listener under slow scrapers and floods: half-sent heads fill its own
/// connection bound without touching the app port, are closed at the header timeout, and
/// then a scrape is answered; requests to thousands of distinct paths add no series (route
/// classes are bounded), so a scrape's size stays the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_holds_its_bounds_under_slow_scrapers_and_floods() {
    let metrics_port = crate::support::free_port();
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let listen = metrics.to_string();
    let served = Proc::serve(
        guests::CGI,
        &[
            "--metrics-listen",
            &listen,
            "--metrics-max-connections",
            "4",
            "--header-read-timeout",
            "1s",
        ],
        &[],
    )
    .await;
    let (status, _) = get_raw(metrics, "/metrics").await;
    assert_eq!(status, 200);

    // 40 slow scrapers: four hold the listener's connections, the rest wait in the
    // backlog; the app port is not affected.
    let mut held = Vec::new();
    for _ in 0..40 {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(metrics)).await
        else {
            continue;
        };
        let _ = s
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await;
        held.push(s);
    }
    let (status, app_latency) = normal_request(served.addr, "/hello", Duration::from_secs(5)).await;
    assert_eq!(status, 200, "the app port answers while scrapers hang");
    // Each held head is closed at the timeout (1 s), four at a time: all within a few.
    let started = Instant::now();
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 512];
        loop {
            let left = Duration::from_secs(20).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    let took = started.elapsed();
    assert_eq!(
        closed,
        held.len(),
        "slow scrapers still open after {took:?}"
    );
    let (status, scrape_latency) =
        normal_request(metrics, "/metrics", Duration::from_secs(5)).await;
    assert_eq!(
        status, 200,
        "a scrape is answered once the slow ones are gone"
    );

    // Distinct paths, wrong methods and junk on the metrics port add nothing unbounded.
    let before = get_raw(metrics, "/metrics").await.1;
    let series = |raw: &[u8]| {
        String::from_utf8_lossy(raw)
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(' '))
            .map(|l| {
                l.rsplit_once(' ')
                    .map(|(k, _)| k.to_string())
                    .unwrap_or_default()
            })
            .collect::<std::collections::BTreeSet<String>>()
    };
    for i in 0..300 {
        let _ = get_raw(served.addr, &format!("/distinct/{i}?q={i}")).await;
        let _ = get_raw(metrics, &format!("/not-metrics/{i}")).await;
    }
    let after = get_raw(metrics, "/metrics").await.1;
    let (before, after) = (series(&before), series(&after));
    let added: Vec<&String> = after.difference(&before).collect();
    assert!(
        added.len() <= 16,
        "300 distinct paths added {} series: {added:#?}",
        added.len()
    );
    let peak = served.peak_kib();
    report(
        "the_metrics_listener_holds_its_bounds_under_slow_scrapers_and_floods",
        &format!(
            "{} slow scrapers held, all closed within {took:?}; app request {app_latency:?}, scrape {scrape_latency:?}; {} series before / {} after 300 distinct paths; peak {peak} KiB",
            held.len(),
            before.len(),
            after.len()
        ),
    );
    assert!(peak < SERVE_PEAK_KIB, "peak {peak} KiB");
}
