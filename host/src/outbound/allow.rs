//! The allowlist check of one hop, with the denial log line that names the
//! `allowed_hosts` entry that would allow it; the connect-policy check of an IP-literal
//! hop (names are checked by the resolver, `resolve.rs`); and the log line of a
//! destination the connect policy blocked. The matcher itself is [`crate::allowlist`].

use std::net::IpAddr;

use tracing::warn;
use url::Url;

use super::address::{Blocked, ConnectPolicy};
use super::{SendError, loggable};
use crate::allowlist::AllowedHosts;

/// Checks `url` against `allowed`; a denial is logged and is [`SendError::Denied`].
pub(super) fn check(allowed: &AllowedHosts, url: &Url) -> Result<(), SendError> {
    allowed.check(url).map_err(|denied| {
        warn!(
            url = %denied.url,
            allow_with = %denied.suggestion,
            "outbound request denied: add {:?} to allowed_hosts in allowlist.toml to allow it",
            denied.suggestion
        );
        SendError::Denied
    })
}

/// For an `url` already allowed whose host is an IP literal: unless an entry names that
/// address (or a CIDR block holding it), the connect policy applies to it as it does to
/// the addresses of a name. A refusal is logged and is [`SendError::BlockedAddress`].
pub(super) fn check_literal(
    allowed: &AllowedHosts,
    policy: &ConnectPolicy,
    url: &Url,
) -> Result<(), SendError> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
        _ => return Ok(()),
    };
    if allowed.allows_by_address(url) {
        return Ok(());
    }
    match policy.blocked(ip) {
        None => Ok(()),
        Some(why) => Err(blocked(
            url,
            &Blocked {
                host: ip.to_string(),
                addresses: vec![(ip, why)],
            },
        )),
    }
}

/// Logs that the connect policy refused every address of `url`'s host, and returns the
/// guest-facing [`SendError::BlockedAddress`].
pub(super) fn blocked(url: &Url, blocked: &Blocked) -> SendError {
    let addresses = blocked.addresses_text();
    let settings = blocked.settings_text();
    warn!(
        url = %loggable(url),
        host = %blocked.host,
        addresses = %addresses,
        blocked_by = %settings,
        "outbound request blocked: {} resolves only to blocked addresses ({addresses}); \
         blocked by {settings} in allowlist.toml",
        blocked.host
    );
    SendError::BlockedAddress {
        host: blocked.host.clone(),
        addresses,
        settings,
    }
}
