//! The outbound HTTP import end to end: fixture guests run by `wasi-dapr run` against
//! local upstream servers. Every allow test has a deny twin.

use std::time::{Duration, Instant};

use crate::support::{Guest, MockServer, Reply, allowlist, guests};

#[tokio::test]
async fn allowed_get_returns_status_headers_and_body() {
    let up = MockServer::start(|_| {
        Reply::ok("hello from upstream")
            .header("content-type", "text/plain")
            .header("x-one", "1")
    })
    .await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/hi?x=1"), "--get", "x-one"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("200"), "{out}");
    assert_eq!(out.value("get x-one"), Some("1"), "{out}");
    assert!(out.stdout.contains("\ncontent-type:text/plain\n"), "{out}");
    assert!(out.stdout.contains("body:\nhello from upstream"), "{out}");
    let reqs = up.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].uri, "/hi?x=1");
}

#[tokio::test]
async fn denied_get_opens_no_connection_and_says_how_to_allow_it() {
    let up = MockServer::hello().await;
    // The policy allows a different port on the same host.
    let allow = allowlist(&["http://127.0.0.1:1".into()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/secret?token=abc")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("7"), "{out}");
    assert_eq!(
        up.connections(),
        0,
        "a denied request must not connect\n{out}"
    );
    assert!(out.stderr.contains("denied"), "{out}");
    assert!(
        out.stderr.contains(&up.origin()),
        "the log names the entry that would allow it\n{out}"
    );
    assert!(
        !out.stderr.contains("token=abc"),
        "query strings stay out of logs\n{out}"
    );
}

#[tokio::test]
async fn wildcard_allowed_loopback_literal_is_blocked_with_error_7_and_a_log_line() {
    let up = MockServer::hello().await;
    let port = up.addr.port();
    let allow = allowlist(&[format!("http://*:{port}")], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/secret?token=abc")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("7"), "{out}");
    assert_eq!(
        up.connections(),
        0,
        "a blocked address must not connect\n{out}"
    );
    assert!(
        out.stderr.contains("outbound request blocked")
            && out.stderr.contains("127.0.0.1 (loopback)")
            && out.stderr.contains("[connect]"),
        "the log names the host, the address and the setting\n{out}"
    );
    assert!(!out.stderr.contains("token=abc"), "{out}");
    // The twin: an entry naming the address.
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/")])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("200"), "{out}");
}

#[tokio::test]
async fn no_allowlist_means_deny_all() {
    let up = MockServer::hello().await;
    let out = Guest::new(guests::HTTP_FETCH)
        .args(&[&up.url("/")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("7"), "{out}");
    assert_eq!(up.connections(), 0);
    assert!(out.stderr.contains("all outbound HTTP is denied"), "{out}");
}

#[tokio::test]
async fn post_sends_method_headers_and_body() {
    let up = MockServer::start(|r| Reply::ok(r.body.to_vec()).status(201)).await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[
            &up.url("/echo"),
            "POST",
            "--header",
            "content-type: application/json",
            "--header",
            "x-multi:a",
            "--header",
            "x-multi:b",
            "--body",
            r#"{"a":1}"#,
        ])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("201"), "{out}");
    assert!(
        out.stdout.contains(
            r#"body:
{"a":1}"#
        ),
        "{out}"
    );
    let r = &up.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.headers.get_all("x-multi").iter().collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(&r.body[..], br#"{"a":1}"#);
}

#[tokio::test]
async fn every_method_is_sent_as_given() {
    let up = MockServer::start(|_| Reply::ok("")).await;
    let allow = allowlist(&[up.origin()], "");
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let out = Guest::new(guests::HTTP_FETCH)
            .allowlist(&allow)
            .args(&[&up.url("/m"), method])
            .run()
            .await;
        out.assert_success();
    }
    let seen: Vec<String> = up.requests().iter().map(|r| r.method.to_string()).collect();
    assert_eq!(
        seen,
        ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    );
}

#[tokio::test]
async fn guest_cannot_choose_the_host_header() {
    let up = MockServer::hello().await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/"), "--header", "host: internal.example"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(
        up.requests()[0].headers["host"],
        format!("127.0.0.1:{}", up.addr.port())
    );
}

#[tokio::test]
async fn repeated_response_headers_are_all_returned() {
    let up = MockServer::start(|_| {
        Reply::ok("x")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .header("x-time", "12:30:00")
    })
    .await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[
            &up.url("/"),
            "--get",
            "set-cookie",
            "--get",
            "x-time",
            "--get",
            "absent",
        ])
        .run()
        .await;
    out.assert_success();
    assert!(
        out.stdout.contains("\nset-cookie:a=1\nset-cookie:b=2\n"),
        "{out}"
    );
    assert_eq!(out.value("get set-cookie"), Some("a=1, b=2"), "{out}");
    assert_eq!(
        out.value("get x-time"),
        Some("12:30:00"),
        "values keep their colons\n{out}"
    );
    assert!(
        out.stdout.contains("get absent error=5"),
        "missing header is error 5\n{out}"
    );
}

