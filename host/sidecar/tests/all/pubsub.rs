//! Pub/sub conformance (dapr-http-api.md § Pub/sub): publish wrappings, errors, subscriptions, delivery outcomes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use wasi_dapr_sidecar::Sidecar;

use wasi_dapr_test_support::client::{Answer, get, send, wait_subscriptions};
use wasi_dapr_test_support::mock::{MockServer, Recorded, reply};
use wasi_dapr_test_support::sidecar::sidecar;
use wasi_dapr_test_support::{CLOUD_EVENT_FIELDS, resources};

const SUBSCRIPTIONS: &str = r#"[
  {"pubsubname":"pubsub","topic":"orders","route":"/orders"},
  {"pubsubname":"pubsub","topic":"a/b","route":"slashed"},
  {"pubsubname":"pubsub","topic":"retry","route":"/retry"},
  {"pubsubname":"pubsub","topic":"drop","route":"/drop","deadLetterTopic":"dead"},
  {"pubsubname":"pubsub","topic":"exhaust","route":"/fail500","deadLetterTopic":"dead"},
  {"pubsubname":"pubsub","topic":"notfound","route":"/nope","deadLetterTopic":"dead"},
  {"pubsubname":"pubsub","topic":"dead","route":"/dead"},
  {"pubsubname":"pubsub","topic":"weird","route":"/weird"},
  {"PubsubName":"pubsub","TOPIC":"casedrop","Route":"/casedrop","DeadLetterTopic":"dead"},
  {"pubsubname":"pubsub","topic":"raw","route":"/raw","metadata":{"rawPayload":"true"}},
  {"pubsubname":"pubsub","topic":"rawbad","route":"/rawbad","deadLetterTopic":"dead","metadata":{"rawPayload":"\"true\""}},
  {"pubsubname":"pubsub","topic":"rules","route":"/ignored","routes":{"rules":[{"match":"event.type == \"widget\"","path":"/widgets"}],"default":"/other"}}
]"#;

