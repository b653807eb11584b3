//! Errors of the outbound HTTP client: one variant per `wasi_experimental_http` ABI code,
//! the `wasi:http` failures that have no such code, and local parse errors.

/// An error from the outbound HTTP client.
///
/// The first thirteen variants are the `wasm32-wasip1` host's ABI error codes 1 to 13, in
/// order; [`Error::code`] gives the number back. On `wasm32-wasip2` the `wasi:http` error
/// codes map onto the same variants where one fits (a denied destination is
/// [`Error::DestinationNotAllowed`] on both targets), and onto
/// [`Error::RequestFailed`] with a description otherwise. The remaining variants are
/// raised by the SDK itself while preparing a request or decoding a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ABI code 1: the host does not know the response handle.
    #[error("invalid response handle")]
    InvalidHandle,
    /// ABI code 2: the host could not find the module's exported memory.
    #[error("guest memory not found")]
    MemoryNotFound,
    /// ABI code 3: the host could not read or write guest memory.
    #[error("guest memory access failed")]
    MemoryAccess,
    /// ABI code 4: the buffer handed to the host was too small for the value.
    #[error("buffer too small")]
    BufferTooSmall,
    /// ABI code 5: the response has no header with that name.
    #[error("header not found")]
    HeaderNotFound,
    /// ABI code 6: a string passed to the host was not valid UTF-8.
    #[error("invalid UTF-8 passed to the host")]
    Utf8,
    /// ABI code 7: the host's allowlist does not allow this destination.
    #[error("destination not allowed by the host's allowlist")]
    DestinationNotAllowed,
    /// ABI code 8: the method is not a valid HTTP method.
    #[error("invalid HTTP method")]
    InvalidMethod,
    /// ABI code 9: a header block or value had an invalid encoding.
    #[error("invalid encoding")]
    InvalidEncoding,
    /// ABI code 10: the URL could not be parsed.
    #[error("invalid URL")]
    InvalidUrl,
    /// ABI code 11: the request failed (connection refused, timeout, body too large, ...).
    #[error("request failed")]
    RequestError,
    /// ABI code 12: the host failed, or the import is not available (native builds).
    #[error("runtime error in the host (or no wasi_experimental_http host)")]
    RuntimeError,
    /// ABI code 13: the module has too many open responses; drop some first.
    #[error("too many open responses")]
    TooManySessions,
    /// The host returned a code this SDK does not know.
    #[error("unknown host error code {0}")]
    UnknownCode(u32),
    /// A header name is empty or contains a character not allowed in a header name.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// A header value contains a line break or another control character.
    #[error("invalid value for header {0:?}")]
    InvalidHeaderValue(String),
    /// `wasm32-wasip2`: the request failed with a `wasi:http` error that has no variant of
    /// its own (connection refused, DNS error, timeout, body too large, ...); the text
    /// says which.
    #[error("request failed: {0}")]
    RequestFailed(String),
    /// `wasm32-wasip2`: the host does not let guests set this header (e.g. `host`,
    /// `connection` or `transfer-encoding`).
    #[error("the host does not allow the header {0:?} on outgoing requests")]
    HeaderForbidden(String),
    /// A line of a header block has no `:` separator.
    #[error("header line without ':' separator: {0:?}")]
    MalformedHeaderLine(String),
    /// A response header the host returned (the whole block, on `wasm32-wasip1`) is not
    /// UTF-8.
    #[error("header block is not valid UTF-8")]
    HeaderBlockNotUtf8,
    /// The header block is larger than the SDK is willing to buffer.
    #[error("header block larger than {0} bytes")]
    HeaderBlockTooLarge(usize),
    /// The response body is not UTF-8 (from [`Response::text`](super::Response::text)).
    #[error("response body is not valid UTF-8")]
    BodyNotUtf8,
}

impl Error {
    /// Maps an ABI error code to its variant; `None` for 0 (success).
    pub fn from_code(code: u32) -> Option<Error> {
        Some(match code {
            0 => return None,
            1 => Error::InvalidHandle,
            2 => Error::MemoryNotFound,
            3 => Error::MemoryAccess,
            4 => Error::BufferTooSmall,
            5 => Error::HeaderNotFound,
            6 => Error::Utf8,
            7 => Error::DestinationNotAllowed,
            8 => Error::InvalidMethod,
            9 => Error::InvalidEncoding,
            10 => Error::InvalidUrl,
            11 => Error::RequestError,
            12 => Error::RuntimeError,
            13 => Error::TooManySessions,
            other => Error::UnknownCode(other),
        })
    }

