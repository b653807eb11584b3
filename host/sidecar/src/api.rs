//! The HTTP API's shared vocabulary: the request as handlers see it, the response type,
//! daprd's `{"errorCode","message"}` error answer and the response builders. Every handler
//! file uses this one; it uses no other file of the crate.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;

/// The response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

/// A request with its body read, as the handlers see it.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    pub method: Method,
    pub headers: HeaderMap,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The raw query string (forwarded as is on invocation).
    pub raw_query: Option<String>,
    pub body: Bytes,
    pub remote: SocketAddr,
}

impl ApiRequest {
    /// The first value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `metadata.<k>=<v>` query parameters (first value wins).
    pub fn query_metadata(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.query {
            if let Some(name) = k.strip_prefix("metadata.")
                && !name.is_empty()
            {
                out.entry(name.to_string()).or_insert_with(|| v.clone());
            }
        }
        out
    }

    /// A header as a string, if present and visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An error answer of the HTTP API: a status and the `{"errorCode","message"}` JSON body
/// (daprd's APIError), plus `details` for a dapr/kit error.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The kit error's `details` (google.rpc ResourceInfo, ErrorInfo); empty for an APIError.
    pub details: Vec<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A dapr/kit error (`errors.NewBuilder(…).WithResourceInfo(…).WithErrorInfo(…)`):
    /// `details` = a ResourceInfo `(type, name)` when given, described by the message,
    /// then the ErrorInfo of `reason` in domain `dapr.io` with `metadata`.
    pub fn kit(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        reason: &str,
        metadata: &BTreeMap<String, String>,
        resource: Option<(&str, &str)>,
    ) -> Self {
        let mut e = Self::new(status, code, message);
        if let Some((kind, name)) = resource {
            e.details.push(serde_json::json!({
                "@type": "type.googleapis.com/google.rpc.ResourceInfo",
                "resource_type": kind,
                "resource_name": name,
                "owner": "",
                "description": e.message,
            }));
        }
        e.details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "dapr.io",
            "metadata": metadata,
        }));
        e
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

    /// `400 ERR_MALFORMED_REQUEST` for a request part (path, query, field) that is not usable.
    pub fn malformed_input(message: impl Into<String>) -> Self {
        Self::bad_request("ERR_MALFORMED_REQUEST", message)
    }

    pub fn into_response(self) -> Resp {
        let mut body = serde_json::json!({ "errorCode": self.code, "message": self.message });
        if !self.details.is_empty() {
            body["details"] = serde_json::Value::Array(self.details);
        }
        json_response(self.status, &body)
    }
}

/// A JSON answer with `Content-Type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes_response(status, "application/json", bytes.into())
}

/// An answer with the given content type and body.
pub(crate) fn bytes_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// `204 No Content` without a body.
pub(crate) fn no_content() -> Resp {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

/// RFC 3339 in UTC with seconds precision (Go's `time.RFC3339`); `None` past year 9999.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    write!(out, "{}", humantime::format_rfc3339_seconds(t)).ok()?;
    Some(out)
}