#[tokio::test]
async fn small_buffers_get_error_4_with_the_needed_size() {
    let up = MockServer::start(|_| Reply::ok("x").header("x-long", &"v".repeat(100))).await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/"), "--get", "x-long", "--header-buf", "10"])
        .run()
        .await;
    assert!(
        out.stdout.contains("get x-long error=4 needed=100"),
        "{out}"
    );
    assert!(out.stdout.contains("headers error=4 needed="), "{out}");
}

#[tokio::test]
async fn body_is_streamed_in_guest_sized_chunks() {
    let body: String = (0..5000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let expected = body.clone();
    let up = MockServer::start(move |_| Reply::ok(body.clone())).await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/"), "--chunk", "7"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("body-bytes"), Some("5000"), "{out}");
    assert!(out.stdout.contains(&expected), "{out}");
}

#[tokio::test]
async fn malformed_requests_get_their_error_codes() {
    let up = MockServer::hello().await;
    let allow = allowlist(&[up.origin()], "");
    let cases: [(&[&str], &str); 4] = [
        (&["--raw-headers", "no-colon-here\n"], "9"),
        (&["GE T"], "8"),
        (&["--raw-headers", "bad name: x\n"], "9"),
        (&["CONNECT"], "8"),
    ];
    for (extra, code) in cases {
        let mut args = vec![up.url("/")];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Guest::new(guests::HTTP_FETCH)
            .allowlist(&allow)
            .args(&args)
            .run()
            .await;
        assert_eq!(out.value("error"), Some(code), "{extra:?}\n{out}");
    }
    for (url, code) in [
        ("not a url", "10"),
        ("file:///etc/passwd", "10"),
        ("ftp://127.0.0.1/", "10"),
    ] {
        let out = Guest::new(guests::HTTP_FETCH)
            .allowlist(&allow)
            .args(&[url])
            .run()
            .await;
        assert_eq!(out.value("error"), Some(code), "{url}\n{out}");
    }
    assert_eq!(up.connections(), 0);
}

#[tokio::test]
async fn request_timeout_is_enforced() {
    let up = MockServer::start(|_| Reply::ok("late").delay(Duration::from_secs(5))).await;
    let allow = allowlist(&[up.origin()], "request_timeout = \"500ms\"");
    let started = Instant::now();
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/slow")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("11"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout, not the server, ended the request\n{out}"
    );
    assert!(out.stderr.contains("timed out"), "{out}");
}

#[tokio::test]
async fn request_within_timeout_succeeds() {
    let up = MockServer::start(|_| Reply::ok("on time").delay(Duration::from_millis(50))).await;
    let allow = allowlist(&[up.origin()], "request_timeout = \"5s\"");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/")])
        .run()
        .await;
    out.assert_success();
}

