//! The Rust guest SDK (`rust-sdk/`) through `wasi-dapr run` against the embedded sidecar:
//! the examples print what their READMEs say, the Dapr scenario passes, every client
//! method works (jobs and conversation included), and the error paths (sidecar down,
//! denied, unknown store, conflicts, token) come back as error values.

use wasi_dapr_sidecar::Sidecar;

use crate::support::{
    Allowlist, Guest, MockServer, Output, Reply, allowlist, example_output, guests,
};
use wasi_dapr_test_support::redis::RedisServer;
use wasi_dapr_test_support::resources;
use wasi_dapr_test_support::sidecar::sidecar;

/// An allowlist that lets guests reach `sc`.
fn allow_sidecar(sc: &Sidecar) -> Allowlist {
    allowlist(&[origin(sc)], "")
}

fn origin(sc: &Sidecar) -> String {
    format!("http://127.0.0.1:{}", sc.local_addr().port())
}

/// Runs `module` with the sidecar's port in the host's environment (the host hands it
/// to the guest as `DAPR_HTTP_PORT` / `DAPR_HTTP_ENDPOINT`).
async fn run_against(
    sc: &Sidecar,
    allow: &Allowlist,
    module: &str,
    extra: &[&str],
    args: &[&str],
) -> Output {
    let port = sc.local_addr().port().to_string();
    Guest::new(module)
        .allowlist(allow)
        .options(extra)
        .args(args)
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await
}

/// Asserts the `key=value` line `key` of the output.
#[track_caller]
fn assert_value(out: &Output, key: &str, expected: &str) {
    assert_eq!(out.value(key), Some(expected), "{key}\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_example_prints_its_readme_output() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::STATE_RUST, &[], &[]).await;
    out.assert_success();
    assert_eq!(out.stdout, example_output("state-rust")[0], "{out}");
    sc.shutdown().await;
}

/// The same source built for `wasm32-wasip2`: a `wasi:cli/command` component whose SDK
/// speaks `wasi:http`, under `wasi-dapr run`, prints the same README output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_example_as_a_component_prints_its_readme_output() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::COMPONENT_STATE_RUST, &[], &[]).await;
    out.assert_success();
    assert_eq!(out.stdout, example_output("state-rust")[0], "{out}");
    // The component's denial reads as the module's: no allowlist, the sidecar refused.
    let none = allowlist(&[], "");
    let out = run_against(&sc, &none, guests::COMPONENT_STATE_RUST, &[], &[]).await;
    assert_ne!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .contains("destination not allowed by the host's allowlist"),
        "{out}"
    );
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_example_against_redis() {
    let redis = RedisServer::start().await.expect("redis-server");
    let yaml = format!(
        "kind: Component\nmetadata: {{name: redis-store}}\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - {{name: redisHost, value: '127.0.0.1:{}'}}\n",
        redis.port
    );
    let dir = resources(&[("redis.yaml", &yaml)]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(
        &sc,
        &allow,
        guests::STATE_RUST,
        &["--env", "STATE_STORE=redis-store"],
        &[],
    )
    .await;
    out.assert_success();
    assert_eq!(out.stdout, example_output("state-rust")[0], "{out}");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_example_prints_its_readme_output() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::PUBLISH_RUST, &[], &[]).await;
    out.assert_success();
    assert_eq!(out.stdout, example_output("publish-rust")[0], "{out}");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_example_prints_its_readme_output() {
    let app = MockServer::start(|r| match r.target() {
        "/hello" => Reply::ok("hello from the target app\n").header("content-type", "text/plain"),
        _ => Reply::ok("no such file").status(404),
    })
    .await;
    let sc = sidecar(|o| {
        o.app_id = "target".into();
        o.app_port = Some(app.addr.port());
    })
    .await;
    let allow = allow_sidecar(&sc);

    let out = run_against(&sc, &allow, guests::INVOKE_RUST, &[], &["target", "hello"]).await;
    out.assert_success();
    assert_eq!(out.stdout, example_output("invoke-rust")[0], "{out}");

    // The app's 404 is a response (exit 2), an unknown app id is daprd's error (exit 1).
    let out = run_against(
        &sc,
        &allow,
        guests::INVOKE_RUST,
        &[],
        &["target", "missing"],
    )
    .await;
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stdout.starts_with("GET target/missing -> 404\n"),
        "{out}"
    );
    let out = run_against(&sc, &allow, guests::INVOKE_RUST, &[], &["nope", "hello"]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("ERR_DIRECT_INVOKE"), "{out}");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dapr_scenario_passes_and_fails_loudly() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::DAPR_RUST, &[], &[]).await;
    out.assert_success();
    assert_eq!(
        out.stdout, "dapr-rust: all checks passed (store statestore)\n",
        "{out}"
    );

    let out = run_against(
        &sc,
        &allow,
        guests::DAPR_RUST,
        &["--env", "STATE_STORE=nope"],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stdout
            .contains("dapr error 400 ERR_STATE_STORE_NOT_FOUND"),
        "{out}"
    );
    sc.shutdown().await;
}

