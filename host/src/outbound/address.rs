//! The connect policy (`[connect]` of `allowlist.toml`): which addresses a request may
//! reach when the allowlist let it through by *name* (or by a wildcard), classified after
//! DNS and before any connection, so a listed name cannot be pointed at loopback or at
//! the cloud metadata service (DNS rebinding).
//!
//! Always refused for such requests: unspecified (`0.0.0.0/8`, `::`), loopback
//! (`127.0.0.0/8`, `::1`; the name `localhost` itself may still reach loopback) and
//! link-local (`169.254.0.0/16`, `fe80::/10`). Refused with `block_private_networks =
//! true`: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `100.64.0.0/10` and
//! `fc00::/7`. Refused always: every block of `blocked_networks`. IPv4-mapped IPv6
//! addresses (`::ffff:127.0.0.1`) are classified as the IPv4 address they carry.
//!
//! Not subject to the policy: a URL whose host is an IP literal allowed by an
//! `allowed_hosts` entry that names that address or a CIDR block holding it (the
//! operator named the address), a name in `unchecked_names`, and the configured sidecar's
//! host name (operator configuration, like an entry naming an address).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Which resolved addresses a request that was allowed by name (or by a wildcard) may
/// connect to. [`ConnectPolicy::default`] is the safe default described in the module
/// docs: loopback, link-local and unspecified refused, private ranges allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectPolicy {
    /// `block_private_networks`: also refuse private and shared ranges (`10/8`,
    /// `172.16/12`, `192.168/16`, `100.64/10`, `fc00::/7`). Default `false`, because
    /// Kubernetes service names resolve there.
    pub block_private_networks: bool,
    /// `blocked_networks`: further CIDR blocks to refuse. Default empty.
    pub blocked_networks: Vec<IpNet>,
    /// `unchecked_names`: host names (lowercase, no trailing dot) whose addresses are not
    /// checked at all; the escape hatch for a trusted name that points at loopback.
    /// Default empty.
    pub unchecked_names: Vec<String>,
}

/// Why an address is refused, and so which setting governs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// `0.0.0.0/8` or `::`: on many systems a connection there reaches the host itself.
    Unspecified,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// `169.254.0.0/16` (cloud metadata lives at 169.254.169.254) or `fe80::/10`.
    LinkLocal,
    /// A private or shared range, refused because `block_private_networks = true`.
    Private,
    /// Inside this `blocked_networks` block.
    Listed(IpNet),
}

impl BlockReason {
    /// A short name for the kind of address.
    pub fn kind(&self) -> &'static str {
        match self {
            BlockReason::Unspecified => "unspecified",
            BlockReason::Loopback => "loopback",
            BlockReason::LinkLocal => "link-local",
            BlockReason::Private => "private",
            BlockReason::Listed(_) => "listed",
        }
    }

    /// The setting in `allowlist.toml` that refuses it, as a log and error line shows it.
    pub fn setting(&self) -> String {
        match self {
            BlockReason::Unspecified | BlockReason::Loopback | BlockReason::LinkLocal => {
                "the [connect] default (host names and wildcard entries may not reach \
                 loopback, link-local or unspecified addresses)"
                    .to_owned()
            }
            BlockReason::Private => "connect.block_private_networks = true".to_owned(),
            BlockReason::Listed(net) => format!("connect.blocked_networks entry \"{net}\""),
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReason::Listed(net) => write!(f, "in {net}"),
            other => f.write_str(other.kind()),
        }
    }
}

const PRIVATE_V4: [(Ipv4Addr, u8); 4] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    Ipv4Net::new(net, len).is_ok_and(|n| n.contains(&ip))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    Ipv6Net::new(net, len).is_ok_and(|n| n.contains(&ip))
}

impl ConnectPolicy {
    /// Why `ip` may not be reached by a name or a wildcard entry, or `None` if it may.
    /// An IPv4-mapped IPv6 address is judged as its IPv4 address.
    pub fn blocked(&self, ip: IpAddr) -> Option<BlockReason> {
        let canonical = ip.to_canonical();
        let fixed = match canonical {
            IpAddr::V4(a) => {
                if in_v4(a, Ipv4Addr::UNSPECIFIED, 8) {
                    Some(BlockReason::Unspecified)
                } else if a.is_loopback() {
                    Some(BlockReason::Loopback)
                } else if a.is_link_local() {
                    Some(BlockReason::LinkLocal)
                } else if self.block_private_networks
                    && PRIVATE_V4.iter().any(|(n, l)| in_v4(a, *n, *l))
                {
                    Some(BlockReason::Private)
                } else {
                    None
                }
            }
            IpAddr::V6(a) => {
                if a.is_unspecified() {
                    Some(BlockReason::Unspecified)
                } else if a.is_loopback() {
                    Some(BlockReason::Loopback)
                } else if in_v6(a, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10) {
                    Some(BlockReason::LinkLocal)
                } else if self.block_private_networks
                    && in_v6(a, Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7)
                {
                    Some(BlockReason::Private)
                } else {
                    None
                }
            }
        };
        fixed.or_else(|| {
            self.blocked_networks
                .iter()
                .find(|n| n.contains(&canonical) || n.contains(&ip))
                .map(|n| BlockReason::Listed(*n))
        })
    }

    /// Whether the addresses of `name` (as the URL holds it) are exempt from the policy.
    pub fn is_unchecked(&self, name: &str) -> bool {
        let name = normalise(name);
        self.unchecked_names.contains(&name)
    }
}

