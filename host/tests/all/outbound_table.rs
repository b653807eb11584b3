//! One table of outbound cases, each run against every guest ABI: the legacy
//! `wasi_experimental_http` import (the `http_fetch` fixture module), WASI 0.2
//! `wasi:http/outgoing-handler` (the `http_fetch_p2` fixture component) and WASI 0.3
//! `wasi:http/client` (the `http_fetch_p3` fixture component). All end in the one send
//! path, so all must give the same answer; only the way an error is spelled differs (the
//! legacy import's numbers, `wasi:http`'s error codes). Every allow case has its deny twin.

use std::time::{Duration, Instant};

use crate::support::{Guest, MockServer, Output, Reply, allowlist, guests};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abi {
    Legacy,
    WasiHttp,
    WasiHttpP3,
}

const EVERY: [Abi; 3] = [Abi::Legacy, Abi::WasiHttp, Abi::WasiHttpP3];
/// The two `wasi:http` versions, for the cases the legacy import has no words for.
const WASI_HTTP: [Abi; 2] = [Abi::WasiHttp, Abi::WasiHttpP3];

/// How a case must fail, in terms both ABIs have.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Denied,
    /// A URL the host refuses to send (userinfo, too long, no host).
    InvalidUrl,
    /// A scheme other than http and https.
    Scheme,
    Timeout,
    RequestBodyTooLarge,
    ResponseBodyTooLarge,
}

impl Abi {
    fn guest(self) -> &'static str {
        match self {
            Abi::Legacy => guests::HTTP_FETCH,
            Abi::WasiHttp => guests::COMPONENT_HTTP_FETCH_P2,
            Abi::WasiHttpP3 => guests::COMPONENT_HTTP_FETCH_P3,
        }
    }

    /// The `error=` value the fixture prints for `failure`, as a prefix.
    fn error(self, failure: Failure) -> &'static str {
        // Both `wasi:http` versions spell their error codes alike.
        let abi = match self {
            Abi::WasiHttpP3 => Abi::WasiHttp,
            other => other,
        };
        match (abi, failure) {
            (Abi::Legacy, Failure::Denied) => "7",
            (Abi::Legacy, Failure::InvalidUrl | Failure::Scheme) => "10",
            (Abi::WasiHttp, Failure::InvalidUrl) => "ErrorCode::HttpRequestUriInvalid",
            (Abi::WasiHttp, Failure::Scheme) => "ErrorCode::HttpProtocolError",
            (Abi::Legacy, _) => "11",
            (Abi::WasiHttp, Failure::Denied) => "ErrorCode::HttpRequestDenied",
            (Abi::WasiHttp, Failure::Timeout) => "ErrorCode::ConnectionTimeout",
            (Abi::WasiHttp, Failure::RequestBodyTooLarge) => "ErrorCode::HttpRequestBodySize",
            (Abi::WasiHttp, Failure::ResponseBodyTooLarge) => "ErrorCode::HttpResponseBodySize",
            (Abi::WasiHttpP3, _) => unreachable!("spelled as WasiHttp above"),
        }
    }

    fn assert_failed(self, out: &Output, failure: Failure) {
        let error = out.value("error").unwrap_or_default();
        assert!(
            error.starts_with(self.error(failure)),
            "{self:?}: expected {failure:?} ({}...)\n{out}",
            self.error(failure)
        );
        assert_ne!(
            out.code,
            Some(0),
            "{self:?}: a failed request fails the guest\n{out}"
        );
    }
}

#[tokio::test]
async fn allowed_get_returns_status_and_body_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::start(|_| Reply::ok("hello from upstream")).await;
        let allow = allowlist(&[up.origin()], "");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/hi?x=1")])
            .run()
            .await;
        out.assert_success();
        assert_eq!(out.value("status"), Some("200"), "{abi:?}\n{out}");
        assert!(
            out.stdout.contains("body:\nhello from upstream"),
            "{abi:?}\n{out}"
        );
        assert_eq!(up.requests()[0].uri, "/hi?x=1", "{abi:?}");
    }
}

