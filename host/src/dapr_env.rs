//! Where the Dapr sidecar is, what the guest is told about it, and the API token the
//! host (never the guest) attaches to requests bound for it.

use std::fmt;

use url::Url;

/// The default sidecar address when neither variable is set.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:3500";

/// A problem with the sidecar variables in the host's environment.
#[derive(Debug, thiserror::Error)]
pub enum DaprEnvError {
    /// `DAPR_HTTP_ENDPOINT` is not an absolute `http://` or `https://` URL.
    #[error("DAPR_HTTP_ENDPOINT={value:?} is not a URL of the form http://host:port ({reason})")]
    BadEndpoint {
        /// The value found.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `DAPR_HTTP_PORT` is not a port number.
    #[error("DAPR_HTTP_PORT={value:?} is not a port number (1-65535)")]
    BadPort {
        /// The value found.
        value: String,
    },
}

/// The sidecar's HTTP endpoint, resolved in this order: `DAPR_HTTP_ENDPOINT` (a full
/// URL), then `DAPR_HTTP_PORT` (on 127.0.0.1), then [`DEFAULT_ENDPOINT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarEndpoint {
    url: Url,
}

impl SidecarEndpoint {
    /// Resolves the endpoint from the process environment.
    pub fn from_env() -> Result<Self, DaprEnvError> {
        Self::resolve(|k| std::env::var(k).ok())
    }

    /// Resolves the endpoint from any variable lookup (tests pass a map).
    pub fn resolve(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, DaprEnvError> {
        if let Some(value) = lookup("DAPR_HTTP_ENDPOINT").filter(|v| !v.trim().is_empty()) {
            return Self::parse(value.trim());
        }
        if let Some(value) = lookup("DAPR_HTTP_PORT").filter(|v| !v.trim().is_empty()) {
            let port: u16 = value
                .trim()
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| DaprEnvError::BadPort {
                    value: value.clone(),
                })?;
            return Self::parse(&format!("http://127.0.0.1:{port}"));
        }
        Self::parse(DEFAULT_ENDPOINT)
    }

    /// Parses an endpoint URL such as `http://127.0.0.1:3500`.
    pub fn parse(value: &str) -> Result<Self, DaprEnvError> {
        let bad = |reason: &str| DaprEnvError::BadEndpoint {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let url = Url::parse(value).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.host_str().is_none() {
            return Err(bad("there is no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not allowed"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("give only scheme://host:port, without a path"));
        }
        Ok(Self { url })
    }

    /// The endpoint as a URL (`http://127.0.0.1:3500/`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The port, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }

    /// The host part (`127.0.0.1`, `localhost`, `[::1]`).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("127.0.0.1")
    }

    /// The origin as text, without a trailing slash: `http://127.0.0.1:3500`.
    pub fn origin(&self) -> String {
        format!("{}://{}:{}", self.url.scheme(), self.host(), self.port())
    }

    /// The variables handed to the guest so its SDK finds the sidecar.
    pub fn guest_env(&self) -> [(String, String); 2] {
        [
            ("DAPR_HTTP_PORT".to_string(), self.port().to_string()),
            ("DAPR_HTTP_ENDPOINT".to_string(), self.origin()),
        ]
    }

    /// Whether `url` is bound for exactly this sidecar origin: the same scheme, the same
    /// host as written (no aliasing of `localhost`, `127.0.0.1` and `::1`: another
    /// loopback address may be another program) and the same port. Only such requests
    /// get the sidecar token; the send path also pins a host name to the address it
    /// resolved to at startup ([`SidecarEndpoint::resolved_addr`]).
    pub fn is_sidecar(&self, url: &Url) -> bool {
        url.scheme() == self.url.scheme()
            && url.port_or_known_default() == Some(self.port())
            && url.host() == self.url.host()
    }

    /// For a sidecar named by a host name (`localhost`, `dapr.local`), the address it
    /// resolves to now (the first one); `None` for an IP literal or a name that does not
    /// resolve. Looked up once, so the token cannot follow a changed answer.
    pub fn resolved_addr(&self) -> Option<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        let url::Host::Domain(name) = self.url.host()? else {
            return None;
        };
        (name, self.port()).to_socket_addrs().ok()?.next()
    }
}

