//! The outbound allowlist: parses `scheme://host[:port]` entries once and matches parsed URLs against them.
//!
//! # Entry grammar
//!
//! ```text
//! entry  = scheme "://" host [ ":" port ]
//! scheme = "http" | "https" | "*"                      (case-insensitive)
//! host   = "*"                                         any host
//!        | "*." name                                   any subdomain of name, NOT name itself
//!        | name                                        one DNS name (IDN allowed, compared in punycode)
//!        | ipv4                                        dotted decimal, e.g. 127.0.0.1
//!        | "[" ipv6 "]"                                e.g. [::1]
//!        | ipv4 "/" prefix                             CIDR block, e.g. 10.0.0.0/8
//!        | "[" ipv6 "]" "/" prefix                     CIDR block, e.g. [fd00::]/8
//! port   = 1..65535 | "*"
//! ```
//!
//! Rules, each one enforced when the list is parsed:
//!
//! - A missing port means the scheme's default port: `http://h` is `http://h:80`, and
//!   `*://h` means `http://h:80` or `https://h:443` (never "any port"; write `:*` for that).
//! - `*.example.com` matches `a.example.com` and `a.b.example.com` but not
//!   `example.com`; list the apex separately when it is wanted.
//! - `*` alone is refused as ambiguous; `*://*:*` is the explicit allow-all.
//! - Paths (even a lone `/`), queries, fragments, userinfo, empty entries, whitespace,
//!   schemes other than `http`/`https`/`*`, port 0 or above 65535, `*` anywhere in a host
//!   other than the whole host or its first label, IPv4 written in anything but dotted
//!   decimal, unbracketed IPv6 and CIDR blocks with host bits set (`10.0.0.1/8`) are
//!   refused with an error that names the entry and shows the expected form.
//!
//! # Matching
//!
//! [`AllowedHosts::check`] works on a [`url::Url`], i.e. on the WHATWG-normalised form the
//! HTTP client will actually connect to: scheme and host are lowercase, IPv4 written in
//! decimal, octal or hex (`http://2130706433`, `http://0177.0.0.1`) is already
//! `127.0.0.1`, percent-encoding in the host is decoded, and userinfo is separated from
//! the host (`http://127.0.0.1:3500@evil.example` is a request to `evil.example`). On
//! top of that one trailing dot is ignored (`example.com.` is `example.com`). The port is
//! [`url::Url::port_or_known_default`].
//!
//! Names and addresses are never mixed: no DNS lookup happens at match time, so a name
//! (`localhost`) never matches an IP or CIDR entry and an IP URL never matches a name
//! entry. IPv4-mapped IPv6 addresses (`[::ffff:127.0.0.1]`) are IPv6 addresses here: they do
//! not match the IPv4 entry `127.0.0.1`; allow them with an IPv6 entry such as
//! `http://[::ffff:127.0.0.1]` or `http://[::ffff:0:0]/96`.
//!
//! A name entry allows the name, not whatever it resolves to: the send path's connect
//! policy (`[connect]`, in `crate::outbound`) still refuses loopback, link-local and
//! unspecified addresses behind a name or behind a `*` host;
//! [`AllowedHosts::allows_by_address`] tells it when an entry named the address itself.
//!
//! The caller must send exactly the [`url::Url`] it checked, not a re-serialised or
//! re-parsed string, so that what was checked is what is connected to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The expected form, quoted in every parse error.
const EXPECTED_FORM: &str = "expected `scheme://host[:port]` with scheme http, https or *, \
     e.g. `https://api.example.com` or `http://127.0.0.1:3500`";

/// Which URL schemes an entry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemePattern {
    /// `*`: `http` or `https`.
    Any,
    /// `http`.
    Http,
    /// `https`.
    Https,
}

/// Which hosts an entry accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: every host, name or address.
    Any,
    /// One DNS name, lowercase ASCII (punycode), without a trailing dot.
    Name(String),
    /// `*.suffix`: every name that ends in `.suffix`; `suffix` itself is not included.
    Subdomains(String),
    /// One IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Every address in a CIDR block (the network address has no host bits set).
    Cidr(IpNet),
}

/// Which ports an entry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// No port written: the default port of the request's scheme (80 for http, 443 for https).
    SchemeDefault,
    /// `:*`: every port.
    Any,
    /// One port.
    Exact(u16),
}

/// One parsed allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedHost {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

