//! Service invocation: call a method of another Dapr app through the sidecar.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::encode::{self, Query};
use super::{Client, Error, error, to_json};
use crate::http::{self, Headers, Request};

/// A request to another app: verb, query, headers and body (the path is passed to
/// [`Client::invoke_method`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeRequest {
    /// The HTTP verb the target app receives.
    pub verb: String,
    /// Query parameters, in order; sent percent-encoded.
    pub query: Vec<(String, String)>,
    /// Headers passed to the target app (Dapr drops hop-by-hop ones).
    pub headers: Headers,
    /// The body, passed through unchanged.
    pub body: Vec<u8>,
}

impl InvokeRequest {
    /// A request with `verb` and nothing else.
    pub fn new(verb: impl Into<String>) -> Self {
        InvokeRequest {
            verb: verb.into(),
            query: Vec::new(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A `GET`.
    pub fn get() -> Self {
        Self::new("GET")
    }

    /// A `POST`.
    pub fn post() -> Self {
        Self::new("POST")
    }

    /// A `PUT`.
    pub fn put() -> Self {
        Self::new("PUT")
    }

    /// A `DELETE`.
    pub fn delete() -> Self {
        Self::new("DELETE")
    }

    /// Appends a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Appends a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.set("content-type", content_type);
        self.body = body.into();
        self
    }

    /// Sets a JSON body (`application/json`).
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = to_json("invoke body", value)?;
        Ok(self.body("application/json", body))
    }

    /// Sets a text body (`text/plain; charset=utf-8`).
    pub fn text(self, text: impl Into<String>) -> Self {
        self.body("text/plain; charset=utf-8", text.into())
    }
}

/// The target app's answer: any status, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeResponse {
    /// The app's status code (4xx and 5xx included).
    pub status: u16,
    /// The app's headers.
    pub headers: Headers,
    /// The app's body.
    pub body: Vec<u8>,
}

impl InvokeResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::Http(http::Error::BodyNotUtf8))
    }

    /// The body decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            what: "invoke",
            source,
        })
    }
}

impl Client {
    /// Calls `method` (a path such as `orders/17`) on the app `app_id`.
    ///
    /// `{VERB} /v1.0/invoke/{app_id}/method/{method}?{query}`: each path segment is
    /// percent-encoded and the `/` between them kept. The app's answer is returned
    /// whatever its status; only daprd's own failures (its `ERR_DIRECT_INVOKE` JSON, e.g.
    /// an unknown app id or a connection failure) are errors.
    pub fn invoke_method(
        &self,
        app_id: &str,
        method: &str,
        request: &InvokeRequest,
    ) -> Result<InvokeResponse, Error> {
        let mut query = Query::default();
        for (key, value) in &request.query {
            query.push(key, value);
        }
        let url = self.url(&format!(
            "/v1.0/invoke/{}/method/{}{}",
            encode::segment("app id", app_id)?,
            encode::path("method", method)?,
            query.finish()
        ));
        let mut http_request = Request::new(request.verb.as_str(), url).body(request.body.clone());
        http_request.headers = request.headers.clone();
        let reply = self.execute(http_request)?;
        if !reply.is_success() && is_daprd_invoke_error(&reply.body) {
            return Err(error::from_response(reply.status, &reply.body));
        }
        Ok(InvokeResponse {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        })
    }
}

/// Whether a failed invocation's body is daprd's own error rather than the app's answer.
fn is_daprd_invoke_error(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Ok(serde_json::Value::Object(o))
            if o.get("errorCode").and_then(|c| c.as_str()) == Some("ERR_DIRECT_INVOKE")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::Recorder;

    #[test]
    fn get_with_path_query_and_headers() {
        let rec = Recorder::default();
        rec.reply(200, &[("content-type", "text/plain")], "hello");
        let request = InvokeRequest::get()
            .query("q", "a b")
            .query("q", "&")
            .header("x-trace", "1");
        let resp = rec
            .client()
            .invoke_method("orders-app", "/api/orders/17 x", &request)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/invoke/orders-app/method/api/orders/17%20x?q=a%20b&q=%26"
        );
        assert_eq!(req.headers.get("x-trace"), Some("1"));
        assert!(req.body.is_empty());
        assert_eq!(resp.status, 200);
        assert!(resp.is_success());
        assert_eq!(resp.text().unwrap(), "hello");
        assert_eq!(resp.headers.get("Content-Type"), Some("text/plain"));
    }

    #[test]
    fn any_verb_and_json_body() {
        let rec = Recorder::default();
        rec.reply(201, &[], r#"{"id":5}"#);
        let request = InvokeRequest::new("PATCH").json(&json!({"n": 1})).unwrap();
        let resp = rec
            .client()
            .invoke_method("app", "items", &request)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "PATCH");
        assert_eq!(req.url, "http://dapr:3500/v1.0/invoke/app/method/items");
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(req.body, br#"{"n":1}"#);
        assert_eq!(resp.json::<serde_json::Value>().unwrap(), json!({"id": 5}));
    }

    #[test]
    fn verbs_and_bodies() {
        assert_eq!(InvokeRequest::post().verb, "POST");
        assert_eq!(InvokeRequest::put().verb, "PUT");
        assert_eq!(InvokeRequest::delete().verb, "DELETE");
        let r = InvokeRequest::post().text("hi");
        assert_eq!(
            r.headers.get("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let r = r.body("application/octet-stream", vec![1u8]);
        assert_eq!(r.headers.get_all("content-type").count(), 1);
        assert_eq!(r.body, [1]);
    }

    #[test]
    fn app_errors_are_responses() {
        for (status, body) in [
            (404, "not here"),
            (500, r#"{"errorCode":"APP_BROKE","message":"x"}"#),
            (503, ""),
        ] {
            let rec = Recorder::default();
            rec.reply(status, &[], body);
            let resp = rec
                .client()
                .invoke_method("app", "m", &InvokeRequest::get())
                .unwrap();
            assert_eq!(resp.status, status);
            assert!(!resp.is_success());
            assert_eq!(resp.body, body.as_bytes());
        }
    }

    #[test]
    fn daprd_invoke_errors_are_errors() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: nope, err: couldn't find service: nope"}"#,
        );
        let err = rec
            .client()
            .invoke_method("nope", "m", &InvokeRequest::get())
            .unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.error_code(), Some("ERR_DIRECT_INVOKE"));
    }

    #[test]
    fn app_id_and_method_are_checked() {
        let rec = Recorder::default();
        let c = rec.client();
        assert!(matches!(
            c.invoke_method("", "m", &InvokeRequest::get()),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.invoke_method("a/b", "m", &InvokeRequest::get())
                .map(|_| ()),
            Ok(())
        ));
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0/invoke/a%2Fb/method/m"
        );
        assert!(matches!(
            c.invoke_method("a", "", &InvokeRequest::get()),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn text_of_binary_body_is_an_error() {
        let resp = InvokeResponse {
            status: 200,
            headers: Headers::new(),
            body: vec![0xff],
        };
        assert!(matches!(
            resp.text(),
            Err(Error::Http(http::Error::BodyNotUtf8))
        ));
        assert!(matches!(resp.json::<u8>(), Err(Error::Decode { .. })));
    }
}
