//! The host's integration tests, in one test binary.

mod abi;
mod app_rust;
mod outbound_http;
mod run_cli;
mod serve;
mod sdk_as;
mod sdk_rust;
mod sidecar_state;
mod sidecar_util;
mod util;
mod sidecar_pubsub;
mod sidecar_api;
