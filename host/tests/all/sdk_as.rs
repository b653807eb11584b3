//! The AssemblyScript guests (`as-sdk/`) through `wasi-dapr run` against the embedded
//! sidecar. The artifacts crate builds them, installing the pinned toolchain with `npm ci
//! --prefix as-sdk` when needed; without npm these tests fail with one line naming the
//! package to install (they never skip).

use wasi_dapr_sidecar::Sidecar;

use crate::support::{Allowlist, Guest, Output, allowlist, example_output, guests};
use wasi_dapr_test_support::sidecar::sidecar;

fn allow_sidecar(sc: &Sidecar) -> Allowlist {
    allowlist(
        &[format!("http://127.0.0.1:{}", sc.local_addr().port())],
        "",
    )
}

async fn run_against(sc: &Sidecar, allow: &Allowlist, module: &str) -> Output {
    run_with(sc, allow, module, &[]).await
}

async fn run_with(sc: &Sidecar, allow: &Allowlist, module: &str, extra: &[&str]) -> Output {
    let port = sc.local_addr().port().to_string();
    Guest::new(module)
        .allowlist(allow)
        .options(extra)
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await
}

fn stored<'a>(snapshot: &'a [(String, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    snapshot
        .iter()
        .find(|(k, _)| k.ends_with(&format!("||{key}")))
        .map(|(_, v)| v.as_slice())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_scenario_passes_and_leaves_the_expected_state() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::guest("as_dapr_as")).await;
    out.assert_success();
    assert!(out.stdout.contains("Test successfully!"), "{out}");
    let snapshot = sc.state_snapshot("statestore").await;
    assert_eq!(
        stored(&snapshot, "weapon"),
        Some(&b"\"Death Star\""[..]),
        "{snapshot:?}"
    );
    let planets: serde_json::Value =
        serde_json::from_slice(stored(&snapshot, "planets").expect("planets stored"))
            .expect("planets is JSON");
    assert_eq!(
        planets,
        serde_json::json!({"name": "Tatooine", "test": 123})
    );
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_scenario_fails_loudly_when_denied() {
    let sc = sidecar(|_| {}).await;
    // An allowlist that does not name the sidecar.
    let allow = allowlist(&["http://127.0.0.1:1".into()], "");
    let out = run_against(&sc, &allow, guests::guest("as_dapr_as")).await;
    assert_ne!(out.code, Some(0), "{out}");
    assert!(!out.stdout.contains("Test successfully!"), "{out}");
    assert!(sc.state_snapshot("statestore").await.is_empty());
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_sdk_integration_module_passes_against_the_sidecar() {
    let components =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../as-sdk/tests/components");
    let sc = sidecar(|o| o.resources_path = Some(components)).await;
    let allow = allow_sidecar(&sc);
    let stores = [
        "--env",
        "SECRET_STORE=localsecrets",
        "--env",
        "SECRET_NAME=api-key",
        "--env",
        "LOCK_STORE=lockstore",
    ];
    let out = run_with(&sc, &allow, guests::guest("as_sdk_integration_as"), &stores).await;
    out.assert_success();
    // Every part ran: nothing skipped, nothing failed.
    assert!(out.stdout.contains(" passed, 0 failed, 0 skipped"), "{out}");
}

/// Runs an AS example against a fresh sidecar and compares its stdout with the first
/// `## Expected output` block of its README. The README shows the sidecar on its default
/// port 3500; the test's sidecar is on a free port, written back as 3500 before comparing.
async fn assert_example_output(example: &str, module: &str) {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::guest(module)).await;
    out.assert_success();
    let port = format!("127.0.0.1:{}", sc.local_addr().port());
    let stdout = out.stdout.replace(&port, "127.0.0.1:3500");
    assert_eq!(stdout, example_output(example)[0], "{out}");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_as_example_prints_its_readme_output() {
    assert_example_output("state-as", "as_state_as").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_as_example_prints_its_readme_output() {
    assert_example_output("publish-as", "as_publish_as").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_as_publisher_prints_its_readme_output() {
    assert_example_output("pubsub-as", "as_pubsub_as_publisher").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_subscriber_as_publisher_prints_its_readme_output() {
    assert_example_output("bulk-subscriber-as", "as_bulk_subscriber_as_publisher").await;
}

/// The Dapr 1.18 calls of the AS SDK (jobs, conversation against a `conversation.echo`
/// named `echo`, stable bulk publish): the integration module's `CASE=dapr118`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_sdk_integration_module_passes_the_dapr_1_18_calls() {
    let components =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../as-sdk/tests/components-118");
    let sc = sidecar(|o| o.resources_path = Some(components)).await;
    let allow = allow_sidecar(&sc);
    let args = ["--env", "CASE=dapr118", "--env", "CONVERSATION=echo"];
    let out = run_with(&sc, &allow, guests::guest("as_sdk_integration_as"), &args).await;
    out.assert_success();
    assert!(out.stdout.contains(" passed, 0 failed, 0 skipped"), "{out}");
    sc.shutdown().await;
}
