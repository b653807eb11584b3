//! Server core and the other APIs: routing, token, body cap, invocation, secrets, bindings, configuration, lock, metadata, shutdown.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;
use wasi_dapr_sidecar::{Sidecar, SidecarOptions};

use wasi_dapr_test_support::client::{get, post_json, send, try_send};
use wasi_dapr_test_support::mock::{MockServer, Recorded, Reply, reply};
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

#[tokio::test]
async fn api_token_is_required_except_on_health() {
    let sc = sidecar(|o| o.api_token = Some("s3cret".into())).await;
    let addr = sc.local_addr();
    for (method, path) in [
        (Method::GET, "/v1.0/state/statestore/k"),
        (Method::GET, "/v1.0/metadata"),
        (Method::POST, "/v1.0/publish/pubsub/t"),
        (Method::GET, "/not/routed"),
    ] {
        for headers in [vec![], vec![("dapr-api-token", "wrong")]] {
            let a = send(addr, method.clone(), path, &headers, Bytes::new()).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(a.header("content-type"), Some("text/plain"));
            assert_eq!(a.text(), "invalid api token");
        }
    }
    get(addr, "/v1.0/healthz").await.assert_no_content();
    get(addr, "/v1.0/healthz/outbound")
        .await
        .assert_no_content();
    let a = send(
        addr,
        Method::GET,
        "/v1.0/state/statestore/k",
        &[("dapr-api-token", "s3cret")],
        Bytes::new(),
    )
    .await;
    a.assert_no_content();
    sc.shutdown().await;
}

