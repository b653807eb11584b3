//! The CGI mapping of `serve`: an inbound request becomes the guest's environment (the
//! CGI meta-variables, one `HTTP_*` variable per header, then the shared variables), and
//! the guest's stdout (header lines, a blank line, the body) becomes the response.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use wasmtime_wasi::WasiCtxBuilder;

/// What `serve` knows of one inbound request when it builds the guest's environment.
pub(super) struct Inbound<'a> {
    /// Method, URI, version and headers.
    pub parts: &'a http::request::Parts,
    /// The path, percent-decoded and checked ([`decode_path`]).
    pub path_info: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Why a request path is refused (400) before any guest sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A `%XX` sequence decodes to bytes that are not UTF-8.
    #[error("percent-encoding that is not UTF-8")]
    NotUtf8,
    /// A `%00` decodes to a NUL, which would cut the path short in the guest.
    #[error("a NUL character (%00)")]
    Nul,
}

/// The percent-decoded path for `PATH_INFO`. Invalid UTF-8 and NUL are errors: decoded
/// lossily, `%FF` and `%FE` would name the same path, and a NUL would truncate it.
pub fn decode_path(path: &str) -> Result<String, PathError> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| PathError::NotUtf8)?;
    if decoded.contains('\0') {
        return Err(PathError::Nul);
    }
    Ok(decoded.into_owned())
}

/// A guest's log text made safe for one log line: control characters (`\r`, `\t`,
/// escape sequences, ...) and backslashes are written as escapes, other text as is.
pub fn escape_log_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Response headers the host owns: the guest's are dropped, because they would let it
/// frame a second response on a kept-alive connection, hang the client on a wrong length,
/// or switch protocols.
pub(super) const FRAMING_HEADERS: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
];

/// Why a handler's stdout is not a CGI response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CgiError {
    /// No empty line ends the header lines.
    #[error("no blank line after the headers")]
    NoBlankLine,
    /// The header lines are not UTF-8.
    #[error("headers are not UTF-8")]
    HeadNotUtf8,
    /// A header line has no `:`.
    #[error("header line without ':': {0:?}")]
    LineWithoutColon(String),
    /// `Status:` is not a final status code from 200 to 599.
    #[error("bad Status {0:?}")]
    BadStatus(String),
    /// A header name is not a valid HTTP token.
    #[error("bad header name {0:?}")]
    BadHeaderName(String),
    /// A header value has a byte HTTP does not allow.
    #[error("bad value for {0}")]
    BadHeaderValue(String),
}

/// The parts of a request's WASI context that do not depend on the request.
pub(super) struct StaticEnv {
    /// `argv[0]`: the module's file name.
    pub program: String,
    /// The sidecar's variables, then `--env` (which wins), one entry per name.
    pub vars: Vec<(String, String)>,
    /// `SERVER_NAME`, `SERVER_PORT` and the `Host` used when a request has none.
    pub server_name: String,
    pub server_port: String,
    pub authority: String,
}

/// Variables that `serve` sets for every request (the CGI meta-variables). `--env` may
/// not set them, nor any `HTTP_*` name, which is what request headers become.
pub const CGI_VARIABLES: &[&str] = &[
    "REQUEST_METHOD",
    "PATH_INFO",
    "SCRIPT_NAME",
    "QUERY_STRING",
    "REQUEST_URI",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "X_FULL_URL",
];

/// Whether `name` is set by `serve` for each request (and so refused in `--env`).
pub fn is_cgi_variable(name: &str) -> bool {
    CGI_VARIABLES.contains(&name) || name.starts_with("HTTP_")
}

/// Sets one request's environment on `wasi`: the CGI meta-variables, one `HTTP_*`
/// variable per header name (repeated headers joined with `", "`), then the shared
/// variables. Header names containing `_` are left out, as Apache and nginx do for CGI,
/// so that `X-A` and `X_A` cannot both claim `HTTP_X_A`; `dapr-api-token` is left out
/// because the host has already checked it.
pub(super) fn cgi_env(
    env: &StaticEnv,
    wasi: &mut WasiCtxBuilder,
    request: &Inbound<'_>,
    body_len: usize,
) {
    let Inbound {
        parts,
        path_info,
        peer,
    } = request;
    let uri = &parts.uri;
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(&env.authority);
    let protocol = match parts.version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    wasi.env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", path_info)
        .env("SCRIPT_NAME", "")
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_URI", path_and_query)
        .env("CONTENT_LENGTH", body_len.to_string())
        .env("SERVER_NAME", &env.server_name)
        .env("SERVER_PORT", &env.server_port)
        .env("SERVER_PROTOCOL", protocol)
        .env(
            "SERVER_SOFTWARE",
            concat!("wasi-dapr/", env!("CARGO_PKG_VERSION")),
        )
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REMOTE_ADDR", peer.ip().to_string())
        .env("X_FULL_URL", format!("http://{host}{path_and_query}"));
    if let Some(ct) = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        wasi.env("CONTENT_TYPE", ct);
    }
    let mut key = String::with_capacity(64);
    for name in parts.headers.keys() {
        let name = name.as_str();
        if name == "dapr-api-token" || name.contains('_') {
            continue;
        }
        let mut values = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let Some(first) = values.next() else { continue };
        key.clear();
        key.push_str("HTTP_");
        key.extend(name.chars().map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        }));
        match values.next() {
            None => wasi.env(&key, first),
            Some(second) => {
                let mut joined = [first, second].join(", ");
                for more in values {
                    joined.push_str(", ");
                    joined.push_str(more);
                }
                wasi.env(&key, joined)
            }
        };
    }
    wasi.envs(&env.vars);
}

