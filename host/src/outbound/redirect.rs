//! Redirects: followed only while `max_redirects` allows, to `http`/`https` only; the
//! next hop is checked against the allowlist again (by `send.rs`), loses credentials when
//! it leaves the origin, and becomes a body-less `GET` unless the status is 307 or 308.

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode};
use url::Url;

/// Where a redirect answer points, if it is one that may be followed.
pub(super) fn target(base: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    let next = base.join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

/// Same scheme, host and port (the scheme's default when absent).
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Adjusts the request for the hop from `from` to `to` after a redirect `status`.
pub(super) fn next_hop(
    status: StatusCode,
    from: &Url,
    to: &Url,
    method: &mut Method,
    headers: &mut HeaderMap,
    body: &mut Bytes,
) {
    if !same_origin(from, to) {
        for name in [
            header::AUTHORIZATION,
            header::COOKIE,
            header::PROXY_AUTHORIZATION,
        ] {
            headers.remove(name);
        }
        headers.remove("dapr-api-token");
    }
    let keeps_method = matches!(status.as_u16(), 307 | 308);
    if !keeps_method && *method != Method::HEAD {
        *method = Method::GET;
        *body = Bytes::new();
        headers.remove(header::CONTENT_TYPE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn targets_resolve_against_the_base_and_stay_on_http() {
        let base = url("http://a.example/x/y");
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, HeaderValue::from_static("/z"));
        assert_eq!(
            target(&base, &h).map(|u| u.to_string()).as_deref(),
            Some("http://a.example/z")
        );
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("file:///etc/passwd"),
        );
        assert!(target(&base, &h).is_none());
        assert!(target(&base, &HeaderMap::new()).is_none());
        assert!(same_origin(&base, &url("http://a.example:80/q")));
        assert!(!same_origin(&base, &url("https://a.example/q")));
    }

    #[test]
    fn leaving_the_origin_drops_credentials_and_303_becomes_get() {
        let mut headers = HeaderMap::new();
        for name in [
            "authorization",
            "cookie",
            "dapr-api-token",
            "content-type",
            "x-keep",
        ] {
            headers.insert(name, HeaderValue::from_static("v"));
        }
        let (mut method, mut body) = (Method::POST, Bytes::from_static(b"b"));
        next_hop(
            StatusCode::SEE_OTHER,
            &url("http://a.example/"),
            &url("http://b.example/"),
            &mut method,
            &mut headers,
            &mut body,
        );
        assert_eq!(method, Method::GET);
        assert!(body.is_empty());
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-keep"]);
    }

    #[test]
    fn same_origin_307_keeps_method_body_and_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("v"));
        let (mut method, mut body) = (Method::PUT, Bytes::from_static(b"b"));
        next_hop(
            StatusCode::TEMPORARY_REDIRECT,
            &url("http://a.example/x"),
            &url("http://a.example/y"),
            &mut method,
            &mut headers,
            &mut body,
        );
        assert_eq!((method, body.as_ref()), (Method::PUT, &b"b"[..]));
        assert!(headers.contains_key("authorization"));
    }
}