#[tokio::test]
async fn unrouted_paths_and_body_limits() {
    let sc = sidecar(|_| {}).await;
    let addr = sc.local_addr();
    let msg = get(addr, "/hello")
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    assert_eq!(
        msg,
        "failed getting app id either from the URL path or the header dapr-app-id"
    );
    get(addr, "/v1.0/nothing/here")
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    get(addr, "/v2.0/state/statestore/k")
        .await
        .assert_error(404, "ERR_DIRECT_INVOKE");
    send(
        addr,
        Method::PATCH,
        "/v1.0/state/statestore/k",
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(404, "ERR_DIRECT_INVOKE");
    // Bodies over 4 MiB are refused with 413 (declared length or streamed).
    let big = Bytes::from(vec![b'a'; 4 * 1024 * 1024 + 1]);
    let a = send(
        addr,
        Method::POST,
        "/v1.0/state/statestore",
        &[],
        big.clone(),
    )
    .await;
    a.assert_error(413, "ERR_BODY_TOO_LARGE");
    // Exactly the cap is accepted (and is then just malformed JSON).
    let ok = Bytes::from(vec![b'a'; 4 * 1024 * 1024]);
    send(addr, Method::POST, "/v1.0/state/statestore", &[], ok)
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    // Garbage bytes, invalid UTF-8, deep nesting: errors, never a crash.
    for body in [
        &b"\xff\xfe\x00"[..],
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"[{\"key\":\"k\",\"value\":\"\\ud800\"}]",
    ] {
        let a = send(
            addr,
            Method::POST,
            "/v1.0/state/statestore",
            &[],
            Bytes::copy_from_slice(body),
        )
        .await;
        assert!(a.status.is_client_error(), "{}", a.status);
    }
    let deep = "[".repeat(100_000);
    send(
        addr,
        Method::POST,
        "/v1.0/state/statestore",
        &[],
        Bytes::from(deep),
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    get(addr, "/v1.0/healthz").await.assert_no_content();
    sc.shutdown().await;
}

async fn echo_app() -> MockServer {
    MockServer::start(|r: &Recorded| {
        let mut headers = vec![
            ("x-app".to_string(), "yes".to_string()),
            ("content-type".to_string(), "text/x-echo".to_string()),
        ];
        headers.push(("set-cookie".to_string(), "a=1".to_string()));
        headers.push(("set-cookie".to_string(), "b=2".to_string()));
        let status = if r.target().starts_with("/fail") {
            503
        } else {
            201
        };
        let body = format!(
            "{} {} {}",
            r.method,
            r.uri,
            String::from_utf8_lossy(&r.body)
        );
        Reply {
            status,
            headers,
            body: Bytes::from(body),
            delay: None,
        }
    })
    .await
}

#[tokio::test]
async fn invocation_forwards_request_and_passes_answer_back() {
    let app = echo_app().await;
    let port = app.addr.port();
    let sc = sidecar(|o| {
        o.app_port = Some(port);
        o.app_id = "orders".into();
        o.app_api_token = Some("app-tok".into());
        o.api_token = Some("dapr-tok".into());
    })
    .await;
    let addr = sc.local_addr();
    let tok = ("dapr-api-token", "dapr-tok");
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ] {
        let a = send(
            addr,
            method.clone(),
            "/v1.0/invoke/orders/method/api/items%2F1?q=a%20b&x=1",
            &[
                tok,
                ("content-type", "application/x-thing"),
                ("x-custom", "v"),
                ("connection", "keep-alive"),
            ],
            Bytes::from_static(b"payload"),
        )
        .await;
        assert_eq!(a.status.as_u16(), 201);
        assert_eq!(
            a.text(),
            format!("{method} /api/items%2F1?q=a%20b&x=1 payload")
        );
        assert_eq!(a.header("x-app"), Some("yes"));
        assert_eq!(a.header("content-type"), Some("text/x-echo"));
        assert_eq!(a.headers.get_all("set-cookie").iter().count(), 2);
    }
    let r = app.requests_to("/api").pop().expect("forwarded");
    assert_eq!(r.header("content-type"), Some("application/x-thing"));
    assert_eq!(r.header("x-custom"), Some("v"));
    assert_eq!(
        r.header("dapr-api-token"),
        Some("app-tok"),
        "the app token replaces the caller's token"
    );
    assert_eq!(r.header("dapr-caller-app-id"), Some("orders"));
    assert_eq!(r.header("dapr-callee-app-id"), Some("orders"));
    assert_eq!(r.header("x-forwarded-for"), Some("127.0.0.1"));
    assert!(
        r.header("forwarded")
            .is_some_and(|f| f.starts_with("for=127.0.0.1"))
    );
    assert!(r.header("traceparent").is_some());
    assert!(r.header("dapr-app-id").is_none());
    assert_eq!(r.header("content-length"), Some("7"));
    // Errors from the app pass through unchanged.
    let a = send(
        addr,
        Method::GET,
        "/v1.0/invoke/orders/method/fail",
        &[tok],
        Bytes::new(),
    )
    .await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (503, "GET /fail "));
    // Header form: any unrouted path with dapr-app-id.
    let a = send(
        addr,
        Method::POST,
        "/hello/world?z=1",
        &[tok, ("dapr-app-id", "orders")],
        Bytes::from_static(b"hi"),
    )
    .await;
    assert_eq!(a.text(), "POST /hello/world?z=1 hi");
    // Unknown app id → 500 ERR_DIRECT_INVOKE.
    let a = send(
        addr,
        Method::GET,
        "/v1.0/invoke/billing/method/x",
        &[tok],
        Bytes::new(),
    )
    .await;
    let msg = a.assert_error(500, "ERR_DIRECT_INVOKE");
    assert!(
        msg.starts_with("failed to invoke, id: billing, err: "),
        "{msg}"
    );
    sc.shutdown().await;
    drop(app);

    // App unreachable → 500 ERR_DIRECT_INVOKE.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sc = sidecar(|o| o.app_port = Some(port)).await;
    let a = get(sc.local_addr(), "/v1.0/invoke/app/method/x").await;
    assert!(
        a.assert_error(500, "ERR_DIRECT_INVOKE")
            .starts_with("failed to invoke, id: app, err: ")
    );
    sc.shutdown().await;
    // No app port at all.
    let sc = sidecar(|_| {}).await;
    get(sc.local_addr(), "/v1.0/invoke/app/method/x")
        .await
        .assert_error(500, "ERR_DIRECT_INVOKE");
    sc.shutdown().await;
}

