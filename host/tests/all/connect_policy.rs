//! The connect policy (`[connect]`) on the send path itself: `OutboundHttp::send` with a
//! fixed name table, so names can point at a local mock server without editing
//! `/etc/hosts`. A refused name must open no connection; every refusal has an allowed twin.

use std::net::IpAddr;

use wasi_dapr::config::HostConfig;
use wasi_dapr::dapr_env::{Secret, SidecarEndpoint};
use wasi_dapr::outbound::{NameLookup, OutboundHttp, SendError};
use wasi_dapr::outbound_http::HttpError;

use crate::support::{MockServer, Reply, outbound_get};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// A send path with `allowlist.toml` text `toml`, names resolved from `names` only, and
/// the sidecar at `sidecar`.
fn outbound(
    toml: &str,
    names: &[(&str, &[&str])],
    sidecar: &str,
    token: Option<&str>,
) -> OutboundHttp {
    let config = HostConfig::from_toml_str(toml, "test").expect("config");
    let lookup = NameLookup::fixed(
        names
            .iter()
            .map(|(n, a)| (*n, a.iter().map(|s| ip(s)).collect::<Vec<_>>())),
    );
    OutboundHttp::with_lookup(
        config,
        SidecarEndpoint::parse(sidecar).expect("endpoint"),
        token.map(Secret::new),
        lookup,
    )
}

fn plain(toml: &str, names: &[(&str, &[&str])]) -> OutboundHttp {
    outbound(toml, names, "http://127.0.0.1:3500", None)
}

/// The refusal as the guest sees it (error 7, like a denial) and its message.
fn assert_blocked(result: Result<u16, SendError>, host: &str, address: &str) -> String {
    let err = match result {
        Ok(status) => panic!("{host} must be blocked, got {status}"),
        Err(e) => e,
    };
    let SendError::BlockedAddress {
        host: h, addresses, ..
    } = &err
    else {
        panic!("{host}: expected BlockedAddress, got {err:?}");
    };
    assert_eq!(h, host);
    assert!(addresses.contains(address), "{err}");
    assert_eq!(u32::from(HttpError::from(err.clone())), 7);
    err.to_string()
}

#[tokio::test]
async fn a_name_pointed_at_loopback_is_refused_before_connecting() {
    let up = MockServer::hello().await;
    let port = up.addr.port();
    let http = plain(
        &format!("allowed_hosts = [\"http://rebind.test:{port}\"]"),
        &[("rebind.test", &["127.0.0.1"])],
    );
    let msg = assert_blocked(
        outbound_get(&http, &format!("http://rebind.test:{port}/")).await,
        "rebind.test",
        "127.0.0.1 (loopback)",
    );
    assert!(
        msg.contains("rebind.test") && msg.contains("[connect]"),
        "the error names the host and the setting: {msg}"
    );
    assert_eq!(up.connections(), 0, "a blocked name must not connect");
}