/// The outbound allowlist: a request is allowed if any entry matches it, and denied
/// otherwise. The default (and an empty list) denies everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// Why an allowlist entry was refused at load time. Every message names the entry and
/// shows the expected form.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// The entry is the empty string.
    #[error("allowlist entry is empty; {EXPECTED_FORM}")]
    Empty,
    /// The entry contains whitespace or a control character.
    #[error(
        "allowlist entry {entry:?} contains whitespace or a control character; {EXPECTED_FORM}"
    )]
    Whitespace {
        /// The entry as written.
        entry: String,
    },
    /// The entry is `*` alone, which is refused as ambiguous.
    #[error(
        "allowlist entry \"*\" is ambiguous; write `*://*:*` to allow every scheme, host and \
         port; otherwise {EXPECTED_FORM}"
    )]
    BareWildcard,
    /// The entry has no `scheme://` prefix (for example a bare host `example.com`).
    #[error(
        "allowlist entry {entry:?} has no scheme; {EXPECTED_FORM}{}",
        scheme_hint(entry)
    )]
    MissingScheme {
        /// The entry as written.
        entry: String,
    },
    /// The scheme is not `http`, `https` or `*`.
    #[error(
        "allowlist entry {entry:?} has unsupported scheme {scheme:?}: only `http`, `https` \
         and `*` are supported; {EXPECTED_FORM}"
    )]
    UnsupportedScheme {
        /// The entry as written.
        entry: String,
        /// The scheme found in the entry.
        scheme: String,
    },
    /// The entry has userinfo (`user:password@`).
    #[error(
        "allowlist entry {entry:?} contains userinfo (`user@`), which an allowlist entry \
         cannot have; {EXPECTED_FORM}"
    )]
    Userinfo {
        /// The entry as written.
        entry: String,
    },
    /// The entry has a path (anything from `/` on that is not a CIDR prefix).
    #[error(
        "allowlist entry {entry:?} has a path; entries name an origin, not a path: write \
         `{suggestion}`"
    )]
    Path {
        /// The entry as written.
        entry: String,
        /// The entry with the path removed.
        suggestion: String,
    },
    /// The entry has a query string or a fragment.
    #[error(
        "allowlist entry {entry:?} has a query or fragment; entries name an origin: write \
         `{suggestion}`"
    )]
    QueryOrFragment {
        /// The entry as written.
        entry: String,
        /// The entry with the query or fragment removed.
        suggestion: String,
    },
    /// The host part is empty (`http://` or `http://:80`).
    #[error("allowlist entry {entry:?} has no host; {EXPECTED_FORM}")]
    EmptyHost {
        /// The entry as written.
        entry: String,
    },
    /// `*` appears in the host somewhere other than as the whole host or its first label.
    #[error(
        "allowlist entry {entry:?} has `*` inside the host; `*` must be the whole host \
         (`http://*`) or the whole first label (`http://*.example.com`)"
    )]
    MisplacedWildcard {
        /// The entry as written.
        entry: String,
    },
    /// The host is not a valid name, dotted-decimal IPv4 address or bracketed IPv6 address.
    #[error(
        "allowlist entry {entry:?} has an invalid host: {reason}; expected a DNS name \
         (`api.example.com`), dotted-decimal IPv4 (`127.0.0.1`) or bracketed IPv6 (`[::1]`)"
    )]
    InvalidHost {
        /// The entry as written.
        entry: String,
        /// What is wrong with the host.
        reason: String,
        /// The URL host parser's error, when it produced one.
        #[source]
        source: Option<url::ParseError>,
    },
    /// The port is not `*` or a number from 1 to 65535.
    #[error(
        "allowlist entry {entry:?} has invalid port {port:?}; expected a number from 1 to \
         65535 or `*`, e.g. `http://127.0.0.1:3500` or `http://127.0.0.1:*`"
    )]
    InvalidPort {
        /// The entry as written.
        entry: String,
        /// The port text found in the entry.
        port: String,
    },
    /// The CIDR block is malformed (bad prefix length, or host bits set).
    #[error(
        "allowlist entry {entry:?} has an invalid CIDR block: {reason}; expected \
         `http://10.0.0.0/8` or `http://[fd00::]/8:3500`"
    )]
    InvalidCidr {
        /// The entry as written.
        entry: String,
        /// What is wrong with the block.
        reason: String,
    },
}

/// For [`AllowlistError::MissingScheme`]: show the entry with a scheme when that is
/// plausibly what was meant.
fn scheme_hint(entry: &str) -> String {
    if !entry.contains(['/', ':', '@', '?', '#']) {
        format!("; did you mean `https://{entry}`?")
    } else {
        String::new()
    }
}

/// A request refused by the allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The refused URL shown safely: `scheme://host:port/path`, without the query string
    /// or fragment, and with any userinfo replaced by `***@` (so credentials are never
    /// logged but a `user@host` trick stays visible).
    pub url: String,
    /// The allowlist entry that would allow this request, e.g. `https://api.example.com`
    /// or `http://127.0.0.1:8080`. Empty when no entry can allow it (the scheme is not
    /// `http` or `https`, or the URL has no host).
    pub suggestion: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.suggestion.is_empty() {
            write!(
                f,
                "{} is not allowed: only http and https URLs with a host can be allowlisted",
                self.url
            )
        } else {
            write!(
                f,
                "{} is not in the outbound allowlist; add \"{}\" to allowed_hosts to allow it",
                self.url, self.suggestion
            )
        }
    }
}

impl std::error::Error for Denied {}

impl AllowedHosts {
    /// An allowlist that refuses every request.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Parses every entry; the first invalid entry fails the whole list.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        // Duplicates are found with a set, so a long list loads in linear time.
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        let mut parsed: Vec<AllowedHost> = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = AllowedHost::parse(entry.as_ref())?;
            if seen.insert(entry.clone()) {
                parsed.push(entry);
            }
        }
        Ok(Self { entries: parsed })
    }

    /// True if no request can be allowed.
    pub fn is_deny_all(&self) -> bool {
        self.entries.is_empty()
    }

    /// True if some entry allows an `https` URL (scheme `https` or `*`).
    pub fn allows_https(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.scheme, SchemePattern::Https | SchemePattern::Any))
    }

    /// True if some entry allows every request (`*://*:*`).
    pub fn is_allow_all(&self) -> bool {
        self.entries.iter().any(|e| {
            e.scheme == SchemePattern::Any
                && e.host == HostPattern::Any
                && e.port == PortPattern::Any
        })
    }

    /// The parsed entries, duplicates removed, in the order written. Each displays in
    /// canonical form; [`AllowedHosts`] itself displays them comma-separated.
    pub fn entries(&self) -> &[AllowedHost] {
        &self.entries
    }

    /// Allows `url` if any entry matches its scheme, host and port; otherwise says what
    /// was refused and which entry would allow it.
    pub fn check(&self, url: &url::Url) -> Result<(), Denied> {
        let target = Target::from_url(url);
        let allowed = match &target {
            Some(t) => self.entries.iter().any(|e| e.matches(t)),
            None => false,
        };
        if allowed {
            return Ok(());
        }
        Err(Denied {
            url: safe_url(url),
            suggestion: target.map(|t| t.suggestion()).unwrap_or_default(),
        })
    }
}