/// A credential that never shows itself in `Debug` or `Display` output, so it cannot end
/// up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads a variable from the process environment; empty counts as unset.
    pub fn from_env(name: &str) -> Option<Self> {
        std::env::var(name).ok().filter(|v| !v.is_empty()).map(Self)
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<SidecarEndpoint, DaprEnvError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SidecarEndpoint::resolve(|k| map.get(k).cloned())
    }

    #[test]
    fn default_is_local_3500() {
        let e = resolve(&[]).unwrap();
        assert_eq!(e.origin(), "http://127.0.0.1:3500");
    }

    #[test]
    fn port_variable_used_when_no_endpoint() {
        let e = resolve(&[("DAPR_HTTP_PORT", "3601")]).unwrap();
        assert_eq!(e.origin(), "http://127.0.0.1:3601");
        assert_eq!(e.guest_env()[0], ("DAPR_HTTP_PORT".into(), "3601".into()));
    }

    #[test]
    fn endpoint_wins_over_port() {
        let e = resolve(&[
            ("DAPR_HTTP_PORT", "3601"),
            ("DAPR_HTTP_ENDPOINT", "http://localhost:4000"),
        ])
        .unwrap();
        assert_eq!(e.origin(), "http://localhost:4000");
        assert_eq!(e.port(), 4000);
    }

    #[test]
    fn bad_port_is_an_error() {
        for bad in ["abc", "0", "70000", "-1"] {
            assert!(
                matches!(
                    resolve(&[("DAPR_HTTP_PORT", bad)]),
                    Err(DaprEnvError::BadPort { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_endpoint_is_an_error() {
        for bad in [
            "localhost:3500",
            "ftp://x:1",
            "http://u:p@127.0.0.1:3500",
            "http://h:1/path",
        ] {
            let err = resolve(&[("DAPR_HTTP_ENDPOINT", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("DAPR_HTTP_ENDPOINT"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn sidecar_origin_matching() {
        let e = resolve(&[]).unwrap();
        let yes = [
            "http://127.0.0.1:3500/v1.0/state/s",
            "HTTP://127.0.0.1:3500/x",
        ];
        // Another loopback address, or a loopback name, may be another program.
        let no = [
            "http://localhost:3500/x",
            "http://[::1]:3500/",
            "http://127.0.0.2:3500/",
            "http://127.0.0.1:3501/",
            "https://127.0.0.1:3500/",
            "http://example.com:3500/",
            "http://127.0.0.1:3500@evil.example/",
        ];
        for u in yes {
            assert!(e.is_sidecar(&Url::parse(u).unwrap()), "{u}");
        }
        for u in no {
            assert!(!e.is_sidecar(&Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn a_named_sidecar_matches_its_name_only_and_resolves_once() {
        let e = SidecarEndpoint::parse("http://localhost:3500").expect("endpoint");
        assert!(e.is_sidecar(&Url::parse("http://localhost:3500/v1.0").expect("url")));
        assert!(e.is_sidecar(&Url::parse("http://LOCALHOST:3500/").expect("url")));
        assert!(!e.is_sidecar(&Url::parse("http://127.0.0.1:3500/").expect("url")));
        assert!(!e.is_sidecar(&Url::parse("http://[::1]:3500/").expect("url")));
        let addr = e.resolved_addr().expect("localhost resolves");
        assert!(addr.ip().is_loopback() && addr.port() == 3500, "{addr}");
        let literal = SidecarEndpoint::parse("http://127.0.0.1:3500").expect("endpoint");
        assert_eq!(literal.resolved_addr(), None);
    }

    #[test]
    fn secret_never_prints_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
