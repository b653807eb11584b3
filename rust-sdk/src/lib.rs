#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod app;
pub mod dapr;
pub mod http;
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
mod raw;
