//! `serve --metrics-listen`: the counters, gauges and latency histogram at `GET /metrics`
//! move by exactly the requests sent, for a CGI module and for a component, and denied
//! outbound requests add no label of their own.

use std::collections::HashMap;

use crate::serve::{Served, free_port};
use crate::support::{MockServer, Reply, allowlist, guests, http_client};

/// One scrape: each sample line `name{labels} value` by `name{labels}`.
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    async fn from(url: &str) -> Self {
        let res = http_client().get(url).send().await.expect("scrape");
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .expect("content type")
                .starts_with("application/openmetrics-text"),
        );
        let text = res.text().await.expect("metrics text");
        assert!(text.ends_with("# EOF\n"), "{text}");
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').expect("sample line");
                (key.to_string(), value.parse::<f64>().expect("sample value"))
            })
            .collect();
        Scrape { text, samples }
    }

    /// The sample's value; 0 for one not (yet) present.
    fn get(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn metrics_args(port: u16) -> Vec<String> {
    vec![
        "--metrics-listen".into(),
        format!("127.0.0.1:{port}"),
        "--request-timeout".into(),
        "1s".into(),
    ]
}

#[tokio::test]
async fn serve_counts_requests_failures_and_outbound_calls() {
    let up = MockServer::start(|_| Reply::ok("from upstream")).await;
    let port = free_port();
    let mut args = metrics_args(port);
    args.extend(["--env".into(), format!("FETCH_URL={}", up.url("/x"))]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Served::start(guests::CGI, &args, &[], Some(allowlist(&[up.origin()], ""))).await;
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let c = http_client();
    for (path, status) in [
        ("/hello", 200),
        ("/nope", 404),
        ("/status/500", 500),
        ("/trap", 500),
        ("/loop", 500),
        ("/fetch", 200),
    ] {
        let res = c.get(s.url(path)).send().await.expect("request");
        assert_eq!(res.status(), status, "{path}");
    }
    let m = Scrape::from(&metrics).await;
    let t = &m.text;
    assert_eq!(
        m.get(r#"wasi_dapr_http_requests_total{route="app",status="200"}"#),
        2.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_requests_total{route="app",status="404"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_requests_total{route="app",status="500"}"#),
        3.0,
        "{t}"
    );
    assert!(
        m.get(r#"wasi_dapr_http_requests_total{route="health",status="200"}"#) >= 1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_request_duration_seconds_count{route="app"}"#),
        6.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_request_duration_seconds_bucket{le="+Inf",route="app"}"#)
            .max(m.get(r#"wasi_dapr_http_request_duration_seconds_bucket{route="app",le="+Inf"}"#)),
        6.0,
        "{t}"
    );
    // The timed-out request ran its 1 s deadline.
    assert!(
        m.get(r#"wasi_dapr_http_request_duration_seconds_sum{route="app"}"#) >= 1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_guest_failures_total{kind="trap"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_guest_failures_total{kind="timeout"}"#),
        1.0,
        "{t}"
    );
    let origin = up.origin();
    assert_eq!(
        m.get(&format!(
            r#"wasi_dapr_outbound_requests_total{{origin="{origin}",result="2xx"}}"#
        )),
        1.0,
        "{t}"
    );
    assert_eq!(m.get("wasi_dapr_queue_rejected_total"), 0.0, "{t}");
    assert!(t.contains("wasi_dapr_instances_in_use "), "{t}");
    assert!(t.contains("wasi_dapr_instances_prepared "), "{t}");
    // No raw path becomes a label.
    assert!(!t.contains("/nope") && !t.contains("/hello"), "{t}");

    // The metrics listener answers only /metrics, and scraping is not counted as a request.
    let res = c
        .get(format!("http://127.0.0.1:{port}/other"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 404);
    let again = Scrape::from(&metrics).await;
    assert_eq!(
        again.get(r#"wasi_dapr_http_request_duration_seconds_count{route="app"}"#),
        6.0
    );
}

#[tokio::test]
async fn component_metrics_count_a_denial_by_reason_only() {
    let allowed = MockServer::hello().await;
    let denied = MockServer::hello().await;
    let port = free_port();
    let mut args = metrics_args(port);
    args.extend([
        "--env".into(),
        format!("FETCH_URL={}", denied.url("/secret-path")),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Served::start(
        guests::COMPONENT_HTTP_PROXY,
        &args,
        &[],
        Some(allowlist(&[allowed.origin()], "")),
    )
    .await;
    let c = http_client();
    for path in ["/hello", "/no-such", "/trap", "/fetch"] {
        c.get(s.url(path)).send().await.expect("request");
    }
    assert_eq!(denied.connections(), 0);
    let m = Scrape::from(&format!("http://127.0.0.1:{port}/metrics")).await;
    let t = &m.text;
    assert!(
        m.get(r#"wasi_dapr_http_requests_total{route="app",status="200"}"#) >= 1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_requests_total{route="app",status="404"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_http_request_duration_seconds_count{route="app"}"#),
        4.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_guest_failures_total{kind="trap"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m.get(r#"wasi_dapr_outbound_denied_total{reason="allowlist"}"#),
        1.0,
        "{t}"
    );
    let denied_port = denied
        .origin()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        !t.contains(&denied_port) && !t.contains("secret-path"),
        "{t}"
    );
    assert!(!t.contains("wasi_dapr_outbound_requests_total{"), "{t}");
    // Components are prepared ahead as modules are: the helper tops the default two up
    // again once the requests are done.
    let mut prepared = m.get("wasi_dapr_instances_prepared");
    for _ in 0..100 {
        if prepared == 2.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        prepared = Scrape::from(&format!("http://127.0.0.1:{port}/metrics"))
            .await
            .get("wasi_dapr_instances_prepared");
    }
    assert_eq!(prepared, 2.0, "{t}");
}
