//! The import's encodings: the URL and method a guest passes, and header blocks as
//! `name:value\n` lines (parsed from the guest, written back to it).

use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::debug;
use url::Url;

use super::HttpError;

pub(super) fn parse_url(bytes: &[u8]) -> Result<Url, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    let url = Url::parse(text.trim()).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::InvalidUrl(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(HttpError::InvalidUrl("no host".into()));
    }
    Ok(url)
}

pub(super) fn parse_method(bytes: &[u8]) -> Result<Method, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    if text.is_empty() || text.eq_ignore_ascii_case("CONNECT") {
        return Err(HttpError::InvalidMethod);
    }
    // Methods are case-sensitive tokens; the old guest crate sent them upper case.
    Method::from_bytes(text.as_bytes()).map_err(|_| HttpError::InvalidMethod)
}

/// Parses a `name:value\n` header block. Blank lines are skipped, `\r\n` is accepted,
/// whitespace around the value is trimmed, repeated names are kept.
pub fn parse_header_block(bytes: &[u8]) -> Result<HeaderMap, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    let mut headers = HeaderMap::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            HttpError::InvalidEncoding(format!("header line without ':': {line:?}"))
        })?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| HttpError::InvalidEncoding(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value.trim_matches([' ', '\t']))
            .map_err(|_| HttpError::InvalidEncoding(format!("invalid value for header {name}")))?;
        if crate::outbound::HOST_CONTROLLED_HEADERS.contains(&name.as_str()) {
            debug!(header = %name, "ignoring a header the host controls");
            continue;
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// Serialises headers as `name:value\n` lines, one line per value.
pub fn header_block(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// All values of header `name` joined by `", "`, or `None` if absent (or not a valid name).
pub fn joined_header(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
    let mut values = headers.get_all(&name).iter().peekable();
    values.peek()?;
    let mut out = Vec::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_parses_lines() {
        let h = parse_header_block(b"a:1\nB: two \r\n\nc:x:y\na:3\n").unwrap();
        assert_eq!(h.get_all("a").iter().collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h["b"], "two");
        assert_eq!(h["c"], "x:y");
    }

    #[test]
    fn header_line_without_colon_is_invalid_encoding() {
        assert!(matches!(
            parse_header_block(b"a:1\nbroken\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn bad_header_name_or_value_is_invalid_encoding() {
        assert!(matches!(
            parse_header_block(b"bad name:1\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
        assert!(matches!(
            parse_header_block(b":1\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
        assert!(matches!(
            parse_header_block(b"a:\x01\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn non_utf8_header_block_is_utf8_error() {
        assert_eq!(
            parse_header_block(b"a:\xff\n").unwrap_err(),
            HttpError::Utf8
        );
    }

    #[test]
    fn host_controlled_headers_are_dropped() {
        let h = parse_header_block(b"Host: evil.example\ncontent-length: 5\nx-ok: 1\n").unwrap();
        assert!(h.get("host").is_none());
        assert!(h.get("content-length").is_none());
        assert_eq!(h["x-ok"], "1");
    }

    #[test]
    fn header_block_round_trip_keeps_repeats() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.append("x-time", HeaderValue::from_static("12:30"));
        let block = header_block(&h);
        assert_eq!(
            String::from_utf8(block.clone()).unwrap(),
            "set-cookie:a=1\nset-cookie:b=2\nx-time:12:30\n"
        );
        assert_eq!(parse_header_block(&block).unwrap(), h);
        assert_eq!(joined_header(&h, "Set-Cookie").unwrap(), b"a=1, b=2");
        assert!(joined_header(&h, "missing").is_none());
        assert!(joined_header(&h, "bad name").is_none());
    }

    #[test]
    fn methods() {
        assert_eq!(parse_method(b"GET").unwrap(), Method::GET);
        assert_eq!(parse_method(b"DELETE").unwrap(), Method::DELETE);
        assert_eq!(parse_method(b"PURGE").unwrap().as_str(), "PURGE");
        assert_eq!(parse_method(b"").unwrap_err(), HttpError::InvalidMethod);
        assert_eq!(parse_method(b"GE T").unwrap_err(), HttpError::InvalidMethod);
        assert_eq!(
            parse_method(b"CONNECT").unwrap_err(),
            HttpError::InvalidMethod
        );
        assert_eq!(parse_method(b"\xff").unwrap_err(), HttpError::Utf8);
    }

    #[test]
    fn urls() {
        assert!(parse_url(b"http://127.0.0.1:3500/v1.0/state").is_ok());
        assert!(matches!(
            parse_url(b"not a url"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url(b"file:///etc/passwd"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url(b"ftp://example.com/"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert_eq!(parse_url(b"http://\xff/").unwrap_err(), HttpError::Utf8);
    }
}