#[tokio::test]
async fn the_same_server_named_by_its_address_is_allowed() {
    let up = MockServer::hello().await;
    let http = plain(&format!("allowed_hosts = [{:?}]", up.origin()), &[]);
    assert_eq!(outbound_get(&http, &up.url("/")).await, Ok(200));
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn localhost_itself_may_reach_loopback() {
    let up = MockServer::hello().await;
    let port = up.addr.port();
    let http = plain(
        &format!("allowed_hosts = [\"http://localhost:{port}\", \"http://sub.localhost:{port}\"]"),
        &[
            ("localhost", &["127.0.0.1"]),
            ("sub.localhost", &["127.0.0.1"]),
        ],
    );
    assert_eq!(
        outbound_get(&http, &format!("http://localhost:{port}/")).await,
        Ok(200)
    );
    assert_eq!(
        outbound_get(&http, &format!("http://LOCALHOST.:{port}/")).await,
        Ok(200)
    );
    assert_blocked(
        outbound_get(&http, &format!("http://sub.localhost:{port}/")).await,
        "sub.localhost",
        "127.0.0.1 (loopback)",
    );
}

#[tokio::test]
async fn a_name_pointed_at_link_local_or_unspecified_is_refused() {
    let http = plain(
        "allowed_hosts = [\"http://metadata.test\", \"http://zero.test\"]",
        &[
            ("metadata.test", &["169.254.169.254", "fe80::1"]),
            ("zero.test", &["0.0.0.0", "::ffff:127.0.0.1"]),
        ],
    );
    let msg = assert_blocked(
        outbound_get(&http, "http://metadata.test/latest/meta-data/").await,
        "metadata.test",
        "169.254.169.254 (link-local), fe80::1 (link-local)",
    );
    assert!(!msg.contains("meta-data"), "no path in the error: {msg}");
    assert_blocked(
        outbound_get(&http, "http://zero.test/").await,
        "zero.test",
        "0.0.0.0 (unspecified), ::ffff:127.0.0.1 (loopback)",
    );
}

#[tokio::test]
async fn private_addresses_are_refused_only_with_the_setting() {
    // Allowed by default is shown by the resolver's unit tests (allowing it here would
    // send packets off this machine); this is the refusal with the setting on.
    let names: &[(&str, &[&str])] = &[("svc.test", &["10.96.0.10", "fd00::10"])];
    let http = plain(
        "allowed_hosts = [\"http://svc.test\"]\n[connect]\nblock_private_networks = true\n",
        names,
    );
    let msg = assert_blocked(
        outbound_get(&http, "http://svc.test/").await,
        "svc.test",
        "10.96.0.10 (private), fd00::10 (private)",
    );
    assert!(
        msg.contains("connect.block_private_networks = true"),
        "{msg}"
    );
    let listed = plain(
        "allowed_hosts = [\"http://bench.test\"]\n[connect]\nblocked_networks = [\"198.18.0.0/15\"]\n",
        &[("bench.test", &["198.19.0.1"])],
    );
    let msg = assert_blocked(
        outbound_get(&listed, "http://bench.test/").await,
        "bench.test",
        "198.19.0.1 (in 198.18.0.0/15)",
    );
    assert!(msg.contains("connect.blocked_networks"), "{msg}");
}

#[tokio::test]
async fn a_redirect_to_a_name_pointed_at_loopback_is_refused() {
    let target = MockServer::hello().await;
    let to = format!("http://rebind.test:{}/", target.addr.port());
    let location = to.clone();
    let up =
        MockServer::start(move |_| Reply::ok("").status(302).header("location", &location)).await;
    let http = plain(
        &format!(
            "allowed_hosts = [{:?}, \"http://rebind.test:{}\"]\n[limits]\nmax_redirects = 2\n",
            up.origin(),
            target.addr.port()
        ),
        &[("rebind.test", &["127.0.0.1"])],
    );
    assert_blocked(
        outbound_get(&http, &up.url("/start")).await,
        "rebind.test",
        "127.0.0.1 (loopback)",
    );
    assert_eq!(up.connections(), 1, "the first hop went out");
    assert_eq!(target.connections(), 0, "the redirect hop did not connect");
    // The twin: the same hop to the address itself, which an entry names.
    let direct = target.url("/");
    let up2 =
        MockServer::start(move |_| Reply::ok("").status(302).header("location", &direct)).await;
    let http = plain(
        &format!(
            "allowed_hosts = [{:?}, {:?}]\n[limits]\nmax_redirects = 2\n",
            up2.origin(),
            target.origin()
        ),
        &[],
    );
    assert_eq!(outbound_get(&http, &up2.url("/start")).await, Ok(200));
    assert_eq!(target.connections(), 1);
}

#[tokio::test]
async fn an_ip_literal_allowed_only_by_a_wildcard_is_checked() {
    let up = MockServer::hello().await;
    let port = up.addr.port();
    let wildcard = plain(&format!("allowed_hosts = [\"http://*:{port}\"]"), &[]);
    assert_blocked(
        outbound_get(&wildcard, &up.url("/")).await,
        "127.0.0.1",
        "127.0.0.1 (loopback)",
    );
    assert_blocked(
        outbound_get(&wildcard, &format!("http://[::ffff:127.0.0.1]:{port}/")).await,
        "::ffff:127.0.0.1",
        "::ffff:127.0.0.1 (loopback)",
    );
    let all = plain("allowed_hosts = [\"*://*:*\"]", &[]);
    assert_blocked(
        outbound_get(&all, "http://169.254.169.254/").await,
        "169.254.169.254",
        "(link-local)",
    );
    assert_eq!(up.connections(), 0);
    // A CIDR entry names the address: allowed.
    let cidr = plain(
        &format!("allowed_hosts = [\"http://127.0.0.0/8:{port}\"]"),
        &[],
    );
    assert_eq!(outbound_get(&cidr, &up.url("/")).await, Ok(200));
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn unchecked_names_and_the_sidecar_name_may_reach_loopback() {
    let up = MockServer::hello().await;
    let port = up.addr.port();
    let names: &[(&str, &[&str])] = &[
        ("proxy.test", &["127.0.0.1"]),
        ("sidecar.test", &["127.0.0.1"]),
        ("other.test", &["127.0.0.1"]),
    ];
    let toml = format!(
        "allowed_hosts = [\"http://proxy.test:{port}\", \"http://sidecar.test:{port}\", \"http://other.test:{port}\"]\n[connect]\nunchecked_names = [\"proxy.test\"]\n"
    );
    let sidecar = format!("http://sidecar.test:{port}");
    for token in [None, Some("s3cr3t")] {
        let http = outbound(&toml, names, &sidecar, token);
        assert_eq!(
            outbound_get(&http, &format!("http://proxy.test:{port}/")).await,
            Ok(200)
        );
        assert_eq!(
            outbound_get(&http, &format!("http://sidecar.test:{port}/v1.0/healthz")).await,
            Ok(200)
        );
        assert_blocked(
            outbound_get(&http, &format!("http://other.test:{port}/")).await,
            "other.test",
            "127.0.0.1 (loopback)",
        );
    }
    let to_sidecar = up.requests_to("/v1.0/healthz");
    assert_eq!(to_sidecar.len(), 2);
    assert_eq!(to_sidecar[0].header("dapr-api-token"), None);
    assert_eq!(to_sidecar[1].header("dapr-api-token"), Some("s3cr3t"));
}

/// Runs a fixture guest in this process with `http` as its send path: the legacy
/// `http_fetch` module, or the `wasi:http` `http_fetch_p2` (0.2) or `http_fetch_p3` (0.3)
/// component. Returns its stdout.
async fn run_guest(http: &OutboundHttp, path: &str, url: &str) -> String {
    use wasi_dapr::component::ComponentState;
    use wasi_dapr::outbound_http::OutboundHttpCtx;
    use wasi_dapr::runtime::{HostState, Loaded, Runtime, RuntimeOptions};
    use wasmtime_wasi::WasiCtxBuilder;
    use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(crate::support::cache_dir()),
        ..Default::default()
    })
    .expect("runtime");
    let stdout = MemoryOutputPipe::new(1 << 16);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).args(&["fetch", url]);
    match runtime.load(std::path::Path::new(path)).expect("load") {
        Loaded::Module(module, _) => {
            let state = HostState::new(
                wasi.build_p1(),
                OutboundHttpCtx::new(http.clone()),
                1 << 28,
                None,
            );
            let mut store = runtime.new_store(state);
            let instance = runtime
                .linker()
                .expect("linker")
                .instantiate_async(&mut store, &module)
                .await
                .expect("instantiate");
            let start = instance
                .get_typed_func::<(), ()>(&mut store, "_start")
                .expect("_start");
            // The fixture exits non-zero on an error: that is an outcome here, not a failure.
            let _ = start.call_async(&mut store, ()).await;
        }
        Loaded::Component(component, _) => {
            let linker = wasi_dapr::component::linker(runtime.engine()).expect("linker");
            let pre = linker.instantiate_pre(&component).expect("pre");
            let state = ComponentState::new(wasi.build(), http.clone(), 1 << 28, None);
            let mut store = runtime.new_store(state);
            // The fixture fails on an error: that is an outcome here, not a failure.
            if path == crate::support::guests::COMPONENT_HTTP_FETCH_P3 {
                let pre = wasmtime_wasi::p3::bindings::CommandPre::new(pre).expect("a command");
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .expect("instantiate");
                let _ = store
                    .run_concurrent(async |s| command.wasi_cli_run().call_run(s).await)
                    .await;
            } else {
                let pre = wasmtime_wasi::p2::bindings::CommandPre::new(pre).expect("a command");
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .expect("instantiate");
                let _ = command.wasi_cli_run().call_run(&mut store).await;
            }
        }
    }
    String::from_utf8_lossy(&stdout.contents()).into_owned()
}

