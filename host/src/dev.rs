//! `--dev`: use the Dapr sidecar if one answers, otherwise start the embedded one on its
//! address, so a new user needs nothing but this binary.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use tracing::info;

use crate::allowlist::AllowedHosts;
use crate::config::HostConfig;
use crate::dapr_env::{Secret, SidecarEndpoint};
use wasi_dapr_sidecar::{Sidecar, SidecarError, SidecarOptions};

/// How long to wait for an existing sidecar to accept a connection.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A problem starting development mode.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The endpoint's host does not resolve to an address.
    #[error("the sidecar endpoint {0} does not resolve to an address")]
    Resolve(String),
    /// The embedded sidecar can only stand in on this machine.
    #[error(
        "no Dapr sidecar answers at {0}, and the embedded one can only listen on a loopback address; \
         start daprd or point DAPR_HTTP_ENDPOINT at 127.0.0.1"
    )]
    NotLoopback(String),
    /// The embedded sidecar failed to start.
    #[error("starting the embedded sidecar")]
    Sidecar(#[source] SidecarError),
    /// The sidecar origin could not be added to the allowlist.
    #[error("adding the sidecar {origin} to the allowlist: {reason}")]
    Allowlist {
        /// The origin.
        origin: String,
        /// Why it failed.
        reason: String,
    },
}

/// Settings for an embedded sidecar started by `--dev`.
#[derive(Debug, Clone, Default)]
pub struct DevOptions {
    /// Component folder, as for `wasi-dapr sidecar --resources-path`.
    pub resources_path: Option<PathBuf>,
    /// The app id the embedded sidecar uses (default `app`).
    pub app_id: Option<String>,
    /// The app's port, for `serve --dev`.
    pub app_port: Option<u16>,
}

/// Probes `endpoint`; if nothing accepts a connection, starts the embedded sidecar there.
/// Returns the sidecar if this process started one (keep it alive while the guest runs).
pub async fn ensure_sidecar(
    endpoint: &SidecarEndpoint,
    options: DevOptions,
) -> Result<Option<Sidecar>, DevError> {
    let addr = socket_addr(endpoint)?;
    let probe = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
    if matches!(probe, Ok(Ok(_))) {
        info!(endpoint = %endpoint.origin(), "--dev: using the Dapr sidecar that answers at this address");
        return Ok(None);
    }
    if !addr.ip().is_loopback() {
        return Err(DevError::NotLoopback(endpoint.origin()));
    }
    let sidecar = Sidecar::start(SidecarOptions {
        listen: addr,
        app_id: options
            .app_id
            .unwrap_or_else(|| crate::defaults::SIDECAR_APP_ID.into()),
        app_port: options.app_port,
        resources_path: options.resources_path,
        api_token: Secret::from_env("DAPR_API_TOKEN").map(|s| s.expose().to_string()),
        app_api_token: Secret::from_env("APP_API_TOKEN").map(|s| s.expose().to_string()),
    })
    .await
    .map_err(DevError::Sidecar)?;
    info!(endpoint = %endpoint.origin(), "--dev: no Dapr sidecar answered; started the embedded sidecar");
    Ok(Some(sidecar))
}

/// In development mode the guest may always reach the sidecar: adds its origin (and the
/// `localhost`/`127.0.0.1` twin) to the allowlist if the policy does not allow it already.
pub fn allow_sidecar(config: &mut HostConfig, endpoint: &SidecarEndpoint) -> Result<(), DevError> {
    if config.allowed_hosts.check(endpoint.url()).is_ok() {
        return Ok(());
    }
    let mut entries: Vec<String> = config
        .allowed_hosts
        .entries()
        .iter()
        .map(|e| e.to_string())
        .collect();
    entries.push(endpoint.origin());
    let port = endpoint.port();
    if endpoint.host() == "127.0.0.1" {
        entries.push(format!("{}://localhost:{port}", endpoint.url().scheme()));
    } else if endpoint.host().eq_ignore_ascii_case("localhost") {
        entries.push(format!("{}://127.0.0.1:{port}", endpoint.url().scheme()));
    }
    config.allowed_hosts = AllowedHosts::parse(&entries).map_err(|e| DevError::Allowlist {
        origin: endpoint.origin(),
        reason: e.to_string(),
    })?;
    info!(origin = %endpoint.origin(), "--dev: the sidecar is allowed for outbound HTTP");
    Ok(())
}

fn socket_addr(endpoint: &SidecarEndpoint) -> Result<SocketAddr, DevError> {
    let host = endpoint
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    (host, endpoint.port())
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| DevError::Resolve(endpoint.origin()))
}