#[tokio::test]
async fn denied_requests_open_no_connection_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::hello().await;
        // Another port on the same host is allowed; this one is not.
        let allow = allowlist(&["http://127.0.0.1:1".into()], "");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/secret?token=abc")])
            .run()
            .await;
        abi.assert_failed(&out, Failure::Denied);
        assert_eq!(
            up.connections(),
            0,
            "{abi:?}: a denied request must not connect"
        );
        assert!(
            out.stderr.contains(&format!("add \"{}\"", up.origin())),
            "{abi:?}: the log names the entry that would allow it\n{out}"
        );
        assert!(
            !out.stderr.contains("token=abc"),
            "{abi:?}: no query in logs\n{out}"
        );

        // No allowlist at all: deny everything.
        let out = Guest::new(abi.guest()).args(&[&up.url("/")]).run().await;
        abi.assert_failed(&out, Failure::Denied);
        assert_eq!(up.connections(), 0, "{abi:?}");
    }
}

#[tokio::test]
async fn post_sends_method_and_body_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::start(|r| Reply::ok(format!("got {} bytes", r.body.len()))).await;
        let allow = allowlist(&[up.origin()], "");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/orders"), "PUT", "--body", "payload"])
            .run()
            .await;
        out.assert_success();
        let reqs = up.requests();
        assert_eq!(reqs[0].method, "PUT", "{abi:?}");
        assert_eq!(&reqs[0].body[..], b"payload", "{abi:?}");
        assert!(out.stdout.contains("body:\ngot 7 bytes"), "{abi:?}\n{out}");
    }
}

#[tokio::test]
async fn the_guest_cannot_choose_the_host_header_on_any_abi() {
    for abi in EVERY {
        let up = MockServer::hello().await;
        let allow = allowlist(&[up.origin()], "");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/"), "--header", "host:internal.example"])
            .run()
            .await;
        // The legacy import drops the header; wasi:http refuses it to the guest
        // (`header-error.forbidden`). Either way no request carries it.
        assert!(
            up.requests().iter().all(|r| r
                .headers
                .get("host")
                .is_none_or(|h| h != "internal.example")),
            "{abi:?}\n{out}"
        );
    }
}

#[tokio::test]
async fn the_host_deadline_holds_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::start(|_| Reply::ok("late").delay(Duration::from_secs(5))).await;
        let allow = allowlist(&[up.origin()], "request_timeout = \"500ms\"");
        let started = Instant::now();
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/slow")])
            .run()
            .await;
        abi.assert_failed(&out, Failure::Timeout);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{abi:?}: the host's deadline, not the server, ended it\n{out}"
        );
        assert!(out.stderr.contains("timed out"), "{abi:?}\n{out}");
    }
}

#[tokio::test]
async fn body_caps_hold_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::start(|r| match r.uri.path() {
            "/big" => Reply::ok(vec![b'z'; 4096]),
            "/small" => Reply::ok(vec![b'z'; 1024]),
            _ => Reply::ok(r.body.len().to_string()),
        })
        .await;
        let allow = allowlist(
            &[up.origin()],
            "max_response_body_bytes = 2048\nmax_request_body_bytes = 1000",
        );
        let run = |args: Vec<String>| {
            let allow = &allow;
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Guest::new(abi.guest())
                    .allowlist(allow)
                    .args(&args)
                    .run()
                    .await
            }
        };
        let out = run(vec![up.url("/big")]).await;
        abi.assert_failed(&out, Failure::ResponseBodyTooLarge);
        assert!(
            out.stderr.contains("max_response_body_bytes"),
            "{abi:?}\n{out}"
        );
        let out = run(vec![up.url("/small")]).await;
        out.assert_success();
        assert_eq!(out.value("body-bytes"), Some("1024"), "{abi:?}\n{out}");

        let before = up.connections();
        let body = |n: &str| {
            vec![
                up.url("/post"),
                "POST".into(),
                "--body-size".into(),
                n.into(),
            ]
        };
        let out = run(body("1001")).await;
        abi.assert_failed(&out, Failure::RequestBodyTooLarge);
        assert_eq!(
            up.connections(),
            before,
            "{abi:?}: an oversized body is not sent"
        );
        let out = run(body("1000")).await;
        out.assert_success();
        assert!(out.stdout.contains("body:\n1000"), "{abi:?}\n{out}");
    }
}