#[tokio::test]
async fn response_body_cap_is_enforced() {
    let up = MockServer::start(|r| {
        let n = if r.uri.path() == "/big" { 4096 } else { 1024 };
        Reply::ok(vec![b'z'; n])
    })
    .await;
    let allow = allowlist(&[up.origin()], "max_response_body_bytes = 2048");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/big")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("11"), "{out}");
    assert!(out.stderr.contains("max_response_body_bytes"), "{out}");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/small")])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("body-bytes"), Some("1024"), "{out}");
}

#[tokio::test]
async fn request_body_cap_is_enforced() {
    let up = MockServer::start(|r| Reply::ok(r.body.len().to_string())).await;
    let allow = allowlist(&[up.origin()], "max_request_body_bytes = 1000");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/"), "POST", "--body-size", "1001"])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("11"), "{out}");
    assert_eq!(up.connections(), 0);
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/"), "POST", "--body-size", "1000"])
        .run()
        .await;
    out.assert_success();
    assert!(out.stdout.contains("body:\n1000"), "{out}");
}

#[tokio::test]
async fn open_responses_are_capped_and_handles_checked() {
    let up = MockServer::hello().await;
    let allow = allowlist(&[up.origin()], "max_concurrent_requests = 3");
    let out = Guest::new(guests::HANDLES)
        .allowlist(&allow)
        .args(&[&up.url("/"), "4"])
        .run()
        .await;
    out.assert_success();
    assert!(out.stdout.contains("open 0=ok"), "{out}");
    assert!(out.stdout.contains("open 2=ok"), "{out}");
    assert!(
        out.stdout.contains("open 3=error=13"),
        "the fourth open response is refused\n{out}"
    );
    assert_eq!(out.value("close first"), Some("0"), "{out}");
    assert_eq!(out.value("close again"), Some("1"), "{out}");
    assert_eq!(out.value("read closed"), Some("1"), "{out}");
    assert_eq!(out.value("header closed"), Some("1"), "{out}");
    assert_eq!(out.value("close unknown"), Some("1"), "{out}");
    assert_eq!(
        out.value("reopen"),
        Some("0"),
        "closing frees a slot\n{out}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let up = MockServer::start(|r| match r.uri.path() {
        "/old" => Reply::ok("").status(302).header("location", "/new"),
        _ => Reply::ok("new place"),
    })
    .await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/old"), "--get", "location"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("302"), "{out}");
    assert_eq!(out.value("get location"), Some("/new"), "{out}");
    assert_eq!(up.requests().len(), 1);
}

#[tokio::test]
async fn redirects_followed_when_allowed_and_rechecked_per_hop() {
    let other = MockServer::start(|_| Reply::ok("other origin")).await;
    let other_url = other.url("/landing");
    let up = MockServer::start(move |r| match r.uri.path() {
        "/hop1" => Reply::ok("").status(307).header("location", "/hop2"),
        "/hop2" => Reply::ok("arrived"),
        "/away" => Reply::ok("").status(302).header("location", &other_url),
        _ => Reply::ok("").status(404),
    })
    .await;
    let allow = allowlist(&[up.origin()], "max_redirects = 3");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/hop1"), "POST", "--body", "payload"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("200"), "{out}");
    assert!(out.stdout.contains("body:\narrived"), "{out}");
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[1].method.as_str(), &reqs[1].body[..]),
        ("POST", &b"payload"[..]),
        "307 keeps method and body"
    );

    // A hop to an origin the allowlist does not name is denied, and never contacted.
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/away")])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("7"), "{out}");
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn redirect_hops_are_bounded() {
    let up = MockServer::start(|r| {
        let n: u32 = r.uri.path().trim_start_matches("/r").parse().unwrap_or(0);
        Reply::ok("")
            .status(302)
            .header("location", &format!("/r{}", n + 1))
    })
    .await;
    let allow = allowlist(&[up.origin()], "max_redirects = 2");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&up.url("/r0")])
        .run()
        .await;
    out.assert_success();
    assert_eq!(
        out.value("status"),
        Some("302"),
        "after two hops the third redirect goes to the guest\n{out}"
    );
    assert_eq!(up.requests().len(), 3);
}

