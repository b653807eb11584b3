//! Output bindings: invoke a binding component with an operation, data and metadata.

use serde::Serialize;
use serde_json::Value;

use super::encode;
use super::{Client, Error, Metadata, to_json, to_value};
use crate::http::Request;

/// A request to an output binding: `{"data":…,"metadata":{…},"operation":"…"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingRequest {
    /// The operation, e.g. `create`, `get`, `delete`; which ones exist depends on the
    /// binding.
    pub operation: String,
    /// The data; `null` is not sent.
    pub data: Value,
    /// Binding metadata.
    pub metadata: Metadata,
}

impl BindingRequest {
    /// A request for `operation` with no data and no metadata.
    pub fn new(operation: impl Into<String>) -> Self {
        BindingRequest {
            operation: operation.into(),
            data: Value::Null,
            metadata: Metadata::new(),
        }
    }

    /// Sets the data.
    pub fn data(mut self, data: impl Into<Value>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets the data to `value` serialised with serde.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.data = to_value("binding data", value)?;
        Ok(self)
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// What a binding returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingResponse {
    /// The component's bytes; empty when it returned nothing (204).
    pub data: Vec<u8>,
    /// `metadata.*` response headers.
    pub metadata: Metadata,
}

#[derive(Serialize)]
struct WireBinding<'a> {
    #[serde(skip_serializing_if = "Value::is_null")]
    data: &'a Value,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
    operation: &'a str,
}

impl Client {
    /// Invokes the output binding `name`.
    ///
    /// `POST /v1.0/bindings/{name}`; 200 returns the component's bytes, 204 nothing.
    pub fn invoke_binding(
        &self,
        name: &str,
        request: &BindingRequest,
    ) -> Result<BindingResponse, Error> {
        let url = self.url(&format!(
            "/v1.0/bindings/{}",
            encode::segment("binding name", name)?
        ));
        let body = WireBinding {
            data: &request.data,
            metadata: &request.metadata,
            operation: &request.operation,
        };
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(to_json("binding request", &body)?);
        let reply = self.call(request)?;
        Ok(BindingResponse {
            metadata: reply.header_metadata(),
            data: reply.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn request_shape_and_response() {
        let rec = Recorder::default();
        rec.reply(200, &[("Metadata.key", "abc")], "stored");
        let request = BindingRequest::new("create")
            .data(json!({"a": 1}))
            .metadata("key", "abc");
        let resp = rec.client().invoke_binding("my-binding", &request).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/bindings/my-binding");
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!({"data": {"a": 1}, "metadata": {"key": "abc"}, "operation": "create"})
        );
        assert_eq!(resp.data, b"stored");
        assert_eq!(resp.metadata["key"], "abc");
    }

    #[test]
    fn no_data_and_204() {
        let rec = Recorder::default();
        rec.reply(204, &[], "");
        let resp = rec
            .client()
            .invoke_binding("b", &BindingRequest::new("delete"))
            .unwrap();
        assert_eq!(body_json(&rec.single()), json!({"operation": "delete"}));
        assert_eq!(resp, BindingResponse::default());
    }

    #[test]
    fn json_data_and_error() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"ERR_INVOKE_OUTPUT_BINDING","message":"error invoking output binding b: nope"}"#,
        );
        let request = BindingRequest::new("create").json(&[1, 2]).unwrap();
        assert_eq!(request.data, json!([1, 2]));
        let err = rec.client().invoke_binding("b", &request).unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_INVOKE_OUTPUT_BINDING"));
    }
}
