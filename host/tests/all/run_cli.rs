//! `wasi-dapr run` as a user meets it: exit codes, traps, deadlines, arguments,
//! environment, directories, and clear errors for bad input.

use crate::support::{Guest, allowlist, guests, output, wasi_dapr};

#[tokio::test]
async fn exit_code_args_and_env_pass_through() {
    let out = Guest::new(guests::ENV_DUMP)
        .options(&["--env", "GREETING=hi there"])
        .args(&["one", "two words", "--exit", "7"])
        .run()
        .await;
    assert_eq!(out.code, Some(7), "{out}");
    assert!(out.stdout.contains("arg=one\narg=two words\n"), "{out}");
    assert!(out.stdout.contains("env GREETING=hi there"), "{out}");
    assert!(out.stdout.contains("env DAPR_HTTP_PORT=3500"), "{out}");
    assert!(
        out.stdout
            .contains("env DAPR_HTTP_ENDPOINT=http://127.0.0.1:3500"),
        "{out}"
    );
}

#[tokio::test]
async fn host_environment_is_not_leaked_to_the_guest() {
    let out = Guest::new(guests::ENV_DUMP)
        .envs(&[("HOST_ONLY_SECRET", "x"), ("DAPR_API_TOKEN", "tok")])
        .run()
        .await;
    out.assert_success();
    assert!(!out.stdout.contains("HOST_ONLY_SECRET"), "{out}");
    assert!(!out.stdout.contains("DAPR_API_TOKEN"), "{out}");
}

#[tokio::test]
async fn dapr_port_from_the_host_is_handed_to_the_guest() {
    let out = Guest::new(guests::ENV_DUMP)
        .envs(&[("DAPR_HTTP_PORT", "3999")])
        .run()
        .await;
    assert!(out.stdout.contains("env DAPR_HTTP_PORT=3999"), "{out}");
    assert!(
        out.stdout
            .contains("env DAPR_HTTP_ENDPOINT=http://127.0.0.1:3999"),
        "{out}"
    );
    let out = Guest::new(guests::ENV_DUMP)
        .envs(&[("DAPR_HTTP_PORT", "not-a-port")])
        .run()
        .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("DAPR_HTTP_PORT"), "{out}");
}

#[tokio::test]
async fn preopened_directory_is_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hello.txt"), "x").expect("write");
    let spec = format!("{}::/data", dir.path().display());
    let out = Guest::new(guests::ENV_DUMP)
        .options(&["--dir", &spec])
        .run()
        .await;
    out.assert_success();
    assert!(out.stdout.contains("file hello.txt"), "{out}");
}

#[tokio::test]
async fn trap_prints_a_wasm_backtrace_and_fails() {
    let out = Guest::new(guests::TRAP).args(&["panic"]).run().await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("trapped"), "{out}");
    assert!(out.stderr.contains("wasm backtrace"), "{out}");
    assert!(
        out.stderr.contains("deep"),
        "the backtrace names guest functions\n{out}"
    );
}

#[tokio::test]
async fn timeout_stops_an_endless_guest() {
    let started = std::time::Instant::now();
    let out = Guest::new(guests::TRAP)
        .options(&["--timeout", "300ms"])
        .args(&["loop"])
        .run()
        .await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("--timeout"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn memory_cap_stops_a_memory_bomb() {
    let out = Guest::new(guests::TRAP)
        .options(&["--max-memory-mib", "64"])
        .args(&["oom"])
        .run()
        .await;
    assert_ne!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains("trapped") || out.stderr.contains("memory"),
        "{out}"
    );
}

/// A `wasi:cli/command` component gets the same treatment: a trap prints its wasm
/// backtrace and exits 134, `--timeout` stops a spinning one, `--max-memory-mib` a
/// memory bomb, and its environment and arguments arrive as for a module.
#[tokio::test]
async fn a_component_traps_times_out_and_is_memory_capped_like_a_module() {
    let out = Guest::new(guests::COMPONENT_HTTP_FETCH_P2)
        .args(&["--trap"])
        .run()
        .await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("wasm backtrace"), "{out}");
    assert!(
        out.stderr.contains("http_fetch_p2"),
        "the backtrace names the guest\n{out}"
    );

    let started = std::time::Instant::now();
    let out = Guest::new(guests::COMPONENT_HTTP_FETCH_P2)
        .options(&["--timeout", "300ms"])
        .args(&["--loop"])
        .run()
        .await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("--timeout"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let out = Guest::new(guests::COMPONENT_HTTP_FETCH_P2)
        .options(&["--max-memory-mib", "64"])
        .args(&["--oom"])
        .run()
        .await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("memory allocation"), "{out}");
}

#[tokio::test]
async fn missing_module_is_a_clear_error() {
    let out = Guest::new("/nonexistent/app.wasm").run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("/nonexistent/app.wasm"), "{out}");
}

