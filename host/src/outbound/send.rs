//! `OutboundHttp`: the process's one outbound client and the send loop every guest ABI
//! calls — allowlist and connect policy per hop, sidecar token, redirects, the deadline
//! and the size caps.

use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Method, StatusCode};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, warn};
use url::Url;

use super::resolve::{CheckedResolver, blocked_in};
use super::trace::{self, TraceContext};
use super::{NameLookup, SendError, allow, loggable, redirect, token};
use crate::config::{HostConfig, Limits};
use crate::dapr_env::{Secret, SidecarEndpoint};
use crate::metrics::{Denial, Metrics, OutboundResult};

/// A request as a guest described it, already validated by its ABI.
#[derive(Debug)]
pub struct OutboundRequest {
    /// An `http` or `https` URL with a host.
    pub url: Url,
    /// The method.
    pub method: Method,
    /// The guest's headers (host-controlled ones already removed by the ABI).
    pub headers: HeaderMap,
    /// The body, at most `max_request_body_bytes`.
    pub body: Bytes,
}

/// The final answer (after any redirects): status and headers read, body streamed.
pub struct OutboundResponse {
    /// The status code.
    pub status: StatusCode,
    /// The response headers, within `max_response_headers_bytes`.
    pub headers: HeaderMap,
    /// The body, read chunk by chunk under the request's deadline and body cap.
    pub body: ResponseBody,
}

/// A response body being read: bounded by `max_response_body_bytes` and by the deadline
/// of the request it answers.
pub struct ResponseBody {
    response: reqwest::Response,
    pending: Bytes,
    finished: bool,
    read: usize,
    cap: usize,
    deadline: Instant,
}

impl ResponseBody {
    /// The next at most `max` bytes; empty at the end (or when `max` is 0).
    pub async fn next_chunk(&mut self, max: usize) -> Result<Bytes, SendError> {
        if max == 0 {
            return Ok(Bytes::new());
        }
        while self.pending.is_empty() && !self.finished {
            match timeout_at(self.deadline, self.response.chunk()).await {
                Err(_) => return Err(SendError::BodyTimeout),
                Ok(Err(e)) => return Err(SendError::BodyFailed(e.to_string())),
                Ok(Ok(None)) => self.finished = true,
                Ok(Ok(Some(chunk))) => {
                    self.read = self.read.saturating_add(chunk.len());
                    if self.read > self.cap {
                        warn!(
                            limit = self.cap,
                            "outbound response body exceeds max_response_body_bytes"
                        );
                        self.finished = true;
                        return Err(SendError::ResponseBodyTooLarge);
                    }
                    self.pending = chunk;
                }
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.split_to(n))
    }
}

/// What every instance of a process shares: the policy, the HTTP client and the
/// sidecar's identity. Cheap to clone.
#[derive(Clone)]
pub struct OutboundHttp {
    inner: Arc<Shared>,
    /// The served request's trace context, added for the sidecar only (`None` in `run`).
    trace: Option<TraceContext>,
}

struct Shared {
    client: Clients,
    config: HostConfig,
    sidecar: SidecarEndpoint,
    token: Option<Secret>,
    /// Where [`OutboundHttp::send`] counts its results, once serve attaches it.
    metrics: OnceLock<Arc<Metrics>>,
}

/// What went wrong, with its causes (`...: invalid peer certificate: UnknownIssuer`) and
/// without the URL, whose query may carry secrets (the log line shows it safely).
/// The longest URL the send path sends (both ABIs; the legacy import refuses longer ones
/// before copying them from the guest).
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// Refuses a URL that must not be sent whatever the allowlist says: one with userinfo
/// (RFC 9110 §4.2.4: senders must not generate it; `user@host` also reads as another
/// host), or longer than [`MAX_URL_BYTES`]. The log line names neither the userinfo nor
/// the query.
fn check_url(url: &Url) -> Result<(), SendError> {
    let reason = if !url.username().is_empty() || url.password().is_some() {
        "it has userinfo (user:password@), which is never sent"
    } else if url.as_str().len() > MAX_URL_BYTES {
        "it is longer than 8 KiB"
    } else {
        return Ok(());
    };
    warn!(url = %loggable(url), reason, "outbound request refused: invalid URL");
    Err(SendError::InvalidUrl(reason))
}

fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Makes a configured client builder: the resolver, timeouts and pins of this process.
type MakeBuilder = Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>;

/// The reqwest clients, each built at its first use: one for `http://` hops, whose TLS
/// configuration trusts nothing (building it is cheap), and one for `https://` hops that
/// loads the system's root certificates (a few milliseconds), built only when an
/// `https` hop is sent or by [`OutboundHttp::warm_up`]. A `run` whose guest never calls
/// out, or only calls the sidecar over plain HTTP, never pays for the certificates.
struct Clients {
    make: MakeBuilder,
    plain: OnceLock<Result<reqwest::Client, String>>,
    tls: OnceLock<Result<reqwest::Client, String>>,
}

impl Clients {
    fn new(make: MakeBuilder) -> Self {
        Self {
            make,
            plain: OnceLock::new(),
            tls: OnceLock::new(),
        }
    }

