#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod app;
pub mod dapr;
pub mod http;
mod raw;