impl AllowedHosts {
    /// True if `url`'s host is an IP literal and an entry that names an address or a
    /// CIDR block (not `*`) allows the request. Such a request is exempt from the connect
    /// policy (`[connect]`); an IP literal allowed only by a `*` host is not.
    pub fn allows_by_address(&self, url: &url::Url) -> bool {
        let Some(target) = Target::from_url(url) else {
            return false;
        };
        if matches!(target.host, url::Host::Domain(_)) {
            return false;
        }
        self.entries.iter().any(|e| {
            matches!(e.host, HostPattern::Ip(_) | HostPattern::Cidr(_)) && e.matches(&target)
        })
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("(deny all)");
        }
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The parts of a request URL that matching looks at.
struct Target<'a> {
    https: bool,
    host: url::Host<&'a str>,
    port: u16,
}

impl<'a> Target<'a> {
    fn from_url(url: &'a url::Url) -> Option<Self> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        let host = match url.host()? {
            url::Host::Domain(d) => {
                let d = d.strip_suffix('.').unwrap_or(d);
                if d.is_empty() {
                    return None;
                }
                url::Host::Domain(d)
            }
            other => other,
        };
        let port = url.port_or_known_default()?;
        Some(Self { https, host, port })
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    /// The narrowest entry that allows this target.
    fn suggestion(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = match &self.host {
            url::Host::Domain(d) => d.to_ascii_lowercase(),
            url::Host::Ipv4(a) => a.to_string(),
            url::Host::Ipv6(a) => format!("[{a}]"),
        };
        if self.port == self.default_port() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.port)
        }
    }
}

/// `scheme://[***@]host:port/path`, for logs and error messages.
fn safe_url(url: &url::Url) -> String {
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("***@");
    }
    out.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port_or_known_default() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
}

impl AllowedHost {
    /// Parses one entry (see the module docs for the grammar).
    pub fn parse(entry: &str) -> Result<Self, AllowlistError> {
        if entry.is_empty() {
            return Err(AllowlistError::Empty);
        }
        let owned = || entry.to_owned();
        if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AllowlistError::Whitespace { entry: owned() });
        }
        if entry == "*" {
            return Err(AllowlistError::BareWildcard);
        }
        let Some((scheme_text, rest)) = entry.split_once("://") else {
            return Err(AllowlistError::MissingScheme { entry: owned() });
        };
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "*" => SchemePattern::Any,
            "http" => SchemePattern::Http,
            "https" => SchemePattern::Https,
            _ => {
                return Err(AllowlistError::UnsupportedScheme {
                    entry: owned(),
                    scheme: scheme_text.to_owned(),
                });
            }
        };
        if rest.contains('@') {
            return Err(AllowlistError::Userinfo { entry: owned() });
        }
        if let Some(cut) = rest.find(['?', '#']) {
            return Err(AllowlistError::QueryOrFragment {
                entry: owned(),
                suggestion: format!("{scheme_text}://{}", &rest[..cut]),
            });
        }

        // Split off the host; `tail` is what follows it: "", "/prefix...", ":port".
        let (host_text, bracketed, tail) = if let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(invalid_host(entry, "`[` without a closing `]`", None));
            };
            (&inner[..close], true, &inner[close + 1..])
        } else {
            let authority = rest.split('/').next().unwrap_or(rest);
            if authority.matches(':').count() > 1 && authority.parse::<Ipv6Addr>().is_ok() {
                return Err(invalid_host(
                    entry,
                    "IPv6 addresses must be in brackets, e.g. `http://[::1]:3500` or \
                     `http://[fd00::]/8`",
                    None,
                ));
            }
            let end = rest.find(['/', ':']).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        if bracketed && !tail.is_empty() && !tail.starts_with(['/', ':']) {
            return Err(invalid_host(entry, "unexpected text after `]`", None));
        }

        let mut host = if bracketed {
            match host_text.parse::<Ipv6Addr>() {
                Ok(a) => HostPattern::Ip(IpAddr::V6(a)),
                Err(_) => {
                    return Err(invalid_host(
                        entry,
                        &format!("[{host_text}] is not an IPv6 address"),
                        None,
                    ));
                }
            }
        } else {
            parse_unbracketed_host(entry, host_text)?
        };

        // A `/` after an IP address starts a CIDR prefix if it is followed by digits only;
        // anything else after a `/` is a path.
        let mut port_text = tail;
        if let Some(after_slash) = tail.strip_prefix('/') {
            let prefix_end = after_slash.find([':', '/']).unwrap_or(after_slash.len());
            let prefix = &after_slash[..prefix_end];
            let is_prefix = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
            match (&host, is_prefix) {
                (HostPattern::Ip(ip), true) => {
                    host = HostPattern::Cidr(parse_cidr(entry, *ip, prefix)?);
                    port_text = &after_slash[prefix_end..];
                }
                _ => {
                    let host_len = rest.len() - tail.len();
                    return Err(AllowlistError::Path {
                        entry: owned(),
                        suggestion: format!("{scheme_text}://{}", &rest[..host_len]),
                    });
                }
            }
        }

        // What is left is "" or ":port"; a `/` from here on starts a path.
        if let Some(slash) = port_text.find('/') {
            let keep = rest.len() - port_text.len() + slash;
            return Err(AllowlistError::Path {
                entry: owned(),
                suggestion: format!("{scheme_text}://{}", &rest[..keep]),
            });
        }
        let port = match port_text.strip_prefix(':') {
            None => PortPattern::SchemeDefault,
            Some(p) => parse_port(entry, p)?,
        };
        Ok(Self { scheme, host, port })
    }

    /// The schemes this entry accepts.
    pub fn scheme(&self) -> SchemePattern {
        self.scheme
    }

    /// The hosts this entry accepts.
    pub fn host(&self) -> &HostPattern {
        &self.host
    }

    /// The ports this entry accepts.
    pub fn port(&self) -> PortPattern {
        self.port
    }

    fn matches(&self, t: &Target<'_>) -> bool {
        let scheme_ok = match self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Http => !t.https,
            SchemePattern::Https => t.https,
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => t.port == p,
            PortPattern::SchemeDefault => t.port == t.default_port(),
        };
        scheme_ok && port_ok && self.host_matches(&t.host)
    }

    fn host_matches(&self, host: &url::Host<&str>) -> bool {
        let ip = match host {
            url::Host::Domain(d) => {
                return match &self.host {
                    HostPattern::Any => true,
                    HostPattern::Name(n) => d.eq_ignore_ascii_case(n),
                    HostPattern::Subdomains(suffix) => {
                        d.len() > suffix.len() + 1
                            && d.is_char_boundary(d.len() - suffix.len() - 1)
                            && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                            && d.as_bytes()[d.len() - suffix.len() - 1] == b'.'
                    }
                    HostPattern::Ip(_) | HostPattern::Cidr(_) => false,
                };
            }
            url::Host::Ipv4(a) => IpAddr::V4(*a),
            url::Host::Ipv6(a) => IpAddr::V6(*a),
        };
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Ip(entry) => *entry == ip,
            HostPattern::Cidr(net) => net.contains(&ip),
            HostPattern::Name(_) | HostPattern::Subdomains(_) => false,
        }
    }
}

