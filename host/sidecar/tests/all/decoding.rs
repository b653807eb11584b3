//! Bodies decoded as daprd's Go `encoding/json` does (dapr-http-api.md § Error shapes and decoders): mis-cased keys on every such route, the last key winning, and protojson's lock bodies.

use serde_json::json;
use wasi_dapr_test_support::client::{get, post_json};
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

const COMPONENTS: &str = "kind: Component\nmetadata: {name: statestore}\nspec: {type: state.in-memory, version: v1}\n---\nkind: Component\nmetadata: {name: lockstore}\nspec: {type: lock.in-memory, version: v1}\n---\nkind: Component\nmetadata: {name: files}\nspec:\n  type: bindings.localstorage\n  version: v1\n  metadata:\n  - {name: rootPath, value: ROOT}\n";

#[tokio::test]
async fn state_routes_accept_mis_cased_keys() {
    let sc = sidecar(|_| {}).await;
    let addr = sc.local_addr();
    let s = "/v1.0/state/statestore";
    post_json(
        addr,
        s,
        r#"[{"KEY":"a","Value":{"n":1},"Metadata":{"k":"v"}},{"Key":"b","VALUE":"x"}]"#,
    )
    .await
    .assert_no_content();
    assert_eq!(get(addr, &format!("{s}/a")).await.json(), json!({"n": 1}));
    assert_eq!(get(addr, &format!("{s}/b")).await.text(), r#""x""#);
    // Several keys for one field: the last one wins, as in Go.
    post_json(addr, s, r#"[{"key":"first","KEY":"second","value":1}]"#)
        .await
        .assert_no_content();
    assert_eq!(get(addr, &format!("{s}/second")).await.status, 200);
    assert_eq!(get(addr, &format!("{s}/first")).await.status, 204);
    // A nested struct folds too: options.concurrency first-write refuses a write without etag.
    let a = post_json(
        addr,
        s,
        r#"[{"key":"a","value":2,"Options":{"CONCURRENCY":"first-write"}}]"#,
    )
    .await;
    a.assert_error(409, "ERR_STATE_SAVE");
    let etag = get(addr, &format!("{s}/a"))
        .await
        .header("etag")
        .unwrap_or_default()
        .to_string();
    post_json(
        addr,
        s,
        &format!(
            r#"[{{"key":"a","value":3,"ETag":"{etag}","options":{{"concurrency":"first-write"}}}}]"#
        ),
    )
    .await
    .assert_no_content();
    assert_eq!(get(addr, &format!("{s}/a")).await.json(), json!(3));
    // `null` is an empty list, as in Go.
    post_json(addr, s, "null").await.assert_no_content();
    // A key that folds to no field is ignored: the item has no key.
    post_json(addr, s, r#"[{"key_":"z","value":1}]"#)
        .await
        .assert_error(400, "ERR_MALFORMED_REQUEST");

    // Bulk get.
    let bulk = post_json(
        addr,
        &format!("{s}/bulk"),
        r#"{"KEYS":["a","b"],"Parallelism":2}"#,
    )
    .await;
    let keys: Vec<String> = bulk
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["key"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(keys, ["a", "b"]);

    // Transaction: the body folds as encoding/json; each request is mapstructure'd, which
    // takes the Go field name (`Key`, `ETag`) over another spelling.
    post_json(
        addr,
        &format!("{s}/transaction"),
        r#"{"Operations":[{"OPERATION":"upsert","Request":{"key":"other","Key":"t","VALUE":{"tx":1}}},{"operation":"delete","request":{"KEY":"b"}}]}"#,
    )
    .await
    .assert_no_content();
    assert_eq!(get(addr, &format!("{s}/t")).await.json(), json!({"tx": 1}));
    assert_eq!(get(addr, &format!("{s}/other")).await.status, 204);
    assert_eq!(get(addr, &format!("{s}/b")).await.status, 204);
    // Operation values stay case-sensitive.
    post_json(
        addr,
        &format!("{s}/transaction"),
        r#"{"operations":[{"operation":"UPSERT","request":{"key":"u"}}]}"#,
    )
    .await
    .assert_error(400, "ERR_NOT_SUPPORTED_STATE_OPERATION");
    sc.shutdown().await;
}

#[tokio::test]
async fn bindings_and_lock_bodies() {
    let root = tempfile::tempdir().expect("tempdir");
    let yaml = COMPONENTS.replace("ROOT", &root.path().display().to_string());
    let dir = resources(&[("c.yaml", &yaml)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let addr = sc.local_addr();

    // Output bindings: `Operation` names the operation field.
    let a = post_json(
        addr,
        "/v1.0/bindings/files",
        r#"{"Operation":"bogus","DATA":"x"}"#,
    )
    .await;
    let m = a.assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert!(m.contains("bogus"), "{m}");
    let a = post_json(addr, "/v1.0/bindings/files", r#"{"operation_":"bogus"}"#).await;
    let m = a.assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert!(m.contains("operation field is missing"), "{m}");

    // Lock and unlock are protojson routes: lowerCamel or proto names, case-sensitive.
    let l = "/v1.0-alpha1/lock/lockstore";
    let ok = post_json(
        addr,
        l,
        r#"{"resource_id":"r","lock_owner":"me","expiry_in_seconds":30}"#,
    )
    .await;
    assert_eq!(ok.json(), json!({"success": true}));
    let taken = post_json(
        addr,
        l,
        r#"{"resourceId":"r","lockOwner":"you","expiryInSeconds":30}"#,
    )
    .await;
    assert_eq!(taken.json(), json!({"success": false}));
    post_json(
        addr,
        l,
        r#"{"ResourceId":"r","LockOwner":"me","ExpiryInSeconds":30}"#,
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    post_json(
        addr,
        l,
        r#"{"resourceId":"r","resource_id":"r","lockOwner":"me","expiryInSeconds":3}"#,
    )
    .await
    .assert_error(400, "ERR_MALFORMED_REQUEST");
    let unlocked = post_json(
        addr,
        "/v1.0-alpha1/unlock/lockstore",
        r#"{"resource_id":"r","lock_owner":"me"}"#,
    )
    .await;
    assert_eq!(unlocked.json(), json!({"status": 0}));
    sc.shutdown().await;
}
