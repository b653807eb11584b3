#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod app;
pub mod dapr;
pub mod http;
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
mod raw;

/// What the [`app::export!`] macro expands to refers to; not public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    pub use crate::app::wasi_http::serve;
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    pub use wasip2;
}
