#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod allowlist;
pub mod component;
pub mod config;
pub mod dapr_env;
pub mod defaults;
pub mod dev;
pub mod fd_write;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod outbound_http;
pub mod precompiled;
pub mod run;
pub mod runtime;
pub mod serve;
pub mod wasi_http;