#[tokio::test]
async fn redirects_are_rechecked_per_hop_on_every_abi() {
    for abi in EVERY {
        let other = MockServer::start(|_| Reply::ok("other origin")).await;
        let other_url = other.url("/landing");
        let up = MockServer::start(move |r| match r.uri.path() {
            "/hop1" => Reply::ok("").status(307).header("location", "/hop2"),
            "/hop2" => Reply::ok("arrived"),
            "/away" => Reply::ok("").status(302).header("location", &other_url),
            _ => Reply::ok("").status(404),
        })
        .await;
        // Not followed by default: the 3xx goes to the guest.
        let allow = allowlist(&[up.origin()], "");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/hop1")])
            .run()
            .await;
        assert_eq!(out.value("status"), Some("307"), "{abi:?}\n{out}");

        let allow = allowlist(&[up.origin()], "max_redirects = 3");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/hop1"), "POST", "--body", "payload"])
            .run()
            .await;
        out.assert_success();
        assert!(out.stdout.contains("body:\narrived"), "{abi:?}\n{out}");
        let last = up.requests().last().cloned().expect("a request");
        assert_eq!(
            (last.method.as_str(), &last.body[..]),
            ("POST", &b"payload"[..])
        );

        // A hop to an origin the allowlist does not name is denied and never contacted.
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/away")])
            .run()
            .await;
        abi.assert_failed(&out, Failure::Denied);
        assert_eq!(other.connections(), 0, "{abi:?}");
    }
}

#[tokio::test]
async fn the_token_goes_to_the_sidecar_only_on_every_abi() {
    for abi in EVERY {
        let sidecar = MockServer::hello().await;
        let other = MockServer::hello().await;
        let allow = allowlist(&[sidecar.origin(), other.origin()], "");
        let port = sidecar.addr.port().to_string();
        let env = [
            ("DAPR_API_TOKEN", "s3cret-token"),
            ("DAPR_HTTP_PORT", &*port),
        ];
        let out = Guest::new(abi.guest())
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
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&other.url("/")])
            .envs(&env)
            .run()
            .await;
        out.assert_success();
        assert!(
            other.requests()[0].headers.get("dapr-api-token").is_none(),
            "{abi:?}"
        );
        assert!(!out.stdout.contains("s3cret-token"), "{abi:?}\n{out}");
        assert!(!out.stderr.contains("s3cret-token"), "{abi:?}\n{out}");
    }
}

#[tokio::test]
async fn a_guest_timeout_shortens_the_host_deadline_but_never_extends_it() {
    for abi in WASI_HTTP {
        let up = MockServer::start(|_| Reply::ok("late").delay(Duration::from_secs(5))).await;
        // The guest asks for 200 ms to the first byte; the host would wait 30 s.
        let allow = allowlist(&[up.origin()], "");
        let started = Instant::now();
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/"), "--first-byte-timeout-ms", "200"])
            .run()
            .await;
        assert_eq!(
            out.value("error"),
            Some("ErrorCode::ConnectionReadTimeout"),
            "{abi:?}\n{out}"
        );
        assert!(started.elapsed() < Duration::from_secs(4), "{abi:?}\n{out}");
        // The guest asks for 60 s; the host's 500 ms wins.
        let allow = allowlist(&[up.origin()], "request_timeout = \"500ms\"");
        let started = Instant::now();
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/"), "--first-byte-timeout-ms", "60000"])
            .run()
            .await;
        abi.assert_failed(&out, Failure::Timeout);
        assert!(started.elapsed() < Duration::from_secs(4), "{abi:?}\n{out}");
    }
}