impl fmt::Display for AllowedHost {
    /// The canonical form, which parses back to the same entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            SchemePattern::Any => "*",
            SchemePattern::Http => "http",
            SchemePattern::Https => "https",
        };
        write!(f, "{scheme}://")?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Name(n) => f.write_str(n)?,
            HostPattern::Subdomains(s) => write!(f, "*.{s}")?,
            HostPattern::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
            HostPattern::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
            HostPattern::Cidr(IpNet::V4(n)) => write!(f, "{}/{}", n.addr(), n.prefix_len())?,
            HostPattern::Cidr(IpNet::V6(n)) => write!(f, "[{}]/{}", n.addr(), n.prefix_len())?,
        }
        match self.port {
            PortPattern::SchemeDefault => Ok(()),
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Exact(p) => write!(f, ":{p}"),
        }
    }
}

fn invalid_host(entry: &str, reason: &str, source: Option<url::ParseError>) -> AllowlistError {
    AllowlistError::InvalidHost {
        entry: entry.to_owned(),
        reason: reason.to_owned(),
        source,
    }
}

/// `*`, `*.name`, dotted-decimal IPv4 or a DNS name.
fn parse_unbracketed_host(entry: &str, text: &str) -> Result<HostPattern, AllowlistError> {
    if text.is_empty() {
        return Err(AllowlistError::EmptyHost {
            entry: entry.to_owned(),
        });
    }
    if text == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some(suffix) = text.strip_prefix("*.") {
        if suffix.contains('*') {
            return Err(AllowlistError::MisplacedWildcard {
                entry: entry.to_owned(),
            });
        }
        return match parse_name(entry, suffix)? {
            Some(name) => Ok(HostPattern::Subdomains(name)),
            None => Err(invalid_host(
                entry,
                "`*.` applies to names, not addresses; use a CIDR block such as `10.0.0.0/8`",
                None,
            )),
        };
    }
    if text.contains('*') {
        return Err(AllowlistError::MisplacedWildcard {
            entry: entry.to_owned(),
        });
    }
    if let Ok(a) = text.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(a)));
    }
    match parse_name(entry, text)? {
        Some(name) => Ok(HostPattern::Name(name)),
        None => Err(invalid_host(
            entry,
            &format!(
                "{text:?} reads as an IPv4 address; write it in dotted decimal, e.g. `127.0.0.1`"
            ),
            None,
        )),
    }
}

