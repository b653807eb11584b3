//! The host's integration tests, in one test binary.

mod abi;
mod outbound_http;
mod run_cli;
mod sidecar_state;
mod sidecar_util;
mod util;
