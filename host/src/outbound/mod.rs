//! The one outbound send path. Every guest ABI (today the legacy `wasi_experimental_http`
//! import in [`crate::outbound_http`]) turns a guest's call into an [`OutboundRequest`]
//! and hands it to [`OutboundHttp::send`], which owns the whole policy:
//!
//! | file | what it decides |
//! |---|---|
//! | `send.rs` | the shared client, the per-request deadline, the request-body, response-header and response-body caps, the streamed [`ResponseBody`] |
//! | `allow.rs` | the allowlist check of every hop and the denial log line naming the entry that would allow it; the connect-policy check of IP-literal hops and the blocked-address log line |
//! | `address.rs` | the connect policy ([`ConnectPolicy`], `[connect]`): which resolved addresses a name or a wildcard entry may reach |
//! | `resolve.rs` | the client's resolver: looks names up and drops the addresses the connect policy refuses, before any connection |
//! | `token.rs` | `dapr-api-token` added for the sidecar origin only |
//! | `trace.rs` | the served request's `traceparent` / `tracestate` added for the sidecar origin only |
//! | `redirect.rs` | whether and where a redirect is followed, and what the next hop keeps |
//! | `error.rs` | [`SendError`]: what can go wrong, for each ABI to map to its own codes |
//!
//! The ABI files only translate: guest memory and encodings in, [`SendError`] out.

mod address;
mod allow;
mod error;
mod redirect;
mod resolve;
mod send;
mod token;
mod trace;

pub use address::{BlockReason, ConnectPolicy};
pub use error::SendError;
pub use resolve::NameLookup;
pub use send::{MAX_URL_BYTES, OutboundHttp, OutboundRequest, OutboundResponse, ResponseBody};
pub use trace::{MAX_TRACESTATE_LEN, TraceContext};

/// Request headers a guest may not set (every ABI drops them): the host derives them from the URL and body, and letting
/// a guest choose `Host` would let it reach a virtual host the allowlist did not name.
pub const HOST_CONTROLLED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// A URL as it may appear in a log: no userinfo, no query, no fragment.
pub fn loggable(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggable_urls_hide_credentials_and_queries() {
        let u = url::Url::parse("http://user:pw@example.com/path?token=abc#f").expect("url");
        assert_eq!(loggable(&u), "http://example.com/path");
    }
}
