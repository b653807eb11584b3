//! Splits an absolute URL into the scheme, authority and path-with-query that
//! `wasi:http` sets one by one on an outgoing request.

use super::Error;

/// The parts of an absolute `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// Whether the scheme is `https`.
    pub(crate) https: bool,
    /// `host`, `host:port` or `[v6]:port`; never empty.
    pub(crate) authority: &'a str,
    /// The path and query, starting with `/` (`/` when the URL has no path); any
    /// `#fragment` is left out, as it is never sent.
    pub(crate) path_with_query: String,
}

/// Splits `url`; anything but an absolute `http(s)://authority[/path][?query]` URL is
/// an [`Error::InvalidUrl`]. The scheme is case-insensitive.
pub(crate) fn split(url: &str) -> Result<Target<'_>, Error> {
    let (scheme, rest) = url.split_once("://").ok_or(Error::InvalidUrl)?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(Error::InvalidUrl);
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty()
        || authority.contains('@')
        || authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidUrl);
    }
    let path_with_query = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Ok(Target {
        https,
        authority,
        path_with_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (bool, String, String) {
        let t = split(url).unwrap();
        (t.https, t.authority.to_owned(), t.path_with_query)
    }

    #[test]
    fn splits_http_and_https() {
        assert_eq!(
            parts("http://127.0.0.1:3500/v1.0/state/statestore?metadata.x=1"),
            (
                false,
                "127.0.0.1:3500".into(),
                "/v1.0/state/statestore?metadata.x=1".into()
            )
        );
        assert_eq!(
            parts("HTTPS://api.example.com/a/b"),
            (true, "api.example.com".into(), "/a/b".into())
        );
        assert_eq!(
            parts("http://[::1]:8080/x"),
            (false, "[::1]:8080".into(), "/x".into())
        );
    }

    #[test]
    fn missing_path_is_slash_and_fragment_is_dropped() {
        assert_eq!(parts("http://h").2, "/");
        assert_eq!(parts("http://h?q=1").2, "/?q=1");
        assert_eq!(parts("http://h/p#frag").2, "/p");
        assert_eq!(parts("http://h#frag").2, "/");
    }

    #[test]
    fn refuses_what_is_not_an_absolute_http_url() {
        for bad in [
            "",
            "127.0.0.1:3500/v1.0",
            "/v1.0/healthz",
            "ftp://h/x",
            "http://",
            "http:///path",
            "http://user:pw@h/",
            "http://a b/",
        ] {
            assert_eq!(split(bad), Err(Error::InvalidUrl), "{bad:?}");
        }
    }
}
