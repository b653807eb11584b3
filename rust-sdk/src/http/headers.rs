//! An ordered, case-insensitive header list and the ABI's `name:value\n` block format.

use super::Error;

/// An ordered list of header fields; names compare case-insensitively.
///
/// Repeated names are kept as separate entries, in the order they were added or
/// received. Names keep the case they were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header, keeping any existing ones with the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every header named `name` with a single one.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.remove(&name);
        self.entries.push((name, value.into()));
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of the header `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the header `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every `(name, value)` pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of entries (a repeated header counts once per value).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses the ABI's header block: `name:value` lines separated by `\n`.
    ///
    /// A `\r` before the `\n` and blank lines are tolerated, whitespace around names and
    /// values is trimmed, and a value may itself contain `:`. A line without `:` (or with
    /// an empty name) is an [`Error::MalformedHeaderLine`].
    pub fn parse_block(block: &str) -> Result<Headers, Error> {
        let mut headers = Headers::new();
        for line in block.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(Error::MalformedHeaderLine(line.to_owned()));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::MalformedHeaderLine(line.to_owned()));
            }
            headers.append(name, value.trim_matches([' ', '\t']));
        }
        Ok(headers)
    }

    /// Serialises the headers into the ABI's block format, `name:value\n` per entry.
    ///
    /// Fails on a name that is not an HTTP token or a value containing a line break or
    /// another control character, so a value can never smuggle in an extra header.
    pub fn to_block(&self) -> Result<String, Error> {
        self.check()?;
        let mut block = String::new();
        for (name, value) in &self.entries {
            block.push_str(name);
            block.push(':');
            block.push_str(value);
            block.push('\n');
        }
        Ok(block)
    }
}

impl Headers {
    /// Fails on the first name that is not an HTTP token or value with a line break or
    /// another control character (what [`Headers::to_block`] refuses).
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (name, value) in &self.entries {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(Error::InvalidHeaderName(name.clone()));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(Error::InvalidHeaderValue(name.clone()));
            }
        }
        Ok(())
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_block() {
        let h = Headers::parse_block("content-type:application/json\netag:1\n").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.get("Content-Type"), Some("application/json"));
        assert_eq!(h.get("ETAG"), Some("1"));
        assert_eq!(h.get("missing"), None);
    }

    #[test]
    fn value_may_contain_colons() {
        let h = Headers::parse_block("location:http://127.0.0.1:3500/a\nx:a:b:c").unwrap();
        assert_eq!(h.get("location"), Some("http://127.0.0.1:3500/a"));
        assert_eq!(h.get("x"), Some("a:b:c"));
    }

    #[test]
    fn repeated_names_are_kept_in_order() {
        let h = Headers::parse_block("set-cookie:a=1\nx:y\nSet-Cookie:b=2\n").unwrap();
        assert_eq!(h.get_all("set-cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert_eq!(h.get("set-cookie"), Some("a=1"));
    }

    #[test]
    fn tolerates_crlf_blank_lines_and_spaces() {
        let h = Headers::parse_block("\r\na: 1 \r\n\r\n b :\t2\n").unwrap();
        assert_eq!(h.get("a"), Some("1"));
        assert_eq!(h.get("b"), Some("2"));
        assert_eq!(Headers::parse_block("").unwrap(), Headers::new());
    }

    #[test]
    fn empty_value_is_allowed() {
        let h = Headers::parse_block("x-empty:\n").unwrap();
        assert_eq!(h.get("x-empty"), Some(""));
    }

    #[test]
    fn line_without_colon_is_an_error() {
        assert_eq!(
            Headers::parse_block("a:1\nbroken line\n"),
            Err(Error::MalformedHeaderLine("broken line".into()))
        );
        assert_eq!(
            Headers::parse_block(":value"),
            Err(Error::MalformedHeaderLine(":value".into()))
        );
    }

    #[test]
    fn serialises_in_order() {
        let h: Headers = [("a", "1"), ("b", "x:y"), ("a", "2")].into_iter().collect();
        assert_eq!(h.to_block().unwrap(), "a:1\nb:x:y\na:2\n");
        assert_eq!(Headers::new().to_block().unwrap(), "");
    }

    #[test]
    fn round_trips() {
        let h: Headers = [("If-Match", "\"abc\""), ("x", ""), ("x", "a: b")]
            .into_iter()
            .collect();
        assert_eq!(Headers::parse_block(&h.to_block().unwrap()).unwrap(), h);
    }

    #[test]
    fn refuses_header_injection() {
        let h: Headers = [("x", "1\nevil:2")].into_iter().collect();
        assert_eq!(h.to_block(), Err(Error::InvalidHeaderValue("x".into())));
        let h: Headers = [("x", "1\r")].into_iter().collect();
        assert!(h.to_block().is_err());
        for bad in ["", "a:b", "a b", "a\n"] {
            let h: Headers = [(bad, "v")].into_iter().collect();
            assert_eq!(h.to_block(), Err(Error::InvalidHeaderName(bad.into())));
        }
    }

    #[test]
    fn set_and_remove_are_case_insensitive() {
        let mut h = Headers::new();
        h.append("Content-Type", "a");
        h.append("content-type", "b");
        h.set("CONTENT-TYPE", "c");
        assert_eq!(h.get_all("content-type").collect::<Vec<_>>(), ["c"]);
        h.remove("Content-type");
        assert!(h.is_empty());
        assert!(!h.contains("content-type"));
    }
}
