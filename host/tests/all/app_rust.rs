//! The Rust SDK's `app` module under `wasi-dapr serve`, with the embedded sidecar in
//! front as daprd: publisher → sidecar → served subscriber with the exact CloudEvent,
//! RETRY redelivered, DROP not (and dead-lettered), text / bytes / rawPayload / routing
//! rules decoded, input bindings and configuration updates, invocation through the
//! sidecar to a served callee, bulk subscriptions (batches, one status per entry) and
//! scheduled jobs triggering the app, and the `pubsub-rust`, `invoke-rust`, `jobs-rust`
//! and `bulk-subscriber-rust` examples against their READMEs.
//!
//! The served app records what it receives in the sidecar's state store
//! (`tests/dapr/rust/src/bin/served-app.rs`); the tests read it back over HTTP.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use wasi_dapr_sidecar::Sidecar;

use crate::serve::{Served, free_port, wait_until_up};
use crate::support::{
    Allowlist, Guest, Output, allowlist, cache_dir, example_output, guests, wasi_dapr,
};
use wasi_dapr_test_support::client::{Answer, delete, get, send, wait_subscriptions};
use wasi_dapr_test_support::sidecar::sidecar;
use wasi_dapr_test_support::{CLOUD_EVENT_FIELDS, resources};

/// An allowlist for guests that call the sidecar at `port`.
pub(crate) fn allow_port(port: u16) -> Allowlist {
    allowlist(&[format!("http://127.0.0.1:{port}")], "")
}

/// Serves `module` with an in-process sidecar in front of it as app `app_id`.
///
/// The sidecar's port is picked first so the served module can reach it (its state
/// store), then the sidecar starts with the served port as its app port.
async fn serve_behind_sidecar(
    module: &str,
    app_id: &str,
    resources_path: Option<&Path>,
) -> (Sidecar, Served) {
    let port = free_port();
    let served = Served::start(
        module,
        &[],
        &[("DAPR_HTTP_PORT", &port.to_string())],
        Some(allow_port(port)),
    )
    .await;
    let app_port = port_of(&served.base);
    let sc = sidecar(|o| {
        o.listen = ([127, 0, 0, 1], port).into();
        o.app_id = app_id.to_string();
        o.app_port = Some(app_port);
        o.resources_path = resources_path.map(Path::to_path_buf);
    })
    .await;
    (sc, served)
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in base URL")
}

/// Runs a guest with `wasi-dapr run` against the sidecar.
async fn run_against(sc: &Sidecar, module: &str, args: &[&str]) -> Output {
    let port = sc.local_addr().port();
    let allow = allow_port(port);
    Guest::new(module)
        .allowlist(&allow)
        .args(args)
        .envs(&[("DAPR_HTTP_PORT", &port.to_string())])
        .run()
        .await
}

/// The value stored at `key` in `statestore`, through the sidecar's HTTP API.
async fn state(sc: &Sidecar, key: &str) -> Option<Value> {
    let answer = get(sc.local_addr(), &format!("/v1.0/state/statestore/{key}")).await;
    match answer.status.as_u16() {
        204 => None,
        200 => Some(answer.json()),
        other => panic!("reading {key}: {other} {}", answer.text()),
    }
}

