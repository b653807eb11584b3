//! The host's integration tests, in one test binary.

mod abi;
mod actors;
mod app_rust;
mod compile;
mod connect_policy;
mod metrics;
mod observability_logs;
mod old_guests;
mod outbound_http;
mod outbound_table;
mod pod;
mod run_cli;
mod sdk_as;
mod sdk_rust;
mod serve;
mod serve_component;
mod support;
mod tls;
mod trace_context;