    /// The client for a hop to `url`; callers that arrive while it is being built wait
    /// for it. A failure to build it (no usable TLS configuration) fails every request it
    /// would have sent, with the reason.
    fn for_url(&self, url: &Url) -> Result<&reqwest::Client, SendError> {
        if url.scheme() == "https" {
            self.tls()
        } else {
            Self::built(&self.plain, || (self.make)().tls_certs_only([]))
        }
    }

    fn tls(&self) -> Result<&reqwest::Client, SendError> {
        Self::built(&self.tls, || (self.make)())
    }

    fn built(
        cell: &OnceLock<Result<reqwest::Client, String>>,
        builder: impl FnOnce() -> reqwest::ClientBuilder,
    ) -> Result<&reqwest::Client, SendError> {
        let built = cell.get_or_init(|| {
            builder().build().map_err(|e| {
                let reason = format!("building the outbound HTTP client: {e:#}");
                warn!("{reason}");
                reason
            })
        });
        built
            .as_ref()
            .map_err(|reason| SendError::Failed(reason.clone()))
    }
}

impl std::fmt::Debug for OutboundHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundHttp")
            .field("sidecar", &self.inner.sidecar.origin())
            .field("token", &self.inner.token)
            .finish_non_exhaustive()
    }
}

impl OutboundHttp {
    /// Builds the shared client. `token` (from the host's `DAPR_API_TOKEN`) is sent as
    /// `dapr-api-token` on requests bound for `sidecar`, and nowhere else. Host names are
    /// looked up with the system resolver and checked against `config.connect`.
    pub fn new(config: HostConfig, sidecar: SidecarEndpoint, token: Option<Secret>) -> Self {
        Self::with_lookup(config, sidecar, token, NameLookup::system())
    }

