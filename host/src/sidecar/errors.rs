//! Errors of the embedded sidecar: startup failures and the JSON error answers of the API.

use std::path::PathBuf;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// Why the sidecar could not start.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// The resources folder could not be listed.
    #[error("reading resources folder {path}")]
    ReadResources {
        /// The folder given as resources path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component file could not be read.
    #[error("reading component file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component file is not valid YAML or not a valid Dapr resource.
    #[error("parsing component file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the expected form.
        reason: String,
    },
    /// A component names a type this sidecar does not implement.
    #[error(
        "component {name:?} in {path}: unknown or unsupported component type {kind:?} version {version:?} \
         (supported: state.in-memory, state.redis, pubsub.in-memory, secretstores.local.file, \
         bindings.localstorage, bindings.cron, configuration.in-memory, lock.in-memory; version v1)"
    )]
    UnknownType {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// The `spec.version`.
        version: String,
    },
    /// Two components of the same category share a name.
    #[error(
        "component {name:?} in {path}: a {category} component with this name is already defined"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The category (state, pubsub, ...).
        category: &'static str,
    },
    /// A component's metadata is invalid or its backend could not be initialised.
    #[error("component {name:?} ({kind}) in {path}: {reason}")]
    Init {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// A component's backend could not be reached at startup.
    #[error("component {name:?} ({kind}) in {path}: connecting to the backend")]
    Connect {
        /// The file.
        path: PathBuf,
        /// The component name.
        name: String,
        /// The `spec.type`.
        kind: String,
        /// The backend's error.
        #[source]
        source: Box<redis::RedisError>,
    },
    /// The listening socket could not be bound.
    #[error("binding the sidecar's HTTP port {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// An error answer of the HTTP API: a status and the `{"errorCode","message"}` JSON body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }

    /// `400 ERR_MALFORMED_REQUEST` for a body that does not deserialize.
    pub fn malformed(err: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "ERR_MALFORMED_REQUEST",
            format!("failed deserializing HTTP body: {err}"),
        )
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "errorCode": self.code, "message": self.message });
        json_response(self.status, &body)
    }
}

/// A JSON answer with `Content-Type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes_response(status, "application/json", bytes.into())
}

/// An answer with the given content type and body.
pub(crate) fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// `204 No Content` without a body.
pub(crate) fn no_content() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}
