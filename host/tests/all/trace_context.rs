//! W3C trace context through `wasi-dapr serve`: the inbound `traceparent`/`tracestate`
//! reach the guest's requests to the sidecar origin, and no other origin, for a CGI
//! module and a `wasi:http` component alike; a malformed inbound value is not passed on.

use crate::serve::Served;
use crate::support::{MockServer, Reply, allowlist, guests};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Serves `guest` with `FETCH_URL` pointing at `target`, the sidecar at `sidecar`, sends one
/// `/fetch` with `headers` and returns the response status.
async fn fetch_through(
    guest: &str,
    sidecar: &MockServer,
    target: &MockServer,
    headers: &[(&str, &str)],
) -> u16 {
    let allow = allowlist(&[sidecar.origin(), target.origin()], "");
    let port = sidecar.addr.port().to_string();
    let s = Served::start(
        guest,
        &[
            "--env",
            &format!("FETCH_URL={}", target.url("/v1.0/state/store")),
        ],
        &[("DAPR_HTTP_PORT", &port)],
        Some(allow),
    )
    .await;
    let mut req = crate::support::http_client().get(s.url("/fetch"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request").status().as_u16()
}

fn header(server: &MockServer, name: &str) -> Vec<Option<String>> {
    server
        .requests_to("/v1.0/state")
        .iter()
        .map(|r| {
            r.headers
                .get(name)
                .map(|v| v.to_str().expect("ascii").to_string())
        })
        .collect()
}

async fn propagates_to_the_sidecar_only(guest: &str) {
    let sidecar = MockServer::start(|_| Reply::ok("state")).await;
    let status = fetch_through(
        guest,
        &sidecar,
        &sidecar,
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&sidecar, "traceparent"), [Some(TRACEPARENT.into())]);
    assert_eq!(
        header(&sidecar, "tracestate"),
        [Some("congo=t61rcWkgMzE".into())]
    );

    // Another allowlisted origin is a third party: it gets neither header.
    let sidecar = MockServer::start(|_| Reply::ok("")).await;
    let third = MockServer::start(|_| Reply::ok("elsewhere")).await;
    let status = fetch_through(
        guest,
        &sidecar,
        &third,
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&third, "traceparent"), [None]);
    assert_eq!(header(&third, "tracestate"), [None]);

    // A malformed traceparent (upper-case hex) is not passed on, nor its tracestate.
    let sidecar = MockServer::start(|_| Reply::ok("state")).await;
    let status = fetch_through(
        guest,
        &sidecar,
        &sidecar,
        &[
            ("traceparent", &TRACEPARENT.to_uppercase()),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&sidecar, "traceparent"), [None]);
    assert_eq!(header(&sidecar, "tracestate"), [None]);
}

#[tokio::test]
async fn a_cgi_module_passes_the_trace_context_to_the_sidecar_only() {
    propagates_to_the_sidecar_only(guests::CGI).await;
}

#[tokio::test]
async fn a_component_passes_the_trace_context_to_the_sidecar_only() {
    propagates_to_the_sidecar_only(guests::COMPONENT_HTTP_PROXY).await;
}
