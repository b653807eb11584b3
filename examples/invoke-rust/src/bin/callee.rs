//! The app the caller invokes: a wasm module served by `wasi-dapr serve`, with the
//! methods `hello` and `echo`.
//!
//! The sidecar turns `/v1.0/invoke/<app id>/method/<path>?<query>` into `<verb>
//! /<path>?<query>` on this app, with the caller's headers and body; `App::run` routes it
//! to a handler and writes the handler's status, headers and body back.

use std::collections::BTreeMap;

use serde::Serialize;
use wasi_dapr_sdk::app::{App, Request, Response};

fn main() {
    let mut app = App::new();
    app.on_invoke("hello", hello)
        .on_invoke("echo", echo)
        .on_invoke("echo/*", echo);
    app.run();
}

/// `hello`: a greeting, whatever the verb.
fn hello(_request: &Request) -> Response {
    Response::text("hello from the target app\n")
}

/// What `echo` answers: the request as this app received it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Echo<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    content_type: Option<&'a str>,
    /// `dapr-caller-app-id`, added by the sidecar.
    caller: Option<&'a str>,
    /// The caller's own `x-...` headers (the sidecar's `x-forwarded-...` left out).
    headers: BTreeMap<&'a str, &'a str>,
    body: String,
}

/// `echo` and `echo/...`: the verb, path, query, content type, caller, custom headers
/// and body, as JSON.
fn echo(request: &Request) -> Response {
    let headers = request
        .headers
        .iter()
        .filter(|(name, _)| name.starts_with("x-") && !name.starts_with("x-forwarded-"))
        .collect();
    Response::json(&Echo {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        content_type: request.content_type(),
        caller: request.header("dapr-caller-app-id"),
        headers,
        body: String::from_utf8_lossy(&request.body).into_owned(),
    })
}
