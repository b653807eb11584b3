//! The hostile-load suite: each test reproduces one attack from issue 13 against a real
//! `wasi-dapr` process on loopback, bounded in count and time, and asserts what must hold
//! — a normal request is still answered within its deadline, the process's peak memory
//! (`VmHWM` in `/proc/PID/status`) stays under a stated bound, nothing is written outside
//! `rootPath`, no token reaches an address but the sidecar's. Each test prints what it
//! measured (`hostile: ...` lines, shown with `--nocapture`).

mod outbound;
mod serve;
mod sidecar;
mod support;