/// The test app: subscription list, and per-route answers.
async fn app() -> MockServer {
    MockServer::start(|r: &Recorded| match r.target() {
        "/dapr/subscribe" => reply(200, SUBSCRIPTIONS),
        "/retry" => reply(200, r#"{"status":"RETRY"}"#),
        "/drop" => reply(200, r#"{"status":"DROP"}"#),
        "/fail500" => reply(500, "boom"),
        "/nope" => reply(404, ""),
        "/weird" => reply(200, r#"{"status":"MAYBE"}"#),
        // Answers are decoded as Go's encoding/json does: `Status` is `status`.
        "/casedrop" => reply(200, r#"{"Status":"DROP"}"#),
        "/orders" => reply(200, r#"{"status":"SUCCESS"}"#),
        _ => reply(200, ""),
    })
    .await
}

async fn setup(token: Option<&str>) -> (MockServer, Sidecar) {
    let app = app().await;
    let port = app.addr.port();
    let token = token.map(str::to_string);
    let sc = sidecar(|o| {
        o.app_port = Some(port);
        o.app_api_token = token;
    })
    .await;
    wait_subscriptions(sc.local_addr(), 12).await;
    (app, sc)
}

async fn publish(addr: SocketAddr, path: &str, content_type: Option<&str>, body: &str) -> Answer {
    let headers: Vec<(&str, &str)> = content_type
        .map(|c| vec![("content-type", c)])
        .unwrap_or_default();
    send(
        addr,
        Method::POST,
        path,
        &headers,
        Bytes::from(body.to_string()),
    )
    .await
}

fn event(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).expect("delivered body is JSON")
}

#[tokio::test]
async fn json_message_arrives_as_the_exact_cloudevent() {
    let (app, sc) = setup(Some("app-secret")).await;
    let addr = sc.local_addr();
    // GET /dapr/subscribe carried dapr-app-id and the app token.
    let sub = app.requests_to("/dapr/subscribe");
    assert_eq!(sub[0].method, Method::GET);
    assert_eq!(sub[0].header("dapr-app-id"), Some("app"));
    assert_eq!(sub[0].header("dapr-api-token"), Some("app-secret"));

    publish(
        addr,
        "/v1.0/publish/pubsub/orders",
        Some("application/json"),
        r#"{"orderId":1}"#,
    )
    .await
    .assert_no_content();
    let got = app.wait_for("/orders", 1).await;
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(
        r.header("content-type"),
        Some("application/cloudevents+json")
    );
    assert_eq!(r.header("pubsubname"), Some("pubsub"));
    assert_eq!(r.header("dapr-api-token"), Some("app-secret"));
    let ev = event(r);
    let keys: Vec<&str> = ev
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, CLOUD_EVENT_FIELDS);
    assert_eq!(ev["data"], json!({"orderId": 1}));
    assert_eq!(ev["datacontenttype"], "application/json");
    assert_eq!(ev["pubsubname"], "pubsub");
    assert_eq!(ev["source"], "app");
    assert_eq!(ev["specversion"], "1.0");
    assert_eq!(ev["topic"], "orders");
    assert_eq!(ev["type"], "com.dapr.event.sent");
    assert_eq!(ev["tracestate"], "");
    assert_eq!(ev["traceid"], ev["traceparent"]);
    assert_eq!(r.header("traceparent"), ev["traceparent"].as_str());
    assert!(uuid::Uuid::parse_str(ev["id"].as_str().unwrap_or_default()).is_ok());
    assert!(
        humantime::parse_rfc3339(ev["time"].as_str().unwrap_or_default()).is_ok(),
        "{}",
        ev["time"]
    );
    // SUCCESS is not redelivered.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(app.requests_to("/orders").len(), 1);
    sc.shutdown().await;
}

#[tokio::test]
async fn content_type_wrappings_and_overrides() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    let p = "/v1.0/publish/pubsub/orders";
    publish(addr, p, Some("text/plain"), "hello")
        .await
        .assert_no_content();
    publish(addr, p, Some("application/octet-stream"), "\u{1}bin")
        .await
        .assert_no_content();
    publish(addr, p, None, "no type").await.assert_no_content();
    publish(addr, p, Some("application/json"), "not json {")
        .await
        .assert_no_content();
    publish(
        addr,
        &format!("{p}?metadata.cloudevent.id=my-id&metadata.cloudevent.source=my-src&metadata.cloudevent.type=my.type&metadata.cloudevent.subject=subj&metadata.ttlInSeconds=60"),
        Some("application/json"),
        "7",
    )
    .await
    .assert_no_content();
    publish(
        addr,
        p,
        Some("application/cloudevents+json"),
        r#"{"id":"ce-1","source":"elsewhere","type":"t.x","specversion":"1.0","datacontenttype":"application/json","data":{"k":"v"},"topic":"wrong","pubsubname":"wrong"}"#,
    )
    .await
    .assert_no_content();
    publish(
        addr,
        p,
        Some("application/cloudevents+json"),
        r#"{"data":"bare"}"#,
    )
    .await
    .assert_no_content();
    let got = app.wait_for("/orders", 7).await;
    assert_eq!(got.len(), 7);
    let events: Vec<Value> = got.iter().map(event).collect();
    let find = |f: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .find(|e| f(e))
            .cloned()
            .expect("event delivered")
    };
    let text = find(&|e| e["data"] == "hello");
    assert_eq!(text["datacontenttype"], "text/plain");
    let bin = find(&|e| e.get("data_base64").is_some());
    assert_eq!(bin["data_base64"], "AWJpbg==");
    assert_eq!(bin["datacontenttype"], "application/octet-stream");
    assert!(bin.get("data").is_none());
    let none = find(&|e| e["data"] == "no type");
    assert_eq!(none["datacontenttype"], "text/plain");
    find(&|e| e["data"] == "not json {" && e["datacontenttype"] == "application/json");
    let over = find(&|e| e["id"] == "my-id");
    assert_eq!(
        (
            &over["source"],
            &over["type"],
            &over["subject"],
            &over["data"]
        ),
        (
            &json!("my-src"),
            &json!("my.type"),
            &json!("subj"),
            &json!(7)
        )
    );
    assert!(
        over["expiration"].is_string(),
        "ttlInSeconds adds an expiration: {over}"
    );
    let ce = find(&|e| e["id"] == "ce-1");
    assert_eq!(
        (&ce["source"], &ce["type"], &ce["data"]),
        (&json!("elsewhere"), &json!("t.x"), &json!({"k": "v"}))
    );
    assert_eq!(
        (&ce["topic"], &ce["pubsubname"]),
        (&json!("orders"), &json!("pubsub"))
    );
    let bare = find(&|e| e["data"] == "bare");
    assert_eq!(
        (&bare["source"], &bare["type"], &bare["specversion"]),
        (&json!("Dapr"), &json!("com.dapr.event.sent"), &json!("1.0"))
    );
    assert!(bare["time"].is_string() && bare["traceparent"].is_string() && bare["id"].is_string());
    sc.shutdown().await;
}

#[tokio::test]
async fn topics_with_slashes_raw_payload_and_rules() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    publish(addr, "/v1.0/publish/pubsub/a/b", Some("text/plain"), "x")
        .await
        .assert_no_content();
    assert_eq!(event(&app.wait_for("/slashed", 1).await[0])["topic"], "a/b");
    // rawPayload on publish and on the subscription: the app gets data_base64 of the exact bytes.
    publish(
        addr,
        "/v1.0/publish/pubsub/raw?metadata.rawPayload=true",
        Some("application/json"),
        r#"{"raw":true}"#,
    )
    .await
    .assert_no_content();
    let ev = event(&app.wait_for("/raw", 1).await[0]);
    assert_eq!(ev["data_base64"], "eyJyYXciOnRydWV9");
    assert_eq!(ev["datacontenttype"], "application/octet-stream");
    // Rules: event.type == "widget" → /widgets, else default.
    let ce = r#"{"type":"widget","data":1}"#;
    publish(
        addr,
        "/v1.0/publish/pubsub/rules",
        Some("application/cloudevents+json"),
        ce,
    )
    .await
    .assert_no_content();
    publish(
        addr,
        "/v1.0/publish/pubsub/rules",
        Some("text/plain"),
        "other",
    )
    .await
    .assert_no_content();
    assert_eq!(app.wait_for("/widgets", 1).await.len(), 1);
    assert_eq!(app.wait_for("/other", 1).await.len(), 1);
    assert!(
        app.requests_to("/ignored").is_empty(),
        "routes.default wins over route"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn delivery_outcomes_retry_drop_and_dead_letter() {
    let (app, sc) = setup(None).await;
    let addr = sc.local_addr();
    for topic in [
        "retry", "drop", "exhaust", "notfound", "weird", "casedrop", "rawbad",
    ] {
        publish(
            addr,
            &format!("/v1.0/publish/pubsub/{topic}"),
            Some("text/plain"),
            topic,
        )
        .await
        .assert_no_content();
    }
    // RETRY, 500 and an unknown status are redelivered up to max_delivery_attempts (3 in tests).
    assert_eq!(app.wait_for("/retry", 3).await.len(), 3);
    assert_eq!(app.wait_for("/fail500", 3).await.len(), 3);
    assert_eq!(app.wait_for("/weird", 3).await.len(), 3);
    // DROP goes to the dead-letter topic once; exhausted retries too; 404 is dropped without
    // dead letter; a subscription whose rawPayload is no boolean is never delivered to (the
    // official JS SDK's DaprServer sends `"\"true\""`), its message dead-lettered.
    let dead = app.wait_for("/dead", 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.requests_to("/retry").len(), 3, "retries are bounded");
    assert_eq!(app.requests_to("/drop").len(), 1, "DROP is not redelivered");
    assert_eq!(app.requests_to("/nope").len(), 1, "404 is not redelivered");
    assert!(
        app.requests_to("/rawbad").is_empty(),
        "a rawPayload that is no boolean is refused"
    );
    let dead = if dead.len() < 4 {
        app.requests_to("/dead")
    } else {
        dead
    };
    let mut data: Vec<String> = dead
        .iter()
        .map(|r| event(r)["data"].as_str().unwrap_or_default().to_string())
        .collect();
    data.sort();
    assert_eq!(data, ["casedrop", "drop", "exhaust", "rawbad"]);
    sc.shutdown().await;
}

#[tokio::test]
async fn publish_error_rows() {
    let (_app, sc) = setup(None).await;
    let addr = sc.local_addr();
    let a = publish(addr, "/v1.0/publish/nope/orders", Some("text/plain"), "x").await;
    assert_eq!(
        a.assert_error(404, "ERR_PUBSUB_NOT_FOUND"),
        "pubsub nope is not found"
    );
    let a = publish(addr, "/v1.0/publish/pubsub/", Some("text/plain"), "x").await;
    assert_eq!(
        a.assert_error(404, "ERR_TOPIC_NAME_EMPTY"),
        "topic is empty in pubsub pubsub"
    );
    publish(
        addr,
        "/v1.0/publish/pubsub/orders?metadata.rawPayload=maybe",
        None,
        "x",
    )
    .await
    .assert_error(400, "ERR_PUBSUB_REQUEST_METADATA");
    publish(
        addr,
        "/v1.0/publish/pubsub/orders",
        Some("application/cloudevents+json"),
        "{bad",
    )
    .await
    .assert_error(500, "ERR_PUBSUB_CLOUD_EVENTS_SER");
    publish(
        addr,
        "/v1.0/publish/pubsub/orders",
        Some("application/cloudevents+json"),
        "[1]",
    )
    .await
    .assert_error(500, "ERR_PUBSUB_CLOUD_EVENTS_SER");
    // GET is not a publish route: unrouted → invocation rules.
    get(addr, "/v1.0/publish/pubsub/orders")
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    sc.shutdown().await;

    let dir = resources(&[(
        "s.yaml",
        "kind: Component\nmetadata: {name: statestore}\nspec: {type: state.in-memory, version: v1}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let a = publish(sc.local_addr(), "/v1.0/publish/pubsub/orders", None, "x").await;
    assert_eq!(
        a.assert_error(400, "ERR_PUBSUB_NOT_CONFIGURED"),
        "pubsub pubsub is not configured"
    );
    sc.shutdown().await;

    let dir = resources(&[(
        "p.yaml",
        "kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1, metadata: [{name: allowedTopics, value: 'a,b'}]}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    publish(sc.local_addr(), "/v1.0/publish/pubsub/a", None, "x")
        .await
        .assert_no_content();
    let a = publish(sc.local_addr(), "/v1.0/publish/pubsub/c", None, "x").await;
    assert_eq!(
        a.assert_error(403, "ERR_PUBSUB_FORBIDDEN"),
        "topic c is not allowed for app id app"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn subscriptions_are_fetched_until_the_app_answers_and_listed_in_metadata() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sc = sidecar(|o| o.app_port = Some(port)).await;
    let addr = sc.local_addr();
    // Not ready while the app is down; outbound health is.
    get(addr, "/v1.0/healthz")
        .await
        .assert_error(500, "ERR_HEALTH_NOT_READY");
    get(addr, "/v1.0/healthz/outbound")
        .await
        .assert_no_content();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let app = MockServer::start_on(port, |r| match r.target() {
        "/dapr/subscribe" => reply(200, r#"[{"pubsubname":"pubsub","topic":"t","routes":{"default":"/d","rules":[{"match":"event.type == \"x\"","path":"/x"}]},"deadLetterTopic":"dl","metadata":{"k":"v"}},{"pubsubname":"pubsub","topic":"noroute"}]"#),
        _ => reply(200, ""),
    })
    .await;
    wait_subscriptions(addr, 1).await;
    get(addr, "/v1.0/healthz").await.assert_no_content();
    let m = get(addr, "/v1.0/metadata").await.json();
    assert_eq!(
        m["subscriptions"],
        json!([{"pubsubname": "pubsub", "topic": "t", "type": "PROGRAMMATIC", "deadLetterTopic": "dl", "metadata": {"k": "v"},
                "rules": [{"match": "event.type == \"x\"", "path": "/x"}, {"path": "/d"}]}])
    );
    publish(addr, "/v1.0/publish/pubsub/t", None, "hi")
        .await
        .assert_no_content();
    let got = app.wait_for("/d", 3).await;
    assert_eq!(got.iter().filter(|r| r.target() == "/d").count(), 1);
    sc.shutdown().await;
}

#[tokio::test]
async fn declarative_subscriptions_and_app_without_subscribe() {
    let dir = resources(&[(
        "c.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1}\n---\napiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: pubsub, topic: decl, routes: {default: /decl}}\n",
    )]);
    let app = MockServer::start(|r| {
        if r.uri == "/dapr/subscribe" {
            reply(404, "")
        } else {
            reply(200, "")
        }
    })
    .await;
    let port = app.addr.port();
    let sc = sidecar(|o| {
        o.resources_path = Some(dir.path().to_path_buf());
        o.app_port = Some(port);
    })
    .await;
    let addr = sc.local_addr();
    let m = get(addr, "/v1.0/metadata").await.json();
    assert_eq!(m["subscriptions"][0]["type"], "DECLARATIVE");
    publish(addr, "/v1.0/publish/pubsub/decl", None, "hi")
        .await
        .assert_no_content();
    assert_eq!(app.wait_for("/decl", 1).await.len(), 1);
    sc.shutdown().await;
}

#[tokio::test]
async fn delivery_reuses_connections_and_a_full_queue_refuses_publishes() {
    let app = MockServer::start(|r: &Recorded| match r.target() {
        "/dapr/subscribe" => reply(
            200,
            r#"[{"pubsubname":"pubsub","topic":"fast","route":"/fast"},
                {"pubsubname":"pubsub","topic":"slow","route":"/slow"}]"#,
        ),
        "/slow" => reply(200, "").delay(Duration::from_secs(3)),
        _ => reply(200, ""),
    })
    .await;
    let tuning = wasi_dapr_sidecar::SidecarTuning {
        delivery_queue: 3,
        delivery_workers: 2,
        ..wasi_dapr_test_support::sidecar::fast_tuning()
    };
    let sc = Sidecar::start_with(
        wasi_dapr_sidecar::SidecarOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            app_port: Some(app.addr.port()),
            ..Default::default()
        },
        tuning,
    )
    .await
    .expect("start");
    let addr = sc.local_addr();
    wait_subscriptions(addr, 2).await;

    // Keep-alive: 30 messages reach the app over the two workers' connections.
    for i in 0..30 {
        let a = publish(addr, "/v1.0/publish/pubsub/fast", None, &format!("m{i}")).await;
        assert_eq!(a.status, 204);
        if i % 3 == 2 {
            app.wait_for("/fast", i + 1).await;
        }
    }
    app.wait_for("/fast", 30).await;
    let conns = app.connections();
    assert!(
        conns <= 3,
        "{conns} connections for 30 messages (2 workers + /dapr/subscribe)"
    );

    // Two workers busy for 3 s and three queued: the next publishes are refused.
    let mut statuses = Vec::new();
    for i in 0..8 {
        let a = publish(addr, "/v1.0/publish/pubsub/slow", None, &format!("s{i}")).await;
        if a.status == 500 {
            a.assert_error(500, "ERR_PUBSUB_PUBLISH_MESSAGE");
        }
        statuses.push(a.status.as_u16());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(&statuses[5..], [500, 500, 500]);
    // Bulk publish reports the refused entries.
    let bulk = json!([
        {"entryId": "1", "event": "x", "contentType": "text/plain"},
        {"entryId": "2", "event": "y", "contentType": "text/plain"}
    ]);
    let a = send(
        addr,
        Method::POST,
        "/v1.0-alpha1/publish/bulk/pubsub/slow",
        &[("content-type", "application/json")],
        Bytes::from(bulk.to_string()),
    )
    .await;
    assert_eq!(a.status, 500);
    let v = a.json();
    assert_eq!(v["errorCode"], "ERR_PUBSUB_PUBLISH_MESSAGE");
    assert!(v.get("message").is_none(), "{v}");
    assert_eq!(v["failedEntries"].as_array().map(Vec::len), Some(2));
    assert!(
        a.text().starts_with(r#"{"failedEntries":[{"entryId":""#),
        "Go's field order: {}",
        a.text()
    );
    assert!(
        v["failedEntries"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("is full"))
    );
    assert_eq!(a.header("metadata.responsedata"), Some(a.text().as_str()));
    let err = a.header("metadata.error").unwrap_or_default();
    assert!(
        err.starts_with("api error: code = Internal desc = error when publishing to topic slow in pubsub pubsub: "),
        "{err}"
    );
    // A refused single publish is the PublishMessage kit error.
    let single = publish(addr, "/v1.0/publish/pubsub/slow", None, "x").await;
    single.assert_error(500, "ERR_PUBSUB_PUBLISH_MESSAGE");
    let details = single.json()["details"].clone();
    assert_eq!(details[0]["resource_name"], "pubsub");
    assert_eq!(details[1]["reason"], "DAPR_PUBSUB_PUBLISH_MESSAGE");
    assert_eq!(details[1]["metadata"]["topic"], "slow");
    // Other topics still flow.
    assert_eq!(
        publish(addr, "/v1.0/publish/pubsub/fast", None, "after")
            .await
            .status,
        204
    );
    app.wait_for("/fast", 31).await;
    sc.shutdown().await;
}