/// Parses a CGI response: header lines, a blank line, the body.
pub fn parse_cgi(out: &[u8]) -> Result<Response<Full<Bytes>>, CgiError> {
    let (head, body) = split_head(out).ok_or(CgiError::NoBlankLine)?;
    let head = std::str::from_utf8(head).map_err(|_| CgiError::HeadNotUtf8)?;
    let mut status: Option<StatusCode> = None;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| CgiError::LineWithoutColon(line.to_string()))?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("");
            let code: u16 = code
                .parse()
                .map_err(|_| CgiError::BadStatus(value.to_string()))?;
            if !(200..=599).contains(&code) {
                return Err(CgiError::BadStatus(value.to_string()));
            }
            status = Some(
                StatusCode::from_u16(code).map_err(|_| CgiError::BadStatus(value.to_string()))?,
            );
            continue;
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| CgiError::BadHeaderName(name.to_string()))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| CgiError::BadHeaderValue(name.to_string()))?;
        if FRAMING_HEADERS.contains(&name.as_str()) {
            tracing::debug!(header = %name, "dropping a framing header from CGI output");
            continue;
        }
        headers.append(name, value);
    }
    let status = status.unwrap_or(if headers.contains_key(http::header::LOCATION) {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    let mut res = Response::new(Full::new(Bytes::copy_from_slice(body)));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    Ok(res)
}

fn split_head(out: &[u8]) -> Option<(&[u8], &[u8])> {
    // The first empty line ends the headers; lines may end in \n or \r\n.
    let mut i = 0;
    let mut line_start = 0;
    while i < out.len() {
        if out[i] == b'\n' {
            let line = &out[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some((&out[..line_start], &out[i + 1..]));
            }
            line_start = i + 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(res: Response<Full<Bytes>>) -> Bytes {
        res.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn cgi_with_status_and_headers() {
        let res = parse_cgi(
            b"Content-Type: application/json\nStatus: 404 Not Found\nX-A: 1\nX-A: 2\n\n{\"a\":1}",
        )
        .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(body(res).await, "{\"a\":1}");
    }

    #[tokio::test]
    async fn cgi_defaults_and_crlf() {
        let res = parse_cgi(b"Content-Type: text/plain\r\n\r\nhi\n\nthere").unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(body(res).await, "hi\n\nthere");
        let res = parse_cgi(b"Location: /elsewhere\n\n").unwrap();
        assert_eq!(res.status(), 302);
        let res = parse_cgi(b"\nbody only").unwrap();
        assert_eq!(res.status(), 200);
    }

    #[test]
    fn malformed_cgi_is_an_error() {
        assert!(parse_cgi(b"").is_err());
        assert!(parse_cgi(b"Content-Type: text/plain\nno blank line").is_err());
        assert!(parse_cgi(b"no colon here\n\n").is_err());
        assert!(parse_cgi(b"Status: abc\n\n").is_err());
        assert!(parse_cgi(b"Status: 99\n\n").is_err());
        assert!(parse_cgi(b"bad name: x\n\n").is_err());
    }

    #[test]
    fn cgi_variable_names() {
        for name in [
            "PATH_INFO",
            "CONTENT_TYPE",
            "X_FULL_URL",
            "HTTP_HOST",
            "HTTP_",
        ] {
            assert!(is_cgi_variable(name), "{name}");
        }
        for name in ["GREETING", "DAPR_HTTP_PORT", "http_host", "PATH"] {
            assert!(!is_cgi_variable(name), "{name}");
        }
    }

    #[tokio::test]
    async fn framing_headers_from_the_guest_are_dropped() {
        let res = parse_cgi(
            b"Content-Length: 999\nTransfer-Encoding: chunked\nConnection: keep-alive\nUpgrade: h2c\nKeep-Alive: 5\nTE: trailers\nTrailer: x\nX-Kept: yes\n\nhi",
        )
        .expect("parses");
        let names: Vec<&str> = res.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
        assert_eq!(body(res).await, "hi");
    }

    #[test]
    fn only_final_statuses_are_accepted() {
        for ok in ["200", "204 No Content", "404", "599"] {
            let out = format!("Status: {ok}\n\n");
            assert!(parse_cgi(out.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["101 Switching Protocols", "100", "199", "600", "999"] {
            let out = format!("Status: {bad}\n\n");
            assert_eq!(
                parse_cgi(out.as_bytes()).err(),
                Some(CgiError::BadStatus(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn paths_decode_strictly() {
        assert_eq!(decode_path("/a%20b/%C3%A9").as_deref(), Ok("/a b/\u{e9}"));
        assert_eq!(decode_path("/hello%00xyz"), Err(PathError::Nul));
        assert_eq!(decode_path("/k%FF"), Err(PathError::NotUtf8));
        assert_eq!(decode_path("/k%FE"), Err(PathError::NotUtf8));
        assert_eq!(decode_path("/plain").as_deref(), Ok("/plain"));
    }

    #[test]
    fn log_text_cannot_rewrite_the_line() {
        assert_eq!(escape_log_text("a\rb"), "a\\rb");
        assert_eq!(escape_log_text("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(escape_log_text("back\\slash"), "back\\\\slash");
        assert_eq!(escape_log_text("caf\u{e9} ok"), "caf\u{e9} ok");
    }
}
