//! The inbound [`Request`] and the [`Response`] handlers return: read from and written as
//! CGI for `wasi-dapr serve` modules, built from plain HTTP parts for components.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use crate::http::Headers;

/// An inbound HTTP request, as `wasi-dapr serve` hands it to the module.
///
/// Built by [`Request::from_cgi`] from the CGI variables (`REQUEST_METHOD`, `PATH_INFO`,
/// `QUERY_STRING`, `REQUEST_URI`, `CONTENT_TYPE`, `CONTENT_LENGTH`, `HTTP_*`) and the
/// body on stdin. Handlers of [`App::on_invoke`](super::App::on_invoke) get one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The percent-decoded path, always starting with `/` (`PATH_INFO`).
    pub path: String,
    /// The raw query string without the `?`, still percent-encoded (`QUERY_STRING`).
    pub query: String,
    /// The path and query as sent, still percent-encoded (`REQUEST_URI`).
    pub uri: String,
    /// The request headers, with lower-case names.
    ///
    /// CGI passes each header as `HTTP_<NAME>`, upper case with `-` turned into `_`;
    /// they come back as `<name>` in lower case with `_` turned into `-`. Repeated
    /// headers arrive as one value joined with `", "`. `content-type` and
    /// `content-length` are included.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// Builds a request from CGI variables and the body.
    ///
    /// Fails with [`Error::NotCgi`] when `REQUEST_METHOD` is missing, i.e. the module
    /// was not started by `wasi-dapr serve`. Variables other than the CGI ones are
    /// ignored, so the whole process environment can be passed.
    pub fn from_cgi<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
        body: impl Into<Vec<u8>>,
    ) -> Result<Request, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        // Sorted, so headers come out in a stable order.
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let method = vars
            .get("REQUEST_METHOD")
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .ok_or(Error::NotCgi)?;
        let path = normalize_path(vars.get("PATH_INFO").map_or("", String::as_str));
        let query = vars.get("QUERY_STRING").cloned().unwrap_or_default();
        let uri = vars.get("REQUEST_URI").cloned().unwrap_or_else(|| {
            if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            }
        });
        let mut headers = Headers::new();
        for (name, value) in &vars {
            if let Some(header) = name.strip_prefix("HTTP_").filter(|h| !h.is_empty()) {
                headers.append(header.to_ascii_lowercase().replace('_', "-"), value.clone());
            }
        }
        for (var, header) in [
            ("CONTENT_TYPE", "content-type"),
            ("CONTENT_LENGTH", "content-length"),
        ] {
            if let Some(value) = vars.get(var).filter(|v| !v.is_empty())
                && !headers.contains(header)
            {
                headers.append(header, value.clone());
            }
        }
        Ok(Request {
            method,
            path,
            query,
            uri,
            headers,
            body: body.into(),
        })
    }

    /// Builds a request from what an HTTP server received: the method, the request
    /// target (`/path?query`, still percent-encoded), the headers and the body. This is
    /// how a `wasm32-wasip2` component's `wasi:http` request reaches the handlers.
    ///
    /// The path is percent-decoded and normalised as [`Request::from_cgi`] does, so a
    /// handler sees the same request on both targets, except that repeated headers stay
    /// separate entries here (CGI joins them with `", "`).
    ///
    /// ```
    /// use wasi_dapr_sdk::app::Request;
    /// use wasi_dapr_sdk::http::Headers;
    ///
    /// let r = Request::from_http("POST", "/orders/a%20b/?x=1", Headers::new(), "{}");
    /// assert_eq!((r.path.as_str(), r.query.as_str()), ("/orders/a b", "x=1"));
    /// assert_eq!(r.uri, "/orders/a%20b/?x=1");
    /// ```
    pub fn from_http(
        method: impl Into<String>,
        target: &str,
        headers: Headers,
        body: impl Into<Vec<u8>>,
    ) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = percent_decode_str(path).decode_utf8_lossy();
        Request {
            method: method.into(),
            path: normalize_path(&path),
            query: query.to_owned(),
            uri: if target.is_empty() {
                "/".to_owned()
            } else {
                target.to_owned()
            },
            headers,
            body: body.into(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The request's W3C trace context: `traceparent` and `tracestate` as the caller sent
    /// them, `None` without a `traceparent`. Under `wasi-dapr serve` the host already adds
    /// a valid one to the guest's sidecar requests; this is for logging it or passing it
    /// on to another service.
    pub fn trace_context(&self) -> Option<TraceContext> {
        Some(TraceContext {
            traceparent: self.header("traceparent")?.to_owned(),
            tracestate: self.header("tracestate").map(str::to_owned),
        })
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The query parameters, in order, percent-decoded (`+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_query(key), decode_query(value))
            })
            .collect()
    }

    /// The first value of query parameter `key`, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::BodyNotUtf8)
    }

    /// The body decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(Error::BodyNotJson)
    }
}

/// `path` with a leading `/` and without a trailing one (`/` itself stays).
pub(crate) fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    format!("/{trimmed}")
}

fn decode_query(part: &str) -> String {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A response to write back to `wasi-dapr serve`: status, headers and body.
///
/// ```
/// use wasi_dapr_sdk::app::Response;
///
/// let response = Response::text("no such order").with_status(404);
/// assert_eq!(
///     response.to_cgi(),
///     b"Status: 404\nContent-Type: text/plain; charset=utf-8\n\nno such order"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code; one outside `100..=999` is sent as 500.
    pub status: u16,
    /// The headers. A `Status` header is ignored (the status comes from
    /// [`Response::status`]); headers with line breaks or invalid names are left out.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(200)
    }
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// 200 with an empty body.
    pub fn ok() -> Self {
        Response::new(200)
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(text: impl Into<String>) -> Self {
        Response::bytes("text/plain; charset=utf-8", text.into())
    }

    /// 200 with `value` as an `application/json` body.
    ///
    /// If `value` cannot be serialised (e.g. a map with non-string keys) the answer is a
    /// 500 saying so, never a panic.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes("application/json", body),
            Err(e) => Response::text(format!("could not serialise the JSON response: {e}"))
                .with_status(500),
        }
    }

    /// 200 with `body` and the given `Content-Type`.
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response::new(200)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// 404 with a short text body.
    pub fn not_found() -> Self {
        Response::text("not found").with_status(404)
    }

    /// Sets the status code.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Appends a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body (the headers are left as they are).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The CGI output for this response: `Status: N`, one `Name: value` line per header,
    /// a blank line, the body.
    pub fn to_cgi(&self) -> Vec<u8> {
        let mut out = format!("Status: {}\n", self.status_to_send());
        for (name, value) in self.headers_to_send() {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// The status as sent: [`Response::status`], or 500 when it is outside `100..=999`.
    pub(crate) fn status_to_send(&self) -> u16 {
        if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        }
    }

    /// The headers as sent, values trimmed: without `Status`, invalid names, or values
    /// with line breaks or other control characters.
    pub(crate) fn headers_to_send(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().filter_map(|(name, value)| {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            let valid_value = !value.chars().any(|c| c.is_control() && c != '\t');
            (valid_name && valid_value && !name.eq_ignore_ascii_case("status"))
                .then(|| (name, value.trim()))
        })
    }
}

/// An inbound request's W3C trace context ([`Request::trace_context`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The `traceparent` header (`00-<trace id>-<parent id>-<flags>`).
    pub traceparent: String,
    /// The `tracestate` header, if sent.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The 32-hex-digit trace id of a version-00-shaped `traceparent`.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent
            .split('-')
            .nth(1)
            .filter(|id| id.len() == 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cgi(vars: &[(&str, &str)], body: &str) -> Request {
        Request::from_cgi(vars.iter().copied(), body).unwrap()
    }

    #[test]
    fn the_trace_context_comes_from_the_trace_headers() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let r = cgi(
            &[
                ("REQUEST_METHOD", "GET"),
                ("HTTP_TRACEPARENT", tp),
                ("HTTP_TRACESTATE", "congo=t61rcWkgMzE"),
            ],
            "",
        );
        let t = r.trace_context().expect("trace context");
        assert_eq!(t.traceparent, tp);
        assert_eq!(t.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        assert_eq!(t.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let r = cgi(&[("REQUEST_METHOD", "GET"), ("HTTP_TRACESTATE", "a=b")], "");
        assert_eq!(r.trace_context(), None);
    }

    #[test]
    fn reads_the_cgi_variables() {
        let r = cgi(
            &[
                ("REQUEST_METHOD", "POST"),
                ("PATH_INFO", "/orders/a b"),
                ("QUERY_STRING", "x=1&y=a%20b+c&flag"),
                ("REQUEST_URI", "/orders/a%20b?x=1&y=a%20b+c&flag"),
                ("CONTENT_TYPE", "application/json"),
                ("CONTENT_LENGTH", "2"),
                ("HTTP_CONTENT_TYPE", "application/json"),
                ("HTTP_X_CUSTOM_HEADER", "v1, v2"),
                ("HTTP_PUBSUBNAME", "pubsub"),
                ("PATH", "/usr/bin"),
                ("DAPR_HTTP_PORT", "3500"),
            ],
            "{}",
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/orders/a b");
        assert_eq!(r.uri, "/orders/a%20b?x=1&y=a%20b+c&flag");
        assert_eq!(r.header("X-Custom-Header"), Some("v1, v2"));
        assert_eq!(r.header("pubsubName"), Some("pubsub"));
        assert_eq!(r.content_type(), Some("application/json"));
        assert_eq!(r.header("content-length"), Some("2"));
        assert_eq!(r.headers.get_all("content-type").count(), 1);
        assert_eq!(r.headers.len(), 4, "{:?}", r.headers);
        assert_eq!(
            r.query_pairs(),
            [
                ("x".to_string(), "1".to_string()),
                ("y".to_string(), "a b c".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
        assert_eq!(r.query_param("y").as_deref(), Some("a b c"));
        assert_eq!(r.query_param("z"), None);
        assert_eq!(r.text().unwrap(), "{}");
        assert_eq!(
            r.json::<serde_json::Value>().unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn defaults_for_missing_variables() {
        let r = cgi(&[("REQUEST_METHOD", "GET")], "");
        assert_eq!(r.path, "/");
        assert_eq!(r.query, "");
        assert_eq!(r.uri, "/");
        assert!(r.headers.is_empty());
        let r = cgi(
            &[
                ("REQUEST_METHOD", "GET"),
                ("PATH_INFO", "hello/"),
                ("QUERY_STRING", "a=1"),
            ],
            "",
        );
        assert_eq!(r.path, "/hello");
        assert_eq!(r.uri, "/hello?a=1");
    }

    #[test]
    fn without_request_method_it_is_not_cgi() {
        let none: [(&str, &str); 0] = [];
        assert!(matches!(Request::from_cgi(none, ""), Err(Error::NotCgi)));
        assert!(matches!(
            Request::from_cgi([("REQUEST_METHOD", " ")], ""),
            Err(Error::NotCgi)
        ));
    }

    #[test]
    fn bad_bodies_are_errors() {
        let r = Request {
            body: vec![0xff],
            ..Request::default()
        };
        assert!(matches!(r.text(), Err(Error::BodyNotUtf8)));
        assert!(matches!(
            r.json::<serde_json::Value>(),
            Err(Error::BodyNotJson(_))
        ));
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("orders"), "/orders");
        assert_eq!(normalize_path("/orders/"), "/orders");
        assert_eq!(normalize_path("//a/b//"), "/a/b");
    }

    #[test]
    fn response_to_cgi() {
        let r = Response::json(&serde_json::json!({"a": 1}))
            .with_header("X-Many", "1")
            .with_header("X-Many", "2");
        assert_eq!(
            r.to_cgi(),
            b"Status: 200\nContent-Type: application/json\nX-Many: 1\nX-Many: 2\n\n{\"a\":1}"
        );
        assert_eq!(Response::ok().to_cgi(), b"Status: 200\n\n");
        assert_eq!(Response::default(), Response::ok());
        assert_eq!(Response::not_found().status, 404);
        assert_eq!(
            Response::bytes("application/octet-stream", vec![0, 1]).to_cgi(),
            b"Status: 200\nContent-Type: application/octet-stream\n\n\x00\x01"
        );
    }

    #[test]
    fn response_never_emits_a_broken_cgi_head() {
        let r = Response::new(42)
            .with_header("Status", "200")
            .with_header("X-Evil", "a\nStatus: 200")
            .with_header("bad name", "v")
            .with_header("", "v")
            .with_header("X-Ok", " fine ")
            .with_body("body\n\nwith blank lines");
        assert_eq!(
            r.to_cgi(),
            b"Status: 500\nX-Ok: fine\n\nbody\n\nwith blank lines"
        );
        assert_eq!(Response::new(999).to_cgi(), b"Status: 999\n\n");
    }

    #[test]
    fn unserialisable_json_is_a_500() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let r = Response::json(&map);
        assert_eq!(r.status, 500);
        assert!(String::from_utf8_lossy(&r.body).contains("could not serialise"));
    }

    #[test]
    fn from_http_matches_from_cgi() {
        let headers: Headers = [("content-type", "application/json"), ("x", "1")]
            .into_iter()
            .collect();
        let http = Request::from_http("POST", "/orders/a%20b?x=1", headers.clone(), "{}");
        let cgi = cgi(
            &[
                ("REQUEST_METHOD", "POST"),
                ("PATH_INFO", "/orders/a b"),
                ("QUERY_STRING", "x=1"),
                ("REQUEST_URI", "/orders/a%20b?x=1"),
                ("HTTP_CONTENT_TYPE", "application/json"),
                ("HTTP_X", "1"),
            ],
            "{}",
        );
        assert_eq!(http, cgi);
        let root = Request::from_http("GET", "", Headers::new(), "");
        assert_eq!((root.path.as_str(), root.uri.as_str()), ("/", "/"));
        assert_eq!(
            Request::from_http("GET", "/dapr/subscribe/", Headers::new(), "").path,
            "/dapr/subscribe"
        );
    }

    #[test]
    fn headers_to_send_filter_like_to_cgi() {
        let r = Response::new(1000)
            .with_header("status", "200")
            .with_header("X-Evil", "a\r\nb")
            .with_header("X-Ok", " v ");
        assert_eq!(r.status_to_send(), 500);
        assert_eq!(r.headers_to_send().collect::<Vec<_>>(), [("X-Ok", "v")]);
    }
}
