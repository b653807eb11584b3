//! The shared client's DNS resolver: looks a host name up, then keeps only the addresses
//! the connect policy ([`ConnectPolicy`]) allows, so the client never connects to a
//! refused one. When nothing is left the lookup fails with [`Blocked`], which `send.rs`
//! finds in the client's error and turns into [`super::SendError::BlockedAddress`].
//!
//! IP-literal URLs never reach a resolver; `send.rs` checks those itself. Names pinned
//! with `reqwest::ClientBuilder::resolve` (only the configured sidecar's, when a token is
//! set) bypass it too; the sidecar's name is exempt from the policy either way.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tracing::debug;

use super::address::{BlockReason, Blocked, ConnectPolicy, is_localhost, normalise};

/// Where host names are looked up: the system resolver, or, for tests, a fixed table.
#[derive(Debug, Clone, Default)]
pub struct NameLookup {
    table: Option<Arc<HashMap<String, Vec<IpAddr>>>>,
}

impl NameLookup {
    /// The system resolver (`getaddrinfo` on a blocking thread, via tokio). The default.
    pub fn system() -> Self {
        Self::default()
    }

    /// A fixed table instead of DNS: each name (compared lowercase, without a trailing
    /// dot) resolves to its addresses and every other name fails to resolve. For tests,
    /// which map names to loopback addresses without editing `/etc/hosts`.
    #[doc(hidden)]
    pub fn fixed<N: AsRef<str>>(entries: impl IntoIterator<Item = (N, Vec<IpAddr>)>) -> Self {
        let table = entries
            .into_iter()
            .map(|(n, a)| (normalise(n.as_ref()), a))
            .collect();
        Self {
            table: Some(Arc::new(table)),
        }
    }

    async fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        match &self.table {
            Some(table) => table.get(&normalise(name)).cloned().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{name} is not in the fixed lookup table"),
                )
            }),
            None => Ok(tokio::net::lookup_host((name, 0))
                .await?
                .map(|a| a.ip())
                .collect()),
        }
    }
}

/// The resolver installed on the shared client.
#[derive(Debug, Clone)]
pub(super) struct CheckedResolver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: ConnectPolicy,
    lookup: NameLookup,
    /// The configured sidecar's host name, when it is a name.
    sidecar_name: Option<String>,
}

impl CheckedResolver {
    pub(super) fn new(
        policy: ConnectPolicy,
        lookup: NameLookup,
        sidecar_name: Option<&str>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                policy,
                lookup,
                sidecar_name: sidecar_name.map(normalise),
            }),
        }
    }
}

