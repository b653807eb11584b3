//! The Dapr client's error type and the parser for Dapr's error responses.

use std::time::Duration;

use crate::http;

/// The longest response body text kept in [`Error::Unauthorized`] and
/// [`Error::UnexpectedStatus`].
const MAX_BODY_TEXT: usize = 1024;

/// An error from a [`Client`](super::Client) call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No response was received: the host refused the request (e.g.
    /// [`http::Error::DestinationNotAllowed`]), the sidecar could not be reached
    /// ([`http::Error::RequestError`]), or the response could not be read.
    #[error(transparent)]
    Http(#[from] http::Error),
    /// Dapr answered with its JSON error, `{"errorCode":"ERR_…","message":"…"}`.
    #[error("dapr error {status} {error_code}: {message}")]
    Dapr {
        /// The HTTP status code.
        status: u16,
        /// Dapr's `errorCode`, e.g. `ERR_STATE_STORE_NOT_FOUND`.
        error_code: String,
        /// Dapr's `message` (empty if it sent none).
        message: String,
    },
    /// 401 with a plain-text body: the sidecar wants a valid `dapr-api-token`.
    #[error("unauthorized by the sidecar: {message}")]
    Unauthorized {
        /// The response body, e.g. `invalid api token`.
        message: String,
    },
    /// A non-success status whose body is not a Dapr error.
    #[error("unexpected HTTP status {status}: {body}")]
    UnexpectedStatus {
        /// The HTTP status code.
        status: u16,
        /// The start of the body as text (lossy UTF-8, at most 1 KiB).
        body: String,
    },
    /// An actor answered with an error of its own: daprd's actor-error protocol (a 200
    /// with `X-DaprErrorResponseHeader`, the body and headers passed through), or a
    /// non-2xx answer whose body is not a Dapr error.
    ///
    /// `status` is the one an actor served by this SDK chose
    /// ([`ActorError::with_status`](crate::app::ActorError::with_status), sent in
    /// `X-Wasi-Dapr-Actor-Status`), else the HTTP status.
    #[error("actor error {status}: {}", body_text(body))]
    Actor {
        /// The actor's status code.
        status: u16,
        /// The actor's headers.
        headers: http::Headers,
        /// The actor's body, whole.
        body: Vec<u8>,
    },
    /// Some entries of a bulk publish failed; the others were published.
    #[error("bulk publish failed for {} entries ({error_code})", failed_entries.len())]
    BulkPublishFailed {
        /// The HTTP status code (500).
        status: u16,
        /// Dapr's `errorCode`, e.g. `ERR_PUBSUB_PUBLISH_MESSAGE`.
        error_code: String,
        /// The entries that were not published.
        failed_entries: Vec<super::FailedEntry>,
    },
    /// A successful response's body did not have the documented shape.
    #[error("invalid {what} response: {source}")]
    Decode {
        /// Which response, e.g. `bulk state`.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be serialised to JSON.
    #[error("cannot encode {what} as JSON: {source}")]
    Encode {
        /// Which value, e.g. `state value`.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An argument cannot be sent, e.g. an empty store name or a key of `..`.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// [`Client::wait_for_sidecar`](super::Client::wait_for_sidecar) ran out of time.
    #[error("sidecar not ready after {waited:?}: {last}")]
    SidecarNotReady {
        /// How long it waited.
        waited: Duration,
        /// The last error seen while polling.
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// The HTTP status code, for errors that come from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Dapr { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::Actor { status, .. }
            | Error::BulkPublishFailed { status, .. } => Some(*status),
            Error::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// Dapr's `errorCode`, for errors that carry one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Dapr { error_code, .. } | Error::BulkPublishFailed { error_code, .. } => {
                Some(error_code)
            }
            _ => None,
        }
    }

    /// The ids of the entries a bulk publish could not publish ([`Error::BulkPublishFailed`]);
    /// empty for other errors.
    pub fn failed_entry_ids(&self) -> Vec<&str> {
        match self {
            Error::BulkPublishFailed { failed_entries, .. } => {
                failed_entries.iter().map(|e| e.entry_id.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether this is an ETag conflict (optimistic concurrency failure).
    ///
    /// True for 409 (`ERR_STATE_SAVE` / `ERR_STATE_DELETE`, how daprd reports a mismatch
    /// on save and delete) and for `ERR_STATE_TRANSACTION` whose message mentions an
    /// etag mismatch (daprd reports a mismatch inside a transaction as a 500).
    pub fn is_etag_mismatch(&self) -> bool {
        match self {
            Error::Dapr { status: 409, .. } => true,
            Error::Dapr {
                error_code,
                message,
                ..
            } => {
                error_code == "ERR_STATE_TRANSACTION"
                    && message.to_ascii_lowercase().contains("etag mismatch")
            }
            _ => false,
        }
    }
}

impl Error {
    /// Whether daprd refused an actor state call because the actor is not active on
    /// this host: 400 `ERR_ACTOR_INSTANCE_MISSING` (a transaction outside the actor's
    /// turn, or after it was deactivated).
    pub fn is_actor_instance_missing(&self) -> bool {
        matches!(self, Error::Dapr { error_code, .. } if error_code == "ERR_ACTOR_INSTANCE_MISSING")
    }
}

/// Turns a non-success response into an error.
///
/// A JSON object with a string `errorCode` becomes [`Error::Dapr`] (other fields, such as
/// `details`, are ignored); a 401 with any other body becomes [`Error::Unauthorized`];
/// anything else [`Error::UnexpectedStatus`].
pub(crate) fn from_response(status: u16, body: &[u8]) -> Error {
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body)
        && let Some(serde_json::Value::String(code)) = object.get("errorCode")
    {
        let message = match object.get("message") {
            Some(serde_json::Value::String(m)) => m.clone(),
            _ => String::new(),
        };
        return Error::Dapr {
            status,
            error_code: code.clone(),
            message,
        };
    }
    let text = body_text(body);
    if status == 401 {
        Error::Unauthorized { message: text }
    } else {
        Error::UnexpectedStatus { status, body: text }
    }
}

/// The body as trimmed, lossy UTF-8, cut at [`MAX_BODY_TEXT`] bytes.
fn body_text(body: &[u8]) -> String {
    let cut = body.get(..MAX_BODY_TEXT).unwrap_or(body);
    String::from_utf8_lossy(cut).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dapr_error_json() {
        let e = from_response(
            400,
            br#"{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nope is not found"}"#,
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.error_code(), Some("ERR_STATE_STORE_NOT_FOUND"));
        assert_eq!(
            e.to_string(),
            "dapr error 400 ERR_STATE_STORE_NOT_FOUND: state store nope is not found"
        );
        assert!(!e.is_etag_mismatch());
    }

    #[test]
    fn ignores_details_and_other_fields() {
        let body = br#"{"errorCode":"ERR_STATE_GET","message":"boom","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_STATE_GET","domain":"dapr.io","metadata":{}}],"extra":1}"#;
        let e = from_response(500, body);
        assert!(matches!(
            &e,
            Error::Dapr { status: 500, error_code, message } if error_code == "ERR_STATE_GET" && message == "boom"
        ));
    }

    #[test]
    fn missing_message_is_empty() {
        let e = from_response(500, br#"{"errorCode":"ERR_X"}"#);
        assert!(matches!(e, Error::Dapr { ref message, .. } if message.is_empty()));
    }

    #[test]
    fn plain_text_401_is_unauthorized() {
        let e = from_response(401, b"invalid api token\n");
        assert!(matches!(&e, Error::Unauthorized { message } if message == "invalid api token"));
        assert_eq!(e.status(), Some(401));
    }

    #[test]
    fn json_401_stays_a_dapr_error() {
        let e = from_response(
            401,
            br#"{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"secret store is not found"}"#,
        );
        assert_eq!(e.error_code(), Some("ERR_SECRET_STORE_NOT_FOUND"));
    }

    #[test]
    fn non_dapr_bodies_are_unexpected_status() {
        for body in [
            &b""[..],
            b"<html>oops</html>",
            b"[1,2]",
            br#"{"errorCode":5}"#,
            b"\xff\xfe",
        ] {
            let e = from_response(502, body);
            assert!(
                matches!(e, Error::UnexpectedStatus { status: 502, .. }),
                "{e:?}"
            );
            assert_eq!(e.error_code(), None);
        }
        let long = vec![b'a'; 5000];
        let Error::UnexpectedStatus { body, .. } = from_response(500, &long) else {
            panic!("expected UnexpectedStatus");
        };
        assert_eq!(body.len(), MAX_BODY_TEXT);
    }

    #[test]
    fn etag_mismatch_detection() {
        let save = from_response(
            409,
            br#"{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store statestore: possible etag mismatch. error from state store: <nil>"}"#,
        );
        assert!(save.is_etag_mismatch());
        let delete = from_response(409, br#"{"errorCode":"ERR_STATE_DELETE","message":"x"}"#);
        assert!(delete.is_etag_mismatch());
        let tx = from_response(
            500,
            br#"{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: possible etag mismatch. error from state store: <nil>"}"#,
        );
        assert!(tx.is_etag_mismatch());
        let invalid = from_response(
            400,
            br#"{"errorCode":"ERR_STATE_SAVE","message":"invalid etag value"}"#,
        );
        assert!(!invalid.is_etag_mismatch());
        let other_tx = from_response(
            500,
            br#"{"errorCode":"ERR_STATE_TRANSACTION","message":"disk"}"#,
        );
        assert!(!other_tx.is_etag_mismatch());
    }

    #[test]
    fn transport_errors_convert() {
        let e: Error = http::Error::DestinationNotAllowed.into();
        assert!(matches!(e, Error::Http(http::Error::DestinationNotAllowed)));
        assert_eq!(e.status(), None);
        assert_eq!(
            e.to_string(),
            "destination not allowed by the host's allowlist"
        );
    }
}
