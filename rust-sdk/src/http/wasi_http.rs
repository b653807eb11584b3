//! The transport over `wasi:http/outgoing-handler` (wasm32-wasip2 components).

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, HeaderError, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::{InputStream, StreamError};

use super::error::from_wasi_http;
use super::{Error, Headers, Request, target};

/// The most `blocking_write_and_flush` accepts in one call.
const WRITE_CHUNK: usize = 4096;

/// Sends `request` through `wasi:http/outgoing-handler`: the status, every header and
/// the streamed body.
///
/// The body is written after the request is handed to the host, in chunks, so the host
/// streams it; the response is awaited once the body is finished.
pub(super) fn send(request: &Request) -> Result<(u16, Headers, Body), Error> {
    let target = target::split(&request.url)?;
    request.headers.check()?;
    let fields = Fields::new();
    for (name, value) in request.headers.iter() {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| header_error(name, e))?;
    }
    if !request.headers.contains("content-length") && sends_length(request) {
        fields
            .append("content-length", request.body.len().to_string().as_bytes())
            .map_err(|e| header_error("content-length", e))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    outgoing
        .set_method(&method(&request.method))
        .map_err(|()| Error::InvalidMethod)?;
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .and_then(|()| outgoing.set_authority(Some(target.authority)))
        .and_then(|()| outgoing.set_path_with_query(Some(&target.path_with_query)))
        .map_err(|()| Error::InvalidUrl)?;
    let body = outgoing
        .body()
        .map_err(|()| Error::RequestFailed("the request body was already taken".into()))?;
    let pending = outgoing_handler::handle(outgoing, None).map_err(|e| from_wasi_http(&e))?;
    let written = write_body(&body, &request.body);
    let finished = OutgoingBody::finish(body, None).map_err(|e| from_wasi_http(&e));
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        // The host's own error says most about why the request failed.
        Some(Ok(Err(code))) => return Err(from_wasi_http(&code)),
        Some(Err(())) => {
            return Err(Error::RequestFailed(
                "the response was already taken".into(),
            ));
        }
        None => return Err(Error::RequestFailed("no response after waiting".into())),
    };
    // A response to a request whose body could not be sent completely is not trusted.
    written?;
    finished?;
    let status = response.status();
    let mut headers = Headers::new();
    for (name, value) in response.headers().entries() {
        let value = String::from_utf8(value).map_err(|_| Error::HeaderBlockNotUtf8)?;
        headers.append(name, value);
    }
    let incoming = response
        .consume()
        .map_err(|()| Error::RequestFailed("the response body was already taken".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| Error::RequestFailed("the response body stream was already taken".into()))?;
    Ok((
        status,
        headers,
        Body {
            stream,
            _body: incoming,
            done: false,
        },
    ))
}

/// Whether to add a `content-length` the caller did not set: for every body, and for an
/// empty one unless the method normally has none.
fn sends_length(request: &Request) -> bool {
    !request.body.is_empty()
        || !["GET", "HEAD", "OPTIONS", "DELETE", "TRACE", "CONNECT"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&request.method))
}

/// Writes `bytes` into the request body in chunks the stream accepts.
fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    // The stream is a child of the body: it is dropped at the end of this function,
    // before the body is finished.
    let stream = body
        .write()
        .map_err(|()| Error::RequestFailed("the request body stream was already taken".into()))?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_error(e, "writing the request body"))?;
    }
    Ok(())
}

fn method(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ => Method::Other(method.to_owned()),
    }
}

fn header_error(name: &str, error: HeaderError) -> Error {
    match error {
        HeaderError::Forbidden => Error::HeaderForbidden(name.to_owned()),
        // The SDK checked the names and values; what the host still refuses is reported
        // as a bad value, and the fields are fresh, so never immutable.
        HeaderError::InvalidSyntax | HeaderError::Immutable => {
            Error::InvalidHeaderValue(name.to_owned())
        }
    }
}

/// A stream failure: the `wasi:http` error code behind it when there is one.
fn stream_error(error: StreamError, doing: &str) -> Error {
    match error {
        StreamError::Closed => Error::RequestFailed(format!("{doing}: the stream was closed")),
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(&e) {
            Some(code) => from_wasi_http(&code),
            None => Error::RequestFailed(format!("{doing}: {}", e.to_debug_string())),
        },
    }
}

/// A response body streamed from the host.
pub(super) struct Body {
    // Field order is drop order: the stream is a child of the body and goes first.
    stream: InputStream,
    _body: IncomingBody,
    done: bool,
}

impl Body {
    /// Reads the next chunk into `buf` (not empty); `Ok(0)` at the end.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        while !self.done {
            let want = u64::try_from(buf.len()).unwrap_or(u64::MAX);
            match self.stream.blocking_read(want) {
                // Nothing yet (a host may answer so): wait until there is.
                Ok(chunk) if chunk.is_empty() => self.stream.subscribe().block(),
                Ok(chunk) => {
                    // Never more than asked for; a longer chunk is cut, not trusted.
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(StreamError::Closed) => self.done = true,
                Err(e) => return Err(stream_error(e, "reading the response body")),
            }
        }
        Ok(0)
    }
}
