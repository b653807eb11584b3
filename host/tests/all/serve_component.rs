//! `wasi-dapr serve` with components: a WASI 0.2 `wasi:http/proxy` (the `http-proxy`
//! fixture) and a WASI 0.3 `wasi:http/service` (the `http-service` fixture, same routes)
//! get the same guarantees as CGI modules, each test run for both — a fresh instance per
//! request, faults costing that request a 500 only, the deadline, the memory and body
//! caps, the concurrency cap, the app token, health, the outbound allowlist and SIGTERM
//! drain. Then the 0.3 service's opt-in instance reuse.

use std::time::{Duration, Instant};

use crate::serve::Served;
use crate::support::{MockServer, allowlist, guests, http_client};

const PROXY: &str = guests::COMPONENT_HTTP_PROXY;
const SERVICE: &str = guests::COMPONENT_HTTP_SERVICE;
/// Both kinds of served component.
const BOTH: [&str; 2] = [PROXY, SERVICE];

#[tokio::test]
async fn a_component_sees_the_request_and_answers_it() {
    for guest in BOTH {
        let s = Served::start(guest, &[], &[], None).await;
        let c = http_client();
        let res = c.get(s.url("/hello")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(res.text().await.expect("body"), "hello");

        let res = c
            .post(s.url("/echo?a=1"))
            .header("x-custom", "v1")
            .header("dapr-api-token", "must-not-reach-guest")
            .body("payload")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        let text = res.text().await.expect("body");
        for expected in [
            "method=POST",
            "path=/echo?a=1",
            "header x-custom=v1",
            "header content-length=7",
            "body=payload",
        ] {
            assert!(
                text.lines().any(|l| l == expected),
                "missing {expected:?} in\n{text}"
            );
        }
        assert!(!text.contains("must-not-reach-guest"), "{text}");

        let res = c.get(s.url("/status/201")).send().await.expect("request");
        assert_eq!(res.status(), 201);
        let res = c.get(s.url("/no-such")).send().await.expect("request");
        assert_eq!(res.status(), 404);
        // Only final statuses are served.
        let res = c.get(s.url("/status/101")).send().await.expect("request");
        assert_eq!(res.status(), 500);
    }
}

#[tokio::test]
async fn component_faults_are_500s_for_that_request_only() {
    for guest in BOTH {
        let s = Served::start(
            guest,
            &["--request-timeout", "1s", "--max-memory-mib", "64"],
            &[],
            None,
        )
        .await;
        let c = http_client();
        let mut tasks = Vec::new();
        for path in ["/trap", "/loop", "/oom"] {
            let (c, url) = (c.clone(), s.url(path));
            tasks.push(tokio::spawn(async move {
                (path, c.get(url).send().await.map(|r| r.status().as_u16()))
            }));
        }
        let started = Instant::now();
        let good = c.get(s.url("/hello")).send().await.expect("good request");
        assert_eq!(good.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a busy neighbour must not block a good request"
        );
        for t in tasks {
            let (path, status) = t.await.expect("join");
            assert_eq!(status.expect("response"), 500, "{path}");
        }
        let res = c.get(s.url("/hello")).send().await.expect("after faults");
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn component_body_caps_and_concurrency_cap() {
    for guest in BOTH {
        let s = Served::start(
            guest,
            &[
                "--max-request-body-bytes",
                "100",
                "--max-response-bytes",
                "1048576",
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
        let c = http_client();
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
        // /big answers 4 MiB: over the 1 MiB cap.
        let res = c.get(s.url("/big")).send().await.expect("req");
        assert_eq!(res.status(), 500);
        // One instance at a time: while /loop holds it, another request waits 200 ms, then 503.
        let busy = tokio::spawn({
            let (c, url) = (c.clone(), s.url("/loop"));
            async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let res = c.get(s.url("/hello")).send().await.expect("req");
        assert_eq!(res.status(), 503);
        assert_eq!(busy.await.expect("join").expect("answered"), 500);
        let res = c.get(s.url("/hello")).send().await.expect("req");
        assert_eq!(
            res.status(),
            200,
            "the slot is free again once the instance is gone"
        );
    }
}

#[tokio::test]
async fn component_requests_need_the_app_token_and_health_does_not() {
    for guest in BOTH {
        let s = Served::start(guest, &[], &[("APP_API_TOKEN", "app-secret")], None).await;
        let c = http_client();
        let res = c.get(s.url("/hello")).send().await.expect("req");
        assert_eq!(res.status(), 401);
        let res = c
            .get(s.url("/hello"))
            .header("dapr-api-token", "app-secret")
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 200);
        let res = c.get(s.url("/healthz")).send().await.expect("req");
        assert_eq!(res.status(), 200);
    }
}

/// A 0.2 proxy served from instances prepared ahead (the default) and from the request
/// path (`--prepared-instances 0`): each request sees only its own request, its
/// environment (`--env`) and outbound policy reach a prepared instance as they reach a
/// fresh one, and a burst above `--max-concurrent` is answered (200, or 503 once the
/// queue times out), never a 500 from a pool out of slots.
#[tokio::test]
async fn prepared_component_instances_see_only_their_own_request() {
    let up = MockServer::start(|_| wasi_dapr_test_support::mock::Reply::ok("from upstream")).await;
    let fetch = format!("FETCH_URL={}", up.url("/data"));
    for prepared in ["2", "0"] {
        let s = Served::start(
            PROXY,
            &[
                "--prepared-instances",
                prepared,
                "--max-concurrent",
                "2",
                "--env",
                &fetch,
            ],
            &[],
            Some(allowlist(&[up.origin()], "")),
        )
        .await;
        let c = http_client();
        for i in 0..30 {
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
                .filter(|l| l.starts_with("header x-seq="))
                .collect();
            assert_eq!(seen, [format!("header x-seq={i}")], "prepared {prepared}");
            let res = c.get(s.url("/fetch")).send().await.expect("fetch");
            assert_eq!(res.status(), 200, "prepared {prepared}");
            assert_eq!(res.text().await.expect("body"), "from upstream");
        }
        let mut ok = 0;
        for status in crate::support::burst(&c, &s.url("/hello"), 8, 20).await {
            assert!(
                status == 200 || status == 503,
                "prepared {prepared}: {status}"
            );
            ok += usize::from(status == 200);
        }
        assert!(ok > 0, "prepared {prepared}: nothing succeeded");
    }
}

#[tokio::test]
async fn component_handlers_keep_the_outbound_allowlist() {
    for guest in BOTH {
        let up =
            MockServer::start(|_| wasi_dapr_test_support::mock::Reply::ok("from upstream")).await;
        let fetch = format!("FETCH_URL={}", up.url("/data"));
        // Allowed: the upstream's answer comes back through the component.
        let s = Served::start(
            guest,
            &["--env", &fetch],
            &[],
            Some(allowlist(&[up.origin()], "")),
        )
        .await;
        let res = http_client()
            .get(s.url("/fetch"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.expect("body"), "from upstream");
        assert_eq!(up.connections(), 1);
        drop(s);
        // The deny twin: no allowlist, the guest gets HTTP-request-denied, nothing connects.
        let s = Served::start(guest, &["--env", &fetch], &[], None).await;
        let res = http_client()
            .get(s.url("/fetch"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 502);
        assert!(
            res.text()
                .await
                .expect("body")
                .contains("HttpRequestDenied")
        );
        assert_eq!(up.connections(), 1, "a denied request must not connect");
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_component_requests_then_exits() {
    for guest in BOTH {
        let s = Served::start(guest, &["--request-timeout", "1s"], &[], None).await;
        let c = http_client();
        let in_flight = tokio::spawn({
            let (c, url) = (c.clone(), s.url("/loop"));
            async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        crate::support::sigterm(s.pid()).await;
        assert_eq!(in_flight.await.expect("join").expect("answered"), 500);
        assert_eq!(s.wait().await, Some(0), "clean exit after SIGTERM");
    }
}

#[tokio::test]
async fn a_command_component_is_refused_by_serve_and_a_proxy_by_run() {
    for guest in BOTH {
        let out = crate::support::Guest::new(guest).run().await;
        assert_ne!(out.code, Some(0), "{out}");
        assert!(out.stderr.contains("not a wasi:cli/command"), "{out}");
        assert!(out.stderr.contains("wasi-dapr serve"), "{out}");
    }
    for command in [
        guests::COMPONENT_HTTP_FETCH_P2,
        guests::COMPONENT_HTTP_FETCH_P3,
    ] {
        let mut cmd = crate::support::wasi_dapr();
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).arg(command);
        let out = crate::support::output(cmd).await;
        assert_ne!(out.code, Some(0), "{out}");
        assert!(out.stderr.contains("wasi:http/proxy"), "{out}");
        assert!(out.stderr.contains("wasi:http/service@0.3.0"), "{out}");
        assert!(out.stderr.contains("wasi-dapr run"), "{out}");
    }
}

/// `run --dev` starts the embedded sidecar for a component too, and its `wasi:http`
/// requests reach it without an allowlist entry: a state save and read back.
#[tokio::test]
async fn run_dev_serves_a_component_the_embedded_sidecar() {
    let port = crate::serve::free_port().to_string();
    let state = format!("http://127.0.0.1:{port}/v1.0/state/statestore");
    let save = crate::support::Guest::new(guests::COMPONENT_HTTP_FETCH_P2)
        .options(&["--dev"])
        .args(&[
            &state,
            "POST",
            "--header",
            "content-type:application/json",
            "--body",
            r#"[{"key":"ship","value":"Millennium Falcon"}]"#,
        ])
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    save.assert_success();
    assert!(
        save.stderr.contains("started the embedded sidecar"),
        "{save}"
    );
    assert_eq!(save.value("status"), Some("204"), "{save}");
}

/// `serve --dev` with a component: invocation through the embedded sidecar reaches it.
#[tokio::test]
async fn serve_dev_wires_the_embedded_sidecar_to_a_component() {
    let port = crate::serve::free_port();
    let served = Served::start(
        PROXY,
        &["--dev", "--app-id", "proxy"],
        &[("DAPR_HTTP_PORT", &port.to_string())],
        None,
    )
    .await;
    crate::serve::wait_until_up(&format!("http://127.0.0.1:{port}/v1.0/healthz/outbound")).await;
    let url = format!("http://127.0.0.1:{port}/v1.0/invoke/proxy/method/hello");
    let res = http_client().get(&url).send().await.expect("invoke");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "hello");
    drop(served);
}

/// A component that goes on running after its answer: the client is answered at once,
/// the instance keeps its concurrency permit until it ends (a second request meets the
/// cap), its stderr is logged when it does, and SIGTERM's drain waits for it.
#[tokio::test]
async fn a_component_answers_before_its_instance_ends_and_the_drain_waits_for_it() {
    let (child, base) = serve_with_logs(
        PROXY,
        &["--max-concurrent", "1", "--queue-timeout", "100ms"],
    )
    .await;
    let c = http_client();

    let lingering = c
        .get(format!("{base}/linger?ms=1500"))
        .send()
        .await
        .expect("answered");
    assert_eq!(lingering.status(), 200);
    assert_eq!(lingering.text().await.expect("body"), "answered");
    // The instance is still running: it holds the only permit.
    let next = c.get(format!("{base}/hello")).send().await.expect("answer");
    assert_eq!(
        next.status(),
        503,
        "the lingering instance must still hold its permit"
    );

    crate::support::sigterm(child.id().expect("pid")).await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("serve exits after the drain")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("waiting for running instances to end"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lingered 1500 ms"),
        "the drain let the instance finish: {stderr}"
    );
}

/// Counts the requests one instance of the `http-service` fixture has served, over `n`
/// sequential requests.
async fn counts(s: &Served, n: usize) -> Vec<String> {
    let c = http_client();
    let mut seen = Vec::new();
    for _ in 0..n {
        let res = c.get(s.url("/count")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        seen.push(res.text().await.expect("body"));
    }
    seen
}

/// A WASI 0.3 service gets a fresh instance per request by default; with
/// `--reuse-instances N` an instance serves N requests in turn, and one that trapped is
/// never served again.
#[tokio::test]
async fn a_service_instance_is_reused_only_when_opted_in_and_only_while_sound() {
    let s = Served::start(SERVICE, &[], &[], None).await;
    assert_eq!(counts(&s, 3).await, ["1", "1", "1"], "fresh by default");
    drop(s);

    // One instance at a time, so the same one is taken each time.
    let s = Served::start(
        SERVICE,
        &["--reuse-instances", "3", "--max-concurrent", "1"],
        &[],
        None,
    )
    .await;
    assert_eq!(
        counts(&s, 4).await,
        ["1", "2", "3", "1"],
        "three requests per instance, then a new one"
    );
    let c = http_client();
    let res = c.get(s.url("/trap")).send().await.expect("request");
    assert_eq!(res.status(), 500);
    assert_eq!(
        counts(&s, 2).await,
        ["1", "2"],
        "the instance that served 1 then trapped is gone"
    );
    // An error code the guest chose is an answer: its instance stays.
    let res = c.get(s.url("/status/503")).send().await.expect("request");
    assert_eq!(res.status(), 503);
    assert_eq!(counts(&s, 1).await, ["1"], "the 3-use bound still holds");
}

#[tokio::test]
async fn reuse_is_refused_for_guests_that_are_not_services() {
    for guest in [PROXY, guests::CGI] {
        let mut cmd = crate::support::wasi_dapr();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--reuse-instances", "2"])
            .arg(guest);
        let out = crate::support::output(cmd).await;
        assert_ne!(out.code, Some(0), "{out}");
        assert!(out.stderr.contains("--reuse-instances"), "{out}");
        assert!(out.stderr.contains("wasi:http/service@0.3.0"), "{out}");
    }
    let mut cmd = crate::support::wasi_dapr();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--reuse-instances", "0"])
        .arg(SERVICE);
    let out = crate::support::output(cmd).await;
    assert_ne!(out.code, Some(0), "0 is not a number of uses\n{out}");
    assert!(out.stderr.contains("--reuse-instances"), "{out}");
}

/// A reused service instance's output is logged per request (escaped, as for modules),
/// and its deadline is re-armed for each request.
#[tokio::test]
async fn a_reused_service_logs_per_request_and_gets_a_fresh_deadline_each_time() {
    let (child, base) = serve_with_logs(
        SERVICE,
        &[
            "--max-concurrent",
            "1",
            "--reuse-instances",
            "10",
            "--request-timeout",
            "1s",
        ],
    )
    .await;
    let c = http_client();
    for _ in 0..2 {
        let res = c
            .get(format!("{base}/stderr"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
    }
    // Past the first request's deadline, the same instance still answers.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = c
        .get(format!("{base}/count"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.text().await.expect("body"), "3", "the same instance");

    crate::support::sigterm(child.id().expect("pid")).await;
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("serve exits")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("p3 component says hello on stderr").count(),
        2,
        "one line per request, none repeated: {stderr}"
    );
}

/// `wasi-dapr serve GUEST` with `extra` flags and its log (`RUST_LOG=info`) piped, for
/// the tests that read it; returns the child (read with `wait_with_output`) and its base URL.
async fn serve_with_logs(guest: &str, extra: &[&str]) -> (tokio::process::Child, String) {
    let port = crate::serve::free_port();
    let mut cmd = crate::support::wasi_dapr();
    cmd.arg("serve")
        .arg("--cache-dir")
        .arg(crate::support::cache_dir())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .arg(guest)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawn serve");
    let base = format!("http://127.0.0.1:{port}");
    crate::serve::wait_until_up(&format!("{base}/healthz")).await;
    (child, base)
}
