//! The `allowlist.toml` file format: the outbound allowlist and the host's limits, validated once into typed values.
//!
//! ```toml
//! allowed_hosts = ["http://127.0.0.1:3500", "http://localhost:3500"]
//!
//! [limits]
//! request_timeout = "30s"
//! connect_timeout = "5s"
//! max_request_body_bytes = 10485760
//! max_response_body_bytes = 10485760
//! max_response_headers_bytes = 65536
//! max_concurrent_requests = 16
//! max_redirects = 0
//!
//! [connect]
//! block_private_networks = false
//! blocked_networks = ["198.18.0.0/15"]
//! unchecked_names = []
//! ```
//!
//! Every key is optional: a missing `allowed_hosts` denies every request, a missing
//! limit takes the default documented on [`Limits`], and a missing `[connect]` key the
//! default documented on [`ConnectPolicy`]. Unknown keys are errors (a typo such
//! as `allowed_host` must not silently deny or allow). Every error names the file, the
//! key or entry, and the expected form.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use ipnet::IpNet;

use crate::allowlist::{AllowedHost, AllowedHosts, AllowlistError, HostPattern};
pub use crate::outbound::ConnectPolicy;

/// The file [`HostConfig::load_default_or_deny`] looks for.
pub const DEFAULT_FILE_NAME: &str = "allowlist.toml";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Everything the host reads from `allowlist.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// Where outbound HTTP requests may go (key `allowed_hosts`; deny all when absent).
    pub allowed_hosts: AllowedHosts,
    /// Timeouts and size, concurrency and redirect caps (table `[limits]`).
    pub limits: Limits,
    /// Which resolved addresses a request allowed by name may reach (table `[connect]`).
    pub connect: ConnectPolicy,
}

/// Limits on outbound HTTP, per guest instance. [`Limits::default`] gives the values
/// documented on each field, which are also what a missing key in `[limits]` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `request_timeout`: the whole request, from connect to the last byte of the body.
    /// Default 30 s; accepted 1 ms to 1 h, as a humantime string (`"30s"`, `"1m 30s"`).
    pub request_timeout: Duration,
    /// `connect_timeout`: TCP (and TLS) connection establishment. Default 5 s; accepted
    /// 1 ms to 1 h.
    pub connect_timeout: Duration,
    /// `max_request_body_bytes`: largest body a guest may send. Default 10 MiB
    /// (10485760); accepted 1 to 1 GiB.
    pub max_request_body_bytes: usize,
    /// `max_response_body_bytes`: largest response body read from upstream. Default
    /// 10 MiB (10485760); accepted 1 to 1 GiB.
    pub max_response_body_bytes: usize,
    /// `max_response_headers_bytes`: total size of the response header block accepted
    /// from upstream. Default 64 KiB (65536); accepted 1 to 16 MiB.
    pub max_response_headers_bytes: usize,
    /// `max_concurrent_requests`: in-flight requests plus open response handles per
    /// guest instance; past it the guest gets error 13. Default 16; accepted 1 to 4096.
    pub max_concurrent_requests: usize,
    /// `max_redirects`: 0 means redirects are not followed and the 3xx response goes to
    /// the guest; N means follow up to N hops, each checked against the allowlist again.
    /// Default 0; accepted 0 to 20.
    pub max_redirects: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_request_body_bytes: 10 * MIB as usize,
            max_response_body_bytes: 10 * MIB as usize,
            max_response_headers_bytes: 64 * KIB as usize,
            max_concurrent_requests: 16,
            max_redirects: 0,
        }
    }
}

/// Where [`HostConfig::load_default_or_deny`] got its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Read from this file.
    File(PathBuf),
    /// No `allowlist.toml` was found: every outbound request is denied, default limits.
    DenyAllDefault,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading host config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or has an unknown key or a value of the wrong type.
    #[error(
        "{origin}: invalid host config (expected top-level `allowed_hosts = [...]` and \
         optional `[limits]` and `[connect]` tables)"
    )]
    Toml {
        /// The file name or other origin given by the caller.
        origin: String,
        /// The TOML error, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// An `allowed_hosts` entry is malformed.
    #[error("{origin}: invalid entry in `allowed_hosts`")]
    Allowlist {
        /// The file name or other origin given by the caller.
        origin: String,
        /// The entry and what is wrong with it.
        #[source]
        source: AllowlistError,
    },
    /// A `[limits]` duration is not a humantime string.
    #[error(
        "{origin}: `limits.{key}` = {value} is not a duration; expected a string such as \
         \"30s\", \"500ms\" or \"1m 30s\""
    )]
    Duration {
        /// The file name or other origin given by the caller.
        origin: String,
        /// The key under `[limits]`.
        key: &'static str,
        /// The value as written.
        value: String,
        /// The duration parser's error, if the value was a string.
        #[source]
        source: Option<humantime::DurationError>,
    },
    /// A `[connect]` value is of the wrong type or malformed.
    #[error("{origin}: `connect.{key}` = {value} is invalid: {reason}; expected {expected}")]
    Connect {
        /// The file name or other origin given by the caller.
        origin: String,
        /// The key under `[connect]`.
        key: &'static str,
        /// The value (or the list element) as written.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// The accepted form.
        expected: &'static str,
    },
    /// A `[limits]` value is of the wrong type or outside its accepted range.
    #[error("{origin}: `limits.{key}` = {value} is out of range; expected {expected}")]
    OutOfRange {
        /// The file name or other origin given by the caller.
        origin: String,
        /// The key under `[limits]`.
        key: &'static str,
        /// The value as written.
        value: String,
        /// The accepted form and range.
        expected: String,
    },
}

/// The file as written. Private so that later tables (e.g. `[serve]`) can be added
/// without changing the public API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    connect: RawConnect,
}

/// `[connect]` as written, validated by hand like `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnect {
    block_private_networks: Option<toml::Value>,
    blocked_networks: Option<toml::Value>,
    unchecked_names: Option<toml::Value>,
}