fn full_resources(secrets_dir: &std::path::Path) -> tempfile::TempDir {
    let secrets = secrets_dir.join("secrets.json");
    std::fs::write(
        &secrets,
        r#"{"db":{"user":"admin","pass":"pw"},"token":"t0k","n":5}"#,
    )
    .expect("write secrets");
    let storage = secrets_dir.join("files");
    let yaml = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {{name: localsecrets}}\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - {{name: secretsFile, value: '{}'}}\n---\nkind: Component\nmetadata: {{name: multi}}\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - {{name: secretsFile, value: secrets.json}}\n  - {{name: multiValued, value: true}}\n  - {{name: nestedSeparator, value: '.'}}\n---\nkind: Component\nmetadata: {{name: files}}\nspec:\n  type: bindings.localstorage\n  version: v1\n  metadata:\n  - {{name: rootPath, value: '{}'}}\n---\nkind: Component\nmetadata: {{name: config}}\nspec:\n  type: configuration.in-memory\n  version: v1\n  metadata:\n  - {{name: greeting, value: hello}}\n  - {{name: color, value: blue}}\n---\nkind: Component\nmetadata: {{name: lockstore}}\nspec: {{type: lock.in-memory, version: v1}}\n---\nkind: Component\nmetadata: {{name: statestore}}\nspec: {{type: state.in-memory, version: v1}}\n---\nkind: Component\nmetadata: {{name: pubsub}}\nspec: {{type: pubsub.in-memory, version: v1}}\n",
        secrets.display(),
        storage.display()
    );
    std::fs::write(secrets_dir.join("components.yaml"), yaml).expect("write components");
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["components.yaml", "secrets.json"] {
        std::fs::copy(secrets_dir.join(f), dir.path().join(f)).expect("copy");
    }
    dir
}

