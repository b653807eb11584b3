//! `wasi-dapr serve` as daprd meets it: CGI in and out, per-request isolation of faults,
//! limits, the app token, health and graceful shutdown.

use std::time::{Duration, Instant};

use crate::support::{MockServer, Output, Reply, allowlist, cache_dir, guests, wasi_dapr};

/// A `wasi-dapr serve` process on a free port, killed on drop.
pub struct Served {
    pub base: String,
    child: tokio::process::Child,
    pub _allow: Option<crate::support::Allowlist>,
}

impl Served {
    pub async fn start(
        module: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        allow: Option<crate::support::Allowlist>,
    ) -> Self {
        // A free port can be taken by another test between the check and serve's bind:
        // then serve exits at once, and another port is tried (three times at most).
        for attempt in 1..=3 {
            let port = free_port();
            let mut cmd = wasi_dapr();
            cmd.arg("serve")
                .arg("--cache-dir")
                .arg(cache_dir())
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"));
            if let Some(a) = &allow {
                cmd.arg("--allowlist").arg(&a.path);
            }
            cmd.args(extra).arg(module);
            for (k, v) in env {
                cmd.env(k, v);
            }
            // Logs go to a file-less sink; tests read responses, not logs.
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit());
            let mut child = cmd.spawn().expect("spawn serve");
            let base = format!("http://127.0.0.1:{port}");
            let health = format!("{base}/healthz");
            let up = wait_until_up(&health);
            tokio::select! {
                () = up => {
                    return Self {
                        base,
                        child,
                        _allow: allow,
                    };
                }
                status = child.wait() => {
                    assert!(attempt < 3, "serve exited before listening three times: {status:?}");
                }
            }
        }
        unreachable!("the loop returns or panics")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("pid")
    }

    pub async fn wait(mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()?
            .ok()?
            .code()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub async fn wait_until_up(url: &str) {
    let client = crate::support::http_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up within 60 s");
}

fn client() -> reqwest::Client {
    crate::support::http_client()
}

#[tokio::test]
async fn request_reaches_the_guest_as_cgi() {
    let s = Served::start(guests::CGI, &["--env", "GREETING=hi"], &[], None).await;
    let res = client()
        .post(s.url("/echo?a=1&b=two"))
        .header("content-type", "application/json")
        .header("x-custom", "v1")
        .header("dapr-api-token", "must-not-reach-guest")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("x_under", "must-not-reach-guest-either")
        .body(r#"{"k":"v"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-handler"], "cgi");
    let text = res.text().await.expect("body");
    for expected in [
        "REQUEST_METHOD=POST",
        "PATH_INFO=/echo",
        "QUERY_STRING=a=1&b=two",
        "CONTENT_TYPE=application/json",
        "CONTENT_LENGTH=9",
        "HTTP_X_CUSTOM=v1",
        "HTTP_X_MULTI=a, b",
        "SERVER_NAME=127.0.0.1",
        "SERVER_PROTOCOL=HTTP/1.1",
        "GATEWAY_INTERFACE=CGI/1.1",
        "REQUEST_URI=/echo?a=1&b=two",
        "GREETING=hi",
        "DAPR_HTTP_PORT=3500",
        "BODY={\"k\":\"v\"}",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected:?} in\n{text}"
        );
    }
    assert!(
        text.contains(&format!(
            "X_FULL_URL=http://{}/echo?a=1&b=two",
            s.base.trim_start_matches("http://")
        )),
        "{text}"
    );
    assert!(!text.contains("must-not-reach-guest"), "{text}");
    assert!(!text.contains("HTTP_X_UNDER"), "{text}");
    // One entry per name: the guest's environment has no duplicates.
    let names: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("BODY="))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "duplicate names in\n{text}");
}

