//! The allowlist check of one hop, with the denial log line that names the
//! `allowed_hosts` entry that would allow it. The matcher itself is [`crate::allowlist`].

use tracing::warn;
use url::Url;

use super::SendError;
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