impl Inner {
    /// The addresses of `name` that may be connected to, or [`Blocked`] if none may.
    fn filter(&self, name: &str, found: Vec<IpAddr>) -> Result<Vec<IpAddr>, Blocked> {
        let exempt = self.policy.is_unchecked(name)
            || self.sidecar_name.as_deref() == Some(normalise(name).as_str());
        if exempt || found.is_empty() {
            return Ok(found);
        }
        let localhost = is_localhost(name);
        let mut kept = Vec::with_capacity(found.len());
        let mut refused = Vec::new();
        for ip in found {
            match self.policy.blocked(ip) {
                Some(BlockReason::Loopback) if localhost => kept.push(ip),
                Some(why) => refused.push((ip, why)),
                None => kept.push(ip),
            }
        }
        if kept.is_empty() {
            return Err(Blocked {
                host: name.to_owned(),
                addresses: refused,
            });
        }
        if !refused.is_empty() {
            let skipped = Blocked {
                host: name.to_owned(),
                addresses: refused,
            };
            debug!(host = name, skipped = %skipped.addresses_text(), "blocked addresses left out of the connect attempt");
        }
        Ok(kept)
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = self.inner.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let found = inner.lookup.lookup(&name).await?;
            let kept = inner.filter(&name, found)?;
            let addrs: Addrs = Box::new(kept.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The [`Blocked`] a resolver failure carries, if that is why the request failed.
pub(super) fn blocked_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Blocked> {
    let mut cur = Some(error);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<Blocked>() {
            return Some(b);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn resolver(policy: ConnectPolicy, sidecar: Option<&str>) -> CheckedResolver {
        CheckedResolver::new(policy, NameLookup::system(), sidecar)
    }

    #[test]
    fn a_name_keeps_only_allowed_addresses() {
        let r = resolver(ConnectPolicy::default(), None);
        let kept = r
            .inner
            .filter("mixed.test", vec![ip("127.0.0.1"), ip("93.184.215.14")])
            .expect("one address is left");
        assert_eq!(kept, [ip("93.184.215.14")]);
        let err = r
            .inner
            .filter(
                "rebind.test",
                vec![ip("127.0.0.1"), ip("::ffff:169.254.169.254")],
            )
            .expect_err("nothing left");
        assert_eq!(err.host, "rebind.test");
        assert_eq!(
            err.addresses_text(),
            "127.0.0.1 (loopback), ::ffff:169.254.169.254 (link-local)"
        );
    }

    #[test]
    fn private_addresses_are_kept_unless_the_setting_is_on() {
        let found = vec![ip("10.96.0.10"), ip("fd00::10"), ip("192.168.1.5")];
        let default = resolver(ConnectPolicy::default(), None);
        assert_eq!(
            default
                .inner
                .filter("svc.test", found.clone())
                .expect("kept"),
            found
        );
        let strict = resolver(
            ConnectPolicy {
                block_private_networks: true,
                ..Default::default()
            },
            None,
        );
        let err = strict.inner.filter("svc.test", found).expect_err("refused");
        assert_eq!(err.settings_text(), "connect.block_private_networks = true");
    }

    #[test]
    fn localhost_may_reach_loopback_but_nothing_else_blocked() {
        let r = resolver(ConnectPolicy::default(), None);
        assert_eq!(
            r.inner
                .filter("localhost", vec![ip("127.0.0.1"), ip("::1")])
                .expect("loopback"),
            [ip("127.0.0.1"), ip("::1")]
        );
        assert!(
            r.inner
                .filter("localhost", vec![ip("169.254.169.254")])
                .is_err()
        );
        assert!(
            r.inner
                .filter("a.localhost", vec![ip("127.0.0.1")])
                .is_err()
        );
    }

    #[test]
    fn unchecked_names_and_the_sidecar_name_are_exempt() {
        let policy = ConnectPolicy {
            unchecked_names: vec!["proxy.internal".into()],
            ..Default::default()
        };
        let r = resolver(policy, Some("Dapr.Local"));
        for name in ["proxy.internal", "dapr.local", "DAPR.local."] {
            assert_eq!(
                r.inner.filter(name, vec![ip("127.0.0.1")]).expect(name),
                [ip("127.0.0.1")]
            );
        }
        assert!(
            r.inner
                .filter("other.local", vec![ip("127.0.0.1")])
                .is_err()
        );
    }

    #[tokio::test]
    async fn fixed_lookup_answers_from_its_table_only() {
        let l = NameLookup::fixed([("Rebind.Test", vec![ip("127.0.0.1")])]);
        assert_eq!(
            l.lookup("rebind.test.").await.expect("in table"),
            [ip("127.0.0.1")]
        );
        assert!(l.lookup("other.test").await.is_err());
    }

    #[tokio::test]
    async fn the_blocked_error_is_found_through_the_resolver() {
        let r = CheckedResolver::new(
            ConnectPolicy::default(),
            NameLookup::fixed([("rebind.test", vec![ip("127.0.0.1")])]),
            None,
        );
        let name: Name = "rebind.test".parse().expect("name");
        let Err(err) = r.resolve(name).await else {
            panic!("must be refused");
        };
        let blocked = blocked_in(err.as_ref()).expect("a Blocked");
        assert_eq!(blocked.host, "rebind.test");
    }
}