    /// [`OutboundHttp::new`] with another name lookup: tests pass
    /// [`NameLookup::fixed`] to point names at local servers.
    #[doc(hidden)]
    pub fn with_lookup(
        config: HostConfig,
        sidecar: SidecarEndpoint,
        token: Option<Secret>,
        lookup: NameLookup,
    ) -> Self {
        static CRYPTO: Once = Once::new();
        CRYPTO.call_once(|| {
            // Another component of the process may have installed one already: fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        // The sidecar's own name is operator configuration, exempt from the connect
        // policy like an entry that names an address.
        let sidecar_name = match sidecar.url().host() {
            Some(url::Host::Domain(name)) => Some(name.to_owned()),
            _ => None,
        };
        let resolver = Arc::new(CheckedResolver::new(
            config.connect.clone(),
            lookup,
            sidecar_name.as_deref(),
        ));
        // With a token, a sidecar named by a host name is pinned to the address it
        // resolves to now: the token goes to that address, not to a later DNS answer.
        // The pin bypasses the resolver above, which is safe: it is only ever the
        // configured sidecar's name, which that resolver exempts anyway.
        let pin = match (
            token.is_some(),
            sidecar.resolved_addr(),
            sidecar.url().host_str(),
        ) {
            (true, Some(addr), Some(host)) => {
                debug!(sidecar = %sidecar.origin(), %addr, "sidecar host pinned to its address");
                Some((host.to_owned(), addr))
            }
            _ => None,
        };
        let connect_timeout = config.limits.connect_timeout;
        let make: MakeBuilder = Box::new(move || {
            let client = reqwest::Client::builder()
                .dns_resolver(resolver.clone())
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(connect_timeout)
                .no_proxy()
                .pool_idle_timeout(Duration::from_secs(30));
            match &pin {
                Some((host, addr)) => client.resolve(host, *addr),
                None => client,
            }
        });
        Self {
            inner: Arc::new(Shared {
                client: Clients::new(make),
                config,
                sidecar,
                token,
                metrics: OnceLock::new(),
            }),
            trace: None,
        }
    }

    /// If the allowlist allows any `https` destination, builds the TLS client on a
    /// helper thread now, so that neither start-up nor the first `https` request waits
    /// for the system's root certificates to load. Without this call it is built at its
    /// first use.
    pub fn warm_up(&self) {
        if !self.inner.config.allowed_hosts.allows_https() {
            return;
        }
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("wasi-dapr-http-client".into())
            .spawn(move || {
                let _ = inner.client.tls();
            });
        if let Err(e) = spawned {
            debug!(error = %e, "no thread to build the HTTP client ahead; it is built at first use");
        }
    }

    /// This client for one served request: `trace` (the inbound request's valid trace
    /// context) is added to hops bound for the sidecar whose guest headers carry no
    /// `traceparent`.
    pub fn with_trace(mut self, trace: Option<TraceContext>) -> Self {
        self.trace = trace;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// The sidecar endpoint requests are recognised against.
    pub fn sidecar(&self) -> &SidecarEndpoint {
        &self.inner.sidecar
    }

    /// Refuses a request body of `len` bytes over `max_request_body_bytes`, before an ABI
    /// copies it out of guest memory.
    pub fn check_request_body_len(&self, len: usize) -> Result<(), SendError> {
        let limit = self.limits().max_request_body_bytes;
        if len > limit {
            warn!(
                size = len,
                limit, "outbound request refused: body larger than max_request_body_bytes"
            );
            return Err(SendError::RequestBodyTooLarge);
        }
        Ok(())
    }

    /// Counts every later [`OutboundHttp::send`] in `metrics` (by the first hop's origin
    /// and result; a denial by reason only). Only the first call has an effect.
    pub fn record_metrics(&self, metrics: Arc<Metrics>) {
        let _ = self.inner.metrics.set(metrics);
    }

    /// Sends `request` under the policy (see `send_checked`), counted in the attached
    /// [`Metrics`] if any.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, SendError> {
        let Some(metrics) = self.inner.metrics.get() else {
            return self.send_checked(request).await;
        };
        let origin = request.url.origin().ascii_serialization();
        let sent = self.send_checked(request).await;
        match &sent {
            Ok(response) => {
                metrics.outbound(&origin, OutboundResult::Status(response.status.as_u16()))
            }
            Err(SendError::Denied) => metrics.outbound_denied(Denial::Allowlist),
            Err(SendError::BlockedAddress { .. }) => metrics.outbound_denied(Denial::ConnectPolicy),
            Err(SendError::Timeout | SendError::BodyTimeout) => {
                metrics.outbound(&origin, OutboundResult::Timeout)
            }
            Err(
                SendError::RequestBodyTooLarge
                | SendError::ResponseHeadersTooLarge
                | SendError::ResponseBodyTooLarge,
            ) => metrics.outbound(&origin, OutboundResult::TooLarge),
            Err(
                SendError::Failed(_)
                | SendError::BodyFailed(_)
                | SendError::InvalidToken
                | SendError::InvalidUrl(_),
            ) => metrics.outbound(&origin, OutboundResult::Error),
        }
        sent
    }

    /// Sends `request` under the policy: every hop allowed by the allowlist and connected
    /// only to addresses the connect policy allows, the token
    /// only to the sidecar, redirects by `max_redirects`, all within `request_timeout`,
    /// the answer's headers and declared length within their caps.
    async fn send_checked(&self, request: OutboundRequest) -> Result<OutboundResponse, SendError> {
        let limits = self.limits();
        self.check_request_body_len(request.body.len())?;
        let deadline = Instant::now() + limits.request_timeout;
        let OutboundRequest {
            mut url,
            mut method,
            mut headers,
            mut body,
        } = request;
        let mut hops = 0u32;
        loop {
            check_url(&url)?;
            allow::check(&self.inner.config.allowed_hosts, &url)?;
            allow::check_literal(
                &self.inner.config.allowed_hosts,
                &self.inner.config.connect,
                &url,
            )?;
            let mut outgoing = headers.clone();
            token::add_for_sidecar(
                self.inner.token.as_ref(),
                &self.inner.sidecar,
                &url,
                &mut outgoing,
            )?;
            trace::add_for_sidecar(
                self.trace.as_ref(),
                &self.inner.sidecar,
                &url,
                &headers,
                &mut outgoing,
            );
            let started = std::time::Instant::now();
            let sent = self
                .inner
                .client
                .for_url(&url)?
                .request(method.clone(), url.clone())
                .headers(outgoing)
                .body(body.clone())
                .send();
            let response = match timeout_at(deadline, sent).await {
                Err(_) => {
                    warn!(url = %loggable(&url), timeout = ?limits.request_timeout, "outbound request timed out");
                    return Err(SendError::Timeout);
                }
                Ok(Err(e)) => {
                    if let Some(blocked) = blocked_in(&e) {
                        return Err(allow::blocked(&url, blocked));
                    }
                    let reason = describe(e);
                    warn!(url = %loggable(&url), error = %reason, "outbound request failed");
                    return Err(SendError::Failed(reason));
                }
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            debug!(%method, url = %loggable(&url), status = status.as_u16(), elapsed = ?started.elapsed(), "outbound request");

            if status.is_redirection()
                && hops < limits.max_redirects
                && let Some(next) = redirect::target(&url, response.headers())
            {
                hops += 1;
                redirect::next_hop(status, &url, &next, &mut method, &mut headers, &mut body);
                debug!(from = %loggable(&url), to = %loggable(&next), hop = hops, "following redirect");
                url = next;
                continue;
            }

            let header_bytes: usize = response
                .headers()
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 2)
                .sum();
            if header_bytes > limits.max_response_headers_bytes {
                warn!(url = %loggable(&url), size = header_bytes, "outbound response headers exceed max_response_headers_bytes");
                return Err(SendError::ResponseHeadersTooLarge);
            }
            if let Some(len) = response.content_length()
                && len > limits.max_response_body_bytes as u64
            {
                warn!(url = %loggable(&url), size = len, "outbound response body exceeds max_response_body_bytes");
                return Err(SendError::ResponseBodyTooLarge);
            }
            let headers = response.headers().clone();
            return Ok(OutboundResponse {
                status,
                headers,
                body: ResponseBody {
                    response,
                    pending: Bytes::new(),
                    finished: false,
                    read: 0,
                    cap: limits.max_response_body_bytes,
                    deadline,
                },
            });
        }
    }
}
