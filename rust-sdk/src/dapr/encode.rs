//! Percent-encoding of path segments and query strings for sidecar URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Error, Metadata};

/// Everything but RFC 3986 "unreserved" characters is encoded, in paths and queries.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes one value as a single path segment (`/` becomes `%2F`).
///
/// `what` names the argument in the error for an empty value, `.` or `..` (URL parsers
/// resolve dot segments, even percent-encoded ones, so they cannot be sent).
pub(crate) fn segment(what: &str, value: &str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} must not be empty")));
    }
    if value == "." || value == ".." {
        return Err(Error::InvalidArgument(format!(
            "{what} {value:?} cannot be used in a URL path"
        )));
    }
    Ok(utf8_percent_encode(value, COMPONENT).to_string())
}

/// Encodes a `/`-separated path: each segment is encoded, the `/` between them kept.
///
/// Used for topics (which may contain `/`) and invoked method paths. A leading `/` is
/// dropped; segments are checked like [`segment`].
pub(crate) fn path(what: &str, value: &str) -> Result<String, Error> {
    let value = value.strip_prefix('/').unwrap_or(value);
    if value.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} must not be empty")));
    }
    let mut out = String::new();
    for (i, part) in value.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if part == "." || part == ".." {
            return Err(Error::InvalidArgument(format!(
                "{what} {value:?} has a {part:?} segment, which cannot be used in a URL path"
            )));
        }
        out.extend(utf8_percent_encode(part, COMPONENT));
    }
    Ok(out)
}

/// A query string being built; [`Query::finish`] returns `""` or `?a=b&c=d`.
#[derive(Default)]
pub(crate) struct Query(String);

impl Query {
    /// Appends `key=value`, both percent-encoded.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.extend(utf8_percent_encode(key, COMPONENT));
        self.0.push('=');
        self.0.extend(utf8_percent_encode(value, COMPONENT));
    }

    /// Appends `metadata.<key>=<value>` for every entry.
    pub(crate) fn metadata(&mut self, metadata: &Metadata) {
        for (key, value) in metadata {
            self.push(&format!("metadata.{key}"), value);
        }
    }

    /// The query string, with its leading `?` (empty if nothing was pushed).
    pub(crate) fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_encodes_reserved_characters() {
        assert_eq!(segment("key", "weapon").unwrap(), "weapon");
        assert_eq!(
            segment("key", "a b/c?d#e%f").unwrap(),
            "a%20b%2Fc%3Fd%23e%25f"
        );
        assert_eq!(segment("key", "a||b").unwrap(), "a%7C%7Cb");
        assert_eq!(segment("key", "x-y_z.~1").unwrap(), "x-y_z.~1");
        assert_eq!(segment("key", "ünï").unwrap(), "%C3%BCn%C3%AF");
        assert_eq!(segment("key", "a+b&c=d").unwrap(), "a%2Bb%26c%3Dd");
        assert_eq!(segment("key", "...").unwrap(), "...");
    }

    #[test]
    fn segment_refuses_empty_and_dot_segments() {
        for bad in ["", ".", ".."] {
            let err = segment("state key", bad).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(ref m) if m.starts_with("state key")));
        }
    }

    #[test]
    fn path_keeps_slashes_between_encoded_segments() {
        assert_eq!(path("topic", "orders").unwrap(), "orders");
        assert_eq!(path("topic", "a/b c/d%").unwrap(), "a/b%20c/d%25");
        assert_eq!(
            path("method", "/api/v1/items?x").unwrap(),
            "api/v1/items%3Fx"
        );
        assert_eq!(path("method", "a//b/").unwrap(), "a//b/");
        assert!(path("method", "/").is_err());
        assert!(path("method", "").is_err());
        assert!(path("method", "a/../b").is_err());
        assert!(path("topic", "./x").is_err());
    }

    #[test]
    fn query_encodes_keys_and_values() {
        let mut q = Query::default();
        assert_eq!(Query::default().finish(), "");
        q.push("key", "a b&c");
        q.push("key", "ü=1");
        let mut md = Metadata::new();
        md.insert("ttlInSeconds".into(), "10".into());
        md.insert("partition key".into(), "p/1".into());
        q.metadata(&md);
        assert_eq!(
            q.finish(),
            "?key=a%20b%26c&key=%C3%BC%3D1&metadata.partition%20key=p%2F1&metadata.ttlInSeconds=10"
        );
    }
}
