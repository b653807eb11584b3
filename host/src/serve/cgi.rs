//! The CGI mapping of `serve`: an inbound request becomes the guest's environment (the
//! CGI meta-variables, one `HTTP_*` variable per header, then the shared variables), and
//! the guest's stdout (header lines, a blank line, the body) becomes the response.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use wasmtime_wasi::WasiCtxBuilder;

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
    /// `Status:` is not a status code from 100 to 999.
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
    parts: &http::request::Parts,
    body_len: usize,
    peer: SocketAddr,
) {
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
        .env(
            "PATH_INFO",
            percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy(),
        )
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
            status = Some(
                StatusCode::from_u16(code).map_err(|_| CgiError::BadStatus(value.to_string()))?,
            );
            continue;
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| CgiError::BadHeaderName(name.to_string()))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| CgiError::BadHeaderValue(name.to_string()))?;
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
}