#[tokio::test]
async fn secrets_bindings_configuration_lock() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = full_resources(work.path());
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();

    // Secrets: flattened with ":"; multiValued with "." separator; bulk.
    assert_eq!(
        get(addr, "/v1.0/secrets/localsecrets/db:user").await.json(),
        json!({"db:user": "admin"})
    );
    assert_eq!(
        get(addr, "/v1.0/secrets/localsecrets/n").await.json(),
        json!({"n": "5"})
    );
    assert_eq!(
        get(addr, "/v1.0/secrets/multi/db").await.json(),
        json!({"user": "admin", "pass": "pw"})
    );
    let bulk = get(addr, "/v1.0/secrets/localsecrets/bulk").await.json();
    assert_eq!(bulk["token"], json!({"token": "t0k"}));
    assert_eq!(bulk["db:pass"], json!({"db:pass": "pw"}));
    let msg = get(addr, "/v1.0/secrets/nope/x")
        .await
        .assert_error(401, "ERR_SECRET_STORE_NOT_FOUND");
    assert_eq!(msg, "failed finding secret store with key nope");
    get(addr, "/v1.0/secrets/localsecrets/missing")
        .await
        .assert_error(500, "ERR_SECRET_GET");

    // Output binding: create/get/list/delete, confined to rootPath.
    let b = "/v1.0/bindings/files";
    let a = post_json(
        addr,
        b,
        r#"{"operation":"create","data":"hello file","metadata":{"fileName":"dir/a.txt"}}"#,
    )
    .await;
    assert_eq!(
        (a.status.as_u16(), a.json()),
        (200, json!({"fileName": "dir/a.txt"}))
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("files/dir/a.txt")).expect("file"),
        "hello file"
    );
    post_json(
        addr,
        b,
        r#"{"operation":"create","data":{"j":1},"metadata":{"fileName":"b.json"}}"#,
    )
    .await;
    let a = post_json(
        addr,
        b,
        r#"{"operation":"get","metadata":{"fileName":"dir/a.txt"}}"#,
    )
    .await;
    assert_eq!(a.text(), "hello file");
    assert_eq!(
        post_json(
            addr,
            b,
            r#"{"operation":"get","metadata":{"fileName":"b.json"}}"#
        )
        .await
        .json(),
        json!({"j": 1})
    );
    let files = std::fs::canonicalize(work.path().join("files")).expect("rootPath");
    assert_eq!(
        post_json(addr, b, r#"{"operation":"list"}"#).await.json(),
        json!([files.join("b.json"), files.join("dir/a.txt")])
    );
    post_json(
        addr,
        b,
        r#"{"operation":"delete","metadata":{"fileName":"b.json"}}"#,
    )
    .await
    .assert_no_content();
    for evil in ["../escape.txt", "/etc/passwd", "dir/../../x"] {
        let body = json!({"operation": "create", "data": "x", "metadata": {"fileName": evil}});
        let msg = post_json(addr, b, &body.to_string())
            .await
            .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
        assert!(
            msg.starts_with("error invoking output binding files: "),
            "{msg}"
        );
        let body = json!({"operation": "get", "metadata": {"fileName": evil}});
        post_json(addr, b, &body.to_string())
            .await
            .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    }
    assert!(!work.path().join("escape.txt").exists());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(work.path(), work.path().join("files/link")).expect("symlink");
        let body = json!({"operation": "get", "metadata": {"fileName": "link/secrets.json"}});
        post_json(addr, b, &body.to_string())
            .await
            .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    }
    post_json(addr, b, r#"{"data":1}"#)
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    post_json(addr, b, r#"{"operation":"explode"}"#)
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    post_json(addr, "/v1.0/bindings/nope", r#"{"operation":"create"}"#)
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    post_json(addr, b, "{nope")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");

    // Configuration.
    let a = get(addr, "/v1.0/configuration/config?key=greeting").await;
    assert_eq!(
        a.json(),
        json!({"greeting": {"value": "hello", "version": "1"}})
    );
    assert_eq!(
        get(addr, "/v1.0/configuration/config")
            .await
            .json()
            .as_object()
            .map(|o| o.len()),
        Some(2)
    );
    get(addr, "/v1.0/configuration/config?key=absent")
        .await
        .assert_no_content();
    get(addr, "/v1.0/configuration/nope?key=a")
        .await
        .assert_error(400, "ERR_CONFIGURATION_STORE_NOT_FOUND");
    let id = get(
        addr,
        "/v1.0-alpha1/configuration/config/subscribe?key=greeting",
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        get(
            addr,
            &format!("/v1.0/configuration/config/{id}/unsubscribe")
        )
        .await
        .json(),
        json!({"ok": true})
    );

    // Lock.
    let l = "/v1.0-alpha1/lock/lockstore";
    let u = "/v1.0-alpha1/unlock/lockstore";
    let req = r#"{"resourceId":"r","lockOwner":"me","expiryInSeconds":30}"#;
    assert_eq!(
        post_json(addr, l, req).await.json(),
        json!({"success": true})
    );
    assert_eq!(
        post_json(
            addr,
            l,
            r#"{"resourceId":"r","lockOwner":"you","expiryInSeconds":30}"#
        )
        .await
        .json(),
        json!({"success": false})
    );
    assert_eq!(
        post_json(addr, u, r#"{"resourceId":"r","lockOwner":"you"}"#)
            .await
            .json(),
        json!({"status": 2})
    );
    assert_eq!(
        post_json(addr, u, r#"{"resourceId":"r","lockOwner":"me"}"#)
            .await
            .json(),
        json!({"status": 0})
    );
    assert_eq!(
        post_json(addr, u, r#"{"resourceId":"r","lockOwner":"me"}"#)
            .await
            .json(),
        json!({"status": 1})
    );
    post_json(
        addr,
        l,
        r#"{"resourceId":"r","lockOwner":"me","expiryInSeconds":0}"#,
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    post_json(
        addr,
        l,
        r#"{"resourceId":"","lockOwner":"me","expiryInSeconds":5}"#,
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    let huge = r#"{"resourceId":"h","lockOwner":"me","expiryInSeconds":9223372036854775807}"#;
    assert_eq!(
        post_json(addr, l, huge).await.json(),
        json!({"success": true})
    );
    let huge_ttl = r#"[{"key":"h","value":1,"metadata":{"ttlInSeconds":"9223372036854775807"}}]"#;
    post_json(addr, "/v1.0/state/statestore", huge_ttl)
        .await
        .assert_no_content();
    // Past year 9999: stored, readable, no expiry time reported, no panic.
    let far_ttl = r#"[{"key":"far","value":1,"metadata":{"ttlInSeconds":"1000000000000000"}}]"#;
    post_json(addr, "/v1.0/state/statestore", far_ttl)
        .await
        .assert_no_content();
    let a = get(addr, "/v1.0/state/statestore/far").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header("metadata.ttlexpiretime").is_none());
    let v = post_json(
        addr,
        "/v1.0/state/statestore/bulk",
        r#"{"keys":["far","h"]}"#,
    )
    .await
    .json();
    assert_eq!(v[0]["data"], 1);
    send(
        addr,
        Method::POST,
        "/v1.0/publish/pubsub/t?metadata.ttlInSeconds=1000000000000000",
        &[],
        Bytes::from_static(b"x"),
    )
    .await
    .assert_no_content();
    post_json(addr, "/v1.0-alpha1/lock/nope", req)
        .await
        .assert_error(400, "ERR_LOCK_STORE_NOT_FOUND");
    sc.shutdown().await;

    // Nothing configured.
    let sc = sidecar(|_| {}).await;
    let addr = sc.local_addr();
    get(addr, "/v1.0/secrets/s/k")
        .await
        .assert_error(500, "ERR_SECRET_STORES_NOT_CONFIGURED");
    get(addr, "/v1.0/configuration/c?key=a")
        .await
        .assert_error(500, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED");
    post_json(
        addr,
        "/v1.0-alpha1/lock/l",
        r#"{"resourceId":"r","lockOwner":"me","expiryInSeconds":5}"#,
    )
    .await
    .assert_error(500, "ERR_LOCK_STORE_NOT_CONFIGURED");
    sc.shutdown().await;
}

#[tokio::test]
async fn metadata_and_shutdown() {
    let sc = sidecar(|o| o.app_id = "myapp".into()).await;
    let addr = sc.local_addr();
    send(
        addr,
        Method::PUT,
        "/v1.0/metadata/team",
        &[],
        Bytes::from_static(b"blue"),
    )
    .await
    .assert_no_content();
    let a = get(addr, "/v1.0/metadata").await;
    assert_eq!(a.header("content-type"), Some("application/json"));
    let m = a.json();
    assert_eq!(m["id"], "myapp");
    assert!(m["runtimeVersion"].is_string());
    assert_eq!(m["extended"]["team"], "blue");
    assert_eq!(
        m["components"],
        json!([
            {"name": "statestore", "type": "state.in-memory", "version": "v1", "capabilities": ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"]},
            {"name": "pubsub", "type": "pubsub.in-memory", "version": "v1"},
        ])
    );
    assert!(m.get("subscriptions").is_none(), "empty fields are omitted");
    assert_eq!(m["appConnectionProperties"]["protocol"], "http");
    send(addr, Method::POST, "/v1.0/shutdown", &[], Bytes::new())
        .await
        .assert_no_content();
    tokio::time::timeout(Duration::from_secs(10), sc.wait())
        .await
        .expect("wait() resolves after POST /v1.0/shutdown");
    assert!(
        try_send(addr, Method::GET, "/v1.0/healthz", &[], Bytes::new())
            .await
            .is_err(),
        "stopped listening"
    );
}

#[tokio::test]
async fn component_loading_errors_name_file_and_type() {
    let start = |dir: std::path::PathBuf| async move {
        Sidecar::start(SidecarOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            resources_path: Some(dir),
            ..Default::default()
        })
        .await
    };
    let dir = resources(&[(
        "weird.yaml",
        "kind: Component\nmetadata: {name: x}\nspec: {type: state.cassandra, version: v1}\n",
    )]);
    let err = start(dir.path().to_path_buf())
        .await
        .expect_err("unknown type");
    let msg = err.to_string();
    assert!(
        msg.contains("weird.yaml") && msg.contains("state.cassandra"),
        "{msg}"
    );
    let dir = resources(&[(
        "v2.yaml",
        "kind: Component\nmetadata: {name: x}\nspec: {type: state.in-memory, version: v2}\n",
    )]);
    assert!(
        start(dir.path().to_path_buf())
            .await
            .expect_err("bad version")
            .to_string()
            .contains("v2")
    );
    let dir = resources(&[("bad.yaml", "kind: Component\nmetadata: {name: [\n")]);
    assert!(
        start(dir.path().to_path_buf())
            .await
            .expect_err("bad yaml")
            .to_string()
            .contains("bad.yaml")
    );
    let dir = resources(&[
        (
            "a.yaml",
            "kind: Component\nmetadata: {name: s}\nspec: {type: state.in-memory, version: v1}\n",
        ),
        (
            "b.yml",
            "kind: Component\nmetadata: {name: s}\nspec: {type: state.in-memory, version: v1}\n",
        ),
    ]);
    assert!(
        start(dir.path().to_path_buf())
            .await
            .expect_err("duplicate")
            .to_string()
            .contains("b.yml")
    );
    let dir = resources(&[(
        "s.yaml",
        "kind: Component\nmetadata: {name: s}\nspec: {type: secretstores.local.file, version: v1, metadata: [{name: secretsFile, value: /does/not/exist.json}]}\n",
    )]);
    assert!(
        start(dir.path().to_path_buf())
            .await
            .expect_err("missing secrets file")
            .to_string()
            .contains("s.yaml")
    );
    // spec.ignoreErrors: true skips a component that cannot load.
    let dir = resources(&[(
        "skip.yaml",
        "kind: Component\nmetadata: {name: x}\nspec: {type: state.cassandra, version: v1, ignoreErrors: true}\n",
    )]);
    let sc = start(dir.path().to_path_buf())
        .await
        .expect("ignoreErrors skips the component");
    sc.shutdown().await;
    let err = start("/does/not/exist".into())
        .await
        .expect_err("missing folder");
    assert!(format!("{err:#}").contains("/does/not/exist"));
    // README and other files are ignored; the example folder loads.
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/components");
    let sc = start(example).await.expect("examples/components loads");
    let m = get(sc.local_addr(), "/v1.0/metadata").await.json();
    assert_eq!(m["components"].as_array().map_or(0, Vec::len), 6, "{m}");
    sc.shutdown().await;
}

#[tokio::test]
async fn health_answers_ready_and_serves_concurrent_clients() {
    let sc = sidecar(|_| {}).await;
    let addr = sc.local_addr();
    let mut tasks = Vec::new();
    for i in 0..16 {
        tasks.push(tokio::spawn(async move {
            post_json(
                addr,
                "/v1.0/state/statestore",
                &format!(r#"[{{"key":"c{i}","value":{i}}}]"#),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::NO_CONTENT);
    }
    assert_eq!(sc.state_snapshot("statestore").await.len(), 16);
    let app = MockServer::start(|_| reply(200, "")).await;
    drop(app);
    sc.shutdown().await;
}

#[tokio::test]
async fn cron_input_binding_delivers_after_the_options_probe() {
    let dir = resources(&[(
        "cron.yaml",
        "kind: Component\nmetadata: {name: tick}\nspec: {type: bindings.cron, version: v1, metadata: [{name: schedule, value: '@every 50ms'}]}\n---\nkind: Component\nmetadata: {name: unwanted}\nspec: {type: bindings.cron, version: v1, metadata: [{name: schedule, value: '@every 50ms'}]}\n",
    )]);
    let app = MockServer::start(|r: &Recorded| match (r.method.as_str(), r.target()) {
        ("OPTIONS", "/tick") => reply(405, ""),
        (_, "/tick") => reply(200, ""),
        _ => reply(404, ""),
    })
    .await;
    let port = app.addr.port();
    let sc = sidecar(|o| {
        o.resources_path = Some(dir.path().to_path_buf());
        o.app_port = Some(port);
        o.app_api_token = Some("tok".into());
    })
    .await;
    let got = app.wait_for("/tick", 3).await;
    assert_eq!(got[0].method, Method::OPTIONS);
    let post = got
        .iter()
        .find(|r| r.method == Method::POST)
        .expect("an event");
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("dapr-api-token"), Some("tok"));
    app.wait_for("/unwanted", 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let unwanted = app.requests_to("/unwanted");
    assert_eq!(
        unwanted.len(),
        1,
        "only the probe: 404 means not subscribed"
    );
    // Output calls to an input binding fail like daprd's.
    post_json(
        sc.local_addr(),
        "/v1.0/bindings/tick",
        r#"{"operation":"create"}"#,
    )
    .await
    .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    sc.shutdown().await;

    let dir = resources(&[(
        "cron.yaml",
        "kind: Component\nmetadata: {name: tick}\nspec: {type: bindings.cron, version: v1, metadata: [{name: schedule, value: '*/5 * * * *'}]}\n",
    )]);
    let err = Sidecar::start(SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        resources_path: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .expect_err("unsupported schedule");
    assert!(err.to_string().contains("@every"), "{err}");
}

#[tokio::test]
async fn extended_metadata_and_locks_are_capped() {
    let lock = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: lockstore\nspec:\n  type: lock.in-memory\n  version: v1\n";
    let dir = resources(&[("lock.yaml", lock)]);
    let tuning = wasi_dapr_sidecar::SidecarTuning {
        max_metadata_keys: 3,
        max_metadata_value_bytes: 16,
        max_locks: 2,
        max_lock_id_bytes: 8,
        ..wasi_dapr_test_support::sidecar::fast_tuning()
    };
    let sc = Sidecar::start_with(
        SidecarOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            resources_path: Some(dir.path().to_path_buf()),
            ..SidecarOptions::default()
        },
        tuning,
    )
    .await
    .expect("start");
    let addr = sc.local_addr();
    let put = |key: &'static str, value: &'static str| async move {
        let path = format!("/v1.0/metadata/{key}");
        send(addr, Method::PUT, &path, &[], Bytes::from(value)).await
    };
    put("a", "1").await.assert_no_content();
    put("b", "x").await.assert_no_content();
    put("c", "0123456789abcdefg")
        .await
        .assert_error(413, "ERR_BODY_TOO_LARGE");
    put("c", "3").await.assert_no_content();
    put("d", "4")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    // Replacing an existing key is fine when full.
    put("a", "0123456789abcdef").await.assert_no_content();
    let m = get(addr, "/v1.0/metadata").await.json();
    assert_eq!(m["extended"]["a"], "0123456789abcdef");
    assert!(m["extended"].get("d").is_none());

    let lock = |id: &str| {
        let body = json!({"resourceId": id, "lockOwner": "o", "expiryInSeconds": 60}).to_string();
        async move { post_json(addr, "/v1.0-alpha1/lock/lockstore", &body).await }
    };
    assert_eq!(lock("r1").await.json(), json!({"success": true}));
    lock("r-too-long")
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");
    assert_eq!(lock("r2").await.json(), json!({"success": true}));
    assert_eq!(lock("r1").await.json(), json!({"success": false}));
    lock("r3").await.assert_error(500, "ERR_TRY_LOCK");
    let unlock = json!({"resourceId": "r2", "lockOwner": "o"}).to_string();
    let a = post_json(addr, "/v1.0-alpha1/unlock/lockstore", &unlock).await;
    assert_eq!(a.json(), json!({"status": 0}));
    assert_eq!(lock("r3").await.json(), json!({"success": true}));
    sc.shutdown().await;
}