    /// The ABI error code of this error; `None` for errors raised by the SDK itself and
    /// for the `wasm32-wasip2` errors that have no ABI code.
    pub fn code(&self) -> Option<u32> {
        Some(match self {
            Error::InvalidHandle => 1,
            Error::MemoryNotFound => 2,
            Error::MemoryAccess => 3,
            Error::BufferTooSmall => 4,
            Error::HeaderNotFound => 5,
            Error::Utf8 => 6,
            Error::DestinationNotAllowed => 7,
            Error::InvalidMethod => 8,
            Error::InvalidEncoding => 9,
            Error::InvalidUrl => 10,
            Error::RequestError => 11,
            Error::RuntimeError => 12,
            Error::TooManySessions => 13,
            Error::UnknownCode(code) => *code,
            Error::InvalidHeaderName(_)
            | Error::InvalidHeaderValue(_)
            | Error::MalformedHeaderLine(_)
            | Error::HeaderBlockNotUtf8
            | Error::HeaderBlockTooLarge(_)
            | Error::BodyNotUtf8
            | Error::RequestFailed(_)
            | Error::HeaderForbidden(_) => return None,
        })
    }
}

/// Converts a non-zero ABI code into an error (0 maps to [`Error::UnknownCode`]).
#[cfg(any(test, not(all(target_os = "wasi", target_env = "p2"))))]
pub(crate) fn from_abi(code: u32) -> Error {
    Error::from_code(code).unwrap_or(Error::UnknownCode(code))
}

