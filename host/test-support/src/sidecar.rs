//! Starting an in-process `wasi-dapr-sidecar` on a free port, with fast retries.

use std::time::Duration;

use wasi_dapr_sidecar::{Sidecar, SidecarOptions, SidecarTuning};

/// Test tuning: short retry and subscribe schedules, a 5 s app timeout.
pub fn fast_tuning() -> SidecarTuning {
    SidecarTuning {
        max_delivery_attempts: 3,
        retry_initial_backoff: Duration::from_millis(20),
        retry_max_backoff: Duration::from_millis(50),
        subscribe_initial_backoff: Duration::from_millis(20),
        subscribe_max_backoff: Duration::from_millis(100),
        app_timeout: Duration::from_secs(5),
        ..SidecarTuning::default()
    }
}

/// Starts a sidecar on an ephemeral port of 127.0.0.1 with [`fast_tuning`]; `f` adjusts
/// the options first.
pub async fn sidecar(f: impl FnOnce(&mut SidecarOptions)) -> Sidecar {
    let mut opts = SidecarOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SidecarOptions::default()
    };
    f(&mut opts);
    Sidecar::start_with(opts, fast_tuning())
        .await
        .unwrap_or_else(|e| panic!("sidecar start: {e:#}"))
}
