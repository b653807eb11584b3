//! State API conformance (dapr-http-api.md § State), against `state.in-memory` and a real `state.redis`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use wasi_dapr_sidecar::Sidecar;

use wasi_dapr_test_support::client::{Answer, delete, get, post_json, send};
use wasi_dapr_test_support::redis::RedisServer;
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Memory,
    Redis,
}

const S: &str = "/v1.0/state/statestore";

async fn save(addr: SocketAddr, body: Value) -> Answer {
    post_json(addr, S, &body.to_string()).await
}

async fn etag_of(addr: SocketAddr, key: &str) -> String {
    let a = get(addr, &format!("{S}/{key}")).await;
    assert_eq!(a.status, StatusCode::OK, "{key}: {}", a.text());
    a.header("etag").expect("ETag header").to_string()
}

/// Every row of the State table, for one store.
async fn conformance(sc: &Sidecar, kind: Kind) {
    let addr = sc.local_addr();

    // Save and get: stored JSON text, ETag, Content-Type.
    save(addr, json!([{"key": "k", "value": {"a": 1}}]))
        .await
        .assert_no_content();
    let a = get(addr, &format!("{S}/k")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), r#"{"a":1}"#);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let etag1 = a.header("etag").expect("etag").to_string();
    assert!(!etag1.is_empty());
    if kind == Kind::Redis {
        assert_eq!(etag1, "1", "redis etag is the decimal version");
    }
    // Trailing slash ignored; PUT works like POST; empty array is fine.
    save(
        addr,
        json!([{"key": "s", "value": "Death Star"}, {"key": "n", "value": 42.5}]),
    )
    .await
    .assert_no_content();
    assert_eq!(
        get(addr, &format!("{S}/s/")).await.text(),
        r#""Death Star""#
    );
    assert_eq!(get(addr, &format!("{S}/n")).await.text(), "42.5");
    send(addr, Method::PUT, S, &[], Bytes::from("[]"))
        .await
        .assert_no_content();
    // Percent-decoded key.
    save(addr, json!([{"key": "a b/c", "value": 1}]))
        .await
        .assert_no_content();
    assert_eq!(get(addr, &format!("{S}/a%20b%2Fc")).await.text(), "1");
    // Keys are stored as <appId>||<key>.
    let snap = sc.state_snapshot("statestore").await;
    assert!(
        snap.iter()
            .any(|(k, v)| k == "app||k" && v == br#"{"a":1}"#),
        "{snap:?}"
    );

    // Missing key → 204 empty.
    get(addr, &format!("{S}/missing")).await.assert_no_content();

    // Unknown store → 400 on every call; `||` → 400.
    for a in [
        get(addr, "/v1.0/state/nope/k").await,
        post_json(addr, "/v1.0/state/nope", "not even json").await,
        post_json(addr, "/v1.0/state/nope/bulk", "{}").await,
        post_json(addr, "/v1.0/state/nope/transaction", "{}").await,
        delete(addr, "/v1.0/state/nope/k", &[]).await,
    ] {
        let msg = a.assert_error(400, "ERR_STATE_STORE_NOT_FOUND");
        assert_eq!(msg, "state store nope is not found");
    }
    get(addr, &format!("{S}/a||b"))
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    save(addr, json!([{"key": "a||b", "value": 1}]))
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    delete(addr, &format!("{S}/a||b"), &[])
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");

    // Malformed bodies.
    post_json(addr, S, "{not json")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    post_json(addr, S, r#"{"key":"k"}"#)
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    save(addr, json!([{"value": 1}]))
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    save(addr, json!([{"key": "k", "value": 1, "etag": 5}]))
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");

    // ETags: matching etag wins and changes the etag; a stale one is a 409.
    save(
        addr,
        json!([{"key": "k", "value": {"a": 2}, "etag": etag1}]),
    )
    .await
    .assert_no_content();
    let etag2 = etag_of(addr, "k").await;
    assert_ne!(etag1, etag2);
    if kind == Kind::Redis {
        assert_eq!(etag2, "2");
    }
    let msg = save(addr, json!([{"key": "k", "value": 3, "etag": etag1}]))
        .await
        .assert_error(409, "ERR_STATE_SAVE");
    assert!(
        msg.starts_with("failed saving state in state store statestore: possible etag mismatch"),
        "{msg}"
    );
    assert_eq!(get(addr, &format!("{S}/k")).await.text(), r#"{"a":2}"#);
    // An etag on a missing key is a mismatch.
    save(addr, json!([{"key": "fresh", "value": 1, "etag": "1"}]))
        .await
        .assert_error(409, "ERR_STATE_SAVE");
    // first-write: new key ok, existing key without etag is a mismatch, with etag ok.
    let fw = json!({"concurrency": "first-write"});
    save(addr, json!([{"key": "fw", "value": 1, "options": fw}]))
        .await
        .assert_no_content();
    save(addr, json!([{"key": "fw", "value": 2, "options": fw}]))
        .await
        .assert_error(409, "ERR_STATE_SAVE");
    let e = etag_of(addr, "fw").await;
    save(
        addr,
        json!([{"key": "fw", "value": 3, "etag": e, "options": fw}]),
    )
    .await
    .assert_no_content();
    // last-write without etag always wins.
    save(addr, json!([{"key": "fw", "value": 4, "options": {"concurrency": "last-write", "consistency": "strong"}}]))
        .await
        .assert_no_content();
    // Bad options → 500 ERR_STATE_SAVE.
    save(
        addr,
        json!([{"key": "fw", "value": 4, "options": {"concurrency": "sometimes"}}]),
    )
    .await
    .assert_error(500, "ERR_STATE_SAVE");
    // Invalid etag: redis versions are integers (400); memory etags are opaque (mismatch, 409).
    let bad = save(
        addr,
        json!([{"key": "k", "value": 1, "etag": "not-a-version"}]),
    )
    .await;
    match kind {
        Kind::Redis => bad.assert_error(400, "ERR_STATE_SAVE"),
        Kind::Memory => bad.assert_error(409, "ERR_STATE_SAVE"),
    };

    // Bulk get: key order, missing key as {"key"}, data is the stored JSON.
    let a = post_json(
        addr,
        &format!("{S}/bulk"),
        r#"{"keys":["k","missing","s"],"parallelism":2}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert_eq!(v[0], json!({"key": "k", "data": {"a": 2}, "etag": etag2}));
    assert_eq!(v[1], json!({"key": "missing"}));
    assert_eq!(v[2]["data"], "Death Star");
    post_json(addr, &format!("{S}/bulk"), "[")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    let a = send(
        addr,
        Method::PUT,
        &format!("{S}/bulk"),
        &[],
        Bytes::from(r#"{"keys":[]}"#),
    )
    .await;
    assert_eq!(a.json(), json!([]));

    // Delete with If-Match.
    let e = etag_of(addr, "s").await;
    let a = delete(addr, &format!("{S}/s"), &[("if-match", "999999")]).await;
    let msg = a.assert_error(409, "ERR_STATE_DELETE");
    assert!(
        msg.starts_with("failed deleting state with key s: possible etag mismatch"),
        "{msg}"
    );
    if kind == Kind::Redis {
        delete(addr, &format!("{S}/s"), &[("if-match", "x")])
            .await
            .assert_error(400, "ERR_STATE_DELETE");
    }
    delete(addr, &format!("{S}/s"), &[("if-match", &e)])
        .await
        .assert_no_content();
    get(addr, &format!("{S}/s")).await.assert_no_content();
    delete(addr, &format!("{S}/s"), &[])
        .await
        .assert_no_content();
    delete(addr, &format!("{S}/s"), &[("if-match", &e)])
        .await
        .assert_error(409, "ERR_STATE_DELETE");
    delete(addr, &format!("{S}/fw?concurrency=first-write"), &[])
        .await
        .assert_error(409, "ERR_STATE_DELETE");

    // Transactions.
    let t = format!("{S}/transaction");
    let tx = json!({"operations": [
        {"operation": "upsert", "request": {"key": "t1", "value": {"x": 1}}},
        {"operation": "upsert", "request": {"key": "t2", "value": "two"}},
        {"operation": "delete", "request": {"key": "n"}},
    ], "metadata": {}});
    post_json(addr, &t, &tx.to_string())
        .await
        .assert_no_content();
    assert_eq!(get(addr, &format!("{S}/t1")).await.text(), r#"{"x":1}"#);
    get(addr, &format!("{S}/n")).await.assert_no_content();
    post_json(addr, &t, r#"{"operations":[]}"#)
        .await
        .assert_no_content();
    post_json(addr, &t, "{}").await.assert_no_content();
    post_json(addr, &t, "nope")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    let msg = post_json(
        addr,
        &t,
        r#"{"operations":[{"operation":"merge","request":{"key":"t1"}}]}"#,
    )
    .await
    .assert_error(400, "ERR_NOT_SUPPORTED_STATE_OPERATION");
    assert_eq!(msg, "operation type merge not supported");
    post_json(
        addr,
        &t,
        r#"{"operations":[{"operation":"upsert","request":{"key":"a||b"}}]}"#,
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    // An etag mismatch inside a transaction is a 500 and nothing is applied.
    let bad_tx = json!({"operations": [
        {"operation": "upsert", "request": {"key": "t3", "value": 3}},
        {"operation": "upsert", "request": {"key": "t1", "value": 0, "etag": "12345"}},
    ]});
    let msg = post_json(addr, &t, &bad_tx.to_string())
        .await
        .assert_error(500, "ERR_STATE_TRANSACTION");
    assert!(
        msg.starts_with("error while executing state transaction: "),
        "{msg}"
    );
    get(addr, &format!("{S}/t3")).await.assert_no_content();
    assert_eq!(get(addr, &format!("{S}/t1")).await.text(), r#"{"x":1}"#);

    // Query (alpha1): in-memory supports it; redis does not.
    let q = "/v1.0-alpha1/state/statestore/query";
    match kind {
        Kind::Memory => {
            save(
                addr,
                json!([
                    {"key": "p1", "value": {"person": {"org": "Dev"}, "n": 2}},
                    {"key": "p2", "value": {"person": {"org": "Ops"}, "n": 1}},
                    {"key": "p3", "value": {"person": {"org": "Dev"}, "n": 3}},
                ]),
            )
            .await
            .assert_no_content();
            let body = r#"{"filter":{"EQ":{"person.org":"Dev"}},"sort":[{"key":"n","order":"DESC"}],"page":{"limit":1}}"#;
            let a = post_json(addr, q, body).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text());
            let v = a.json();
            assert_eq!(v["results"][0]["key"], "p3");
            assert_eq!(
                v["results"][0]["data"],
                json!({"person": {"org": "Dev"}, "n": 3})
            );
            assert!(v["results"][0]["etag"].is_string());
            assert_eq!(v["token"], "1");
            let a = post_json(addr, q, r#"{"filter":{"EQ":{"person.org":"Dev"}},"sort":[{"key":"n","order":"DESC"}],"page":{"limit":1,"token":"1"}}"#).await;
            assert_eq!(a.json()["results"][0]["key"], "p1");
            post_json(addr, q, r#"{"filter":{"EQ":{"person.org":"Nobody"}}}"#)
                .await
                .assert_no_content();
            post_json(addr, q, r#"{"filter":{"LIKE":{"a":"b"}}}"#)
                .await
                .assert_error(500, "ERR_STATE_QUERY");
            post_json(addr, q, "{")
                .await
                .assert_error(400, "ERR_MALFORMED_REQUEST");
        }
        Kind::Redis => {
            let msg = post_json(addr, q, "{}")
                .await
                .assert_error(500, "ERR_STATE_STORE_NOT_SUPPORTED");
            assert_eq!(msg, "state store does not support querying");
        }
    }
    // Query exists only under /v1.0-alpha1: under /v1.0 it is an unrouted path.
    post_json(addr, "/v1.0/state/statestore/query", "{}")
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");

    // TTL from query metadata (metadata.ttlInSeconds).
    post_json(
        addr,
        &format!("{S}?metadata.ttlInSeconds=1"),
        r#"[{"key":"ttl","value":1}]"#,
    )
    .await
    .assert_no_content();
    let a = get(addr, &format!("{S}/ttl")).await;
    assert_eq!(a.status, StatusCode::OK);
    let exp = a
        .header("metadata.ttlExpireTime")
        .expect("ttl expire header");
    assert!(humantime::parse_rfc3339(exp).is_ok(), "{exp}");
    let v = post_json(addr, &format!("{S}/bulk"), r#"{"keys":["ttl"]}"#)
        .await
        .json();
    assert!(v[0]["metadata"]["ttlExpireTime"].is_string(), "{v}");
    assert!(
        get(addr, &format!("{S}/k"))
            .await
            .header("metadata.ttlexpiretime")
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    get(addr, &format!("{S}/ttl")).await.assert_no_content();
}

/// N writers race with the same etag: exactly one wins.
async fn race(addr: SocketAddr) {
    save(addr, json!([{"key": "race", "value": 0}]))
        .await
        .assert_no_content();
    let etag = etag_of(addr, "race").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let etag = etag.clone();
        tasks.push(tokio::spawn(async move {
            save(addr, json!([{"key": "race", "value": i, "etag": etag}]))
                .await
                .status
        }));
    }
    let mut ok = 0;
    let mut conflict = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::NO_CONTENT => ok += 1,
            StatusCode::CONFLICT => conflict += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, conflict), (1, 23));
}

fn redis_resources(port: u16) -> tempfile::TempDir {
    let yaml = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: 127.0.0.1:{port}\n  - name: redisPassword\n    value: \"\"\n"
    );
    resources(&[("statestore.yaml", &yaml)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_conformance_in_memory() {
    let sc = sidecar(|_| {}).await;
    conformance(&sc, Kind::Memory).await;
    race(sc.local_addr()).await;
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_conformance_redis() {
    let redis = RedisServer::start()
        .await
        .expect("redis-server for the Redis conformance suite");
    let dir = redis_resources(redis.port);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    conformance(&sc, Kind::Redis).await;
    race(sc.local_addr()).await;
    sc.shutdown().await;
}

/// The Redis layout is daprd's: hash `<appId>||<key>` with `data` and `version`.
#[tokio::test]
async fn redis_layout_is_daprds() {
    let redis = RedisServer::start().await.expect("redis-server");
    let dir = redis_resources(redis.port);
    let sc = sidecar(|o| {
        o.resources_path = Some(dir.path().to_path_buf());
        o.app_id = "orders".into();
    })
    .await;
    let addr = sc.local_addr();
    save(addr, json!([{"key": "o1", "value": {"total": 5}}]))
        .await
        .assert_no_content();
    save(addr, json!([{"key": "o1", "value": {"total": 6}}]))
        .await
        .assert_no_content();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port)).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let (data, version): (String, String) = redis::cmd("HMGET")
        .arg("orders||o1")
        .arg("data")
        .arg("version")
        .query_async(&mut conn)
        .await
        .expect("hmget");
    assert_eq!((data.as_str(), version.as_str()), (r#"{"total":6}"#, "2"));
    // Written by "another daprd": readable here with its version as ETag.
    let _: () = redis::cmd("HSET")
        .arg("orders||o2")
        .arg("data")
        .arg(r#""from daprd""#)
        .arg("version")
        .arg("7")
        .query_async(&mut conn)
        .await
        .expect("hset");
    let a = get(addr, "/v1.0/state/statestore/o2").await;
    assert_eq!(
        (a.text().as_str(), a.header("etag")),
        (r#""from daprd""#, Some("7"))
    );
    save(addr, json!([{"key": "o2", "value": 1, "etag": "7"}]))
        .await
        .assert_no_content();
    let v: String = redis::cmd("HGET")
        .arg("orders||o2")
        .arg("version")
        .query_async(&mut conn)
        .await
        .expect("hget");
    assert_eq!(v, "8");
    // The backend goes away: every call answers its 500 row, nothing panics.
    drop(conn);
    drop(redis);
    let k = "/v1.0/state/statestore/o1";
    get(addr, k).await.assert_error(500, "ERR_STATE_GET");
    save(addr, json!([{"key": "o1", "value": 1}]))
        .await
        .assert_error(500, "ERR_STATE_SAVE");
    delete(addr, k, &[])
        .await
        .assert_error(500, "ERR_STATE_DELETE");
    let tx = r#"{"operations":[{"operation":"upsert","request":{"key":"o1","value":1}}]}"#;
    post_json(addr, "/v1.0/state/statestore/transaction", tx)
        .await
        .assert_error(500, "ERR_STATE_TRANSACTION");
    let v = post_json(addr, "/v1.0/state/statestore/bulk", r#"{"keys":["o1"]}"#)
        .await
        .json();
    assert_eq!(v[0]["key"], "o1");
    assert!(v[0]["error"].is_string(), "{v}");
    sc.shutdown().await;
}

#[tokio::test]
async fn redis_bad_metadata_fails_startup() {
    let tls = resources(&[(
        "s.yaml",
        "kind: Component\nmetadata: {name: statestore}\nspec: {type: state.redis, version: v1, metadata: [{name: redisHost, value: 'localhost:1'}, {name: enableTLS, value: 'true'}]}\n",
    )]);
    let err = wasi_dapr_sidecar::Sidecar::start(wasi_dapr_sidecar::SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        resources_path: Some(tls.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .expect_err("enableTLS must be refused");
    let msg = err.to_string();
    assert!(msg.contains("s.yaml") && msg.contains("enableTLS"), "{msg}");

    // Nothing listens on this port: a clear connection error naming the file.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let down = redis_resources(port);
    let err = wasi_dapr_sidecar::Sidecar::start(wasi_dapr_sidecar::SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        resources_path: Some(down.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .expect_err("unreachable redis");
    assert!(err.to_string().contains("statestore.yaml"), "{err}");
}

#[tokio::test]
async fn no_state_store_configured() {
    let dir = resources(&[(
        "p.yaml",
        "kind: Component\nmetadata: {name: pubsub}\nspec: {type: pubsub.in-memory, version: v1}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let a = get(sc.local_addr(), "/v1.0/state/statestore/k").await;
    assert_eq!(
        a.assert_error(500, "ERR_STATE_STORE_NOT_CONFIGURED"),
        "state store is not configured"
    );
    post_json(sc.local_addr(), "/v1.0/state/statestore", "garbage")
        .await
        .assert_error(500, "ERR_STATE_STORE_NOT_CONFIGURED");
    sc.shutdown().await;
}

/// `redisPassword` from a `secretKeyRef` resolved through `auth.secretStore`.
#[tokio::test]
async fn redis_password_from_secret_store() {
    let redis = RedisServer::start_with(&["--requirepass", "pw-from-secret"])
        .await
        .expect("redis-server");
    let component = |secret: &str, auth: &str| {
        format!(
            "kind: Component\nmetadata: {{name: statestore}}\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - {{name: redisHost, value: '127.0.0.1:{}'}}\n  - name: redisPassword\n    secretKeyRef: {{name: {secret}, key: {secret}}}\n{auth}",
            redis.port
        )
    };
    let secrets = "kind: Component\nmetadata: {name: localsecrets}\nspec: {type: secretstores.local.file, version: v1, metadata: [{name: secretsFile, value: secrets.json}]}\n";
    let json = r#"{"redis-pass":"pw-from-secret","wrong":"nope"}"#;
    let auth = "auth:\n  secretStore: localsecrets\n";
    let dir = resources(&[
        ("a-state.yaml", &component("redis-pass", auth)),
        ("b-secrets.yaml", secrets),
        ("secrets.json", json),
    ]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    save(sc.local_addr(), json!([{"key": "k", "value": 1}]))
        .await
        .assert_no_content();
    assert_eq!(get(sc.local_addr(), &format!("{S}/k")).await.text(), "1");
    sc.shutdown().await;

    for (state, why) in [
        (component("wrong", auth), "wrong password"),
        (component("absent", auth), "missing secret"),
        (component("redis-pass", ""), "no auth.secretStore"),
    ] {
        let dir = resources(&[
            ("a-state.yaml", &state),
            ("b-secrets.yaml", secrets),
            ("secrets.json", json),
        ]);
        let err = Sidecar::start(wasi_dapr_sidecar::SidecarOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            resources_path: Some(dir.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .expect_err(why);
        assert!(err.to_string().contains("a-state.yaml"), "{why}: {err}");
    }
}

/// A sidecar on a free port with `tuning`.
async fn sidecar_with(tuning: wasi_dapr_sidecar::SidecarTuning) -> Sidecar {
    Sidecar::start_with(
        wasi_dapr_sidecar::SidecarOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..Default::default()
        },
        tuning,
    )
    .await
    .expect("sidecar start")
}

#[tokio::test]
async fn bulk_get_answers_each_key_once_and_within_the_body_cap() {
    let sc = sidecar_with(wasi_dapr_sidecar::SidecarTuning {
        max_body_bytes: 4096,
        ..wasi_dapr_test_support::sidecar::fast_tuning()
    })
    .await;
    let addr = sc.local_addr();
    let big = "x".repeat(1000);
    save(
        addr,
        json!([{"key": "a", "value": 1}, {"key": "big", "value": big}]),
    )
    .await
    .assert_no_content();
    // Duplicates are answered once, at their first position; order is kept.
    let a = post_json(
        addr,
        &format!("{S}/bulk"),
        r#"{"keys":["a","m","a","big","m"]}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    let keys: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["a", "m", "big"]);
    assert_eq!(v[0]["data"], 1);
    assert_eq!(v[2]["data"], json!(big));
    // One big key named 200 times fits once; an answer past the cap is an error answer
    // in daprd's shape, not a large body.
    let same = json!({ "keys": vec!["big"; 200] }).to_string();
    let a = post_json(addr, &format!("{S}/bulk"), &same).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json().as_array().map(Vec::len), Some(1));
    let many: Vec<String> = (0..200).map(|i| format!("missing-key-{i}")).collect();
    post_json(
        addr,
        &format!("{S}/bulk"),
        &json!({ "keys": many }).to_string(),
    )
    .await
    .assert_error(500, "ERR_STATE_BULK_GET");
    save(addr, json!([{"key": "big2", "value": "y".repeat(3000)}]))
        .await
        .assert_no_content();
    post_json(addr, &format!("{S}/bulk"), r#"{"keys":["big","big2"]}"#)
        .await
        .assert_error(500, "ERR_STATE_BULK_GET");
    // So is a query answer past the cap.
    post_json(addr, "/v1.0-alpha1/state/statestore/query", "{}")
        .await
        .assert_error(500, "ERR_STATE_QUERY");
    sc.shutdown().await;
}