/// Maps a `wasi:http` error code onto the variant with the same meaning, or onto
/// [`Error::RequestFailed`] with a description.
#[cfg(any(test, all(target_os = "wasi", target_env = "p2")))]
pub(crate) fn from_wasi_http(code: &wasip2::http::types::ErrorCode) -> Error {
    use wasip2::http::types::ErrorCode as E;

    let size = |what: &str, limit: Option<u64>| match limit {
        Some(limit) => format!("{what} larger than the host's limit of {limit} bytes"),
        None => format!("{what} too large for the host"),
    };
    let field = |what: &str, payload: Option<&wasip2::http::types::FieldSizePayload>| match payload
        .and_then(|p| p.field_name.as_deref())
    {
        Some(name) => format!("{what} {name:?} too large"),
        None => format!("{what} too large"),
    };
    let text = match code {
        E::HttpRequestDenied => return Error::DestinationNotAllowed,
        E::HttpRequestUriInvalid => return Error::InvalidUrl,
        E::HttpRequestMethodInvalid => return Error::InvalidMethod,
        E::DnsTimeout => "DNS lookup timed out".to_owned(),
        E::DnsError(payload) => match (&payload.rcode, payload.info_code) {
            (Some(rcode), _) => format!("DNS error {rcode}"),
            (None, Some(info)) => format!("DNS error (info code {info})"),
            (None, None) => "DNS error".to_owned(),
        },
        E::DestinationNotFound => "destination not found (no such host)".to_owned(),
        E::DestinationUnavailable => "destination unavailable".to_owned(),
        E::DestinationIpProhibited => "destination IP address prohibited".to_owned(),
        E::DestinationIpUnroutable => "destination IP address unroutable".to_owned(),
        E::ConnectionRefused => "connection refused".to_owned(),
        E::ConnectionTerminated => "connection closed by the server".to_owned(),
        E::ConnectionTimeout => "timed out connecting".to_owned(),
        E::ConnectionReadTimeout => "timed out reading the response".to_owned(),
        E::ConnectionWriteTimeout => "timed out writing the request".to_owned(),
        E::ConnectionLimitReached => "the host's connection limit was reached".to_owned(),
        E::TlsProtocolError => "TLS protocol error".to_owned(),
        E::TlsCertificateError => "TLS certificate error".to_owned(),
        E::TlsAlertReceived(alert) => match &alert.alert_message {
            Some(message) => format!("TLS alert received: {message}"),
            None => "TLS alert received".to_owned(),
        },
        E::HttpRequestLengthRequired => "the server requires a content-length".to_owned(),
        E::HttpRequestBodySize(limit) => size("request body", *limit),
        E::HttpRequestUriTooLong => "request URI too long".to_owned(),
        E::HttpRequestHeaderSectionSize(_) => "request headers too large".to_owned(),
        E::HttpRequestHeaderSize(payload) => field("request header", payload.as_ref()),
        E::HttpRequestTrailerSectionSize(_) => "request trailers too large".to_owned(),
        E::HttpRequestTrailerSize(payload) => field("request trailer", Some(payload)),
        E::HttpResponseIncomplete => "incomplete response".to_owned(),
        E::HttpResponseHeaderSectionSize(_) => "response headers too large".to_owned(),
        E::HttpResponseHeaderSize(payload) => field("response header", Some(payload)),
        E::HttpResponseBodySize(limit) => size("response body", *limit),
        E::HttpResponseTrailerSectionSize(_) => "response trailers too large".to_owned(),
        E::HttpResponseTrailerSize(payload) => field("response trailer", Some(payload)),
        E::HttpResponseTransferCoding(coding) => match coding {
            Some(coding) => format!("unsupported response transfer-coding {coding:?}"),
            None => "unsupported response transfer-coding".to_owned(),
        },
        E::HttpResponseContentCoding(coding) => match coding {
            Some(coding) => format!("unsupported response content-coding {coding:?}"),
            None => "unsupported response content-coding".to_owned(),
        },
        E::HttpResponseTimeout => "timed out waiting for the response".to_owned(),
        E::HttpUpgradeFailed => "HTTP upgrade failed".to_owned(),
        E::HttpProtocolError => "HTTP protocol error".to_owned(),
        E::LoopDetected => "loop detected".to_owned(),
        E::ConfigurationError => "host configuration error".to_owned(),
        E::InternalError(Some(message)) => format!("host error: {message}"),
        E::InternalError(None) => "host error".to_owned(),
    };
    Error::RequestFailed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_abi_code_round_trips() {
        assert_eq!(Error::from_code(0), None);
        for code in 1..=13 {
            let error = Error::from_code(code).expect("non-zero code");
            assert_eq!(error.code(), Some(code), "{error}");
            assert!(!matches!(error, Error::UnknownCode(_)));
        }
        assert_eq!(Error::from_code(14), Some(Error::UnknownCode(14)));
        assert_eq!(Error::UnknownCode(99).code(), Some(99));
    }

    #[test]
    fn named_codes() {
        assert_eq!(from_abi(7), Error::DestinationNotAllowed);
        assert_eq!(from_abi(13), Error::TooManySessions);
        assert_eq!(from_abi(12), Error::RuntimeError);
        assert_eq!(Error::BodyNotUtf8.code(), None);
    }

    #[test]
    fn wasi_http_codes_map_onto_the_wasip1_variants() {
        use wasip2::http::types::ErrorCode as E;
        // A denial reads the same on both targets.
        assert_eq!(
            from_wasi_http(&E::HttpRequestDenied),
            Error::DestinationNotAllowed
        );
        assert_eq!(
            from_wasi_http(&E::HttpRequestDenied).to_string(),
            from_abi(7).to_string()
        );
        assert_eq!(from_wasi_http(&E::HttpRequestUriInvalid), Error::InvalidUrl);
        assert_eq!(
            from_wasi_http(&E::HttpRequestMethodInvalid),
            Error::InvalidMethod
        );
    }

    #[test]
    fn other_wasi_http_codes_are_described() {
        use wasip2::http::types::{DnsErrorPayload, ErrorCode as E};
        let text = |code: E| from_wasi_http(&code).to_string();
        assert_eq!(
            text(E::ConnectionRefused),
            "request failed: connection refused"
        );
        assert_eq!(
            text(E::DnsError(DnsErrorPayload {
                rcode: Some("NXDOMAIN".into()),
                info_code: None,
            })),
            "request failed: DNS error NXDOMAIN"
        );
        assert_eq!(
            text(E::HttpResponseBodySize(Some(1024))),
            "request failed: response body larger than the host's limit of 1024 bytes"
        );
        assert_eq!(
            text(E::InternalError(Some("boom".into()))),
            "request failed: host error: boom"
        );
        assert_eq!(Error::RequestFailed("x".into()).code(), None);
        assert_eq!(Error::HeaderForbidden("host".into()).code(), None);
    }
}