/// `[limits]` as written; values are validated by hand so each error names its key and
/// shows the accepted form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    request_timeout: Option<toml::Value>,
    connect_timeout: Option<toml::Value>,
    max_request_body_bytes: Option<toml::Value>,
    max_response_body_bytes: Option<toml::Value>,
    max_response_headers_bytes: Option<toml::Value>,
    max_concurrent_requests: Option<toml::Value>,
    max_redirects: Option<toml::Value>,
}

impl HostConfig {
    /// Denies every outbound request, default limits.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Parses and validates `text`; `origin` (usually the file path) prefixes every
    /// error message.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|source| ConfigError::Toml {
            origin: origin.to_owned(),
            source,
        })?;
        let allowed_hosts =
            AllowedHosts::parse(&raw.allowed_hosts).map_err(|source| ConfigError::Allowlist {
                origin: origin.to_owned(),
                source,
            })?;
        let limits = raw.limits.validate(origin)?;
        let connect = raw.connect.validate(origin)?;
        Ok(Self {
            allowed_hosts,
            limits,
            connect,
        })
    }

    /// Reads and validates the file at `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Loads `cwd/allowlist.toml` if it exists; otherwise denies everything. A file that
    /// exists but cannot be read or is invalid is an error, never a silent deny-all.
    pub fn load_default_or_deny(cwd: &Path) -> Result<(Self, ConfigSource), ConfigError> {
        let path = cwd.join(DEFAULT_FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config = Self::from_toml_str(&text, &path.display().to_string())?;
                Ok((config, ConfigSource::File(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Self::deny_all(), ConfigSource::DenyAllDefault))
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

impl RawLimits {
    fn validate(self, origin: &str) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let max_duration = Duration::from_secs(3600);
        Ok(Limits {
            request_timeout: duration(
                origin,
                "request_timeout",
                self.request_timeout,
                max_duration,
            )?
            .unwrap_or(d.request_timeout),
            connect_timeout: duration(
                origin,
                "connect_timeout",
                self.connect_timeout,
                max_duration,
            )?
            .unwrap_or(d.connect_timeout),
            max_request_body_bytes: to_usize(integer(
                origin,
                "max_request_body_bytes",
                self.max_request_body_bytes,
                1,
                GIB,
                d.max_request_body_bytes as u64,
            )?)
            .unwrap_or(d.max_request_body_bytes),
            max_response_body_bytes: to_usize(integer(
                origin,
                "max_response_body_bytes",
                self.max_response_body_bytes,
                1,
                GIB,
                d.max_response_body_bytes as u64,
            )?)
            .unwrap_or(d.max_response_body_bytes),
            max_response_headers_bytes: to_usize(integer(
                origin,
                "max_response_headers_bytes",
                self.max_response_headers_bytes,
                1,
                16 * MIB,
                d.max_response_headers_bytes as u64,
            )?)
            .unwrap_or(d.max_response_headers_bytes),
            max_concurrent_requests: to_usize(integer(
                origin,
                "max_concurrent_requests",
                self.max_concurrent_requests,
                1,
                4096,
                d.max_concurrent_requests as u64,
            )?)
            .unwrap_or(d.max_concurrent_requests),
            max_redirects: integer(
                origin,
                "max_redirects",
                self.max_redirects,
                0,
                20,
                u64::from(d.max_redirects),
            )?
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(d.max_redirects),
        })
    }
}

const CIDR_FORM: &str = "a CIDR block such as \"198.18.0.0/15\" or \"fd00::/8\", or one \
     address such as \"203.0.113.7\"";
const NAME_FORM: &str = "a host name such as \"proxy.internal\" (no scheme, port or `*`)";

impl RawConnect {
    fn validate(self, origin: &str) -> Result<ConnectPolicy, ConfigError> {
        let bad = |key: &'static str, value: String, reason: &str, expected: &'static str| {
            ConfigError::Connect {
                origin: origin.to_owned(),
                key,
                value,
                reason: reason.to_owned(),
                expected,
            }
        };
        let block_private_networks = match self.block_private_networks {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(v) => {
                return Err(bad(
                    "block_private_networks",
                    v.to_string(),
                    "not a boolean",
                    "`true` or `false`",
                ));
            }
        };
        let blocked_networks = strings(self.blocked_networks)
            .map_err(|(v, r)| bad("blocked_networks", v, r, CIDR_FORM))?
            .into_iter()
            .map(|text| {
                parse_network(&text)
                    .map_err(|r| bad("blocked_networks", format!("{text:?}"), &r, CIDR_FORM))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let unchecked_names = strings(self.unchecked_names)
            .map_err(|(v, r)| bad("unchecked_names", v, r, NAME_FORM))?
            .into_iter()
            .map(|text| {
                parse_unchecked_name(&text)
                    .map_err(|r| bad("unchecked_names", format!("{text:?}"), &r, NAME_FORM))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConnectPolicy {
            block_private_networks,
            blocked_networks,
            unchecked_names,
        })
    }
}

/// A list of strings; otherwise the offending value and why.
fn strings(value: Option<toml::Value>) -> Result<Vec<String>, (String, &'static str)> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let toml::Value::Array(items) = value else {
        return Err((value.to_string(), "not a list of strings"));
    };
    items
        .into_iter()
        .map(|item| match item {
            toml::Value::String(s) => Ok(s),
            other => Err((other.to_string(), "not a string")),
        })
        .collect()
}

/// `a.b.c.d/len`, `v6::/len`, or one address (a /32 or /128). Host bits beyond the
/// prefix are refused, as in `allowed_hosts`, since they usually mean a typo.
fn parse_network(text: &str) -> Result<IpNet, String> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = text
        .parse()
        .map_err(|_| "not an address or CIDR block".to_owned())?;
    if net.trunc() != net {
        return Err(format!(
            "the address has bits set beyond the /{} prefix (that block is \"{}\")",
            net.prefix_len(),
            net.trunc()
        ));
    }
    Ok(net)
}

/// One exact DNS name, normalised the way allowlist names are.
fn parse_unchecked_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', ':', '@', '*', '[']) {
        return Err("not a plain host name".to_owned());
    }
    match AllowedHost::parse(&format!("http://{text}")) {
        Ok(entry) => match entry.host() {
            HostPattern::Name(name) => Ok(name.clone()),
            _ => Err(
                "an address, not a name (addresses are exempt when allowed_hosts \
                      names them)"
                    .to_owned(),
            ),
        },
        Err(e) => Err(e.to_string()),
    }
}

/// Bounds are at most 1 GiB, so the conversion cannot fail on 32- or 64-bit targets.
fn to_usize(n: Option<u64>) -> Option<usize> {
    n.and_then(|n| usize::try_from(n).ok())
}

/// A humantime string from 1 ms to `max`.
fn duration(
    origin: &str,
    key: &'static str,
    value: Option<toml::Value>,
    max: Duration,
) -> Result<Option<Duration>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let shown = value.to_string();
    let toml::Value::String(text) = value else {
        return Err(ConfigError::Duration {
            origin: origin.to_owned(),
            key,
            value: shown,
            source: None,
        });
    };
    let parsed = humantime::parse_duration(&text).map_err(|source| ConfigError::Duration {
        origin: origin.to_owned(),
        key,
        value: shown.clone(),
        source: Some(source),
    })?;
    if parsed < Duration::from_millis(1) || parsed > max {
        return Err(ConfigError::OutOfRange {
            origin: origin.to_owned(),
            key,
            value: shown,
            expected: format!(
                "a duration from \"1ms\" to \"{}\" (zero is not allowed)",
                humantime::format_duration(max)
            ),
        });
    }
    Ok(Some(parsed))
}

/// An integer from `min` to `max` inclusive; `example` (the default) is shown in errors.
fn integer(
    origin: &str,
    key: &'static str,
    value: Option<toml::Value>,
    min: u64,
    max: u64,
    example: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let in_range = match &value {
        toml::Value::Integer(n) => u64::try_from(*n).ok().filter(|n| (min..=max).contains(n)),
        _ => None,
    };
    match in_range {
        Some(n) => Ok(Some(n)),
        None => Err(ConfigError::OutOfRange {
            origin: origin.to_owned(),
            key,
            value: value.to_string(),
            expected: format!("an integer from {min} to {max}, e.g. `{key} = {example}`"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error and all its sources, the way `anyhow`'s `{:#}` prints them.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cur = e.source();
        while let Some(s) = cur {
            out.push_str(": ");
            out.push_str(&s.to_string());
            cur = s.source();
        }
        out
    }

    fn ok(text: &str) -> HostConfig {
        match HostConfig::from_toml_str(text, "test.toml") {
            Ok(c) => c,
            Err(e) => panic!("should load: {}", chain(&e)),
        }
    }

    fn err(text: &str) -> (ConfigError, String) {
        match HostConfig::from_toml_str(text, "test.toml") {
            Ok(c) => panic!("should be refused: {c:?}"),
            Err(e) => {
                let msg = chain(&e);
                assert!(msg.starts_with("test.toml: "), "origin missing: {msg}");
                (e, msg)
            }
        }
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("test URL")
    }

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!(l.request_timeout, Duration::from_secs(30));
        assert_eq!(l.connect_timeout, Duration::from_secs(5));
        assert_eq!(l.max_request_body_bytes, 10_485_760);
        assert_eq!(l.max_response_body_bytes, 10_485_760);
        assert_eq!(l.max_response_headers_bytes, 65_536);
        assert_eq!(l.max_concurrent_requests, 16);
        assert_eq!(l.max_redirects, 0);
        let c = HostConfig::deny_all();
        assert!(c.allowed_hosts.is_deny_all());
        assert_eq!(c.limits, l);
        assert!(!c.connect.block_private_networks);
        assert!(c.connect.blocked_networks.is_empty() && c.connect.unchecked_names.is_empty());
        assert_eq!(ok("[connect]\n").connect, ConnectPolicy::default());
    }

    #[test]
    fn every_connect_key_parsed() {
        let c = ok(r#"
            [connect]
            block_private_networks = true
            blocked_networks = ["198.18.0.0/15", "fd00::/8", "203.0.113.7", "2001:db8::1"]
            unchecked_names = ["Proxy.Internal.", "dapr.local"]
        "#);
        assert_eq!(
            c.connect,
            ConnectPolicy {
                block_private_networks: true,
                blocked_networks: [
                    "198.18.0.0/15",
                    "fd00::/8",
                    "203.0.113.7/32",
                    "2001:db8::1/128"
                ]
                .iter()
                .map(|n| n.parse().expect("net"))
                .collect(),
                unchecked_names: vec!["proxy.internal".into(), "dapr.local".into()],
            }
        );
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn bad_blocked_networks_name_the_key_and_value() {
        for (value, reason) in [
            ("[\"198.18.0.0/33\"]", "not an address or CIDR block"),
            ("[\"10.0.0.1/8\"]", "\"10.0.0.0/8\""),
            ("[\"example.com\"]", "not an address or CIDR block"),
            ("[\"[fd00::]/8\"]", "not an address or CIDR block"),
            ("[\"\"]", "not an address or CIDR block"),
            ("[8]", "not a string"),
            ("\"10.0.0.0/8\"", "not a list of strings"),
        ] {
            let (e, msg) = err(&format!("[connect]\nblocked_networks = {value}\n"));
            assert!(matches!(e, ConfigError::Connect { .. }), "{msg}");
            assert!(msg.contains("`connect.blocked_networks`"), "{msg}");
            assert!(msg.contains(reason), "{value}: {msg}");
            assert!(msg.contains("\"198.18.0.0/15\""), "shows the form: {msg}");
        }
        let (_, msg) = err("[connect]\nblocked_networks = [\"10.0.0.0/8\", \"10.0.0.0/99\"]\n");
        assert!(msg.contains("\"10.0.0.0/99\""), "{msg}");
    }

    #[test]
    fn bad_connect_values_are_refused() {
        let (e, msg) = err("[connect]\nblock_private_networks = \"yes\"\n");
        assert!(matches!(e, ConfigError::Connect { .. }), "{msg}");
        assert!(
            msg.contains("`connect.block_private_networks` = \"yes\"") && msg.contains("`true`"),
            "{msg}"
        );
        for name in [
            "*.example.com",
            "http://a.com",
            "a.com:80",
            "127.0.0.1",
            "[::1]",
            "a..b",
            "",
        ] {
            let (e, msg) = err(&format!("[connect]\nunchecked_names = [{name:?}]\n"));
            assert!(matches!(e, ConfigError::Connect { .. }), "{name}: {msg}");
            assert!(msg.contains("`connect.unchecked_names`"), "{msg}");
        }
        let (e, msg) = err("[connect]\nblock_private_network = true\n");
        assert!(matches!(e, ConfigError::Toml { .. }), "{msg}");
        assert!(msg.contains("block_private_network"), "{msg}");
    }

    #[test]
    fn empty_file_denies_all_with_default_limits() {
        assert_eq!(ok(""), HostConfig::deny_all());
        assert_eq!(ok("[limits]\n"), HostConfig::deny_all());
        assert!(ok("allowed_hosts = []").allowed_hosts.is_deny_all());
    }

    #[test]
    fn every_key_parsed() {
        let c = ok(r#"
            allowed_hosts = ["http://127.0.0.1:3500", "https://*.example.com"]
            [limits]
            request_timeout = "1m 30s"
            connect_timeout = "250ms"
            max_request_body_bytes = 1024
            max_response_body_bytes = 2048
            max_response_headers_bytes = 4096
            max_concurrent_requests = 3
            max_redirects = 5
        "#);
        assert_eq!(c.allowed_hosts.entries().len(), 2);
        assert!(
            c.allowed_hosts
                .check(&url("https://a.example.com/"))
                .is_ok()
        );
        assert!(c.allowed_hosts.check(&url("https://example.com/")).is_err());
        assert_eq!(
            c.limits,
            Limits {
                request_timeout: Duration::from_secs(90),
                connect_timeout: Duration::from_millis(250),
                max_request_body_bytes: 1024,
                max_response_body_bytes: 2048,
                max_response_headers_bytes: 4096,
                max_concurrent_requests: 3,
                max_redirects: 5,
            }
        );
    }

    #[test]
    fn partial_limits_keep_other_defaults() {
        let c = ok("[limits]\nmax_redirects = 3\n");
        assert_eq!(
            c.limits,
            Limits {
                max_redirects: 3,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn upper_bounds_are_accepted() {
        let c = ok(r#"
            [limits]
            request_timeout = "1h"
            max_request_body_bytes = 1073741824
            max_response_body_bytes = 1073741824
            max_response_headers_bytes = 16777216
            max_concurrent_requests = 4096
            max_redirects = 20
        "#);
        assert_eq!(c.limits.request_timeout, Duration::from_secs(3600));
        assert_eq!(c.limits.max_request_body_bytes, 1 << 30);
    }

    #[test]
    fn unknown_top_level_key_is_an_error() {
        let (e, msg) = err(r#"allowed_host = ["http://127.0.0.1:3500"]"#);
        assert!(matches!(e, ConfigError::Toml { .. }));
        assert!(msg.contains("allowed_host"), "{msg}");
    }

    #[test]
    fn unknown_limit_key_is_an_error() {
        let (e, msg) = err("[limits]\nrequest_timeuot = \"1s\"\n");
        assert!(matches!(e, ConfigError::Toml { .. }));
        assert!(msg.contains("request_timeuot"), "{msg}");
    }

    #[test]
    fn not_toml_is_an_error() {
        let (e, _) = err("allowed_hosts = [");
        assert!(matches!(e, ConfigError::Toml { .. }));
        let (e, _) = err("allowed_hosts = \"http://127.0.0.1:3500\"");
        assert!(matches!(e, ConfigError::Toml { .. }));
    }

    #[test]
    fn bad_entry_names_entry_and_expected_form() {
        let (e, msg) = err(r#"allowed_hosts = ["http://127.0.0.1:3500", "http://a.com/x"]"#);
        assert!(matches!(e, ConfigError::Allowlist { .. }));
        assert!(msg.contains("\"http://a.com/x\""), "{msg}");
        assert!(msg.contains("`http://a.com`"), "{msg}");
        let (_, msg) = err(r#"allowed_hosts = ["example.com"]"#);
        assert!(msg.contains("scheme://host[:port]"), "{msg}");
    }

    #[test]
    fn zero_durations_are_refused() {
        for key in ["request_timeout", "connect_timeout"] {
            let (e, msg) = err(&format!("[limits]\n{key} = \"0s\"\n"));
            assert!(matches!(e, ConfigError::OutOfRange { .. }), "{msg}");
            assert!(
                msg.contains(&format!("limits.{key}")) && msg.contains("\"1ms\""),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_durations_are_refused() {
        let (e, msg) = err("[limits]\nrequest_timeout = \"soon\"\n");
        assert!(matches!(e, ConfigError::Duration { .. }));
        assert!(
            msg.contains("limits.request_timeout") && msg.contains("\"30s\""),
            "{msg}"
        );
        let (e, msg) = err("[limits]\nrequest_timeout = 30\n");
        assert!(matches!(e, ConfigError::Duration { .. }), "{msg}");
        let (e, _) = err("[limits]\nconnect_timeout = \"2h\"\n");
        assert!(matches!(e, ConfigError::OutOfRange { .. }));
        let (e, _) = err("[limits]\nconnect_timeout = \"100us\"\n");
        assert!(matches!(e, ConfigError::OutOfRange { .. }));
    }

    #[test]
    fn zero_and_negative_caps_are_refused() {
        for key in [
            "max_request_body_bytes",
            "max_response_body_bytes",
            "max_response_headers_bytes",
            "max_concurrent_requests",
        ] {
            for value in ["0", "-1", "\"10MB\"", "1.5"] {
                let (e, msg) = err(&format!("[limits]\n{key} = {value}\n"));
                assert!(matches!(e, ConfigError::OutOfRange { .. }), "{msg}");
                assert!(msg.contains(&format!("limits.{key}")), "{msg}");
                assert!(msg.contains("an integer from 1 to"), "{msg}");
            }
        }
    }

    #[test]
    fn caps_above_upper_bound_are_refused() {
        for (key, value) in [
            ("max_request_body_bytes", "1073741825"),
            ("max_response_body_bytes", "9223372036854775807"),
            ("max_response_headers_bytes", "16777217"),
            ("max_concurrent_requests", "4097"),
            ("max_redirects", "21"),
        ] {
            let (e, msg) = err(&format!("[limits]\n{key} = {value}\n"));
            assert!(matches!(e, ConfigError::OutOfRange { .. }), "{msg}");
        }
    }

    #[test]
    fn redirects_accept_zero_but_not_negative() {
        assert_eq!(ok("[limits]\nmax_redirects = 0\n").limits.max_redirects, 0);
        let (_, msg) = err("[limits]\nmax_redirects = -1\n");
        assert!(msg.contains("an integer from 0 to 20"), "{msg}");
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("custom.toml");
        std::fs::write(&path, "allowed_hosts = [\"http://a.com/x\"]\n").expect("write");
        let e = HostConfig::load(&path).expect_err("bad entry");
        assert!(
            chain(&e).contains(&path.display().to_string()),
            "{}",
            chain(&e)
        );
        std::fs::write(&path, "allowed_hosts = [\"http://a.com\"]\n").expect("write");
        let c = HostConfig::load(&path).expect("valid file");
        assert!(c.allowed_hosts.check(&url("http://a.com/")).is_ok());
    }

    #[test]
    fn file_not_found_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing.toml");
        let e = HostConfig::load(&path).expect_err("missing");
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }

    #[test]
    fn load_default_or_deny_without_file_denies_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, src) = HostConfig::load_default_or_deny(dir.path()).expect("no file is fine");
        assert_eq!(src, ConfigSource::DenyAllDefault);
        assert!(c.allowed_hosts.is_deny_all());
    }

    #[test]
    fn load_default_or_deny_uses_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DEFAULT_FILE_NAME);
        std::fs::write(&path, "allowed_hosts = [\"http://127.0.0.1:3500\"]\n").expect("write");
        let (c, src) = HostConfig::load_default_or_deny(dir.path()).expect("valid file");
        assert_eq!(src, ConfigSource::File(path.clone()));
        assert!(
            c.allowed_hosts
                .check(&url("http://127.0.0.1:3500/"))
                .is_ok()
        );
        std::fs::write(&path, "allowed_host = []\n").expect("write");
        let e = HostConfig::load_default_or_deny(dir.path()).expect_err("typo is an error");
        assert!(chain(&e).contains(&path.display().to_string()));
    }

    #[test]
    fn repo_default_file_allows_only_the_sidecar() {
        let c = HostConfig::from_toml_str(include_str!("../../allowlist.toml"), "allowlist.toml")
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.connect, ConnectPolicy::default());
        let h = &c.allowed_hosts;
        assert!(h.check(&url("http://127.0.0.1:3500/v1.0/healthz")).is_ok());
        assert!(h.check(&url("http://localhost:3500/v1.0/state/s")).is_ok());
        assert!(h.check(&url("http://127.0.0.1:3501/")).is_err());
        assert!(h.check(&url("https://127.0.0.1:3500/")).is_err());
        assert!(h.check(&url("http://example.com/")).is_err());
        assert_eq!(
            h.to_string(),
            "http://127.0.0.1:3500, http://localhost:3500"
        );
    }
}