#[tokio::test]
async fn status_location_and_not_found() {
    let s = Served::start(guests::CGI, &[], &[], None).await;
    let c = client();
    let res = c.get(s.url("/status/418")).send().await.expect("req");
    assert_eq!(res.status(), 418);
    assert_eq!(res.text().await.expect("body"), "status 418");
    let res = c.get(s.url("/redirect")).send().await.expect("req");
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/hello");
    let res = c.get(s.url("/nope")).send().await.expect("req");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn faults_are_500s_for_that_request_only() {
    let s = Served::start(
        guests::CGI,
        &["--request-timeout", "1s", "--max-memory-mib", "64"],
        &[],
        None,
    )
    .await;
    let c = client();
    let faults = ["/trap", "/loop", "/oom", "/exit", "/bad-output"];
    let mut tasks = Vec::new();
    for path in faults {
        let (c, url) = (c.clone(), s.url(path));
        tasks.push(tokio::spawn(async move {
            (path, c.get(url).send().await.map(|r| r.status().as_u16()))
        }));
    }
    // A good request in parallel with the faults succeeds, and quickly.
    let started = Instant::now();
    let good = c.get(s.url("/hello")).send().await.expect("good request");
    assert_eq!(good.status(), 200);
    assert_eq!(good.text().await.expect("body"), "hello");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a busy neighbour must not block a good request"
    );
    for t in tasks {
        let (path, status) = t.await.expect("join");
        assert_eq!(status.expect("response"), 500, "{path}");
    }
    // And the server is still up afterwards.
    let res = c.get(s.url("/hello")).send().await.expect("after faults");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn body_and_response_caps() {
    let s = Served::start(
        guests::CGI,
        &[
            "--max-request-body-bytes",
            "100",
            "--max-response-bytes",
            "1048576",
        ],
        &[],
        None,
    )
    .await;
    let c = client();
    let res = c
        .post(s.url("/echo"))
        .body(vec![b'a'; 101])
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 413);
    let res = c
        .post(s.url("/echo"))
        .body(vec![b'a'; 100])
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    // /big writes 4 MiB: over the 1 MiB cap.
    let res = c.get(s.url("/big")).send().await.expect("req");
    assert_eq!(res.status(), 500);
}

#[tokio::test]
async fn excess_requests_get_503_after_the_queue_timeout() {
    let s = Served::start(
        guests::CGI,
        &[
            "--max-concurrent",
            "1",
            "--queue-timeout",
            "200ms",
            "--request-timeout",
            "2s",
        ],
        &[],
        None,
    )
    .await;
    let c = client();
    let busy = tokio::spawn({
        let (c, url) = (c.clone(), s.url("/loop"));
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = c.get(s.url("/hello")).send().await.expect("req");
    assert_eq!(res.status(), 503);
    assert_eq!(busy.await.expect("join").expect("busy response"), 500);
    let res = c.get(s.url("/hello")).send().await.expect("req");
    assert_eq!(res.status(), 200, "capacity is back after the deadline");
}

#[tokio::test]
async fn app_token_is_required_except_for_health() {
    let s = Served::start(guests::CGI, &[], &[("APP_API_TOKEN", "app-secret")], None).await;
    let c = client();
    assert_eq!(
        c.get(s.url("/hello")).send().await.expect("req").status(),
        401
    );
    let wrong = c
        .get(s.url("/hello"))
        .header("dapr-api-token", "nope")
        .send()
        .await
        .expect("req");
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.text().await.expect("body"), "invalid api token");
    let ok = c
        .get(s.url("/hello"))
        .header("dapr-api-token", "app-secret")
        .send()
        .await
        .expect("req");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        c.get(s.url("/healthz")).send().await.expect("req").status(),
        200
    );
}

#[tokio::test]
async fn handlers_keep_the_outbound_allowlist() {
    let up = MockServer::start(|_| Reply::ok("from upstream")).await;
    let allow = allowlist(&[up.origin()], "");
    let s = Served::start(
        guests::CGI,
        &["--env", &format!("FETCH_URL={}", up.url("/x"))],
        &[],
        Some(allow),
    )
    .await;
    let res = client().get(s.url("/fetch")).send().await.expect("req");
    assert_eq!(
        res.text().await.expect("body"),
        "upstream 200: from upstream"
    );

    let denied = MockServer::hello().await;
    let s2 = Served::start(
        guests::CGI,
        &["--env", &format!("FETCH_URL={}", denied.url("/x"))],
        &[],
        Some(allowlist(&[up.origin()], "")),
    )
    .await;
    let res = client().get(s2.url("/fetch")).send().await.expect("req");
    assert_eq!(res.status(), 502);
    assert_eq!(res.text().await.expect("body"), "error=7");
    assert_eq!(denied.connections(), 0);
}