#[tokio::test]
async fn non_wasm_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.wasm");
    std::fs::write(&path, "definitely not wasm").expect("write");
    let out = Guest::new(path.to_str().expect("utf8")).run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("compiling module"), "{out}");
}

#[tokio::test]
async fn module_without_start_is_not_a_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lib.wat");
    std::fs::write(&path, "(module (func (export \"f\")))").expect("write");
    let out = Guest::new(path.to_str().expect("utf8")).run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("not a WASI command"), "{out}");
}

#[tokio::test]
async fn bad_allowlist_names_the_file_and_entry() {
    let allow = allowlist(&["http://example.com/path".into()], "");
    let out = Guest::new(guests::ENV_DUMP).allowlist(&allow).run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("allowlist.toml"), "{out}");
    assert!(out.stderr.contains("http://example.com/path"), "{out}");
}

#[tokio::test]
async fn unknown_allowlist_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("allowlist.toml");
    std::fs::write(&path, "allowed_host = []\n").expect("write");
    let mut cmd = wasi_dapr();
    cmd.arg("run")
        .arg("--allowlist")
        .arg(&path)
        .arg(guests::ENV_DUMP);
    let out = output(cmd).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("allowed_host"), "{out}");
}

#[tokio::test]
async fn second_start_uses_the_compiled_module_cache() {
    let cache = tempfile::tempdir().expect("tempdir");
    for _ in 0..2 {
        let mut cmd = wasi_dapr();
        cmd.arg("run")
            .arg("--cache-dir")
            .arg(cache.path())
            .arg(guests::ENV_DUMP);
        output(cmd).await.assert_success();
    }
    let mut files = 0;
    let mut stack = vec![cache.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).expect("read cache").flatten() {
            if e.path().is_dir() {
                stack.push(e.path())
            } else {
                files += 1
            }
        }
    }
    assert!(files >= 1, "the compiled module is cached on disk");
}

/// `run --dev` with nothing on the sidecar port starts the embedded sidecar there, lets
/// the guest reach it even without an allowlist entry, and stops it afterwards.
#[tokio::test]
async fn run_dev_starts_the_embedded_sidecar_when_none_answers() {
    let port = crate::serve::free_port().to_string();
    let out = Guest::new(guests::STATE_RUST)
        .options(&["--dev"])
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    out.assert_success();
    assert!(out.stderr.contains("started the embedded sidecar"), "{out}");
    assert!(out.stdout.contains("state-rust: done"), "{out}");
    // Gone with the process: nothing listens on the port any more.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("port"))).is_err()
    );
}

/// `run --dev` uses a sidecar that already answers, and starts none.
#[tokio::test]
async fn run_dev_uses_a_running_sidecar() {
    let sidecar = crate::support::MockServer::hello().await;
    let port = sidecar.addr.port().to_string();
    let url = sidecar.url("/v1.0/healthz");
    let out = Guest::new(guests::HTTP_FETCH)
        .options(&["--dev"])
        .args(&[&url])
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    out.assert_success();
    assert!(
        out.stderr.contains("using the Dapr sidecar that answers"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("started the embedded sidecar"),
        "{out}"
    );
    assert_eq!(
        sidecar.requests().len(),
        1,
        "the guest's call reached the running sidecar"
    );
}

/// Without `--dev` nothing is started and a guest calling the sidecar gets a connection
/// error value.
#[tokio::test]
async fn without_dev_no_sidecar_is_started() {
    let port = crate::serve::free_port();
    let allow = allowlist(&[format!("http://127.0.0.1:{port}")], "");
    let url = format!("http://127.0.0.1:{port}/v1.0/healthz");
    let out = Guest::new(guests::HTTP_FETCH)
        .allowlist(&allow)
        .args(&[&url])
        .envs(&[("DAPR_HTTP_PORT", &port.to_string())])
        .run()
        .await;
    assert_eq!(out.value("error"), Some("11"), "{out}");
}

/// `serve --dev` starts the embedded sidecar with the served port as its app port, so
/// invocation through the sidecar reaches the wasm app.
#[tokio::test]
async fn serve_dev_wires_the_embedded_sidecar_to_the_app() {
    let port = crate::serve::free_port();
    let served = crate::serve::Served::start(
        guests::INVOKE_RUST_CALLEE,
        &["--dev", "--app-id", "callee"],
        &[("DAPR_HTTP_PORT", &port.to_string())],
        None,
    )
    .await;
    let url = format!("http://127.0.0.1:{port}/v1.0/invoke/callee/method/hello");
    crate::serve::wait_until_up(&format!("http://127.0.0.1:{port}/v1.0/healthz/outbound")).await;
    let res = crate::support::http_client()
        .get(&url)
        .send()
        .await
        .expect("invoke through the sidecar");
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.expect("body").contains("hello"),
        "the callee answered"
    );
    drop(served);
}
