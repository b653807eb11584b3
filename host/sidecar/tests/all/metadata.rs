//! `GET /v1.0/metadata` in daprd 1.18's full shape, compared whole: with and without components, with declarative and programmatic subscriptions.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use wasi_dapr_test_support::client::{get, send, wait_subscriptions};
use wasi_dapr_test_support::mock::{MockServer, reply};
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

/// The embedded placement is always connected; these apps host no actor types.
const NO_ACTORS: &str =
    r#"{"runtimeStatus":"RUNNING","hostReady":true,"placement":"placement: connected"}"#;

/// The metadata answer, with `runtimeVersion` checked and taken out.
async fn metadata(addr: std::net::SocketAddr) -> (Value, String) {
    let a = get(addr, "/v1.0/metadata").await;
    assert_eq!(a.header("content-type"), Some("application/json"));
    let mut m = a.json();
    let version = m["runtimeVersion"]
        .as_str()
        .expect("runtimeVersion")
        .to_string();
    assert!(version.starts_with("wasi-dapr-"), "{version}");
    assert_eq!(m["extended"]["daprRuntimeVersion"], version.as_str());
    m.as_object_mut().expect("object").remove("runtimeVersion");
    (m, version)
}

#[tokio::test]
async fn default_components_and_no_app() {
    let sc = sidecar(|o| o.app_id = "myapp".into()).await;
    let addr = sc.local_addr();
    // A daprRuntimeVersion set over the API is overwritten, as daprd does.
    send(
        addr,
        Method::PUT,
        "/v1.0/metadata/daprRuntimeVersion",
        &[],
        Bytes::from_static(b"9"),
    )
    .await
    .assert_no_content();
    send(
        addr,
        Method::PUT,
        "/v1.0/metadata/team",
        &[],
        Bytes::from_static(b"blue"),
    )
    .await
    .assert_no_content();
    let (m, version) = metadata(addr).await;
    let actors: Value = serde_json::from_str(NO_ACTORS).expect("json");
    assert_eq!(
        m,
        json!({
            "id": "myapp",
            "components": [
                {"name": "statestore", "type": "state.in-memory", "version": "v1",
                 "capabilities": ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"]},
                {"name": "pubsub", "type": "pubsub.in-memory", "version": "v1"}],
            "extended": {"daprRuntimeVersion": version, "team": "blue"},
            "appConnectionProperties": {"protocol": "http", "channelAddress": "127.0.0.1"},
            "actorRuntime": actors,
        })
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn no_components_leaves_only_the_always_present_keys() {
    let dir = resources(&[]);
    let sc = sidecar(|o| {
        o.app_id = "bare".into();
        o.resources_path = Some(dir.path().to_path_buf());
    })
    .await;
    let (m, version) = metadata(sc.local_addr()).await;
    let actors: Value = serde_json::from_str(NO_ACTORS).expect("json");
    assert_eq!(
        m,
        json!({
            "id": "bare",
            "extended": {"daprRuntimeVersion": version},
            "appConnectionProperties": {"protocol": "http", "channelAddress": "127.0.0.1"},
            "actorRuntime": actors,
        })
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn subscriptions_declarative_and_programmatic() {
    let declarative = "kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1}\n---\n\
        kind: Subscription\nmetadata: {name: s1}\nspec: {pubsubname: pubsub, topic: orders, route: /orders}\n---\n\
        kind: Subscription\nmetadata: {name: s2}\nspec:\n  pubsubname: pubsub\n  topic: items\n  deadLetterTopic: dead\n  metadata: {rawPayload: 'true'}\n  routes:\n    default: /items\n    rules: [{match: 'event.type == \"a\"', path: /a}]\n";
    let dir = resources(&[("c.yaml", declarative)]);
    let app = MockServer::start(|r| match r.target() {
        "/dapr/subscribe" => reply(200, r#"[{"pubsubname":"pubsub","topic":"prog","route":"/p"},
            {"pubsubname":"pubsub","topic":"prog2","routes":{"rules":[{"match":"event.type == \"b\"","path":"/b"}]},"deadLetterTopic":"dl"}]"#),
        _ => reply(200, ""),
    })
    .await;
    let port = app.addr.port();
    let sc = sidecar(|o| {
        o.app_id = "subs".into();
        o.app_port = Some(port);
        o.resources_path = Some(dir.path().to_path_buf());
    })
    .await;
    wait_subscriptions(sc.local_addr(), 4).await;
    let (m, version) = metadata(sc.local_addr()).await;
    let actors: Value = serde_json::from_str(NO_ACTORS).expect("json");
    let mut subs = m["subscriptions"]
        .as_array()
        .cloned()
        .expect("subscriptions");
    subs.sort_by_key(|s| s["topic"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        Value::Array(subs),
        json!([
            {"pubsubname": "pubsub", "topic": "items", "metadata": {"rawPayload": "true"},
             "rules": [{"match": "event.type == \"a\"", "path": "/a"}, {"path": "/items"}],
             "deadLetterTopic": "dead", "type": "DECLARATIVE"},
            {"pubsubname": "pubsub", "topic": "orders", "rules": [{"path": "/orders"}],
             "deadLetterTopic": "", "type": "DECLARATIVE"},
            {"pubsubname": "pubsub", "topic": "prog", "rules": [{"path": "/p"}],
             "deadLetterTopic": "", "type": "PROGRAMMATIC"},
            {"pubsubname": "pubsub", "topic": "prog2", "rules": [{"match": "event.type == \"b\"", "path": "/b"}],
             "deadLetterTopic": "dl", "type": "PROGRAMMATIC"},
        ])
    );
    let mut rest = m.clone();
    rest.as_object_mut()
        .expect("object")
        .remove("subscriptions");
    assert_eq!(
        rest,
        json!({
            "id": "subs",
            "components": [{"name": "pubsub", "type": "pubsub.in-memory", "version": "v1"}],
            "extended": {"daprRuntimeVersion": version},
            "appConnectionProperties": {"port": port, "protocol": "http", "channelAddress": "127.0.0.1"},
            "actorRuntime": actors,
        })
    );
    sc.shutdown().await;
}
