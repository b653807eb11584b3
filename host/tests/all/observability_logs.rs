//! `--log-format`: JSON lines for log pipelines, text by default; neither shows
//! `DAPR_API_TOKEN`.

use crate::support::{guests, wasi_dapr};

const TOKEN: &str = "tok-must-not-be-logged-7f3a";

async fn stderr_of(format: &str) -> String {
    let mut cmd = wasi_dapr();
    cmd.arg("--log-format")
        .arg(format)
        .arg("run")
        .arg(guests::ENV_DUMP)
        .env("DAPR_API_TOKEN", TOKEN)
        .env("RUST_LOG", "debug,wasmtime=info,cranelift=info");
    let out = cmd.output().await.expect("run wasi-dapr");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_level_and_message() {
    let stderr = stderr_of("json").await;
    assert!(!stderr.trim().is_empty(), "no log lines");
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stderr}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[tokio::test]
async fn text_logs_are_the_default_and_keep_the_token_out() {
    let stderr = stderr_of("text").await;
    assert!(!stderr.trim().is_empty(), "no log lines");
    assert!(!stderr.trim_start().starts_with('{'), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
}