/// Polls `key` until `done` holds for its value (at most 20 s).
async fn wait_state(sc: &Sidecar, key: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = state(sc, key).await;
        if let Some(v) = &value
            && done(v)
        {
            return v.clone();
        }
        assert!(
            Instant::now() < deadline,
            "state {key} never became what the test waits for; last {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every stored key (without the `<appId>||` prefix) that starts with `prefix`.
async fn keys_with_prefix(sc: &Sidecar, prefix: &str) -> Vec<String> {
    sc.state_snapshot("statestore")
        .await
        .into_iter()
        .filter_map(|(key, _)| key.split_once("||").map(|(_, k)| k.to_string()))
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// Publishes `body` with `content_type` through the sidecar's HTTP API.
async fn publish(sc: &Sidecar, topic: &str, query: &str, content_type: &str, body: &str) {
    let path = format!("/v1.0/publish/pubsub/{topic}{query}");
    send(
        sc.local_addr(),
        Method::POST,
        &path,
        &[("content-type", content_type)],
        Bytes::from(body.to_string()),
    )
    .await
    .assert_no_content();
}

/// One request straight to the served app (not through the sidecar).
async fn to_app(
    served: &Served,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let addr = ([127, 0, 0, 1], port_of(&served.base)).into();
    send(addr, method, path, headers, Bytes::from(body.to_string())).await
}

#[track_caller]
fn assert_uuid(v: &Value) {
    let s = v.as_str().unwrap_or_default();
    let groups: Vec<usize> = s.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "not a UUID: {v}");
    assert!(s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{v}");
}

#[track_caller]
fn assert_traceparent(v: &Value) {
    let s = v.as_str().unwrap_or_default();
    let parts: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    assert_eq!(lens, [2, 32, 16, 2], "not a traceparent: {v}");
    assert_eq!(parts[0], "00", "{v}");
    assert!(s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_to_served_subscriber_delivers_the_exact_cloud_event() {
    let (sc, _served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    wait_subscriptions(sc.local_addr(), 3).await;

    let out = run_against(&sc, guests::PUBSUB_RUST_PUBLISHER, &[]).await;
    out.assert_success();
    // What the publisher sent, from its own output: `published order N to pubsub/orders: JSON`.
    let published: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once("pubsub/orders: "))
        .map(|(_, j)| serde_json::from_str(j).expect("published JSON"))
        .collect();
    assert_eq!(published.len(), 3, "{out}");

    // The served app records each event under `event-<CloudEvent id>`.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut keys = keys_with_prefix(&sc, "event-").await;
    while keys.len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        keys = keys_with_prefix(&sc, "event-").await;
    }
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut records = Vec::new();
    for key in &keys {
        records.push(state(&sc, key).await.expect("record"));
    }

    let expected_keys: BTreeSet<&str> = CLOUD_EVENT_FIELDS.into_iter().collect();
    for order in &published {
        let record = records
            .iter()
            .find(|r| r["event"]["data"] == *order)
            .unwrap_or_else(|| panic!("order {order} was not delivered: {records:#?}"));
        let event = &record["event"];
        // The CloudEvent as delivered: exactly these attributes, with these values.
        let keys: BTreeSet<&str> = event
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected_keys, "{event:#}");
        assert_eq!(event["data"], *order);
        assert_eq!(event["datacontenttype"], "application/json");
        assert_eq!(event["pubsubname"], "pubsub");
        assert_eq!(event["source"], "app");
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["topic"], "orders");
        assert_eq!(event["type"], "com.dapr.event.sent");
        assert_eq!(event["tracestate"], "");
        assert_uuid(&event["id"]);
        assert_traceparent(&event["traceparent"]);
        assert_eq!(event["traceid"], event["traceparent"]);
        let time = event["time"].as_str().expect("time");
        humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("time {time}: {e}"));
        assert_eq!(
            record["route"], "/orders",
            "delivered once to the default route"
        );
        assert_eq!(record["attempt"], 1);

        // And what the SDK decoded from it.
        let decoded = &record["decoded"];
        for (field, attr) in [
            ("id", "id"),
            ("source", "source"),
            ("type", "type"),
            ("specversion", "specversion"),
            ("datacontenttype", "datacontenttype"),
            ("topic", "topic"),
            ("pubsubname", "pubsubname"),
            ("time", "time"),
        ] {
            assert_eq!(decoded[field], event[attr], "{field}: {decoded:#}");
        }
        assert_eq!(decoded["subject"], Value::Null);
        assert_eq!(decoded["pubsubname_header"], "pubsub");
        assert_eq!(decoded["data_json"], *order);
        let text = decoded["data_text"].as_str().expect("data_text");
        assert_eq!(serde_json::from_str::<Value>(text).expect("JSON"), *order);
        assert_eq!(decoded["data_bytes"], json!(text.as_bytes()));
    }
    assert!(keys_with_prefix(&sc, "dead-").await.is_empty());
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_is_redelivered_and_drop_is_not() {
    let (sc, _served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    wait_subscriptions(sc.local_addr(), 3).await;
    for body in [
        r#"{"case":"retry-once","answer":"retry-once"}"#,
        r#"{"case":"retry-always","answer":"retry"}"#,
        r#"{"case":"drop","answer":"drop"}"#,
        r#"{"case":"success"}"#,
    ] {
        publish(&sc, "orders", "", "application/json", body).await;
    }

    // RETRY once: delivered again, SUCCESS the second time.
    wait_state(&sc, "event-retry-once", |r| r["attempt"] == 2).await;
    // RETRY every time: the sidecar's three attempts (test tuning), then the dead letter.
    let dead = wait_state(&sc, "dead-retry-always", |_| true).await;
    assert_eq!(
        dead["data"],
        json!({"case":"retry-always","answer":"retry"})
    );
    // DROP: dead-lettered at once.
    let dead = wait_state(&sc, "dead-drop", |_| true).await;
    assert_eq!(dead["data"], json!({"case":"drop","answer":"drop"}));
    assert_eq!(dead["pubsubname"], "pubsub");
    wait_state(&sc, "event-success", |r| r["attempt"] == 1).await;

    // Well past the retry back-off (20-50 ms in tests), nothing was delivered again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(state(&sc, "attempts-retry-once").await, Some(json!(2)));
    assert_eq!(state(&sc, "attempts-retry-always").await, Some(json!(3)));
    assert_eq!(state(&sc, "attempts-drop").await, Some(json!(1)));
    assert_eq!(state(&sc, "attempts-success").await, Some(json!(1)));
    let mut dead = keys_with_prefix(&sc, "dead-").await;
    dead.sort();
    assert_eq!(dead, ["dead-drop", "dead-retry-always"]);
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_bytes_raw_payload_and_rules_reach_the_handler_decoded() {
    let (sc, served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    wait_subscriptions(sc.local_addr(), 3).await;

    // The app's subscription list, as daprd reads it.
    let subs = to_app(&served, Method::GET, "/dapr/subscribe", &[], "").await;
    assert_eq!(subs.status, 200);
    assert_eq!(subs.header("content-type"), Some("application/json"));
    assert_eq!(
        subs.json(),
        json!([
            {"pubsubname": "pubsub", "topic": "orders",
             "routes": {"rules": [{"match": "event.type == \"priority\"", "path": "/orders/priority"}],
                        "default": "/orders"},
             "deadLetterTopic": "orders-dead"},
            {"pubsubname": "pubsub", "topic": "raw", "route": "/raw",
             "metadata": {"rawPayload": "true"}},
            {"pubsubname": "pubsub", "topic": "orders-dead", "route": "/dead"},
            {"pubsubname": "pubsub", "topic": "bulk-orders", "route": "/bulk",
             "deadLetterTopic": "orders-dead",
             "bulkSubscribe": {"enabled": true, "maxMessagesCount": 3, "maxAwaitDurationMs": 200}},
            {"pubsubname": "pubsub", "topic": "bulk-raw", "route": "/bulk-raw",
             "metadata": {"rawPayload": "true"},
             "bulkSubscribe": {"enabled": true, "maxMessagesCount": 100, "maxAwaitDurationMs": 1000}},
        ])
    );

    publish(
        &sc,
        "orders",
        "?metadata.cloudevent.id=text-1",
        "text/plain",
        "plain words",
    )
    .await;
    let r = wait_state(&sc, "event-text-1", |_| true).await;
    assert_eq!(r["event"]["data"], "plain words");
    assert_eq!(r["event"]["datacontenttype"], "text/plain");
    assert_eq!(r["decoded"]["data_text"], "plain words");
    assert_eq!(r["decoded"]["data_bytes"], json!(b"plain words"));
    assert_eq!(r["decoded"]["data_json"], "plain words");

    publish(
        &sc,
        "orders",
        "?metadata.cloudevent.id=bytes-1",
        "application/octet-stream",
        "\u{0}\u{1}~",
    )
    .await;
    let r = wait_state(&sc, "event-bytes-1", |_| true).await;
    assert_eq!(r["event"]["data_base64"], "AAF+");
    assert_eq!(r["event"].get("data"), None);
    assert_eq!(r["decoded"]["datacontenttype"], "application/octet-stream");
    assert_eq!(r["decoded"]["data_bytes"], json!([0, 1, 126]));
    assert_eq!(r["decoded"]["data_text"], "\u{0}\u{1}~");

    // rawPayload: the subscriber gets an envelope with the published bytes in data_base64.
    publish(
        &sc,
        "raw",
        "?metadata.rawPayload=true",
        "application/json",
        r#"{"case":"raw","n":1}"#,
    )
    .await;
    let r = wait_state(&sc, "event-raw", |_| true).await;
    assert_eq!(r["route"], "/raw");
    assert!(r["event"]["data_base64"].is_string(), "{r:#}");
    assert_eq!(r["decoded"]["data_json"], json!({"case":"raw","n":1}));
    assert_eq!(r["decoded"]["data_text"], r#"{"case":"raw","n":1}"#);

    // A CloudEvent of type `priority` takes the rule's route; extensions are kept.
    let ce = json!({"specversion": "1.0", "id": "prio-1", "source": "test-source",
                    "type": "priority", "subject": "sub-1", "myext": "ext-value",
                    "datacontenttype": "application/json", "data": {"case": "priority"}});
    publish(
        &sc,
        "orders",
        "",
        "application/cloudevents+json",
        &ce.to_string(),
    )
    .await;
    let r = wait_state(&sc, "event-priority", |_| true).await;
    assert_eq!(r["route"], "/orders/priority");
    assert_eq!(r["event"]["myext"], "ext-value");
    assert_eq!(r["decoded"]["id"], "prio-1");
    assert_eq!(r["decoded"]["source"], "test-source");
    assert_eq!(r["decoded"]["type"], "priority");
    assert_eq!(r["decoded"]["subject"], "sub-1");
    assert_eq!(r["decoded"]["data_json"], json!({"case": "priority"}));

    // A malformed delivery is answered DROP without reaching the handler.
    let ce_type = [("content-type", "application/cloudevents+json")];
    let bad = to_app(
        &served,
        Method::POST,
        "/orders",
        &ce_type,
        "not a cloud event",
    )
    .await;
    assert_eq!(bad.status, 200);
    assert_eq!(bad.json(), json!({"status": "DROP"}));
    // Unknown routes are 404.
    let none = to_app(&served, Method::POST, "/nowhere", &ce_type, "{}").await;
    assert_eq!(none.status, 404);
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_binding_and_configuration_updates() {
    let components = "kind: Component\nmetadata: {name: statestore}\nspec: {type: state.in-memory, version: v1}\n---\n\
        kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1}\n---\n\
        kind: Component\nmetadata: {name: tick}\nspec:\n  type: bindings.cron\n  version: v1\n  metadata:\n  - {name: schedule, value: '@every 100ms'}\n";
    let dir = resources(&[("components.yaml", components)]);
    let (sc, served) = serve_behind_sidecar(guests::SERVED_APP, "app", Some(dir.path())).await;

    // The sidecar probed OPTIONS /tick, got 200, and posts ticks the handler counts.
    wait_state(&sc, "ticks", |n| n.as_u64() >= Some(2)).await;
    let probe = to_app(&served, Method::OPTIONS, "/tick", &[], "").await;
    assert_eq!(probe.status, 200);
    let other = to_app(&served, Method::OPTIONS, "/not-a-binding", &[], "").await;
    assert_eq!(other.status, 404);

    // A configuration update is answered exactly 200 and reaches the handler.
    let update = r#"{"id":"sub-1","items":{"color":{"value":"blue","version":"2"}}}"#;
    let json_type = [("content-type", "application/json")];
    let answer = to_app(
        &served,
        Method::POST,
        "/configuration/configstore/color",
        &json_type,
        update,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty());
    assert_eq!(
        state(&sc, "config-color").await,
        Some(
            json!({"store": "configstore", "key": "color", "id": "sub-1",
                    "items": {"color": {"value": "blue", "version": "2"}}})
        )
    );
    let unknown = to_app(
        &served,
        Method::POST,
        "/configuration/other/color",
        &json_type,
        update,
    )
    .await;
    assert_eq!(unknown.status, 404);
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_through_the_sidecar_reaches_the_served_callee() {
    let (sc, _served) = serve_behind_sidecar(guests::INVOKE_RUST_CALLEE, "target", None).await;
    let addr = sc.local_addr();

    let answer = send(
        addr,
        Method::PUT,
        "/v1.0/invoke/target/method/echo/a%20b?x=1&y=two%20words",
        &[
            ("content-type", "application/json"),
            ("x-custom", "v1"),
            ("x-other", "2"),
        ],
        Bytes::from_static(br#"{"k":"v"}"#),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        json!({
            "method": "PUT",
            "path": "/echo/a b",
            "query": "x=1&y=two%20words",
            "contentType": "application/json",
            "caller": "target",
            "headers": {"x-custom": "v1", "x-other": "2"},
            "body": "{\"k\":\"v\"}",
        })
    );

    let hello = delete(addr, "/v1.0/invoke/target/method/hello", &[]).await;
    assert_eq!(hello.status, 200);
    assert_eq!(
        hello.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(hello.text(), "hello from the target app\n");

    // The app's 404 comes back unchanged.
    let missing = get(addr, "/v1.0/invoke/target/method/missing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "no handler for GET /missing");

    // The example's caller, through `wasi-dapr run`, prints what its README says.
    let blocks = example_output("invoke-rust");
    let out = run_against(&sc, guests::INVOKE_RUST, &["target", "hello"]).await;
    out.assert_success();
    assert_eq!(out.stdout, blocks[0], "{out}");
    let out = run_against(&sc, guests::INVOKE_RUST, &["target", "echo", "hi there"]).await;
    out.assert_success();
    assert_eq!(out.stdout, blocks[1], "{out}");
    let out = run_against(&sc, guests::INVOKE_RUST, &["target", "missing"]).await;
    assert_eq!(out.code, Some(2), "{out}");
    assert_eq!(
        out.stdout,
        "GET target/missing -> 404\nno handler for GET /missing\n"
    );
    sc.shutdown().await;
}

/// `wasi-dapr serve` with the host's log (guest stderr included) collected.
pub(crate) struct LoggedServe {
    pub(crate) port: u16,
    log: Arc<Mutex<String>>,
    _child: tokio::process::Child,
    _allow: Allowlist,
}

impl LoggedServe {
    pub(crate) async fn start(module: &str, sidecar_port: u16) -> LoggedServe {
        let port = free_port();
        let allow = allow_port(sidecar_port);
        let mut cmd = wasi_dapr();
        cmd.arg("serve")
            .arg("--cache-dir")
            .arg(cache_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--allowlist")
            .arg(&allow.path)
            .arg(module)
            .env("DAPR_HTTP_PORT", sidecar_port.to_string())
            .stdout(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("spawn serve");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().expect("lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        wait_until_up(&format!("http://127.0.0.1:{port}/healthz")).await;
        LoggedServe {
            port,
            log,
            _child: child,
            _allow: allow,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().expect("lock").clone()
    }
}

/// The messages of the `guest: ...` lines of a host log, without the `request=N` field.
pub(crate) fn guest_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(" guest: ").map(|(_, rest)| rest))
        .map(|rest| {
            rest.rsplit_once(" request=")
                .map_or(rest, |(msg, _)| msg)
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_example_prints_its_readme_output() {
    pubsub_example(
        guests::PUBSUB_RUST_SUBSCRIBER,
        guests::PUBSUB_RUST_PUBLISHER,
    )
    .await;
}

/// The same sources built for `wasm32-wasip2`: the subscriber served as a
/// `wasi:http/proxy` component, the publisher run as a command component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_example_as_components_prints_its_readme_output() {
    pubsub_example(
        guests::COMPONENT_PUBSUB_RUST_SUBSCRIBER,
        guests::COMPONENT_PUBSUB_RUST_PUBLISHER,
    )
    .await;
}

async fn pubsub_example(subscriber: &str, publisher: &str) {
    let blocks = example_output("pubsub-rust");
    assert_eq!(blocks.len(), 3, "publisher, subscriber, subscriptions");
    let expected_guest = guest_lines(&blocks[1]);
    assert_eq!(expected_guest.len(), 5, "{expected_guest:?}");

    let sidecar_port = free_port();
    let subscriber = LoggedServe::start(subscriber, sidecar_port).await;
    let sc = sidecar(|o| {
        o.listen = ([127, 0, 0, 1], sidecar_port).into();
        o.app_port = Some(subscriber.port);
    })
    .await;
    wait_subscriptions(sc.local_addr(), 2).await;
    let subs = get(([127, 0, 0, 1], subscriber.port).into(), "/dapr/subscribe").await;
    assert_eq!(format!("{}\n", subs.text()), blocks[2]);

    let out = run_against(&sc, publisher, &[]).await;
    out.assert_success();
    assert_eq!(out.stdout, blocks[0], "{out}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = guest_lines(&subscriber.log());
    while got.len() < expected_guest.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        got = guest_lines(&subscriber.log());
    }
    // Deliveries are concurrent: the same lines, in any order, except that order 2's
    // retry comes after its first attempt.
    let mut sorted_got = got.clone();
    sorted_got.sort();
    let mut sorted_expected = expected_guest.clone();
    sorted_expected.sort();
    assert_eq!(sorted_got, sorted_expected, "log:\n{}", subscriber.log());
    let position = |needle: &str| got.iter().position(|l| l.contains(needle));
    assert!(
        position("failing attempt 1") < position("(attempt 2)"),
        "{got:?}"
    );
    // The flaky order's attempts were counted in the state store, keyed by event id.
    let counters = keys_with_prefix(&sc, "pubsub-rust-attempts-").await;
    assert_eq!(counters.len(), 1, "{counters:?}");
    assert_eq!(state(&sc, &counters[0]).await, Some(json!(2)));
    sc.shutdown().await;
}

/// The served app answers a bulk envelope posted straight to it (no sidecar in the
/// way): one status per entry, decoded CloudEvent and raw entries, malformed entries
/// dropped, a single CloudEvent on the bulk route handled as a batch of one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_envelope_to_the_served_app_is_answered_per_entry() {
    let (sc, served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    let ce = |case: &str, answer: &str| {
        json!({"id": format!("ce-{case}"), "specversion": "1.0", "type": "com.dapr.event.sent",
               "source": "app", "pubsubname": "pubsub", "topic": "bulk-orders",
               "datacontenttype": "application/json", "data": {"case": case, "answer": answer}})
    };
    let envelope = json!({
        "entries": [
            {"entryId": "e-ok", "event": ce("direct-ok", ""), "metadata": null,
             "contentType": "application/cloudevents+json"},
            {"entryId": "e-retry", "event": ce("direct-retry", "retry"), "metadata": null,
             "contentType": "application/cloudevents+json"},
            {"entryId": "e-drop", "event": ce("direct-drop", "drop"), "metadata": {"k": "v"},
             "contentType": "application/cloudevents+json"},
            // `{"case":"direct-raw"}`, base64: a rawPayload entry.
            {"entryId": "e-raw", "event": "eyJjYXNlIjoiZGlyZWN0LXJhdyJ9", "metadata": null,
             "contentType": "application/octet-stream"},
            {"entryId": "e-bad", "event": 42, "metadata": null},
        ],
        "id": "env-direct", "metadata": {"pubsubName": "pubsub"}, "pubsubname": "pubsub",
        "topic": "bulk-orders", "type": "com.dapr.event.sent.bulk"
    });
    let json_type = [("content-type", "application/json")];
    let answer = to_app(
        &served,
        Method::POST,
        "/bulk",
        &json_type,
        &envelope.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        json!({"statuses": [
            {"entryId": "e-ok", "status": "SUCCESS"},
            {"entryId": "e-retry", "status": "RETRY"},
            {"entryId": "e-drop", "status": "DROP"},
            {"entryId": "e-raw", "status": "SUCCESS"},
            {"entryId": "e-bad", "status": "DROP"},
        ]})
    );
    let batch = state(&sc, "batch-env-direct").await.expect("batch record");
    assert_eq!(
        batch,
        json!({"route": "/bulk", "topic": "bulk-orders",
               "entries": ["e-ok", "e-retry", "e-drop", "e-raw"]})
    );
    let ok = state(&sc, "bulk-direct-ok").await.expect("entry record");
    assert_eq!(ok["entryId"], "e-ok");
    assert_eq!(ok["contentType"], "application/cloudevents+json");
    assert_eq!(ok["event"]["id"], "ce-direct-ok");
    assert_eq!(ok["metadata"], json!({}));
    let dropped = state(&sc, "bulk-direct-drop").await.expect("entry record");
    assert_eq!(dropped["metadata"], json!({"k": "v"}));
    let raw = state(&sc, "bulk-direct-raw").await.expect("entry record");
    assert_eq!(raw["data"], json!({"case": "direct-raw"}));
    assert_eq!(raw["event"]["raw"], json!(br#"{"case":"direct-raw"}"#));

    // A single CloudEvent on the bulk route: a batch of one, answered single-style.
    let single = ce("direct-single", "drop").to_string();
    let ce_type = [("content-type", "application/cloudevents+json")];
    let answer = to_app(&served, Method::POST, "/bulk", &ce_type, &single).await;
    assert_eq!(answer.json(), json!({"status": "DROP"}));
    // An envelope whose entries have no ids cannot be answered per entry: 400.
    let bad = json!({"entries": [{"event": {}}]}).to_string();
    let answer = to_app(&served, Method::POST, "/bulk", &json_type, &bad).await;
    assert_eq!(answer.status, 400);
    sc.shutdown().await;
}

/// The sidecar delivers a bulk subscription in batches of at most `maxMessagesCount`,
/// as daprd's envelope, and honours the statuses: SUCCESS acked, DROP dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_subscription_gets_batches_and_its_statuses_are_honoured() {
    let (sc, _served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    wait_subscriptions(sc.local_addr(), 5).await;
    let cases = ["b-1", "b-2", "b-3", "b-4"];
    for case in cases {
        let body = json!({"case": case}).to_string();
        publish(&sc, "bulk-orders", "", "application/json", &body).await;
    }
    publish(
        &sc,
        "bulk-orders",
        "",
        "application/json",
        r#"{"case":"b-drop","answer":"drop"}"#,
    )
    .await;
    for case in cases {
        let r = wait_state(&sc, &format!("bulk-{case}"), |_| true).await;
        assert_eq!(r["route"], "/bulk", "{r:#}");
        assert_eq!(r["attempt"], 1, "{r:#}");
        assert_eq!(r["contentType"], "application/cloudevents+json", "{r:#}");
        assert_uuid(&r["entryId"]);
        assert_eq!(r["event"]["topic"], "bulk-orders");
        assert_eq!(r["event"]["pubsubname"], "pubsub");
        assert_eq!(r["event"]["data"], json!({"case": case}));
        assert_eq!(r["data"], json!({"case": case}));
    }
    // DROP went to the dead-letter topic, delivered to its (single) subscription.
    let dead = wait_state(&sc, "dead-b-drop", |_| true).await;
    assert_eq!(dead["data"], json!({"case": "b-drop", "answer": "drop"}));
    // Batches of at most 3, every message in exactly one of them.
    let mut delivered = Vec::new();
    for key in keys_with_prefix(&sc, "batch-").await {
        let batch = state(&sc, &key).await.expect("batch");
        let entries = batch["entries"].as_array().expect("entries").clone();
        assert!(!entries.is_empty() && entries.len() <= 3, "{batch:#}");
        assert_eq!(batch["topic"], "bulk-orders");
        delivered.extend(entries);
    }
    assert_eq!(delivered.len(), 5, "{delivered:?}");
    // Acked messages are not delivered again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for case in cases {
        assert_eq!(
            state(&sc, &format!("attempts-{case}")).await,
            Some(json!(1))
        );
    }
    assert_eq!(state(&sc, "attempts-b-drop").await, Some(json!(1)));

    // rawPayload: the entry's event is the published bytes, base64 on the wire.
    publish(
        &sc,
        "bulk-raw",
        "?metadata.rawPayload=true",
        "application/json",
        r#"{"case":"b-raw"}"#,
    )
    .await;
    let r = wait_state(&sc, "bulk-b-raw", |_| true).await;
    assert_eq!(r["route"], "/bulk-raw");
    assert_eq!(r["data"], json!({"case": "b-raw"}));
    assert_eq!(r["event"]["raw"], json!(br#"{"case":"b-raw"}"#));
    sc.shutdown().await;
}

/// A job scheduled through the sidecar triggers `POST /job/<name>` on the served app
/// with its data; a failing handler is retried by the job's failure policy, then no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_trigger_the_served_app() {
    let (sc, served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    let json_type = [("content-type", "application/json")];

    // Straight to the app first: the handlers' answers.
    let ok = to_app(
        &served,
        Method::POST,
        "/job/served-job",
        &json_type,
        r#""direct""#,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        state(&sc, "job-served-job").await,
        Some(json!({"count": 1, "data": "direct", "contentType": "application/json"}))
    );
    let failing = to_app(&served, Method::POST, "/job/failing-job", &json_type, "1").await;
    assert_eq!(failing.status, 500);
    let unknown = to_app(&served, Method::POST, "/job/no-such-job", &json_type, "1").await;
    assert_eq!(unknown.status, 404);
    for key in [
        "attempts-served-job",
        "attempts-failing-job",
        "job-served-job",
    ] {
        delete(
            sc.local_addr(),
            &format!("/v1.0/state/statestore/{key}"),
            &[],
        )
        .await
        .assert_no_content();
    }

    // Through the sidecar's scheduler.
    let schedule = |name: &str, body: Value| {
        let addr = sc.local_addr();
        let path = format!("/v1.0/jobs/{name}");
        async move {
            send(
                addr,
                Method::POST,
                &path,
                &[("content-type", "application/json")],
                Bytes::from(body.to_string()),
            )
            .await
            .assert_no_content();
        }
    };
    schedule(
        "served-job",
        json!({"dueTime": "0s", "data": {"case": "job"}}),
    )
    .await;
    let r = wait_state(&sc, "job-served-job", |_| true).await;
    assert_eq!(
        r,
        json!({"count": 1, "data": {"case": "job"}, "contentType": "application/json"})
    );
    schedule(
        "failing-job",
        json!({"dueTime": "0s", "data": "x",
               "failurePolicy": {"constant": {"interval": "0.2s", "maxRetries": 2}}}),
    )
    .await;
    // The first attempt and two retries, then nothing more.
    wait_state(&sc, "attempts-failing-job", |n| n.as_u64() >= Some(3)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(state(&sc, "attempts-failing-job").await, Some(json!(3)));
    assert_eq!(state(&sc, "attempts-served-job").await, Some(json!(1)));
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_example_prints_its_readme_output() {
    jobs_example(guests::JOBS_RUST_APP, guests::JOBS_RUST_SCHEDULER).await;
}

/// The same sources as components: the app a `wasi:http/proxy`, the scheduler a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_example_as_components_prints_its_readme_output() {
    jobs_example(
        guests::COMPONENT_JOBS_RUST_APP,
        guests::COMPONENT_JOBS_RUST_SCHEDULER,
    )
    .await;
}

/// Waits until the log has `n` `guest:` lines (at most 20 s) and returns them.
async fn wait_guest_lines(served: &LoggedServe, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = guest_lines(&served.log());
    while got.len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        got = guest_lines(&served.log());
    }
    got
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

async fn jobs_example(app: &str, scheduler: &str) {
    served_example("jobs-rust", app, scheduler, &[], 4).await;
}

/// Serves `app` behind a sidecar, runs `client` with `args` against it, and checks
/// `examples/<example>/README.md`: the client's stdout is the first `text` block of
/// `## Expected output`, and the app's `guest:` lines are the second (`n_guest` of them,
/// in any order, and no more after a quiet 1.5 s: repeating work stops on time).
pub(crate) async fn served_example(
    example: &str,
    app: &str,
    client: &str,
    args: &[&str],
    n_guest: usize,
) {
    let blocks = example_output(example);
    assert_eq!(blocks.len(), 2, "{example}: client, app");
    let expected_guest = guest_lines(&blocks[1]);
    assert_eq!(expected_guest.len(), n_guest, "{expected_guest:?}");

    let sidecar_port = free_port();
    let served = LoggedServe::start(app, sidecar_port).await;
    let sc = sidecar(|o| {
        o.listen = ([127, 0, 0, 1], sidecar_port).into();
        o.app_port = Some(served.port);
    })
    .await;
    let out = run_against(&sc, client, args).await;
    out.assert_success();
    assert_eq!(out.stdout, blocks[0], "{out}\nhost log:\n{}", served.log());

    let got = wait_guest_lines(&served, expected_guest.len()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = guest_lines(&served.log());
    assert_eq!(got, got_after, "log:\n{}", served.log());
    assert_eq!(
        sorted(got),
        sorted(expected_guest),
        "log:\n{}",
        served.log()
    );
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_subscriber_example_prints_its_readme_output() {
    bulk_subscriber_example(
        guests::BULK_SUBSCRIBER_RUST,
        guests::BULK_SUBSCRIBER_RUST_PUBLISHER,
    )
    .await;
}

/// The same sources as components: the subscriber a `wasi:http/proxy`, the publisher a
/// command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_subscriber_example_as_components_prints_its_readme_output() {
    bulk_subscriber_example(
        guests::COMPONENT_BULK_SUBSCRIBER_RUST,
        guests::COMPONENT_BULK_SUBSCRIBER_RUST_PUBLISHER,
    )
    .await;
}

async fn bulk_subscriber_example(subscriber: &str, publisher: &str) {
    let blocks = example_output("bulk-subscriber-rust");
    assert_eq!(blocks.len(), 3, "publisher, subscriber, subscriptions");
    let expected_guest = guest_lines(&blocks[1]);
    assert_eq!(expected_guest.len(), 6, "{expected_guest:?}");

    let sidecar_port = free_port();
    let served = LoggedServe::start(subscriber, sidecar_port).await;
    let sc = sidecar(|o| {
        o.listen = ([127, 0, 0, 1], sidecar_port).into();
        o.app_port = Some(served.port);
    })
    .await;
    wait_subscriptions(sc.local_addr(), 1).await;
    let subs = get(([127, 0, 0, 1], served.port).into(), "/dapr/subscribe").await;
    assert_eq!(format!("{}\n", subs.text()), blocks[2]);

    let out = run_against(&sc, publisher, &[]).await;
    out.assert_success();
    assert_eq!(out.stdout, blocks[0], "{out}");

    let got = wait_guest_lines(&served, expected_guest.len()).await;
    // One batch: its line first, then the five orders in any order.
    assert_eq!(
        got.first(),
        expected_guest.first(),
        "log:\n{}",
        served.log()
    );
    assert_eq!(
        sorted(got),
        sorted(expected_guest),
        "log:\n{}",
        served.log()
    );
    sc.shutdown().await;
}

/// W3C trace context end to end: a caller's `traceparent` on an invocation through the
/// sidecar reaches the served app, the host adds it to the app's publish to the sidecar,
/// and the CloudEvent the sidecar delivers carries the caller's trace on. Without an
/// inbound context the event gets a fresh trace of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_context_flows_through_the_guest_into_the_cloud_event() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (sc, _served) = serve_behind_sidecar(guests::SERVED_APP, "app", None).await;
    wait_subscriptions(sc.local_addr(), 3).await;

    let invoke = |body: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let addr = sc.local_addr();
        async move {
            let mut all = vec![("content-type", "application/json")];
            all.extend_from_slice(headers);
            send(
                addr,
                Method::POST,
                "/v1.0/invoke/app/method/publish",
                &all,
                Bytes::from_static(body.as_bytes()),
            )
            .await
        }
    };
    let traced = invoke(
        r#"{"case":"traced"}"#,
        &[
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(traced.status, 204, "{}", traced.text());
    let untraced = invoke(r#"{"case":"untraced"}"#, &[]).await;
    assert_eq!(untraced.status, 204, "{}", untraced.text());

    let event = wait_state(&sc, "event-traced", |_| true).await["event"].clone();
    assert_eq!(event["traceparent"], TRACEPARENT, "{event:#}");
    assert_eq!(event["traceid"], TRACEPARENT, "{event:#}");
    assert_eq!(event["tracestate"], "congo=t61rcWkgMzE", "{event:#}");

    let event = wait_state(&sc, "event-untraced", |_| true).await["event"].clone();
    assert_traceparent(&event["traceparent"]);
    let trace_id = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .split('-')
            .nth(1)
            .map(str::to_owned)
    };
    assert_ne!(
        trace_id(&event["traceparent"]),
        trace_id(&json!(TRACEPARENT)),
        "an untraced call must not inherit another request's trace: {event:#}"
    );
    sc.shutdown().await;
}
