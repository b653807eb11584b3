//! Bulk publish and bulk subscribe (dapr-http-api.md § Bulk publish, § Bulk subscribe): both paths, every row of the error table, batching by count and by time, per-entry statuses, retries of the failed entries, dead letters.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use wasi_dapr_sidecar::Sidecar;

use wasi_dapr_test_support::client::{Answer, send, wait_subscriptions};
use wasi_dapr_test_support::mock::{MockServer, Recorded, reply};
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

const SUBSCRIPTIONS: &str = r#"[
  {"pubsubname":"pubsub","topic":"orders","route":"/orders"},
  {"pubsubname":"pubsub","topic":"raw","route":"/raw","metadata":{"rawPayload":"true"}},
  {"pubsubname":"pubsub","topic":"bcount","route":"/bcount","bulkSubscribe":{"enabled":true,"maxMessagesCount":3,"maxAwaitDurationMs":300}},
  {"PubSubName":"pubsub","Topic":"btime","Route":"/btime","BulkSubscribe":{"Enabled":true,"MaxAwaitDurationMs":80}},
  {"pubsubname":"pubsub","topic":"braw","route":"/braw","metadata":{"rawPayload":"true"},"bulkSubscribe":{"enabled":true,"maxMessagesCount":1}},
  {"pubsubname":"pubsub","topic":"bstat","route":"/bstat","deadLetterTopic":"bstat-dead","bulkSubscribe":{"enabled":true,"maxMessagesCount":5,"maxAwaitDurationMs":200}},
  {"pubsubname":"pubsub","topic":"bstat-dead","route":"/bstat-dead"},
  {"pubsubname":"pubsub","topic":"b404","route":"/b404","deadLetterTopic":"b404-dead","bulkSubscribe":{"enabled":true,"maxMessagesCount":2,"maxAwaitDurationMs":200}},
  {"pubsubname":"pubsub","topic":"b404-dead","route":"/b404-dead"},
  {"pubsubname":"pubsub","topic":"bjunk","route":"/bjunk","deadLetterTopic":"bjunk-dead","bulkSubscribe":{"enabled":true,"maxMessagesCount":2,"maxAwaitDurationMs":200}},
  {"pubsubname":"pubsub","topic":"bjunk-dead","route":"/bjunk-dead"},
  {"pubsubname":"pubsub","topic":"b500","route":"/b500","bulkSubscribe":{"enabled":true,"maxMessagesCount":2,"maxAwaitDurationMs":200}},
  {"pubsubname":"pubsub","topic":"brules","routes":{"rules":[{"match":"event.type == \"widget\"","path":"/bwidgets"}],"default":"/bother"},"bulkSubscribe":{"enabled":true,"maxMessagesCount":2,"maxAwaitDurationMs":200}}
]"#;

fn body_json(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).expect("delivered body is JSON")
}