#[tokio::test]
async fn requests_in_flight_per_component_instance_are_capped() {
    for abi in WASI_HTTP {
        let up = MockServer::start(|_| Reply::ok("ok").delay(Duration::from_millis(300))).await;
        let allow = allowlist(&[up.origin()], "max_concurrent_requests = 2");
        let out = Guest::new(abi.guest())
            .allowlist(&allow)
            .args(&[&up.url("/"), "--parallel", "4"])
            .run()
            .await;
        out.assert_success();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| **l == "status=200").count(),
            2,
            "{abi:?}: two fit\n{out}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| **l == "error=ErrorCode::ConnectionLimitReached")
                .count(),
            2,
            "{abi:?}: two are refused\n{out}"
        );
        assert!(up.requests().len() <= 2, "refused requests are not sent");
    }
}

/// Malformed or unsendable URLs are refused on every ABI before any connection, each
/// beside its well-formed twin to the same allowed upstream, which connects. Userinfo
/// never appears in the log.
#[tokio::test]
async fn malformed_urls_are_refused_without_a_connection_on_every_abi() {
    for abi in EVERY {
        let up = MockServer::hello().await;
        let allow = allowlist(&[up.origin()], "");
        let origin = up.origin();
        let port = origin.rsplit(':').next().expect("port");
        let long = format!("http://127.0.0.1:{port}/{}", "a".repeat(9000));
        let cases: [(&str, String, String, Failure); 5] = [
            (
                "userinfo before an allowed host",
                format!("http://user:hunter2@127.0.0.1:{port}/"),
                format!("http://127.0.0.1:{port}/"),
                Failure::InvalidUrl,
            ),
            (
                "the allowed host as userinfo",
                format!("http://127.0.0.1:{port}@example.invalid/"),
                format!("http://127.0.0.1:{port}/"),
                Failure::InvalidUrl,
            ),
            (
                "a scheme other than http",
                format!("ftp://127.0.0.1:{port}/"),
                format!("http://127.0.0.1:{port}/"),
                Failure::Scheme,
            ),
            (
                "a URL longer than 8 KiB",
                long,
                format!("http://127.0.0.1:{port}/{}", "a".repeat(8000)),
                Failure::InvalidUrl,
            ),
            (
                "no host",
                format!("http://:{port}/"),
                format!("http://127.0.0.1:{port}/"),
                Failure::InvalidUrl,
            ),
        ];
        for (what, bad, good, failure) in cases {
            let before = up.connections();
            let out = Guest::new(abi.guest())
                .allowlist(&allow)
                .args(&[&bad])
                .run()
                .await;
            if abi == Abi::WasiHttpP3 && what == "the allowed host as userinfo" {
                // WASI 0.3's `request.set-authority` itself refuses `host:port@other`
                // (its port does not parse): the request cannot even be built (the
                // fixture says which setter failed).
                assert!(
                    out.stdout.contains("fixture: bad authority"),
                    "{abi:?}, {what}\n{out}"
                );
            } else {
                abi.assert_failed(&out, failure);
            }
            assert_eq!(
                up.connections(),
                before,
                "{abi:?}, {what}: a refused URL must not connect\n{out}"
            );
            assert!(
                !out.stderr.contains("hunter2"),
                "{abi:?}, {what}: userinfo in the log\n{out}"
            );
            let twin = Guest::new(abi.guest())
                .allowlist(&allow)
                .args(&[&good])
                .run()
                .await;
            twin.assert_success();
            assert_eq!(
                twin.value("status"),
                Some("200"),
                "{abi:?}, {what} twin\n{twin}"
            );
            assert_eq!(
                up.connections(),
                before + 1,
                "{abi:?}, {what}: the twin connects"
            );
        }
    }
}