#[tokio::test]
async fn api_token_goes_to_the_sidecar_only_and_never_to_the_guest_or_logs() {
    let sidecar = MockServer::hello().await;
    let other = MockServer::hello().await;
    let local_name = format!("http://localhost:{}", sidecar.addr.port());
    let allow = allowlist(&[sidecar.origin(), local_name, other.origin()], "");
    let env = [
        ("DAPR_API_TOKEN", "s3cret-token"),
        ("DAPR_HTTP_PORT", &*sidecar.addr.port().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, *v)).collect();
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&sidecar.url("/v1.0/healthz")])
        .envs(&env)
        .run()
        .await;
    out.assert_success();
    assert_eq!(
        sidecar.requests()[0].headers["dapr-api-token"],
        "s3cret-token"
    );
    // `localhost` is not the origin configured (127.0.0.1): it may resolve to another
    // loopback address, where another program listens. No token (issue 13, row 6).
    let local = format!("http://localhost:{}/v1.0/metadata", sidecar.addr.port());
    Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&local])
        .envs(&env)
        .run()
        .await
        .assert_success();
    assert!(
        sidecar
            .requests()
            .iter()
            .skip(1)
            .all(|r| r.headers.get("dapr-api-token").is_none()),
        "the token went to http://localhost"
    );

    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&other.url("/")])
        .envs(&env)
        .run()
        .await;
    out.assert_success();
    assert!(other.requests()[0].headers.get("dapr-api-token").is_none());

    let mut env_trace = env.clone();
    env_trace.push(("RUST_LOG", "trace"));
    let out = Guest::new(guests::ENV_DUMP)
        .allowlist(&allow)
        .envs(&env_trace)
        .run()
        .await;
    out.assert_success();
    assert!(!out.stdout.contains("s3cret-token"), "{out}");
    assert!(!out.stderr.contains("s3cret-token"), "{out}");
    assert!(
        out.stdout
            .contains(&format!("env DAPR_HTTP_PORT={}", sidecar.addr.port())),
        "{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "env DAPR_HTTP_ENDPOINT=http://127.0.0.1:{}",
            sidecar.addr.port()
        )),
        "{out}"
    );
}

#[tokio::test]
async fn guest_built_with_the_published_0_10_crate_runs_unchanged() {
    let up = MockServer::start(|r| {
        Reply::ok(format!(
            "compat {}",
            r.headers
                .get("x-compat")
                .map(|v| v.to_str().unwrap_or(""))
                .unwrap_or("")
        ))
        .header("content-type", "text/plain")
        .header("x-extra", "1")
    })
    .await;
    let allow = allowlist(&[up.origin()], "");
    let out = Guest::new(guests::COMPAT010)
        .allowlist(&allow)
        .args(&[&up.url("/compat")])
        .run()
        .await;
    out.assert_success();
    assert_eq!(out.value("status"), Some("200"), "{out}");
    assert_eq!(out.value("content-type"), Some("text/plain"), "{out}");
    assert!(
        out.value("header-names")
            .is_some_and(|n| n.contains("x-extra")),
        "{out}"
    );
    assert_eq!(out.value("body"), Some("compat 0.10"), "{out}");

    let out = Guest::new(guests::COMPAT010)
        .allowlist(&allow)
        .args(&[&up.url("/x"), "POST", "posted"])
        .run()
        .await;
    out.assert_success();
    assert_eq!(&up.requests()[1].body[..], b"posted");
}

#[tokio::test]
async fn guest_built_with_the_published_0_10_crate_is_denied_cleanly() {
    let up = MockServer::hello().await;
    let allow = allowlist(&["http://127.0.0.1:1".into()], "");
    let out = Guest::new(guests::COMPAT010)
        .allowlist(&allow)
        .args(&[&up.url("/")])
        .run()
        .await;
    assert_eq!(out.code, Some(3), "{out}");
    // The 0.10 crate reports raw ABI errors as "Wasi error N".
    assert!(out.stdout.contains("error: Wasi error 7"), "{out}");
    assert_eq!(up.connections(), 0);
}
