//! `bindings.localstorage` against daprd: what `create` stores for each kind of `data`, `list` (absolute, recursive, sub-folder, `null`), and the error messages with absolute paths.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use wasi_dapr_test_support::client::post_json;
use wasi_dapr_test_support::sidecar::sidecar;

const B: &str = "/v1.0/bindings/files";

/// A sidecar with one localstorage binding `files`; returns it with the canonical root.
async fn start(work: &Path) -> (wasi_dapr_sidecar::Sidecar, PathBuf) {
    let root = work.join("root");
    let yaml = format!(
        "kind: Component\nmetadata: {{name: files}}\nspec:\n  type: bindings.localstorage\n  version: v1\n  metadata:\n  - {{name: rootPath, value: '{}'}}\n",
        root.display()
    );
    let res = work.join("res");
    std::fs::create_dir_all(&res).expect("mkdir");
    std::fs::write(res.join("c.yaml"), yaml).expect("write");
    let sc = sidecar(|o| o.resources_path = Some(res)).await;
    let root = std::fs::canonicalize(&root).expect("rootPath created at start");
    (sc, root)
}

async fn call(addr: SocketAddr, body: Value) -> wasi_dapr_test_support::client::Answer {
    post_json(addr, B, &body.to_string()).await
}

#[tokio::test]
async fn create_stores_what_daprd_stores() {
    let work = tempfile::tempdir().expect("tempdir");
    let (sc, root) = start(work.path()).await;
    let addr = sc.local_addr();
    // (data as JSON text, the bytes daprd writes)
    let cases: [(&str, &[u8]); 12] = [
        (r#""aGk=""#, b"hi"),
        (r#""abcd""#, &[0x69, 0xb7, 0x1d]),
        (r#""hello file""#, b"hello file"),
        (r#""aGk""#, b"aGk"),
        (r#""""#, b""),
        (r#""<a & b>""#, b"<a & b>"),
        ("null", &[0x9e, 0xe9, 0x65]),
        ("true", &[0xb6, 0xbb, 0x9e]),
        ("1234", &[0xd7, 0x6d, 0xf8]),
        ("false", b"false"),
        ("123", b"123"),
        (
            r#"{"b":"<x>","a":1.50}"#,
            br#"{"a":1.5,"b":"\u003cx\u003e"}"#,
        ),
    ];
    for (i, (data, want)) in cases.iter().enumerate() {
        let name = format!("case-{i}");
        let body =
            format!(r#"{{"operation":"create","data":{data},"metadata":{{"fileName":"{name}"}}}}"#);
        let a = post_json(addr, B, &body).await;
        assert_eq!(
            (a.status.as_u16(), a.json()),
            (200, json!({"fileName": name})),
            "{data}"
        );
        let stored = std::fs::read(root.join(&name)).expect("stored");
        assert_eq!(&stored[..], *want, "data {data}");
    }
    // Missing `data` is null; missing fileName is a UUID; the answer names the file
    // relative to rootPath, normalised; parents are created, an existing file truncated.
    let a = call(addr, json!({"operation": "create"})).await;
    let name = a.json()["fileName"].as_str().expect("fileName").to_string();
    assert_eq!(name.len(), 36, "{name}");
    assert_eq!(
        std::fs::read(root.join(&name)).expect("uuid file"),
        [0x9e, 0xe9, 0x65]
    );
    let a = call(addr, json!({"operation": "create", "data": "long text here", "metadata": {"fileName": "d//e/f.txt"}})).await;
    assert_eq!(a.json(), json!({"fileName": "d/e/f.txt"}));
    call(
        addr,
        json!({"operation": "create", "data": "x", "metadata": {"fileName": "d/e/f.txt"}}),
    )
    .await;
    assert_eq!(std::fs::read(root.join("d/e/f.txt")).expect("file"), b"x");
    // encoding/json keys match case-insensitively; a mis-cased fileName key does not.
    let a = call(
        addr,
        json!({"Operation": "create", "DATA": "aGk=", "Metadata": {"fileName": "ci"}}),
    )
    .await;
    assert_eq!(a.json(), json!({"fileName": "ci"}));
    assert_eq!(std::fs::read(root.join("ci")).expect("ci"), b"hi");
    let a = call(
        addr,
        json!({"operation": "create", "data": "x", "metadata": {"filename": "lower"}}),
    )
    .await;
    assert_ne!(a.json()["fileName"], "lower");
    assert!(!root.join("lower").exists());
    sc.shutdown().await;
}

#[tokio::test]
async fn list_is_absolute_recursive_and_null_when_empty() {
    let work = tempfile::tempdir().expect("tempdir");
    let (sc, root) = start(work.path()).await;
    let addr = sc.local_addr();
    let list = |file: Option<&str>| {
        let mut body = json!({"operation": "list"});
        if let Some(f) = file {
            body["metadata"] = json!({"fileName": f});
        }
        call(addr, body)
    };
    let a = list(None).await;
    assert_eq!((a.status.as_u16(), a.text()), (200, "null".to_string()));
    for f in ["b", "a.txt", "a/x", "a/y/z"] {
        call(
            addr,
            json!({"operation": "create", "data": "1", "metadata": {"fileName": f}}),
        )
        .await;
    }
    std::fs::create_dir_all(root.join("empty/inner")).expect("mkdir");
    let want = |names: &[&str], base: &Path| -> Value {
        json!(names.iter().map(|n| base.join(n)).collect::<Vec<_>>())
    };
    // filepath.Walk order: each folder's names sorted, depth first ("a/x" before "a.txt").
    assert_eq!(
        list(None).await.json(),
        want(&["a/x", "a/y/z", "a.txt", "b"], &root)
    );
    assert_eq!(
        list(Some("a")).await.json(),
        want(&["x", "y/z"], &root.join("a"))
    );
    let a = list(Some("empty")).await;
    assert_eq!(a.text(), "null");
    // Not a folder, missing, outside rootPath: 500.
    let abs = root.join("b").display().to_string();
    let msg = list(Some("b"))
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!(
            "error invoking output binding files: unable to list files as the file specified is not a directory: {abs}"
        )
    );
    let abs = root.join("nope").display().to_string();
    let msg = list(Some("nope"))
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!(
            "error invoking output binding files: error getting stats for path {abs}: stat {abs}: no such file or directory"
        )
    );
    list(Some("../"))
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    #[cfg(unix)]
    {
        // A link is listed by name, never walked into, and cannot be listed itself.
        let outside = work.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(outside.join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(&outside, root.join("link")).expect("symlink");
        let listed = list(None).await.json();
        assert_eq!(listed, want(&["a/x", "a/y/z", "a.txt", "b", "link"], &root));
        list(Some("link"))
            .await
            .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    }
    sc.shutdown().await;
}

#[tokio::test]
async fn get_and_delete_answers_and_errors() {
    let work = tempfile::tempdir().expect("tempdir");
    let (sc, root) = start(work.path()).await;
    let addr = sc.local_addr();
    call(
        addr,
        json!({"operation": "create", "data": "some text", "metadata": {"fileName": "a/f"}}),
    )
    .await;
    call(
        addr,
        json!({"operation": "create", "data": "", "metadata": {"fileName": "empty"}}),
    )
    .await;
    let a = call(
        addr,
        json!({"operation": "get", "metadata": {"fileName": "a/f"}}),
    )
    .await;
    assert_eq!(
        (a.status.as_u16(), a.text()),
        (200, "some text".to_string())
    );
    assert_eq!(a.header("content-type"), Some("application/json"));
    let a = call(
        addr,
        json!({"operation": "get", "metadata": {"fileName": "empty"}}),
    )
    .await;
    assert_eq!((a.status.as_u16(), a.body.len()), (200, 0));

    let abs = root.join("missing").display().to_string();
    let msg = call(
        addr,
        json!({"operation": "get", "metadata": {"fileName": "missing"}}),
    )
    .await
    .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!("error invoking output binding files: file not found: {abs}")
    );
    let r = root.display().to_string();
    let msg = call(addr, json!({"operation": "get"}))
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!(
            "error invoking output binding files: error reading file {r}: read {r}: is a directory"
        )
    );
    let msg = call(
        addr,
        json!({"operation": "delete", "metadata": {"fileName": "missing"}}),
    )
    .await
    .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!(
            "error invoking output binding files: error deleting file {abs}: remove {abs}: no such file or directory"
        )
    );
    // A folder with files is not removed; a file, then its emptied folder, are.
    let dir = root.join("a").display().to_string();
    let msg = call(
        addr,
        json!({"operation": "delete", "metadata": {"fileName": "a"}}),
    )
    .await
    .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert_eq!(
        msg,
        format!(
            "error invoking output binding files: error deleting file {dir}: remove {dir}: directory not empty"
        )
    );
    for f in ["a/f", "a"] {
        call(
            addr,
            json!({"operation": "delete", "metadata": {"fileName": f}}),
        )
        .await
        .assert_no_content();
    }
    assert!(!root.join("a").exists());
    let msg = call(addr, json!({"operation": "explode"}))
        .await
        .assert_error(500, "ERR_INVOKE_OUTPUT_BINDING");
    assert!(
        msg.contains("supported operations: create get list delete"),
        "{msg}"
    );
    sc.shutdown().await;
}
