//! `wasi-dapr compile` and loading its `.cwasm`: the same behaviour as the `.wasm` in
//! `run` and `serve`, and a clear refusal of a damaged file, of one made by another
//! engine configuration and of input that is not wasm.

use std::path::{Path, PathBuf};

use crate::serve::Served;
use crate::support::{Guest, Output, guests, http_client, output, wasi_dapr};

/// Runs `wasi-dapr compile MODULE -o DIR/NAME.cwasm` and returns the output path.
async fn compile(module: &str, dir: &Path) -> (PathBuf, Output) {
    let name = Path::new(module).file_stem().expect("file name");
    let out_path = dir.join(name).with_extension("cwasm");
    let mut cmd = wasi_dapr();
    cmd.arg("compile").arg(module).arg("-o").arg(&out_path);
    (out_path, output(cmd).await)
}

async fn compiled(module: &str, dir: &Path) -> String {
    let (path, out) = compile(module, dir).await;
    out.assert_success();
    path.to_str().expect("utf-8 path").to_string()
}

/// What the user compares: exit code and both streams, minus the log lines (their
/// timestamps differ from run to run).
fn visible(out: &Output) -> (Option<i32>, String, Vec<String>) {
    let errors = out
        .stderr
        .lines()
        .filter(|l| !l.contains(" INFO ") && !l.contains(" WARN ") && !l.contains(" DEBUG "))
        .map(str::to_string)
        .collect();
    (out.code, out.stdout.clone(), errors)
}

#[tokio::test]
async fn a_compiled_module_runs_like_the_wasm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwasm = compiled(guests::ENV_DUMP, dir.path()).await;
    let run = |module| {
        Guest::new(module)
            .options(&["--env", "GREETING=hi"])
            .args(&["one", "--exit", "3"])
            .run()
    };
    let wasm = run(guests::ENV_DUMP).await;
    let pre = run(&cwasm).await;
    assert_eq!(wasm.code, Some(3), "{wasm}");
    assert!(pre.stdout.contains("env GREETING=hi"), "{pre}");
    assert_eq!(
        visible(&wasm),
        visible(&pre),
        "wasm:\n{wasm}\ncwasm:\n{pre}"
    );
}

#[tokio::test]
async fn a_compiled_component_runs_like_the_wasm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwasm = compiled(guests::COMPONENT_HTTP_FETCH_P2, dir.path()).await;
    // Denied by the deny-all default: the same message and exit code either way.
    let run = |module| Guest::new(module).args(&["http://127.0.0.1:9/x"]).run();
    let wasm = run(guests::COMPONENT_HTTP_FETCH_P2).await;
    let pre = run(&cwasm).await;
    assert_eq!(
        visible(&wasm),
        visible(&pre),
        "wasm:\n{wasm}\ncwasm:\n{pre}"
    );
    // A trap's backtrace still names the guest's functions.
    let out = Guest::new(&cwasm).args(&["--trap"]).run().await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("http_fetch_p2"), "{out}");
}

#[tokio::test]
async fn serve_answers_from_a_compiled_module_and_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    for module in [
        guests::CGI,
        guests::COMPONENT_HTTP_PROXY,
        guests::COMPONENT_HTTP_SERVICE,
    ] {
        let cwasm = compiled(module, dir.path()).await;
        let s = Served::start(&cwasm, &[], &[], None).await;
        let res = http_client()
            .get(s.url("/hello"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{module}");
        assert_eq!(res.text().await.expect("body"), "hello", "{module}");
    }
}

#[tokio::test]
async fn the_engine_follows_the_guest_and_its_cwasm() {
    // Concurrency (the async ABI) for the WASI 0.3 fixtures only, in the `.cwasm` too.
    let dir = tempfile::tempdir().expect("tempdir");
    for (guest, needs) in [
        (guests::CGI, false),
        (guests::COMPONENT_HTTP_PROXY, false),
        (guests::COMPONENT_HTTP_FETCH_P2, false),
        (guests::COMPONENT_HTTP_SERVICE, true),
        (guests::COMPONENT_HTTP_FETCH_P3, true),
    ] {
        let bytes = std::fs::read(guest).expect("read");
        assert_eq!(
            wasi_dapr::runtime::needs_concurrency(&bytes),
            needs,
            "{guest}"
        );
        let cwasm = std::fs::read(compiled(guest, dir.path()).await).expect("read");
        assert_eq!(
            wasi_dapr::runtime::needs_concurrency(&cwasm),
            needs,
            "{guest}"
        );
    }
}

/// Runs `module` and expects a refusal naming `expected`, with no crash.
async fn refused(module: &Path, expected: &str) {
    let out = Guest::new(module.to_str().expect("utf-8 path")).run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains(expected), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[tokio::test]
async fn damaged_and_foreign_artifacts_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwasm = compiled(guests::ENV_DUMP, dir.path()).await;
    let bytes = std::fs::read(&cwasm).expect("read");
    let recompile = "recompile it with `wasi-dapr compile`";

    let truncated = dir.path().join("truncated.cwasm");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    refused(&truncated, recompile).await;
    refused(&truncated, "truncated or damaged").await;

    let header_only = dir.path().join("header.cwasm");
    std::fs::write(&header_only, &bytes[..30]).expect("write");
    refused(&header_only, "truncated or damaged").await;

    // A byte flipped in the middle of the code.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let flipped_path = dir.path().join("flipped.cwasm");
    std::fs::write(&flipped_path, &flipped).expect("write");
    refused(&flipped_path, "truncated or damaged").await;

    // A wasi-dapr header over wasmtime's artifact of another engine configuration (no
    // epoch interruption): wasmtime's own check refuses it, and its reason is shown.
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(false);
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let artifact = engine
        .precompile_module(&std::fs::read(guests::ENV_DUMP).expect("read"))
        .expect("precompile");
    let header = wasi_dapr::precompiled::Header {
        kind: wasi_dapr::precompiled::Kind::Module,
        has_start: false,
        // wasmtime's default, as the engine above has.
        concurrency: true,
    };
    let other = dir.path().join("other-config.cwasm");
    std::fs::write(&other, wasi_dapr::precompiled::encode(header, &artifact)).expect("write");
    refused(
        &other,
        "was compiled by a different wasi-dapr/wasmtime version or configuration",
    )
    .await;
    refused(&other, "epoch").await;

    // wasmtime's artifact alone (as `wasmtime compile` writes it) is not loaded.
    let foreign = dir.path().join("foreign.cwasm");
    std::fs::write(&foreign, &artifact).expect("write");
    refused(&foreign, "not written by `wasi-dapr compile`").await;

    // serve refuses the same way, before listening.
    let mut cmd = wasi_dapr();
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg(&truncated);
    let out = output(cmd).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains(recompile), "{out}");
}

#[tokio::test]
async fn compiling_what_is_not_wasm_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, not wasm").expect("write");
    let (path, out) = compile(text.to_str().expect("utf-8"), dir.path()).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("is not a WebAssembly module or component"),
        "{out}"
    );
    assert!(!path.exists());

    let cwasm = compiled(guests::ENV_DUMP, dir.path()).await;
    let mut cmd = wasi_dapr();
    cmd.arg("compile")
        .arg(&cwasm)
        .arg("-o")
        .arg(dir.path().join("again.cwasm"));
    let out = output(cmd).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("already precompiled"), "{out}");

    let mut cmd = wasi_dapr();
    cmd.arg("compile").arg(dir.path().join("missing.wasm"));
    let out = output(cmd).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("missing.wasm"), "{out}");
}
