//! Guests built for older hosts run unchanged: a module whose work is all in its wasm
//! start function (no `_start`), and `fd_write` calls with several buffers that ignore the
//! count written (as-wasi 0.4's `Console.log`).

use crate::support::{Guest, Output};

/// Runs `wat` as a module file with `wasi-dapr run`.
async fn run_wat(wat: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.wat");
    std::fs::write(&path, wat).expect("write");
    Guest::new(path.to_str().expect("utf8")).run().await
}

/// A module that writes "hello" and "\n" (two buffers of one `fd_write`) to stdout twice,
/// from `entry`, then calls `after`.
fn two_buffer_writer(entry: &str, after: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; iovecs at 0: "hello" at 100, "\n" at 110
  (data (i32.const 0) "\64\00\00\00\05\00\00\00\6e\00\00\00\01\00\00\00")
  (data (i32.const 100) "hello")
  (data (i32.const 110) "\n")
  (func $main
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 200)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 200)))
    {after})
  {entry})"#
    )
}

#[tokio::test]
async fn fd_write_with_two_buffers_writes_both() {
    let out = run_wat(&two_buffer_writer(r#"(export "_start" (func $main))"#, "")).await;
    out.assert_success();
    assert_eq!(out.stdout, "hello\nhello\n", "{out}");
}

#[tokio::test]
async fn fd_write_reports_the_total_written() {
    // The count written (at 200) becomes the exit code: both buffers, 6 bytes.
    let wat = two_buffer_writer(
        r#"(export "_start" (func $main))"#,
        "(call $proc_exit (i32.load (i32.const 200)))",
    );
    let out = run_wat(&wat).await;
    assert_eq!(out.code, Some(6), "{out}");
}

#[tokio::test]
async fn fd_write_with_a_bad_pointer_is_a_fault_not_a_crash() {
    // The second buffer points past the end of memory: errno 21 (fault), nothing written.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\64\00\00\00\05\00\00\00\f0\ff\00\00\00\01\00\00")
  (data (i32.const 100) "hello")
  (func (export "_start")
    (call $proc_exit (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 200)))))"#;
    let out = run_wat(wat).await;
    assert_eq!(out.code, Some(21), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    // The iovec array itself out of bounds, and a count that overflows.
    let wat = wat.replace(
        "(i32.const 0) (i32.const 2)",
        "(i32.const 65530) (i32.const 2)",
    );
    assert_eq!(run_wat(&wat).await.code, Some(21));
    let wat = wat.replace(
        "(i32.const 65530) (i32.const 2)",
        "(i32.const 0) (i32.const 0x7fffffff)",
    );
    let out = run_wat(&wat).await;
    assert!(matches!(out.code, Some(21 | 28)), "{out}");
}

#[tokio::test]
async fn fd_write_to_a_closed_descriptor_is_badf() {
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\64\00\00\00\05\00\00\00")
  (func (export "_start")
    (call $proc_exit (call $fd_write (i32.const 99) (i32.const 0) (i32.const 1) (i32.const 200)))))"#;
    assert_eq!(run_wat(wat).await.code, Some(8));
}

#[tokio::test]
async fn start_function_without_start_export_runs_and_exits_0() {
    let out = run_wat(&two_buffer_writer("(start $main)", "")).await;
    out.assert_success();
    assert_eq!(out.stdout, "hello\nhello\n", "{out}");
}

#[tokio::test]
async fn proc_exit_in_the_start_function_is_the_exit_code() {
    let wat = two_buffer_writer("(start $main)", "(call $proc_exit (i32.const 7))");
    let out = run_wat(&wat).await;
    assert_eq!(out.code, Some(7), "{out}");
    assert_eq!(out.stdout, "hello\nhello\n", "{out}");
}

#[tokio::test]
async fn trap_in_the_start_function_is_a_trap() {
    let out = run_wat(&two_buffer_writer("(start $main)", "unreachable")).await;
    assert_eq!(out.code, Some(134), "{out}");
    assert!(out.stderr.contains("trapped"), "{out}");
    assert_eq!(out.stdout, "hello\nhello\n", "{out}");
}

#[tokio::test]
async fn missing_import_with_a_start_function_is_a_link_error() {
    let wat = r#"(module
  (import "nowhere" "f" (func $f))
  (func $main (call $f))
  (start $main))"#;
    let out = run_wat(wat).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("instantiating"), "{out}");
}

#[tokio::test]
async fn neither_start_function_nor_start_export_is_not_a_command() {
    let out = run_wat(r#"(module (func (export "f")))"#).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("no `_start` export and no wasm start function"),
        "{out}"
    );
}

/// The old-style AssemblyScript guest (`host/fixtures/old-as`: assemblyscript 0.18,
/// as-wasi 0.4.4, top-level code only) saves, bulk-saves and reads state through the
/// embedded sidecar, and every `Console.log` line arrives on its own line.
#[tokio::test]
async fn old_assemblyscript_guest_runs_unchanged() {
    let port = crate::serve::free_port().to_string();
    let out = Guest::new(crate::support::guests::guest("old_as"))
        .options(&["--dev"])
        .envs(&[("DAPR_HTTP_PORT", &port)])
        .run()
        .await;
    out.assert_success();
    assert_eq!(
        out.stdout, "save: 204\nbulk save: 204\nget: 200\nmoon = phobos\n",
        "{out}"
    );
}

#[tokio::test]
async fn fd_write_of_a_buffer_larger_than_one_host_chunk_writes_it_all() {
    // 150 000 bytes in one buffer: the host hands it on in 64 KiB pieces, all of them.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 4)
  (data (i32.const 0) "\00\01\00\00\f0\49\02\00")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (call $proc_exit (i32.ne (i32.load (i32.const 16)) (i32.const 150000)))))"#;
    let out = run_wat(wat).await;
    assert_eq!(out.code, Some(0), "the count written is not 150000");
    assert_eq!(out.stdout.len(), 150_000);
}