/// DNS rebinding through a name entry is refused on every ABI, with no connection; the
/// twin through the address entry is allowed on every one.
#[tokio::test]
async fn rebinding_to_loopback_is_refused_on_every_abi() {
    use crate::support::guests;
    for (guest, refused) in [
        (guests::HTTP_FETCH, "error=7"),
        (
            guests::COMPONENT_HTTP_FETCH_P2,
            "error=ErrorCode::DestinationIpProhibited",
        ),
        (
            guests::COMPONENT_HTTP_FETCH_P3,
            "error=ErrorCode::DestinationIpProhibited",
        ),
    ] {
        let up = MockServer::hello().await;
        let port = up.addr.port();
        let http = plain(
            &format!(
                "allowed_hosts = [\"http://rebind.test:{port}\", {:?}]",
                up.origin()
            ),
            &[("rebind.test", &["127.0.0.1"])],
        );
        let out = run_guest(&http, guest, &format!("http://rebind.test:{port}/")).await;
        assert!(out.contains(refused), "{guest}: {out}");
        assert_eq!(
            up.connections(),
            0,
            "{guest}: a blocked name must not connect"
        );
        let out = run_guest(&http, guest, &up.url("/")).await;
        assert!(out.contains("status=200"), "{guest}: {out}");
        assert_eq!(up.connections(), 1, "{guest}");
    }
}
