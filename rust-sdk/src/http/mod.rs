//! A safe outbound HTTP client over the host's HTTP import, usable without Dapr.
//!
//! On `wasm32-wasip1` requests go through the `wasi_experimental_http` import, on
//! `wasm32-wasip2` through `wasi:http/outgoing-handler`; the API is the same.

mod error;
mod headers;
#[cfg(any(test, all(target_os = "wasi", target_env = "p2")))]
mod target;
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
mod wasi_experimental_http;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod wasi_http;

use std::fmt;
use std::io;

pub use error::Error;
pub use headers::Headers;

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
use wasi_experimental_http as host;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
use wasi_http as host;

/// An HTTP request: method, absolute URL, headers and body.
///
/// ```no_run
/// use wasi_dapr_sdk::http::Request;
///
/// # fn main() -> Result<(), wasi_dapr_sdk::http::Error> {
/// let response = Request::post("https://api.example.com/items")
///     .header("content-type", "application/json")
///     .body(r#"{"name":"x"}"#)
///     .send()?;
/// println!("{} {:?}", response.status(), response.header("content-type"));
/// let text = response.text()?;
/// # let _ = text;
/// # Ok(())
/// # }
/// ```
///
/// Only destinations allowed by the host's allowlist can be reached; anything else fails
/// with [`Error::DestinationNotAllowed`].
///
/// The fields are public so that a request built by the [`dapr`](crate::dapr) client can
/// be inspected (and tested) before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`; any token the host accepts.
    pub method: String,
    /// The absolute URL, e.g. `http://127.0.0.1:3500/v1.0/healthz`.
    pub url: String,
    /// The request headers.
    pub headers: Headers,
    /// The request body; empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with the given method and URL, no headers and an empty body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Appends a header (repeating a name sends it several times).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request through the host ([`ImportTransport`]) and returns the response.
    ///
    /// A response with any status (404 and 500 included) is `Ok`; errors are failures to
    /// get a response at all, e.g. [`Error::DestinationNotAllowed`] or
    /// [`Error::RequestError`].
    pub fn send(&self) -> Result<Response, Error> {
        ImportTransport.send(self)
    }
}

/// Something that turns a [`Request`] into a [`Response`].
///
/// [`ImportTransport`] is the real one. Implement this (or pass a closure) to test guest
/// code natively, e.g. with [`Client::with_transport`](crate::dapr::Client::with_transport).
pub trait Transport: Send + Sync {
    /// Sends `request` and returns the response, whatever its status.
    fn send(&self, request: &Request) -> Result<Response, Error>;
}

impl<F> Transport for F
where
    F: Fn(&Request) -> Result<Response, Error> + Send + Sync,
{
    fn send(&self, request: &Request) -> Result<Response, Error> {
        self(request)
    }
}

/// The transport that calls the host: the `wasi_experimental_http` import on
/// `wasm32-wasip1`, `wasi:http/outgoing-handler` on `wasm32-wasip2`.
///
/// On targets other than `wasm32` there is no host and every request fails with
/// [`Error::RuntimeError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportTransport;

impl Transport for ImportTransport {
    fn send(&self, request: &Request) -> Result<Response, Error> {
        let (status, headers, body) = host::send(request)?;
        Ok(Response {
            status,
            headers,
            body: Body::Host(body),
        })
    }
}

enum Body {
    /// Streamed from the host.
    Host(host::Body),
    /// Held in memory (responses built with [`Response::new`]).
    Memory { data: Vec<u8>, pos: usize },
}

/// An HTTP response: status, headers and a body that is read in chunks or all at once.
///
/// A response from the host holds its body open until the response is dropped; on
/// `wasm32-wasip1` the host limits how many can be open at once
/// ([`Error::TooManySessions`]).
pub struct Response {
    status: u16,
    headers: Headers,
    body: Body,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// A response held in memory, e.g. returned by a test [`Transport`].
    pub fn new(status: u16, headers: Headers, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers,
            body: Body::Memory {
                data: body.into(),
                pos: 0,
            },
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// All headers, repeated ones as separate entries.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Reads the next chunk of the body into `buf`; `Ok(0)` means the body is finished.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.body {
            Body::Host(body) => body.read(buf),
            Body::Memory { data, pos } => {
                let rest = data.get(*pos..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
        }
    }

    /// Reads the rest of the body and returns it.
    pub fn bytes(mut self) -> Result<Vec<u8>, Error> {
        if let Body::Memory { data, pos } = &mut self.body {
            return Ok(data.split_off((*pos).min(data.len())));
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads the rest of the body as UTF-8 text.
    pub fn text(self) -> Result<String, Error> {
        String::from_utf8(self.bytes()?).map_err(|_| Error::BodyNotUtf8)
    }
}

impl io::Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_chunk(buf).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn builder_sets_everything() {
        let r = Request::new("PATCH", "http://h/x")
            .header("a", "1")
            .header("a", "2")
            .body("hi");
        assert_eq!(r.method, "PATCH");
        assert_eq!(r.url, "http://h/x");
        assert_eq!(r.headers.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.body, b"hi");
        assert_eq!(Request::get("u").method, "GET");
        assert_eq!(Request::post("u").method, "POST");
        assert_eq!(Request::put("u").method, "PUT");
        assert_eq!(Request::delete("u").method, "DELETE");
    }

    #[test]
    fn native_send_is_a_runtime_error_not_a_panic() {
        assert_eq!(
            Request::get("http://127.0.0.1:3500/").send().unwrap_err(),
            Error::RuntimeError
        );
    }

    #[test]
    fn invalid_header_fails_before_sending() {
        let err = Request::get("http://h/")
            .header("x", "a\nb:c")
            .send()
            .unwrap_err();
        assert_eq!(err, Error::InvalidHeaderValue("x".into()));
    }

    #[test]
    fn memory_body_reads_in_chunks() {
        let mut r = Response::new(200, Headers::new(), "hello world");
        let mut buf = [0u8; 4];
        let mut out = Vec::new();
        loop {
            let n = r.read_chunk(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"hello world");
        assert_eq!(r.read_chunk(&mut buf).unwrap(), 0);
    }

    #[test]
    fn bytes_after_partial_read_returns_the_rest() {
        let mut r = Response::new(200, Headers::new(), "abcdef");
        let mut buf = [0u8; 2];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(r.bytes().unwrap(), b"cdef");
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        let r = Response::new(200, Headers::new(), vec![0xff, 0xfe]);
        assert_eq!(r.text().unwrap_err(), Error::BodyNotUtf8);
        let r = Response::new(201, Headers::new(), "ok");
        assert!(r.is_success());
        assert_eq!(r.text().unwrap(), "ok");
    }

    #[test]
    fn closures_are_transports() {
        let t = |req: &Request| Ok(Response::new(418, Headers::new(), req.url.clone()));
        let r = t.send(&Request::get("http://x/")).unwrap();
        assert_eq!(r.status(), 418);
        assert!(!r.is_success());
        assert_eq!(r.text().unwrap(), "http://x/");
    }
}
