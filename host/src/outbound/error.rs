//! What the send path can fail with. Each guest ABI maps these to its own error codes
//! (`wasi_experimental_http`: 7 for a denial or a blocked address, 11 for a failed
//! request, 12 for the host).

/// Why a request was not sent, or its answer not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The allowlist does not allow the destination (of the first hop or a redirect).
    #[error("destination not allowed")]
    Denied,
    /// The destination is allowed, but the connect policy (`[connect]`) refuses every
    /// address it resolved to (or the wildcard-allowed IP literal itself): a denial, the
    /// same to a guest as [`SendError::Denied`].
    #[error("connection to {host} refused: it resolves to {addresses}, blocked by {settings}")]
    BlockedAddress {
        /// The host as the URL names it.
        host: String,
        /// Each refused address with its kind, e.g. `127.0.0.1 (loopback)`.
        addresses: String,
        /// The setting(s) that refuse them.
        settings: String,
    },
    /// The request body is larger than `max_request_body_bytes`.
    #[error("request body exceeds max_request_body_bytes")]
    RequestBodyTooLarge,
    /// No answer before the request's deadline (`request_timeout`).
    #[error("timed out")]
    Timeout,
    /// The connection or the HTTP exchange failed.
    #[error("{0}")]
    Failed(String),
    /// The answer's header block is larger than `max_response_headers_bytes`.
    #[error("response headers exceed max_response_headers_bytes")]
    ResponseHeadersTooLarge,
    /// The answer's body is (or declares itself) larger than `max_response_body_bytes`.
    #[error("response body exceeds max_response_body_bytes")]
    ResponseBodyTooLarge,
    /// The deadline passed while the body was read.
    #[error("timed out reading the response body")]
    BodyTimeout,
    /// The body broke off.
    #[error("reading the response body: {0}")]
    BodyFailed(String),
    /// The URL (of the first hop or a redirect) cannot be sent: it carries userinfo
    /// (`user:password@`, which HTTP senders must not send and which hides the real host
    /// from a reader), or it is longer than the host's URL cap. Refused before the
    /// allowlist, so no connection is made; the reason never contains the userinfo.
    #[error("invalid URL: {0}")]
    InvalidUrl(&'static str),
    /// `DAPR_API_TOKEN` cannot be sent as a header value.
    #[error("DAPR_API_TOKEN is not a valid header value")]
    InvalidToken,
}