/// Components for every building block the SDK covers.
fn all_components() -> (tempfile::TempDir, tempfile::TempDir) {
    let storage = tempfile::tempdir().expect("binding root");
    let yaml = format!(
        "kind: Component\nmetadata: {{name: statestore}}\nspec: {{type: state.in-memory, version: v1}}\n---\n\
         kind: Component\nmetadata: {{name: pubsub}}\nspec: {{type: pubsub.in-memory, version: v1}}\n---\n\
         kind: Component\nmetadata: {{name: secretstore}}\nspec:\n  type: secretstores.local.file\n  version: v1\n  metadata:\n  - {{name: secretsFile, value: secrets.json}}\n---\n\
         kind: Component\nmetadata: {{name: binding}}\nspec:\n  type: bindings.localstorage\n  version: v1\n  metadata:\n  - {{name: rootPath, value: '{}'}}\n---\n\
         kind: Component\nmetadata: {{name: configstore}}\nspec:\n  type: configuration.in-memory\n  version: v1\n  metadata:\n  - {{name: config, value: blue}}\n---\n\
         kind: Component\nmetadata: {{name: lockstore}}\nspec: {{type: lock.in-memory, version: v1}}\n",
        storage.path().display()
    );
    let dir = resources(&[
        ("components.yaml", &yaml),
        ("secrets.json", r#"{"secret": "s3cret", "other": "x"}"#),
    ]);
    (dir, storage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_method_against_the_sidecar() {
    let app = MockServer::start(|r| {
        let body = format!(
            "{} {} x-exercise={} body={}",
            r.method,
            r.uri,
            r.header("x-exercise").unwrap_or("-"),
            String::from_utf8_lossy(&r.body)
        );
        Reply::ok(body)
    })
    .await;
    let (dir, _storage) = all_components();
    let sc = sidecar(|o| {
        o.resources_path = Some(dir.path().to_path_buf());
        o.app_id = "target".into();
        o.app_port = Some(app.addr.port());
    })
    .await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::SDK_EXERCISE, &[], &[]).await;
    out.assert_success();

    assert_value(&out, "address", &origin(&sc));
    assert_value(&out, "health", "ok");
    assert_value(&out, "wait", "ok");
    // Metadata.
    assert_value(&out, "metadata.id", "target");
    assert_value(
        &out,
        "metadata.components",
        "binding,configstore,lockstore,pubsub,secretstore,statestore",
    );
    assert_value(&out, "metadata.extended.exercise", "yes");
    // State: the stored JSON text, ETags, conflicts, bulk, transaction, delete.
    assert_value(&out, "state.get", r#""Death Star""#);
    assert_value(&out, "state.etag_present", "true");
    assert_value(
        &out,
        "state.stale_save",
        "etag-mismatch:dapr:409:ERR_STATE_SAVE",
    );
    assert_value(
        &out,
        "state.stale_delete",
        "etag-mismatch:dapr:409:ERR_STATE_DELETE",
    );
    assert_value(
        &out,
        "state.bulk",
        r#"exercise-a:{"n":1},exercise-b:2,exercise-none:(none)"#,
    );
    assert_value(&out, "state.transaction", r#"c:"c",a:(none)"#);
    assert_value(&out, "state.after_delete", "(none)");
    assert_value(&out, "state_json.equal", "true");
    assert_value(&out, "state_json.after_delete", "true");
    assert_value(
        &out,
        "state_errors.unknown_store",
        "dapr:400:ERR_STATE_STORE_NOT_FOUND",
    );
    assert_value(
        &out,
        "state_errors.bad_key",
        "dapr:400:ERR_MALFORMED_REQUEST",
    );
    assert_value(
        &out,
        "state_errors.empty_store",
        "error:invalid argument: state store name must not be empty",
    );
    assert_value(&out, "query.keys", "exercise-q1");
    // Pub/sub.
    assert_value(&out, "publish", "ok");
    assert_value(
        &out,
        "publish.unknown_pubsub",
        "dapr:404:ERR_PUBSUB_NOT_FOUND",
    );
    assert_value(&out, "bulk_publish", "ok");
    assert_value(
        &out,
        "bulk_publish.mismatch",
        "dapr:400:ERR_PUBSUB_EVENTS_SER",
    );
    assert_value(
        &out,
        "bulk_publish.unknown_pubsub",
        "dapr:404:ERR_PUBSUB_NOT_FOUND",
    );
    assert_value(
        &out,
        "bulk_publish.repeated",
        r#"error:invalid argument: bulk publish entry id "5" is repeated"#,
    );
    // Invocation: verb, path, query, headers and body reach the app unchanged.
    assert_value(&out, "invoke.status", "200");
    assert_value(
        &out,
        "invoke.body",
        "POST /echo?q=a%20b x-exercise=1 body=ping",
    );
    assert_value(&out, "invoke.unknown_app", "dapr:500:ERR_DIRECT_INVOKE");
    // Bindings, secrets, configuration, lock.
    assert_value(&out, "binding.get", "hello binding");
    assert!(
        out.value("binding.unknown")
            .is_some_and(|v| v.starts_with("dapr:500:ERR_INVOKE_OUTPUT_BINDING")),
        "{out}"
    );
    assert_value(&out, "secret.get", r#"{"secret":"s3cret"}"#);
    assert_value(&out, "secret.bulk_names", "other,secret");
    assert_value(
        &out,
        "secret.unknown_store",
        "dapr:401:ERR_SECRET_STORE_NOT_FOUND",
    );
    assert_value(&out, "configuration.value", "blue");
    assert_value(&out, "lock.first", "true");
    assert_value(&out, "lock.second", "false");
    assert_value(&out, "lock.unlock_foreign", "LockBelongsToOthers");
    assert_value(&out, "lock.unlock_own", "Success");
    assert_value(&out, "lock.unlock_missing", "LockDoesNotExist");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_down_is_a_connection_error_value() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let allow = allowlist(&[format!("http://127.0.0.1:{port}")], "");
    let out = Guest::new(guests::SDK_EXERCISE)
        .allowlist(&allow)
        .args(&["health", "wait"])
        .envs(&[("DAPR_HTTP_PORT", &port.to_string())])
        .run()
        .await;
    out.assert_success();
    assert_value(&out, "health", "http:11");
    assert_value(&out, "wait", "not-ready:http:11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_not_in_the_allowlist_is_denied() {
    let sc = sidecar(|_| {}).await;
    let allow = allowlist(&["http://127.0.0.1:1".to_string()], "");
    let out = run_against(&sc, &allow, guests::SDK_EXERCISE, &[], &["health", "wait"]).await;
    out.assert_success();
    assert_value(&out, "health", "http:7");
    assert_value(&out, "wait", "http:7");
    // The allow twin.
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::SDK_EXERCISE, &[], &["health"]).await;
    assert_value(&out, "health", "ok");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_from_the_host_and_without_it() {
    let sc = sidecar(|o| o.api_token = Some("tok3n".into())).await;
    let allow = allow_sidecar(&sc);
    let port = sc.local_addr().port().to_string();
    let with_token = Guest::new(guests::SDK_EXERCISE)
        .allowlist(&allow)
        .args(&["state_json"])
        .envs(&[("DAPR_HTTP_PORT", &port), ("DAPR_API_TOKEN", "tok3n")])
        .run()
        .await;
    assert_value(&with_token, "state_json.equal", "true");
    let without = Guest::new(guests::SDK_EXERCISE)
        .allowlist(&allow)
        .args(&["state_json"])
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    assert_value(&without, "state_json", "unauthorized:invalid api token");
    sc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_client_allowed_and_denied() {
    let upstream = MockServer::hello().await;
    let allow = allowlist(&[upstream.origin()], "");
    let url = upstream.url("/greeting");
    let env = format!("HTTP_URL={url}");
    let out = Guest::new(guests::SDK_EXERCISE)
        .allowlist(&allow)
        .options(&["--env", &env])
        .args(&["http"])
        .run()
        .await;
    out.assert_success();
    assert_value(&out, "http.status", "200");
    assert_value(&out, "http.content_type", "text/plain");
    assert_value(&out, "http.body", "hello");
    let sent = upstream.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].uri.path(), "/greeting");
    assert_eq!(
        sent[0]
            .headers
            .get("x-exercise")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );

    // The deny twin: the same URL without an allowlist entry never leaves the host.
    let deny = allowlist(&["http://127.0.0.1:1".to_string()], "");
    let out = Guest::new(guests::SDK_EXERCISE)
        .allowlist(&deny)
        .options(&["--env", &env])
        .args(&["http"])
        .run()
        .await;
    out.assert_success();
    assert_value(&out, "http", "http:7");
    assert_eq!(upstream.requests().len(), 1);
}

/// Jobs through the SDK: schedule with every field, read back (the `data` wrapper
/// unwrapped, the stored failure policy), the 409 without `overwrite`, the default
/// policy, delete, and a missing job read as `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_through_the_client() {
    let sc = sidecar(|_| {}).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::SDK_EXERCISE, &[], &["jobs"]).await;
    out.assert_success();
    for (key, expected) in [
        ("jobs.schedule", "ok"),
        ("jobs.get.name", "exercise-job"),
        ("jobs.get.schedule", "@every 1h"),
        ("jobs.get.repeats", "2"),
        ("jobs.get.data", r#"{"task":"exercise"}"#),
        ("jobs.get.failure_policy", "constant:2s:4"),
        ("jobs.duplicate", "dapr:409:DAPR_SCHEDULER_SCHEDULE_JOB"),
        ("jobs.overwrite", "ok"),
        ("jobs.empty", "dapr:400:DAPR_SCHEDULER_SCHEDULE_EMPTY"),
        ("jobs.default.failure_policy", "constant:1s:3"),
        ("jobs.default.data", r#""later""#),
        ("jobs.after_delete", "(none)"),
        ("jobs.delete_missing", "ok"),
    ] {
        assert_value(&out, key, expected);
    }
    assert_eq!(out.value("jobs"), None, "no call failed:\n{out}");
    sc.shutdown().await;
}

/// Conversation through the SDK against the sidecar's `conversation.echo`: the echoed
/// text, one tool call per request tool, usage counted in words (sent as JSON
/// strings), the context id; unknown component and missing inputs as Dapr errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_through_the_client() {
    let dir = resources(&[(
        "echo.yaml",
        "kind: Component\nmetadata: {name: echo}\nspec: {type: conversation.echo, version: v1}\n",
    )]);
    let sc = sidecar(|o| o.resources_path = Some(dir.path().to_path_buf())).await;
    let allow = allow_sidecar(&sc);
    let out = run_against(&sc, &allow, guests::SDK_EXERCISE, &[], &["conversation"]).await;
    out.assert_success();
    for (key, expected) in [
        ("conversation.context_id", "ctx-1"),
        ("conversation.outputs", "1"),
        ("conversation.text", r#""be brief\nhello wasm world""#),
        ("conversation.finish_reason", "tool_calls"),
        ("conversation.tool_calls", "0:get_weather:city,unit"),
        ("conversation.usage", "5/5/10"),
        (
            "conversation.unknown",
            "dapr:400:ERR_CONVERSATION_NOT_FOUND",
        ),
        (
            "conversation.no_inputs",
            "dapr:400:ERR_CONVERSATION_MISSING_INPUTS",
        ),
    ] {
        assert_value(&out, key, expected);
    }
    assert_eq!(out.value("conversation"), None, "no call failed:\n{out}");
    sc.shutdown().await;
}