fn entries(r: &Recorded) -> Vec<Value> {
    body_json(r)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `/bstat`: each entry answered by its event's data: `ok` SUCCESS, `drop` DROP, `retry`
/// RETRY, `empty` "", `missing` no status at all; plus a status for an unknown entry.
fn statuses(r: &Recorded) -> String {
    let mut out = vec![json!({"entryId": "not-sent", "status": "SUCCESS"})];
    for e in entries(r) {
        let status = match e["event"]["data"].as_str().unwrap_or_default() {
            "ok" => "SUCCESS",
            "drop" => "DROP",
            "retry" => "RETRY",
            "empty" => "",
            _ => continue,
        };
        out.push(json!({"EntryID": e["entryId"], "Status": status}));
    }
    json!({"statuses": out}).to_string()
}

async fn app() -> MockServer {
    MockServer::start(|r: &Recorded| match r.uri.path() {
        "/dapr/subscribe" => reply(200, SUBSCRIPTIONS),
        "/bstat" => reply(200, &statuses(r)),
        "/b404" => reply(404, ""),
        "/bjunk" => reply(200, "ok"),
        "/b500" => reply(500, "boom"),
        p if p.starts_with("/b") && !p.ends_with("-dead") => {
            let all: Vec<Value> = entries(r)
                .iter()
                .map(|e| json!({"entryId": e["entryId"], "status": "SUCCESS"}))
                .collect();
            reply(200, &json!({"statuses": all}).to_string())
        }
        _ => reply(200, ""),
    })
    .await
}

async fn setup() -> (MockServer, Sidecar) {
    let app = app().await;
    let port = app.addr.port();
    let sc = sidecar(|o| {
        o.app_port = Some(port);
        o.app_api_token = Some("app-secret".into());
    })
    .await;
    wait_subscriptions(sc.local_addr(), 13).await;
    (app, sc)
}

async fn post(addr: SocketAddr, path: &str, content_type: Option<&str>, body: &str) -> Answer {
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

/// The kit error's details: (ResourceInfo name if any, ErrorInfo reason, ErrorInfo metadata).
fn kit(a: &Answer) -> (Option<String>, String, Value) {
    let v = a.json();
    let details = v["details"].as_array().cloned().unwrap_or_default();
    let resource = details
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ResourceInfo")
        .map(|d| {
            assert_eq!(d["resource_type"], "pubsub", "{v}");
            assert_eq!(d["description"], v["message"], "{v}");
            d["resource_name"].as_str().unwrap_or_default().to_string()
        });
    let info = details
        .last()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
        .unwrap_or_else(|| panic!("ErrorInfo last in details: {v}"));
    assert_eq!(info["domain"], "dapr.io");
    (
        resource,
        info["reason"].as_str().unwrap_or_default().to_string(),
        info["metadata"].clone(),
    )
}

#[tokio::test]
async fn bulk_publish_on_both_paths_with_go_decoding() {
    let (app, sc) = setup().await;
    let addr = sc.local_addr();
    for (i, path) in [
        "/v1.0-alpha1/publish/bulk/pubsub/orders",
        "/v1.0/publish/bulk/pubsub/orders",
    ]
    .iter()
    .enumerate()
    {
        // Keys as the JS SDK (`entryID`) and others spell them.
        let body = json!([
            {"entryID": format!("{i}-1"), "event": {"n": 1}, "contentType": "application/json"},
            {"EntryId": format!("{i}-2"), "Event": "text", "ContentType": "text/plain; charset=utf-8"},
            {"entryId": format!("{i}-3"), "event": "AQI=", "contentType": "application/octet-stream"},
            {"entryId": format!("{i}-4"), "event": {"id": format!("ce-{i}"), "data": 4}, "contentType": "application/cloudevents+json"},
            {"entryId": format!("{i}-5"), "event": "<x/>", "contentType": "application/xml"},
        ]);
        post(addr, path, Some("application/json"), &body.to_string())
            .await
            .assert_no_content();
        let got = app.wait_for("/orders", 5 * (i + 1)).await;
        let events: Vec<Value> = got[5 * i..].iter().map(body_json).collect();
        assert!(events.iter().any(|e| e["data"] == json!({"n": 1}) && e["datacontenttype"] == "application/json"));
        assert!(events.iter().any(|e| e["data"] == "text" && e["datacontenttype"] == "text/plain; charset=utf-8"));
        assert!(events.iter().any(|e| e["data_base64"] == "AQI="));
        assert!(
            events
                .iter()
                .any(|e| e["id"] == format!("ce-{i}") && e["data"] == 4)
        );
        assert!(events.iter().any(|e| e["data"] == "<x/>"));
        let traces: std::collections::HashSet<&str> = events
            .iter()
            .filter_map(|e| e["traceparent"].as_str())
            .collect();
        assert_eq!(traces.len(), 5, "a trace parent per entry");
        post(addr, path, None, "[]").await.assert_no_content();
        post(addr, path, None, "null").await.assert_no_content();
    }
    // `publish/bulk/{x}` without a topic is a single publish to a pub/sub named `bulk`.
    let a = post(addr, "/v1.0/publish/bulk/orders", None, "x").await;
    assert_eq!(
        a.assert_error(404, "ERR_PUBSUB_NOT_FOUND"),
        "pubsub bulk is not found"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn bulk_publish_metadata_and_raw_payload() {
    let (app, sc) = setup().await;
    let addr = sc.local_addr();
    let p = "/v1.0/publish/bulk/pubsub/orders?metadata.cloudevent.id=from-query&metadata.cloudevent.type=q.type";
    let body = json!([
        {"entryId": "none", "event": "a", "contentType": "text/plain"},
        {"entryId": "empty", "event": "b", "contentType": "text/plain", "metadata": {}},
        {"entryId": "own", "event": "c", "contentType": "text/plain", "metadata": {"cloudevent.id": "own-id"}},
    ]);
    post(addr, p, None, &body.to_string())
        .await
        .assert_no_content();
    let events: Vec<Value> = app
        .wait_for("/orders", 3)
        .await
        .iter()
        .map(body_json)
        .collect();
    let by = |d: &str| {
        events
            .iter()
            .find(|e| e["data"] == d)
            .cloned()
            .expect("delivered")
    };
    assert_ne!(
        by("a")["id"],
        "from-query",
        "no metadata object: query metadata does not reach the entry"
    );
    assert_eq!(by("a")["type"], "com.dapr.event.sent");
    assert_eq!(
        (&by("b")["id"], &by("b")["type"]),
        (&json!("from-query"), &json!("q.type"))
    );
    assert_eq!(
        (&by("c")["id"], &by("c")["type"]),
        (&json!("own-id"), &json!("q.type")),
        "entry keys win"
    );
    // rawPayload comes from the query only, and publishes the converted bytes as they are.
    let body = json!([{"entryId": "r", "event": {"raw": true}, "contentType": "application/json", "metadata": {"rawPayload": "false"}}]);
    post(
        addr,
        "/v1.0/publish/bulk/pubsub/raw?metadata.rawPayload=true",
        None,
        &body.to_string(),
    )
    .await
    .assert_no_content();
    let ev = body_json(&app.wait_for("/raw", 1).await[0]);
    assert_eq!(ev["data_base64"], "eyJyYXciOnRydWV9");
    let body = json!([{"entryId": "r", "event": "x", "contentType": "text/plain", "metadata": {"rawPayload": "true"}}]);
    post(
        addr,
        "/v1.0/publish/bulk/pubsub/raw",
        None,
        &body.to_string(),
    )
    .await
    .assert_no_content();
    let ev = body_json(&app.wait_for("/raw", 2).await[1]);
    assert_ne!(
        ev["data_base64"], "eA==",
        "an entry's rawPayload is not honoured: the CloudEvent is published"
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn bulk_publish_error_rows_in_daprd_order() {
    let (app, sc) = setup().await;
    let addr = sc.local_addr();
    let path = "/v1.0/publish/bulk/pubsub/orders";
    let events_ser = |a: &Answer, reason: &str| {
        let m = a.assert_error(400, "ERR_PUBSUB_EVENTS_SER");
        let (res, r, meta) = kit(a);
        assert_eq!(
            (res.as_deref(), r.as_str()),
            (Some("pubsub"), reason),
            "{}",
            a.text()
        );
        assert_eq!(meta["appID"], "app");
        m
    };
    // Not an array of entries.
    for bad in ["{", r#"{"entryId":"1"}"#, r#"[{"entryId":1}]"#, ""] {
        let a = post(addr, path, None, bad).await;
        let m = events_ser(&a, "DAPR_PUBSUB_UNMARSHAL_EVENTS");
        assert!(
            m.starts_with("error when unmarshaling the request for topic orders pubsub pubsub: "),
            "{m}"
        );
    }
    // Event and content type do not match; the whole request is refused, nothing published.
    for (event, ct, err) in [
        (
            json!({"a": 1}),
            json!("text/plain"),
            "error: mismatch between contentType and event",
        ),
        (
            json!(1),
            json!("application/octet-stream"),
            "error: mismatch between contentType and event",
        ),
        (
            json!("x"),
            json!("image/png"),
            "error: mismatch between contentType and event",
        ),
        (
            json!("x"),
            Value::Null,
            "error: mismatch between contentType and event",
        ),
        (
            json!("%%%"),
            json!("application/octet-stream"),
            "error: unable to decode base64 application/octect-stream data: illegal base64 data at input byte 0",
        ),
    ] {
        let body = json!([{"entryId": "ok", "event": "fine", "contentType": "text/plain"}, {"entryId": "bad", "event": event, "contentType": ct}]);
        let a = post(addr, path, None, &body.to_string()).await;
        let m = events_ser(&a, "DAPR_PUBSUB_MARSHAL_ENVELOPE");
        assert_eq!(
            m,
            format!(
                "error when marshalling cloud event envelope for topic orders pubsub pubsub: {err}"
            )
        );
        assert_eq!(kit(&a).2["error"], err);
    }
    // entryId missing, empty or repeated; checked after the entry's event.
    let dup = "error marshaling events to bytes for topic orders pubsub pubsub. error: entryId is duplicated or not present for entry";
    for body in [
        json!([{"event": "a", "contentType": "text/plain"}]),
        json!([{"entryId": "", "event": "a", "contentType": "text/plain"}]),
        json!([{"entryId": "x", "event": "a", "contentType": "text/plain"}, {"entryId": "x", "event": "b", "contentType": "text/plain"}]),
    ] {
        let a = post(addr, path, None, &body.to_string()).await;
        assert_eq!(events_ser(&a, "DAPR_PUBSUB_MARSHAL_EVENTS"), dup);
    }
    let a = post(
        addr,
        path,
        None,
        r#"[{"event":{"a":1},"contentType":"text/plain"}]"#,
    )
    .await;
    events_ser(&a, "DAPR_PUBSUB_MARSHAL_ENVELOPE");
    // rawPayload is checked before the body.
    let a = post(
        addr,
        &format!("{path}?metadata.rawPayload=maybe"),
        None,
        "{",
    )
    .await;
    let m = a.assert_error(400, "ERR_PUBSUB_REQUEST_METADATA");
    assert_eq!(
        m,
        "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'maybe'"
    );
    assert_eq!(kit(&a).1, "DAPR_PUBSUB_METADATA_DESERIALIZATION");
    // Pub/sub and topic before everything; not found has no ResourceInfo.
    let a = post(
        addr,
        "/v1.0/publish/bulk/nope/orders?metadata.k=v",
        None,
        "{",
    )
    .await;
    assert_eq!(
        a.assert_error(404, "ERR_PUBSUB_NOT_FOUND"),
        "pubsub nope is not found"
    );
    assert_eq!(
        kit(&a),
        (None, "DAPR_PUBSUB_NOT_FOUND".into(), json!({"k": "v"}))
    );
    let a = post(addr, "/v1.0-alpha1/publish/bulk//orders", None, "[]").await;
    assert_eq!(
        a.assert_error(404, "ERR_PUBSUB_EMPTY"),
        "pubsub name is empty"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        app.requests_to("/orders").is_empty(),
        "no refused request published anything"
    );
    sc.shutdown().await;

    // Forbidden topic: 403 kit error after the body checks, no failedEntries.
    let dir = resources(&[(
        "p.yaml",
        "kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1, metadata: [{name: allowedTopics, value: a}]}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();
    let ok = json!([{"entryId": "1", "event": "x", "contentType": "text/plain"}]).to_string();
    post(addr, "/v1.0/publish/bulk/pubsub/a", None, &ok)
        .await
        .assert_no_content();
    let a = post(addr, "/v1.0/publish/bulk/pubsub/c", None, "{").await;
    a.assert_error(400, "ERR_PUBSUB_EVENTS_SER");
    let a = post(addr, "/v1.0/publish/bulk/pubsub/c", None, &ok).await;
    assert_eq!(
        a.assert_error(403, "ERR_PUBSUB_FORBIDDEN"),
        "topic c is not allowed for app id app"
    );
    assert!(a.json().get("failedEntries").is_none());
    let (res, reason, meta) = kit(&a);
    assert_eq!(
        (res.as_deref(), reason.as_str()),
        (Some("pubsub"), "DAPR_PUBSUB_FORBIDDEN")
    );
    assert_eq!(meta["topic"], "c");
    sc.shutdown().await;

    // No pub/sub at all.
    let dir = resources(&[(
        "s.yaml",
        "kind: Component\nmetadata: {name: statestore}\nspec: {type: state.in-memory, version: v1}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let a = post(sc.local_addr(), "/v1.0/publish/bulk/pubsub/t", None, "[]").await;
    assert_eq!(
        a.assert_error(400, "ERR_PUBSUB_NOT_CONFIGURED"),
        "pubsub pubsub is not configured"
    );
    assert_eq!(kit(&a).1, "DAPR_PUBSUB_NOT_CONFIGURED");
    sc.shutdown().await;
}

/// The requests to exactly `path`.
fn exactly(app: &MockServer, path: &str) -> Vec<Recorded> {
    app.requests()
        .into_iter()
        .filter(|r| r.uri.path() == path)
        .collect()
}

/// Waits until `n` requests reached exactly `path` (at most 10 s), then a little longer to
/// see there are no more.
async fn settle(app: &MockServer, path: &str, n: usize) -> Vec<Recorded> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while exactly(app, path).len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    exactly(app, path)
}

#[tokio::test]
async fn bulk_subscribe_envelope_and_batching() {
    let (app, sc) = setup().await;
    let addr = sc.local_addr();
    // By count: 5 messages at once, maxMessagesCount 3 → 3 now, 2 after maxAwaitDurationMs.
    let five: Vec<Value> = (0..5).map(|i| json!({"entryId": i.to_string(), "event": {"i": i}, "contentType": "application/json"})).collect();
    post(
        addr,
        "/v1.0/publish/bulk/pubsub/bcount",
        None,
        &Value::Array(five).to_string(),
    )
    .await
    .assert_no_content();
    let got = settle(&app, "/bcount", 2).await;
    let counts: Vec<usize> = got.iter().map(|r| entries(r).len()).collect();
    assert_eq!(counts, [3, 2]);
    let order: Vec<Value> = got
        .iter()
        .flat_map(entries)
        .map(|e| e["event"]["data"]["i"].clone())
        .collect();
    assert_eq!(order, [json!(0), json!(1), json!(2), json!(3), json!(4)]);

    // The envelope, exactly.
    let r = &got[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("pubsubname"), Some("pubsub"));
    assert_eq!(r.header("dapr-api-token"), Some("app-secret"));
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.starts_with(r#"{"entries":[{"entryId":""#), "{text}");
    assert!(
        text.contains(r#","metadata":null,"contentType":"application/cloudevents+json"}"#),
        "{text}"
    );
    let v = body_json(r);
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["entries", "id", "metadata", "pubsubname", "topic", "type"]
    );
    assert_eq!(
        (&v["metadata"], &v["pubsubname"], &v["topic"], &v["type"]),
        (
            &json!({"pubsubName": "pubsub"}),
            &json!("pubsub"),
            &json!("bcount"),
            &json!("com.dapr.event.sent.bulk")
        )
    );
    assert!(uuid::Uuid::parse_str(v["id"].as_str().unwrap_or_default()).is_ok());
    let e = &entries(r)[0];
    assert!(uuid::Uuid::parse_str(e["entryId"].as_str().unwrap_or_default()).is_ok());
    assert_eq!(
        (&e["event"]["topic"], &e["event"]["type"]),
        (&json!("bcount"), &json!("com.dapr.event.sent"))
    );

    // By time (and mis-cased keys in /dapr/subscribe): two single publishes, one POST.
    for d in ["t1", "t2"] {
        post(addr, "/v1.0/publish/pubsub/btime", Some("text/plain"), d)
            .await
            .assert_no_content();
    }
    let got = settle(&app, "/btime", 1).await;
    assert_eq!(got.len(), 1, "one batch");
    let data: Vec<Value> = entries(&got[0])
        .iter()
        .map(|e| e["event"]["data"].clone())
        .collect();
    assert_eq!(data, [json!("t1"), json!("t2")]);

    // rawPayload: the event is the base64 of the raw bytes, as application/octet-stream.
    post(
        addr,
        "/v1.0/publish/pubsub/braw?metadata.rawPayload=true",
        Some("text/plain"),
        "hi",
    )
    .await
    .assert_no_content();
    let got = app.wait_for("/braw", 1).await;
    let e = &entries(&got[0])[0];
    assert_eq!(
        (&e["event"], &e["contentType"]),
        (&json!("aGk="), &json!("application/octet-stream"))
    );

    // One POST per matched route.
    post(
        addr,
        "/v1.0/publish/pubsub/brules",
        Some("application/cloudevents+json"),
        r#"{"type":"widget","data":1}"#,
    )
    .await
    .assert_no_content();
    post(
        addr,
        "/v1.0/publish/pubsub/brules",
        Some("text/plain"),
        "other",
    )
    .await
    .assert_no_content();
    assert_eq!(
        settle(&app, "/bwidgets", 1)
            .await
            .iter()
            .map(|r| entries(r).len())
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(
        settle(&app, "/bother", 1)
            .await
            .iter()
            .map(|r| entries(r).len())
            .collect::<Vec<_>>(),
        [1]
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn bulk_subscribe_statuses_retries_and_dead_letters() {
    let (app, sc) = setup().await;
    let addr = sc.local_addr();
    let body: Vec<Value> = ["ok", "drop", "retry", "empty", "missing"]
        .iter()
        .map(|d| json!({"entryId": d, "event": d, "contentType": "text/plain"}))
        .collect();
    post(
        addr,
        "/v1.0/publish/bulk/pubsub/bstat",
        None,
        &Value::Array(body).to_string(),
    )
    .await
    .assert_no_content();
    // 3 attempts (fast_tuning): the first with all five, the retries with only the three
    // still failed (RETRY, "" and the missing one), under the same entry ids.
    let got = settle(&app, "/bstat", 3).await;
    assert_eq!(got.len(), 3, "retries are bounded");
    let data = |r: &Recorded| {
        let mut d: Vec<String> = entries(r)
            .iter()
            .map(|e| e["event"]["data"].as_str().unwrap_or_default().to_string())
            .collect();
        d.sort();
        d
    };
    assert_eq!(data(&got[0]), ["drop", "empty", "missing", "ok", "retry"]);
    assert_eq!(data(&got[1]), ["empty", "missing", "retry"]);
    assert_eq!(data(&got[2]), ["empty", "missing", "retry"]);
    let ids = |r: &Recorded| {
        let mut d: Vec<String> = entries(r)
            .iter()
            .filter(|e| e["event"]["data"] == "retry")
            .map(|e| e["entryId"].as_str().unwrap_or_default().to_string())
            .collect();
        d.sort();
        d
    };
    assert_eq!(ids(&got[0]), ids(&got[2]));
    // DROP and the exhausted entries reach the dead-letter topic, once each.
    let dead = settle(&app, "/bstat-dead", 4).await;
    let mut dl: Vec<String> = dead
        .iter()
        .map(|r| {
            body_json(r)["data"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    dl.sort();
    assert_eq!(dl, ["drop", "empty", "missing", "retry"]);

    // 404: every entry acked, no retry, no dead letter.
    let two = json!([{"entryId": "1", "event": "a", "contentType": "text/plain"}, {"entryId": "2", "event": "b", "contentType": "text/plain"}]).to_string();
    post(addr, "/v1.0/publish/bulk/pubsub/b404", None, &two)
        .await
        .assert_no_content();
    assert_eq!(settle(&app, "/b404", 1).await.len(), 1);
    assert!(exactly(&app, "/b404-dead").is_empty());
    // A 2xx that is not JSON fails every entry: retried, then dead-lettered.
    post(addr, "/v1.0/publish/bulk/pubsub/bjunk", None, &two)
        .await
        .assert_no_content();
    assert_eq!(settle(&app, "/bjunk", 3).await.len(), 3);
    assert_eq!(settle(&app, "/bjunk-dead", 2).await.len(), 2);
    // 500 without a dead-letter topic: retried, then dropped.
    post(addr, "/v1.0/publish/bulk/pubsub/b500", None, &two)
        .await
        .assert_no_content();
    let got = settle(&app, "/b500", 3).await;
    assert_eq!(
        got.iter().map(|r| entries(r).len()).collect::<Vec<_>>(),
        [2, 2, 2]
    );
    sc.shutdown().await;
}

#[tokio::test]
async fn declarative_bulk_subscriptions() {
    let dir = resources(&[(
        "c.yaml",
        "kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1}\n---\napiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: pubsub, topic: decl, routes: {default: /decl}, bulkSubscribe: {enabled: true, maxMessagesCount: 2, maxAwaitDurationMs: 5000}}\n---\napiVersion: dapr.io/v1alpha1\nkind: Subscription\nmetadata: {name: s1}\nspec: {pubsubname: pubsub, topic: decl1, route: /decl1, bulkSubscribe: {enabled: true, maxAwaitDurationMs: 50}}\n",
    )]);
    let app = MockServer::start(|r| {
        if r.uri == "/dapr/subscribe" {
            reply(404, "")
        } else {
            reply(200, r#"{"statuses":[]}"#)
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
    for d in ["a", "b"] {
        post(addr, "/v1.0/publish/pubsub/decl", Some("text/plain"), d)
            .await
            .assert_no_content();
    }
    let got = settle(&app, "/decl", 1).await;
    assert_eq!(
        entries(&got[0]).len(),
        2,
        "flushed at maxMessagesCount, long before maxAwaitDurationMs"
    );
    post(addr, "/v1.0/publish/pubsub/decl1", Some("text/plain"), "c")
        .await
        .assert_no_content();
    assert_eq!(entries(&app.wait_for("/decl1", 1).await[0]).len(), 1);
    sc.shutdown().await;
}