/// Lowercase, without one trailing dot: the form names are compared in.
pub(super) fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Whether `name` is `localhost` itself, which may still reach loopback addresses.
pub(super) fn is_localhost(name: &str) -> bool {
    normalise(name) == "localhost"
}

/// Every address of one host was refused: what they were and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The host as the URL names it (a name, or an IP literal).
    pub host: String,
    /// Each address it resolved to, with the reason it was refused.
    pub addresses: Vec<(IpAddr, BlockReason)>,
}

impl Blocked {
    /// `127.0.0.1 (loopback), ::1 (loopback)`.
    pub fn addresses_text(&self) -> String {
        self.addresses
            .iter()
            .map(|(ip, why)| format!("{ip} ({why})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The settings that refused them, each once, `; `-separated.
    pub fn settings_text(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        for (_, why) in &self.addresses {
            let s = why.setting();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen.join("; ")
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to blocked addresses: {}; blocked by {}",
            self.host,
            self.addresses_text(),
            self.settings_text()
        )
    }
}

impl std::error::Error for Blocked {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn kind(p: &ConnectPolicy, s: &str) -> Option<&'static str> {
        p.blocked(ip(s)).map(|r| r.kind())
    }

    #[test]
    fn default_refuses_loopback_link_local_and_unspecified() {
        let p = ConnectPolicy::default();
        for (a, k) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("169.254.0.1", "link-local"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
        ] {
            assert_eq!(kind(&p, a), Some(k), "{a}");
        }
    }

    #[test]
    fn default_allows_public_and_private_addresses() {
        let p = ConnectPolicy::default();
        for a in [
            "93.184.215.14",
            "1.1.1.1",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "2001:db8::1",
            "fec0::1",
            "::2",
        ] {
            assert_eq!(kind(&p, a), None, "{a}");
        }
    }

    #[test]
    fn private_ranges_are_refused_only_with_the_setting() {
        let p = ConnectPolicy {
            block_private_networks: true,
            ..Default::default()
        };
        for a in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.1.2.3",
        ] {
            assert_eq!(kind(&p, a), Some("private"), "{a}");
        }
        for a in [
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "11.0.0.1",
            "fe00::1",
            "2001:db8::1",
        ] {
            assert_eq!(kind(&p, a), None, "{a}");
        }
        assert_eq!(
            p.blocked(ip("10.0.0.1")).map(|r| r.setting()).as_deref(),
            Some("connect.block_private_networks = true")
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_classified_as_ipv4() {
        let p = ConnectPolicy::default();
        assert_eq!(kind(&p, "::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(kind(&p, "::ffff:7f00:1"), Some("loopback"));
        assert_eq!(kind(&p, "::ffff:169.254.169.254"), Some("link-local"));
        assert_eq!(kind(&p, "::ffff:0.0.0.0"), Some("unspecified"));
        assert_eq!(kind(&p, "::ffff:93.184.215.14"), None);
        let listed = ConnectPolicy {
            blocked_networks: vec!["198.18.0.0/15".parse().expect("net")],
            ..Default::default()
        };
        assert_eq!(kind(&listed, "::ffff:198.19.0.1"), Some("listed"));
    }

    #[test]
    fn blocked_networks_add_to_the_defaults() {
        let p = ConnectPolicy {
            blocked_networks: vec![
                "198.18.0.0/15".parse().expect("net"),
                "2001:db8::/32".parse().expect("net"),
            ],
            ..Default::default()
        };
        let why = p.blocked(ip("198.19.1.1")).expect("listed");
        assert_eq!(
            why,
            BlockReason::Listed("198.18.0.0/15".parse().expect("net"))
        );
        assert_eq!(
            why.setting(),
            "connect.blocked_networks entry \"198.18.0.0/15\""
        );
        assert_eq!(kind(&p, "2001:db8::5"), Some("listed"));
        assert_eq!(kind(&p, "198.20.0.1"), None);
        assert_eq!(kind(&p, "127.0.0.1"), Some("loopback"));
        assert_eq!(kind(&p, "10.0.0.1"), None);
    }

    #[test]
    fn names_compare_lowercase_without_trailing_dot() {
        let p = ConnectPolicy {
            unchecked_names: vec!["proxy.internal".into()],
            ..Default::default()
        };
        assert!(p.is_unchecked("proxy.internal"));
        assert!(p.is_unchecked("PROXY.internal."));
        assert!(!p.is_unchecked("a.proxy.internal"));
        assert!(is_localhost("localhost") && is_localhost("LocalHost."));
        assert!(!is_localhost("a.localhost") && !is_localhost("localhost.example"));
    }

    #[test]
    fn blocked_names_the_host_addresses_and_settings() {
        let b = Blocked {
            host: "rebind.example".into(),
            addresses: vec![
                (ip("127.0.0.1"), BlockReason::Loopback),
                (ip("169.254.169.254"), BlockReason::LinkLocal),
                (ip("10.0.0.1"), BlockReason::Private),
            ],
        };
        let text = b.to_string();
        assert!(text.starts_with("rebind.example resolves only to blocked addresses: 127.0.0.1 (loopback), 169.254.169.254 (link-local), 10.0.0.1 (private); blocked by the [connect] default"), "{text}");
        assert!(
            text.ends_with("; connect.block_private_networks = true"),
            "{text}"
        );
    }
}
