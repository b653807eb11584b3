//! The inbound side for `wasm32-wasip2` components: a `wasi:http/incoming-handler`
//! request dispatched to an [`App`], its [`Response`] written back.
//!
//! [`export!`](super::export) wires this in; nothing here is public API.

use std::io::Read as _;

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use super::{App, Error, Request, Response, stderr_log};
use crate::http::Headers;

/// The most `blocking_write_and_flush` accepts in one call.
const WRITE_CHUNK: usize = 4096;

/// Answers one `wasi:http` request with `app`. Never panics: a request that cannot be
/// read is answered 400, a response the host refuses is answered 500 when possible.
pub fn serve(app: &App, incoming: IncomingRequest, out: ResponseOutparam) {
    let response = match read_request(&incoming) {
        Ok(request) => app.handle(&request),
        Err(e) => {
            stderr_log(&e.to_string());
            Response::text(e.to_string()).with_status(400)
        }
    };
    drop(incoming);
    write_response(out, &response);
}

fn read_request(incoming: &IncomingRequest) -> Result<Request, Error> {
    let method = match incoming.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    };
    let target = incoming.path_with_query().unwrap_or_default();
    let mut headers = Headers::new();
    for (name, value) in incoming.headers().entries() {
        headers.append(
            name.to_ascii_lowercase(),
            String::from_utf8_lossy(&value).into_owned(),
        );
    }
    let mut body = Vec::new();
    let not_readable =
        || Error::ReadBody(std::io::Error::other("the request body was already taken"));
    let incoming_body = incoming.consume().map_err(|()| not_readable())?;
    {
        // The stream is a child of the body: dropped first, at the end of this block.
        let mut stream = incoming_body.stream().map_err(|()| not_readable())?;
        stream.read_to_end(&mut body).map_err(Error::ReadBody)?;
    }
    drop(incoming_body);
    Ok(Request::from_http(method, &target, headers, body))
}

/// Sends `response`: status, the headers [`Response::to_cgi`] would write, a
/// `content-length` and the body in chunks.
fn write_response(out: ResponseOutparam, response: &Response) {
    let fields = Fields::new();
    for (name, value) in response.headers_to_send() {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // set below from the real length
        }
        if let Err(e) = fields.append(name, value.as_bytes()) {
            // Left out, as to_cgi leaves out what it cannot send.
            stderr_log(&format!(
                "response header {name:?} refused by the host: {e:?}"
            ));
        }
    }
    let length = response.body.len().to_string();
    let _ = fields.append("content-length", length.as_bytes());
    let outgoing = OutgoingResponse::new(fields);
    if outgoing.set_status_code(response.status_to_send()).is_err() {
        let _ = outgoing.set_status_code(500);
    }
    let Ok(body) = outgoing.body() else {
        ResponseOutparam::set(out, Ok(outgoing));
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if !response.body.is_empty() {
        // The stream is a child of the body: dropped at the end of this block.
        let Ok(stream) = body.write() else {
            return;
        };
        for chunk in response.body.chunks(WRITE_CHUNK) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                // The client went away; the body cannot be finished.
                stderr_log(&format!("writing the response body: {e:?}"));
                return;
            }
        }
    }
    if let Err(e) = OutgoingBody::finish(body, None) {
        stderr_log(&format!("finishing the response body: {e:?}"));
    }
}