/// Normalises a DNS name the way the URL parser does (lowercase, IDNA to punycode) after
/// removing one trailing dot. Returns `None` if the URL parser reads it as an IPv4
/// address (`2130706433`, `0x7f.0.0.1`), which entries must write in dotted decimal.
fn parse_name(entry: &str, text: &str) -> Result<Option<String>, AllowlistError> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err(AllowlistError::EmptyHost {
            entry: entry.to_owned(),
        });
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid_host(
            entry,
            &format!("character {c:?} is not allowed in a host name"),
            None,
        ));
    }
    match url::Host::parse(text) {
        Ok(url::Host::Domain(d)) => {
            if let Some(label) = d.split('.').find(|l| l.is_empty() || l.len() > 63) {
                let reason = if label.is_empty() {
                    "empty label (`..`)".to_owned()
                } else {
                    format!("label {label:?} is longer than 63 characters")
                };
                return Err(invalid_host(entry, &reason, None));
            }
            if d.len() > 253 {
                return Err(invalid_host(entry, "name longer than 253 characters", None));
            }
            Ok(Some(d))
        }
        Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Ok(None),
        Err(e) => Err(invalid_host(
            entry,
            &format!("{text:?} is not a valid host name"),
            Some(e),
        )),
    }
}

fn parse_cidr(entry: &str, ip: IpAddr, prefix: &str) -> Result<IpNet, AllowlistError> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bad = |reason: String| AllowlistError::InvalidCidr {
        entry: entry.to_owned(),
        reason,
    };
    let len = prefix
        .parse::<u8>()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| bad(format!("prefix length {prefix} is not between 0 and {max}")))?;
    let net = IpNet::new(ip, len)
        .map_err(|_| bad(format!("prefix length {prefix} is not between 0 and {max}")))?;
    if net.trunc() != net {
        let network = net.trunc().addr();
        let shown = match network {
            IpAddr::V4(a) => format!("{a}/{len}"),
            IpAddr::V6(a) => format!("[{a}]/{len}"),
        };
        return Err(bad(format!(
            "the address has bits set beyond the /{len} prefix (that block is `{shown}`)"
        )));
    }
    Ok(net)
}

