//! The sidecar token: `dapr-api-token` (from the host's `DAPR_API_TOKEN`) is added to a
//! hop bound for the sidecar origin, and to no other. The token never enters the guest.

use http::{HeaderMap, HeaderValue};
use url::Url;

use super::SendError;
use crate::dapr_env::{Secret, SidecarEndpoint};

/// Adds the token to `headers` when `url` is the sidecar's.
pub(super) fn add_for_sidecar(
    token: Option<&Secret>,
    sidecar: &SidecarEndpoint,
    url: &Url,
    headers: &mut HeaderMap,
) -> Result<(), SendError> {
    if let Some(token) = token
        && sidecar.is_sidecar(url)
    {
        let value = HeaderValue::from_str(token.expose()).map_err(|_| SendError::InvalidToken)?;
        headers.insert("dapr-api-token", value);
    }
    Ok(())
}
