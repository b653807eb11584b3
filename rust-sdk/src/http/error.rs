//! Errors of the outbound HTTP client: one variant per ABI code, plus local parse errors.

/// An error from the outbound HTTP client.
///
/// The first thirteen variants are the host's ABI error codes 1 to 13, in order;
/// [`Error::code`] gives the number back. The remaining variants are raised by the SDK
/// itself while preparing a request or decoding a response.
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
    /// A line of a header block has no `:` separator.
    #[error("header line without ':' separator: {0:?}")]
    MalformedHeaderLine(String),
    /// The header block the host returned is not UTF-8.
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

    /// The ABI error code of this error, `None` for errors raised by the SDK itself.
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
            | Error::BodyNotUtf8 => return None,
        })
    }
}

/// Converts a non-zero ABI code into an error (0 maps to [`Error::UnknownCode`]).
pub(crate) fn from_abi(code: u32) -> Error {
    Error::from_code(code).unwrap_or(Error::UnknownCode(code))
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
}