fn parse_port(entry: &str, text: &str) -> Result<PortPattern, AllowlistError> {
    if text == "*" {
        return Ok(PortPattern::Any);
    }
    let bad = || AllowlistError::InvalidPort {
        entry: entry.to_owned(),
        port: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(p) => Ok(PortPattern::Exact(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        match AllowedHosts::parse(entries) {
            Ok(h) => h,
            Err(e) => panic!("{entries:?} should parse: {e}"),
        }
    }

    fn url(s: &str) -> url::Url {
        match url::Url::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s} should be a URL: {e}"),
        }
    }

    fn allows(entries: &[&str], u: &str) -> bool {
        hosts(entries).check(&url(u)).is_ok()
    }

    fn parse_err(entry: &str) -> AllowlistError {
        match AllowedHost::parse(entry) {
            Ok(h) => panic!("{entry:?} should be refused, parsed as {h:?}"),
            Err(e) => e,
        }
    }

    fn one(entry: &str) -> AllowedHost {
        match AllowedHost::parse(entry) {
            Ok(h) => h,
            Err(e) => panic!("{entry:?} should parse: {e}"),
        }
    }

    // ---- deny by default ----

    #[test]
    fn deny_all_denies_everything() {
        let h = AllowedHosts::deny_all();
        assert!(h.is_deny_all());
        assert!(!h.is_allow_all());
        assert!(h.check(&url("http://127.0.0.1:3500/")).is_err());
        assert_eq!(AllowedHosts::default(), h);
        let empty: [&str; 0] = [];
        assert!(hosts(&empty).is_deny_all());
        assert_eq!(h.to_string(), "(deny all)");
    }

    // ---- parsing rules ----

    #[test]
    fn parse_name_with_default_port() {
        let h = one("https://API.Example.com");
        assert_eq!(h.scheme(), SchemePattern::Https);
        assert_eq!(h.host(), &HostPattern::Name("api.example.com".into()));
        assert_eq!(h.port(), PortPattern::SchemeDefault);
    }

    #[test]
    fn parse_explicit_port() {
        assert_eq!(
            one("http://localhost:3500").port(),
            PortPattern::Exact(3500)
        );
        assert_eq!(
            one("http://localhost:65535").port(),
            PortPattern::Exact(65535)
        );
    }

    #[test]
    fn parse_scheme_is_case_insensitive() {
        assert_eq!(one("HTTP://a.com").scheme(), SchemePattern::Http);
        assert_eq!(one("*://a.com").scheme(), SchemePattern::Any);
    }

    #[test]
    fn parse_wildcards() {
        assert_eq!(one("http://*").host(), &HostPattern::Any);
        assert_eq!(one("http://a.com:*").port(), PortPattern::Any);
        assert_eq!(
            one("https://*.Example.com").host(),
            &HostPattern::Subdomains("example.com".into())
        );
    }

    #[test]
    fn parse_ip_literals() {
        assert_eq!(
            one("http://127.0.0.1:3500").host(),
            &HostPattern::Ip("127.0.0.1".parse().expect("ip"))
        );
        assert_eq!(
            one("http://[::1]:3500").host(),
            &HostPattern::Ip("::1".parse().expect("ip"))
        );
    }

    #[test]
    fn parse_cidr_blocks() {
        assert_eq!(
            one("http://10.0.0.0/8").host(),
            &HostPattern::Cidr("10.0.0.0/8".parse().expect("net"))
        );
        let v6 = one("http://[fd00::]/8:3500");
        assert_eq!(
            v6.host(),
            &HostPattern::Cidr("fd00::/8".parse().expect("net"))
        );
        assert_eq!(v6.port(), PortPattern::Exact(3500));
    }

    #[test]
    fn parse_trailing_dot_and_idn_are_normalised() {
        assert_eq!(
            one("http://example.com.").host(),
            &HostPattern::Name("example.com".into())
        );
        assert_eq!(
            one("http://bücher.example").host(),
            &HostPattern::Name("xn--bcher-kva.example".into())
        );
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for e in [
            "*://*:*",
            "http://a.com",
            "https://*.a.com:8443",
            "http://127.0.0.1:3500",
            "http://[::1]",
            "http://10.0.0.0/8",
            "http://[fd00::]/8:3500",
            "*://b.com:*",
        ] {
            let parsed = one(e);
            assert_eq!(parsed.to_string(), e);
            assert_eq!(one(&parsed.to_string()), parsed);
        }
        assert_eq!(one("HTTP://A.com.").to_string(), "http://a.com");
        assert_eq!(
            hosts(&["http://a.com", "http://b.com:81", "http://a.com"]).to_string(),
            "http://a.com, http://b.com:81"
        );
    }

    #[test]
    fn https_is_allowed_by_an_https_or_any_scheme_entry_only() {
        assert!(!hosts(&[]).allows_https());
        assert!(!hosts(&["http://127.0.0.1:3500", "http://*.svc"]).allows_https());
        assert!(hosts(&["http://127.0.0.1:3500", "https://api.example.com"]).allows_https());
        assert!(hosts(&["*://example.com"]).allows_https());
    }

    #[test]
    fn allow_all_is_explicit() {
        assert!(hosts(&["*://*:*"]).is_allow_all());
        assert!(!hosts(&["*://*"]).is_allow_all());
        assert!(allows(&["*://*:*"], "https://anything.example:1234/x"));
    }

    // ---- refused entries ----

    #[test]
    fn refuse_empty() {
        assert!(matches!(parse_err(""), AllowlistError::Empty));
        assert!(parse_err("").to_string().contains("scheme://host[:port]"));
    }

    #[test]
    fn refuse_whitespace() {
        assert!(matches!(
            parse_err(" http://a.com"),
            AllowlistError::Whitespace { .. }
        ));
        assert!(matches!(
            parse_err("http://a.com\n"),
            AllowlistError::Whitespace { .. }
        ));
    }

    #[test]
    fn refuse_bare_star() {
        let e = parse_err("*");
        assert!(matches!(e, AllowlistError::BareWildcard));
        assert!(e.to_string().contains("*://*:*"), "{e}");
    }

    #[test]
    fn refuse_bare_host() {
        let e = parse_err("example.com");
        assert!(matches!(e, AllowlistError::MissingScheme { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("\"example.com\"") && msg.contains("https://example.com"),
            "{msg}"
        );
        assert!(matches!(
            parse_err("example.com:80"),
            AllowlistError::MissingScheme { .. }
        ));
    }

    #[test]
    fn refuse_unknown_scheme() {
        for e in ["ftp://a.com", "ws://a.com", "://a.com", "http*://a.com"] {
            assert!(
                matches!(parse_err(e), AllowlistError::UnsupportedScheme { .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn refuse_path() {
        let e = parse_err("http://a.com/x");
        assert!(matches!(e, AllowlistError::Path { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("\"http://a.com/x\"") && msg.contains("`http://a.com`"),
            "{msg}"
        );
        for e in [
            "http://a.com/",
            "http://a.com:80/x",
            "http://10.0.0.1/api",
            "http://*/8",
        ] {
            assert!(matches!(parse_err(e), AllowlistError::Path { .. }), "{e}");
        }
        assert!(matches!(
            parse_err("http://10.0.0.0/8/x"),
            AllowlistError::Path { .. }
        ));
        assert!(
            parse_err("http://a.com:80/x")
                .to_string()
                .contains("`http://a.com:80`")
        );
    }

    #[test]
    fn refuse_query_and_fragment() {
        let e = parse_err("http://a.com?x=1");
        assert!(matches!(e, AllowlistError::QueryOrFragment { .. }));
        assert!(e.to_string().contains("`http://a.com`"), "{e}");
        assert!(matches!(
            parse_err("http://a.com#f"),
            AllowlistError::QueryOrFragment { .. }
        ));
    }

    #[test]
    fn refuse_userinfo() {
        for e in [
            "http://user@a.com",
            "http://u:p@a.com",
            "http://127.0.0.1:3500@evil.example",
        ] {
            assert!(
                matches!(parse_err(e), AllowlistError::Userinfo { .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn refuse_empty_host() {
        for e in ["http://", "http://:80", "http://."] {
            assert!(
                matches!(parse_err(e), AllowlistError::EmptyHost { .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn refuse_bad_ports() {
        for e in [
            "http://a.com:0",
            "http://a.com:65536",
            "http://a.com:",
            "http://a.com:+80",
            "http://a.com:8o",
            "http://a.com:99999999999999999999",
            "http://a.com:80:81",
        ] {
            let err = parse_err(e);
            assert!(
                matches!(err, AllowlistError::InvalidPort { .. }),
                "{e}: {err}"
            );
            assert!(err.to_string().contains("1 to 65535"));
        }
    }

    #[test]
    fn refuse_misplaced_wildcard() {
        for e in [
            "http://a*.com",
            "http://a.*.com",
            "http://*a.com",
            "http://*.*.com",
            "http://**.a.com",
            "http://a.com.*",
        ] {
            assert!(
                matches!(parse_err(e), AllowlistError::MisplacedWildcard { .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn refuse_malformed_cidr() {
        for e in [
            "http://10.0.0.0/33",
            "http://[fd00::]/129",
            "http://10.0.0.0/999",
        ] {
            assert!(
                matches!(parse_err(e), AllowlistError::InvalidCidr { .. }),
                "{e}"
            );
        }
        let e = parse_err("http://10.0.0.1/8");
        assert!(e.to_string().contains("`10.0.0.0/8`"), "{e}");
        assert!(
            parse_err("http://[fd00::1]/8")
                .to_string()
                .contains("`[fd00::]/8`")
        );
    }

    #[test]
    fn refuse_bad_hosts() {
        for e in [
            "http://::1",
            "http://[::1",
            "http://[::1]x",
            "http://[zz::1]",
            "http://[fe80::1%eth0]",
            "http://a..com",
            "http://a%2ecom",
            "http://a_b!.com",
            "http://2130706433",
            "http://0x7f.0.0.1",
            "http://1.2.3",
            "http://*.10.0.0.1",
        ] {
            assert!(
                matches!(parse_err(e), AllowlistError::InvalidHost { .. }),
                "{e}"
            );
        }
        assert!(
            parse_err("http://0x7f.0.0.1")
                .to_string()
                .contains("dotted decimal")
        );
    }

    #[test]
    fn list_stops_at_first_bad_entry() {
        let e = AllowedHosts::parse(&["http://ok.com", "http://bad.com/path"]);
        assert!(matches!(e, Err(AllowlistError::Path { .. })));
    }

    // ---- matching: every allow has a deny twin ----

    #[test]
    fn exact_name_and_port() {
        let l = ["http://127.0.0.1:3500", "http://localhost:3500"];
        assert!(allows(&l, "http://127.0.0.1:3500/v1.0/state/s"));
        assert!(allows(&l, "http://localhost:3500/"));
        assert!(!allows(&l, "http://127.0.0.1:3501/"));
        assert!(!allows(&l, "http://127.0.0.2:3500/"));
        assert!(!allows(&l, "https://127.0.0.1:3500/"));
    }

    #[test]
    fn missing_port_is_scheme_default() {
        assert!(allows(&["http://a.com"], "http://a.com/"));
        assert!(allows(&["http://a.com"], "http://a.com:80/"));
        assert!(!allows(&["http://a.com"], "http://a.com:8080/"));
        assert!(allows(&["https://a.com"], "https://a.com/"));
        assert!(!allows(&["https://a.com"], "https://a.com:80/"));
    }

    #[test]
    fn any_scheme_uses_each_default_port() {
        let l = ["*://a.com"];
        assert!(allows(&l, "http://a.com/"));
        assert!(allows(&l, "https://a.com/"));
        assert!(!allows(&l, "http://a.com:443/"));
        assert!(!allows(&l, "https://a.com:80/"));
        assert!(!allows(&l, "ftp://a.com/"));
    }

    #[test]
    fn any_host_and_any_port() {
        assert!(allows(&["http://*"], "http://whatever.example/"));
        assert!(allows(&["http://*"], "http://[::1]/"));
        assert!(!allows(&["http://*"], "http://whatever.example:81/"));
        assert!(!allows(&["http://*"], "https://whatever.example/"));
        assert!(allows(&["http://a.com:*"], "http://a.com:9999/"));
        assert!(!allows(&["http://a.com:*"], "http://b.com:9999/"));
    }

    #[test]
    fn subdomain_wildcard_excludes_apex() {
        let l = ["https://*.example.com"];
        assert!(allows(&l, "https://api.example.com/"));
        assert!(allows(&l, "https://a.b.example.com/"));
        assert!(!allows(&l, "https://example.com/"));
        assert!(!allows(&l, "https://badexample.com/"));
        assert!(!allows(&l, "https://example.com.evil.test/"));
        assert!(allows(
            &["https://*.example.com", "https://example.com"],
            "https://example.com/"
        ));
    }

    #[test]
    fn host_is_case_insensitive_and_trailing_dot_ignored() {
        let l = ["http://api.example.com"];
        assert!(allows(&l, "HTTP://API.EXAMPLE.COM/"));
        assert!(allows(&l, "http://api.example.com./"));
        assert!(!allows(&l, "http://api.example.com../"));
        assert!(!allows(&l, "http://api.example.co/"));
        assert!(allows(
            &["https://*.example.com"],
            "https://API.Example.COM./"
        ));
    }

    #[test]
    fn ipv4_encodings_are_normalised() {
        let l = ["http://127.0.0.1:3500"];
        for u in [
            "http://2130706433:3500/",
            "http://0x7f.0.0.1:3500/",
            "http://0177.0.0.1:3500/",
            "http://127.1:3500/",
            "http://%31%32%37.0.0.1:3500/",
        ] {
            assert!(allows(&l, u), "{u}");
        }
        assert!(!allows(&l, "http://2130706434:3500/"));
        assert!(!allows(&l, "http://0x7f.0.0.2:3500/"));
    }

    #[test]
    fn userinfo_does_not_fool_the_host() {
        let l = ["http://127.0.0.1:3500"];
        let denied = hosts(&l)
            .check(&url("http://127.0.0.1:3500@evil.example/x"))
            .expect_err("must be denied");
        assert_eq!(denied.url, "http://***@evil.example:80/x");
        assert_eq!(denied.suggestion, "http://evil.example");
        assert!(allows(&l, "http://user:pw@127.0.0.1:3500/"));
    }

    #[test]
    fn ipv6_literals() {
        let l = ["http://[::1]:3500"];
        assert!(allows(&l, "http://[::1]:3500/"));
        assert!(allows(&l, "http://[0:0:0:0:0:0:0:1]:3500/"));
        assert!(!allows(&l, "http://[::2]:3500/"));
        assert!(!allows(&l, "http://127.0.0.1:3500/"));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_not_ipv4() {
        assert!(!allows(
            &["http://127.0.0.1:3500"],
            "http://[::ffff:127.0.0.1]:3500/"
        ));
        assert!(allows(
            &["http://[::ffff:127.0.0.1]:3500"],
            "http://[::ffff:7f00:1]:3500/"
        ));
        assert!(allows(
            &["http://[::ffff:0:0]/96:3500"],
            "http://[::ffff:127.0.0.1]:3500/"
        ));
        assert!(!allows(
            &["http://[::ffff:127.0.0.1]:3500"],
            "http://127.0.0.1:3500/"
        ));
    }

    #[test]
    fn cidr_v4() {
        let l = ["http://10.0.0.0/8"];
        assert!(allows(&l, "http://10.1.2.3/"));
        assert!(allows(&l, "http://10.255.255.255/"));
        assert!(!allows(&l, "http://11.0.0.1/"));
        assert!(!allows(&l, "http://10.1.2.3:8080/"));
        assert!(allows(&["http://10.0.0.0/8:*"], "http://10.1.2.3:8080/"));
    }

    #[test]
    fn cidr_v6() {
        let l = ["http://[fd00::]/8:3500"];
        assert!(allows(&l, "http://[fd12:3456::1]:3500/"));
        assert!(!allows(&l, "http://[fe80::1]:3500/"));
        assert!(!allows(&l, "http://10.0.0.1:3500/"));
    }

    #[test]
    fn names_never_match_addresses() {
        assert!(!allows(
            &["http://127.0.0.1:3500"],
            "http://localhost:3500/"
        ));
        assert!(!allows(&["http://0.0.0.0/0:*"], "http://localhost:3500/"));
        assert!(!allows(
            &["http://localhost:3500"],
            "http://127.0.0.1:3500/"
        ));
        assert!(allows(&["http://localhost:3500"], "http://localhost:3500/"));
    }

    #[test]
    fn only_address_and_cidr_entries_allow_by_address() {
        let l = hosts(&[
            "http://127.0.0.1:3500",
            "http://10.0.0.0/8:*",
            "http://*:8080",
            "http://localhost:3500",
        ]);
        assert!(l.allows_by_address(&url("http://127.0.0.1:3500/")));
        assert!(l.allows_by_address(&url("http://10.9.8.7:1234/")));
        assert!(!l.allows_by_address(&url("http://127.0.0.1:8080/")));
        assert!(l.check(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(!l.allows_by_address(&url("http://localhost:3500/")));
        assert!(!l.allows_by_address(&url("http://127.0.0.1:3501/")));
        assert!(!l.allows_by_address(&url("http://[::ffff:127.0.0.1]:3500/")));
        assert!(hosts(&["http://[::1]:3500"]).allows_by_address(&url("http://[::1]:3500/")));
        assert!(!hosts(&["*://*:*"]).allows_by_address(&url("http://127.0.0.1/")));
    }

    #[test]
    fn idn_hosts_match_in_punycode() {
        assert!(allows(
            &["https://bücher.example"],
            "https://xn--bcher-kva.example/"
        ));
        assert!(allows(
            &["https://xn--bcher-kva.example"],
            "https://BÜCHER.example/"
        ));
        assert!(!allows(
            &["https://bücher.example"],
            "https://bucher.example/"
        ));
    }

    #[test]
    fn other_schemes_are_denied_without_suggestion() {
        let h = hosts(&["*://*:*"]);
        let d = h.check(&url("ftp://a.com/f")).expect_err("ftp denied");
        assert_eq!(d.suggestion, "");
        assert!(d.to_string().contains("only http and https"), "{d}");
        assert!(h.check(&url("file:///etc/passwd")).is_err());
    }

    // ---- denial details ----

    #[test]
    fn denied_url_is_safe_and_suggestion_allows_it() {
        let h = AllowedHosts::deny_all();
        let cases = [
            (
                "https://u:secret@API.example.com/a/b?token=x#f",
                "https://***@api.example.com:443/a/b",
                "https://api.example.com",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080",
            ),
            (
                "http://[::1]:3500/x",
                "http://[::1]:3500/x",
                "http://[::1]:3500",
            ),
            (
                "http://example.com./",
                "http://example.com.:80/",
                "http://example.com",
            ),
        ];
        for (input, shown, suggestion) in cases {
            let d = h.check(&url(input)).expect_err("deny all");
            assert_eq!(d.url, shown);
            assert_eq!(d.suggestion, suggestion);
            assert!(!d.to_string().contains("secret") && !d.to_string().contains("token"));
            assert!(d.to_string().contains(suggestion), "{d}");
            assert!(
                allows(&[suggestion], input),
                "{suggestion} should allow {input}"
            );
        }
    }
}