#[tokio::test]
async fn readiness_follows_the_sidecar() {
    let sidecar = MockServer::start(|r| {
        if r.uri.path() == "/v1.0/healthz/outbound" {
            Reply::ok("").status(204)
        } else {
            Reply::ok("").status(404)
        }
    })
    .await;
    let port = sidecar.addr.port().to_string();
    let s = Served::start(guests::CGI, &[], &[("DAPR_HTTP_PORT", &port)], None).await;
    assert_eq!(
        client()
            .get(s.url("/readyz"))
            .send()
            .await
            .expect("req")
            .status(),
        200
    );
    let s2 = Served::start(
        guests::CGI,
        &[],
        &[("DAPR_HTTP_PORT", &free_port().to_string())],
        None,
    )
    .await;
    assert_eq!(
        client()
            .get(s2.url("/readyz"))
            .send()
            .await
            .expect("req")
            .status(),
        503
    );
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let s = Served::start(guests::CGI, &["--request-timeout", "1s"], &[], None).await;
    let c = client();
    let in_flight = tokio::spawn({
        let (c, url) = (c.clone(), s.url("/loop"));
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    crate::support::sigterm(s.pid()).await;
    assert_eq!(
        in_flight
            .await
            .expect("join")
            .expect("in-flight request answered"),
        500
    );
    assert_eq!(s.wait().await, Some(0), "clean exit after SIGTERM");
}

#[tokio::test]
async fn env_cannot_set_cgi_variables() {
    for var in ["PATH_INFO=/elsewhere", "HTTP_HOST=evil.example"] {
        let mut cmd = wasi_dapr();
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--env")
            .arg(var)
            .arg(guests::CGI);
        let out: Output = crate::support::output(cmd).await;
        assert_eq!(out.code, Some(1), "{out}");
        let name = var.split('=').next().unwrap_or_default();
        assert!(
            out.stderr
                .contains(&format!("--env {name}: serve sets this variable")),
            "{out}"
        );
    }
}

#[tokio::test]
async fn bad_module_is_a_clear_startup_error() {
    let mut cmd = wasi_dapr();
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("/nonexistent.wasm");
    let out: Output = crate::support::output(cmd).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("/nonexistent.wasm"), "{out}");
}

/// Requests served from prepared instances (the default) and from the request path
/// (`--prepared-instances 0`) see only their own request, and a burst far above
/// `--max-concurrent` gets answers (200, or 503 once the queue times out), never a 500
/// from a pool that ran out of slots.
#[tokio::test]
async fn every_request_gets_a_fresh_instance_under_load() {
    for prepared in ["2", "0"] {
        let s = Served::start(
            guests::CGI,
            &["--prepared-instances", prepared, "--max-concurrent", "2"],
            &[],
            None,
        )
        .await;
        let c = client();
        for i in 0..40 {
            let text = c
                .get(s.url("/echo"))
                .header("x-seq", i.to_string())
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("body");
            let seen: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("HTTP_X_SEQ="))
                .collect();
            assert_eq!(seen, [format!("HTTP_X_SEQ={i}")], "prepared {prepared}");
        }
        let mut ok = 0;
        for status in crate::support::burst(&c, &s.url("/hello"), 12, 25).await {
            assert!(
                status == 200 || status == 503,
                "prepared {prepared}: {status}"
            );
            ok += usize::from(status == 200);
        }
        assert!(ok > 0, "prepared {prepared}: nothing succeeded");
        assert_eq!(
            c.get(s.url("/hello")).send().await.expect("after").status(),
            200
        );
    }
}

/// A wasm `start` function runs during instantiation. It must see the request's
/// environment, so modules that have one are never instantiated ahead of their request.
#[tokio::test]
async fn a_start_function_sees_the_request() {
    let seen = "Content-Type: text/plain\n\nstart saw the request";
    let unseen = "Status: 500\n\nstart saw an empty environment";
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $vars (mut i32) (i32.const 0))
  (data (i32.const 256) "{seen}")
  (data (i32.const 512) "{unseen}")
  (func $init
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (global.set $vars (i32.load (i32.const 0))))
  (start $init)
  (func (export "_start")
    (if (global.get $vars)
      (then (i32.store (i32.const 16) (i32.const 256)) (i32.store (i32.const 20) (i32.const {})))
      (else (i32.store (i32.const 16) (i32.const 512)) (i32.store (i32.const 20) (i32.const {}))))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"#,
        seen.len(),
        unseen.len(),
        seen = seen.replace('\n', "\\n"),
        unseen = unseen.replace('\n', "\\n"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let module = dir.path().join("start.wat");
    std::fs::write(&module, wat).expect("write module");
    let s = Served::start(module.to_str().expect("utf-8 path"), &[], &[], None).await;
    let c = client();
    for _ in 0..3 {
        let res = c.get(s.url("/")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.expect("body"), "start saw the request");
    }
}
