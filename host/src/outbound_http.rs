//! The `wasi_experimental_http` import: outbound HTTP for guests, binary-compatible with
//! the last public release (0.10) of that ABI, checked against the allowlist and bounded
//! by the `[limits]` of `allowlist.toml`.
//!
//! Functions (all parameters `i32`, every function returns an error code, results are
//! written little-endian into guest memory):
//!
//! | function | parameters | writes |
//! |---|---|---|
//! | `req` | url, method, headers (`name:value\n` lines), body as pointer/length pairs | status (`u16`), handle (`u32`) |
//! | `close` | handle | — |
//! | `header_get` | handle, name pointer/length, buffer pointer/length | bytes written (`u32`) |
//! | `headers_get_all` | handle, buffer pointer/length | bytes written (`u32`) |
//! | `body_read` | handle, buffer pointer/length | bytes written (`u32`), 0 at the end |
//!
//! Where the 0.10 host fell short, this one differs only in ways a guest can rely on:
//! every guest input is validated (an error code, never a trap or a panic), handles live
//! in the store (one instance never sees another's), requests run on the async runtime
//! with a deadline, bodies and header blocks are capped, open responses are bounded
//! ([`HttpError::TooManySessions`]), repeated response headers are all returned (one line
//! each from `headers_get_all`, joined by `", "` from `header_get`), redirects are only
//! followed when `max_redirects > 0` and each hop is checked against the allowlist again,
//! and on [`HttpError::BufferTooSmall`] the needed size is written to the result pointer.

use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, warn};
use url::Url;
use wasmtime::{AsContext, AsContextMut, Caller, Extern, Linker, Memory};

use crate::config::{HostConfig, Limits};
use crate::dapr_env::{Secret, SidecarEndpoint};

/// The import module name guests link against.
pub const MODULE: &str = "wasi_experimental_http";

/// Largest request header block a guest may pass.
pub const MAX_REQUEST_HEADER_BYTES: usize = 64 * 1024;
/// Longest URL a guest may pass.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// An error returned to the guest; each variant is one of the ABI's error numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// 1: the handle is not an open response of this instance.
    #[error("invalid handle")]
    InvalidHandle,
    /// 2: the module exports no memory named `memory`.
    #[error("memory not found")]
    MemoryNotFound,
    /// 3: a pointer/length pair falls outside the guest's memory.
    #[error("memory access out of bounds")]
    MemoryAccess,
    /// 4: the guest's buffer is smaller than the value; `needed` bytes are required.
    #[error("buffer too small ({needed} bytes needed)")]
    BufferTooSmall {
        /// The size the value needs.
        needed: usize,
    },
    /// 5: the response has no header of that name.
    #[error("header not found")]
    HeaderNotFound,
    /// 6: a string the guest passed is not UTF-8.
    #[error("invalid UTF-8")]
    Utf8,
    /// 7: the allowlist does not allow the destination.
    #[error("destination not allowed")]
    DestinationNotAllowed,
    /// 8: the method is not a valid HTTP method.
    #[error("invalid method")]
    InvalidMethod,
    /// 9: the header block is malformed (a line without `:`, a bad name or value).
    #[error("invalid header encoding: {0}")]
    InvalidEncoding(String),
    /// 10: the URL does not parse, or is not `http`/`https`.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// 11: the request failed: connection, timeout, or a size limit.
    #[error("request failed: {0}")]
    Request(String),
    /// 12: the host could not carry out the call.
    #[error("runtime error: {0}")]
    Runtime(String),
    /// 13: too many responses are open (or requests in flight) in this instance.
    #[error("too many open responses")]
    TooManySessions,
}

impl From<HttpError> for u32 {
    fn from(e: HttpError) -> u32 {
        match e {
            HttpError::InvalidHandle => 1,
            HttpError::MemoryNotFound => 2,
            HttpError::MemoryAccess => 3,
            HttpError::BufferTooSmall { .. } => 4,
            HttpError::HeaderNotFound => 5,
            HttpError::Utf8 => 6,
            HttpError::DestinationNotAllowed => 7,
            HttpError::InvalidMethod => 8,
            HttpError::InvalidEncoding(_) => 9,
            HttpError::InvalidUrl(_) => 10,
            HttpError::Request(_) => 11,
            HttpError::Runtime(_) => 12,
            HttpError::TooManySessions => 13,
        }
    }
}

/// A failure to set up the outbound HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum OutboundSetupError {
    /// The HTTP client could not be built.
    #[error("building the outbound HTTP client")]
    Client(#[source] reqwest::Error),
}

/// What every instance of a process shares: the policy, the HTTP client and the
/// sidecar's identity. Cheap to clone.
#[derive(Clone)]
pub struct OutboundHttp {
    inner: Arc<Shared>,
}

struct Shared {
    client: reqwest::Client,
    config: HostConfig,
    sidecar: SidecarEndpoint,
    token: Option<Secret>,
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
    /// `dapr-api-token` on requests bound for `sidecar`, and nowhere else.
    pub fn new(
        config: HostConfig,
        sidecar: SidecarEndpoint,
        token: Option<Secret>,
    ) -> Result<Self, OutboundSetupError> {
        static CRYPTO: Once = Once::new();
        CRYPTO.call_once(|| {
            // Another component of the process may have installed one already: fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.limits.connect_timeout)
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(OutboundSetupError::Client)?;
        Ok(Self {
            inner: Arc::new(Shared {
                client,
                config,
                sidecar,
                token,
            }),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// The sidecar endpoint requests are recognised against.
    pub fn sidecar(&self) -> &SidecarEndpoint {
        &self.inner.sidecar
    }

    /// A fresh per-instance context (its own handle table).
    pub fn new_ctx(&self) -> OutboundHttpCtx {
        OutboundHttpCtx {
            shared: self.clone(),
            responses: HashMap::new(),
            next_handle: 1,
        }
    }
}

/// The per-store state of the import: this instance's open responses.
pub struct OutboundHttpCtx {
    shared: OutboundHttp,
    responses: HashMap<u32, OpenResponse>,
    next_handle: u32,
}

impl std::fmt::Debug for OutboundHttpCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundHttpCtx")
            .field("open", &self.responses.len())
            .finish()
    }
}

impl OutboundHttpCtx {
    /// How many responses are open.
    pub fn open_responses(&self) -> usize {
        self.responses.len()
    }

    fn insert(&mut self, response: OpenResponse) -> u32 {
        loop {
            let handle = self.next_handle;
            self.next_handle = self.next_handle.wrapping_add(1).max(1);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.responses.entry(handle) {
                slot.insert(response);
                return handle;
            }
        }
    }
}

struct OpenResponse {
    headers: HeaderMap,
    body: reqwest::Response,
    pending: Bytes,
    finished: bool,
    read: usize,
    deadline: Instant,
}

/// A request as the guest described it, validated.
#[derive(Debug)]
struct GuestRequest {
    url: Url,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
}

/// Adds the import's five functions to `linker`; `get` projects the store's data to
/// its [`OutboundHttpCtx`].
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx + Copy + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        MODULE,
        "req",
        move |mut caller: Caller<'_, T>,
              (
            url_ptr,
            url_len,
            m_ptr,
            m_len,
            h_ptr,
            h_len,
            b_ptr,
            b_len,
            status_ptr,
            handle_ptr,
        ): (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let result = req(
                    &mut caller,
                    get,
                    [url_ptr, url_len, m_ptr, m_len, h_ptr, h_len, b_ptr, b_len].map(|v| v as u32),
                    status_ptr as u32,
                    handle_ptr as u32,
                )
                .await;
                code(result)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "close",
        move |mut caller: Caller<'_, T>, handle: i32| -> i32 {
            let ctx = get(caller.data_mut());
            code(
                ctx.responses
                    .remove(&(handle as u32))
                    .map(|_| ())
                    .ok_or(HttpError::InvalidHandle),
            )
        },
    )?;
    linker.func_wrap(
        MODULE,
        "header_get",
        move |mut caller: Caller<'_, T>,
              handle: i32,
              name_ptr: i32,
              name_len: i32,
              buf_ptr: i32,
              buf_len: i32,
              written_ptr: i32|
              -> i32 {
            code(header_get(
                &mut caller,
                get,
                handle as u32,
                (name_ptr as u32, name_len as u32),
                (buf_ptr as u32, buf_len as u32),
                written_ptr as u32,
            ))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "headers_get_all",
        move |mut caller: Caller<'_, T>,
              handle: i32,
              buf_ptr: i32,
              buf_len: i32,
              written_ptr: i32|
              -> i32 {
            code(headers_get_all(
                &mut caller,
                get,
                handle as u32,
                (buf_ptr as u32, buf_len as u32),
                written_ptr as u32,
            ))
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "body_read",
        move |mut caller: Caller<'_, T>,
              (handle, buf_ptr, buf_len, written_ptr): (i32, i32, i32, i32)| {
            Box::new(async move {
                let result = body_read(
                    &mut caller,
                    get,
                    handle as u32,
                    (buf_ptr as u32, buf_len as u32),
                    written_ptr as u32,
                )
                .await;
                code(result)
            })
        },
    )?;
    Ok(())
}

fn code(result: Result<(), HttpError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => u32::from(e) as i32,
    }
}

fn memory<T>(caller: &mut Caller<'_, T>) -> Result<Memory, HttpError> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or(HttpError::MemoryNotFound)
}

fn range(ptr: u32, len: u32, mem_len: usize) -> Result<std::ops::Range<usize>, HttpError> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(HttpError::MemoryAccess)?;
    if end > mem_len {
        return Err(HttpError::MemoryAccess);
    }
    Ok(start..end)
}

fn read_guest(
    mem: &Memory,
    store: impl AsContext,
    (ptr, len): (u32, u32),
) -> Result<Vec<u8>, HttpError> {
    let data = mem.data(&store);
    Ok(data[range(ptr, len, data.len())?].to_vec())
}

fn check_writable(
    mem: &Memory,
    store: impl AsContext,
    ptr: u32,
    len: u32,
) -> Result<(), HttpError> {
    range(ptr, len, mem.data_size(&store)).map(|_| ())
}

fn write_guest(
    mem: &Memory,
    mut store: impl AsContextMut,
    ptr: u32,
    bytes: &[u8],
) -> Result<(), HttpError> {
    let len = u32::try_from(bytes.len()).map_err(|_| HttpError::MemoryAccess)?;
    let data = mem.data_mut(&mut store);
    let r = range(ptr, len, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

async fn req<T: Send>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx,
    [url_ptr, url_len, m_ptr, m_len, h_ptr, h_len, b_ptr, b_len]: [u32; 8],
    status_ptr: u32,
    handle_ptr: u32,
) -> Result<(), HttpError> {
    let mem = memory(caller)?;
    // Results are written after the request; make sure that can succeed first.
    check_writable(&mem, &*caller, status_ptr, 2)?;
    check_writable(&mem, &*caller, handle_ptr, 4)?;

    // Every input range must lie inside memory before anything else is judged.
    let mem_len = mem.data_size(&*caller);
    for (ptr, len) in [
        (url_ptr, url_len),
        (m_ptr, m_len),
        (h_ptr, h_len),
        (b_ptr, b_len),
    ] {
        range(ptr, len, mem_len)?;
    }

    let ctx = get(caller.data_mut());
    let shared = ctx.shared.clone();
    let limits = shared.limits().clone();
    if ctx.responses.len() >= limits.max_concurrent_requests {
        warn!(
            limit = limits.max_concurrent_requests,
            "outbound request refused: too many open responses"
        );
        return Err(HttpError::TooManySessions);
    }
    if url_len as usize > MAX_URL_BYTES {
        return Err(HttpError::InvalidUrl(format!(
            "longer than {MAX_URL_BYTES} bytes"
        )));
    }
    if h_len as usize > MAX_REQUEST_HEADER_BYTES {
        return Err(HttpError::InvalidEncoding(format!(
            "header block longer than {MAX_REQUEST_HEADER_BYTES} bytes"
        )));
    }
    if b_len as usize > limits.max_request_body_bytes {
        warn!(
            size = b_len,
            limit = limits.max_request_body_bytes,
            "outbound request refused: body larger than max_request_body_bytes"
        );
        return Err(HttpError::Request(
            "request body exceeds max_request_body_bytes".into(),
        ));
    }
    let url = read_guest(&mem, &*caller, (url_ptr, url_len))?;
    let method = read_guest(&mem, &*caller, (m_ptr, m_len))?;
    let headers = read_guest(&mem, &*caller, (h_ptr, h_len))?;
    let body = read_guest(&mem, &*caller, (b_ptr, b_len))?;
    let request = GuestRequest {
        url: parse_url(&url)?,
        method: parse_method(&method)?,
        headers: parse_header_block(&headers)?,
        body: Bytes::from(body),
    };

    // The slot is taken for the whole request, so in-flight requests count too.
    let response = shared.send(request).await?;

    let ctx = get(caller.data_mut());
    if ctx.responses.len() >= limits.max_concurrent_requests {
        return Err(HttpError::TooManySessions);
    }
    let status = response.status;
    let handle = ctx.insert(response.open);
    write_guest(
        &mem,
        &mut *caller,
        status_ptr,
        &status.as_u16().to_le_bytes(),
    )?;
    write_guest(&mem, &mut *caller, handle_ptr, &handle.to_le_bytes())?;
    Ok(())
}

fn header_get<T>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx,
    handle: u32,
    name: (u32, u32),
    (buf_ptr, buf_len): (u32, u32),
    written_ptr: u32,
) -> Result<(), HttpError> {
    let mem = memory(caller)?;
    check_writable(&mem, &*caller, written_ptr, 4)?;
    let name = read_guest(&mem, &*caller, name)?;
    let name = std::str::from_utf8(&name).map_err(|_| HttpError::Utf8)?;
    let ctx = get(caller.data_mut());
    let response = ctx.responses.get(&handle).ok_or(HttpError::InvalidHandle)?;
    let value = joined_header(&response.headers, name).ok_or(HttpError::HeaderNotFound)?;
    write_sized(&mem, caller, (buf_ptr, buf_len), written_ptr, &value)
}

fn headers_get_all<T>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx,
    handle: u32,
    (buf_ptr, buf_len): (u32, u32),
    written_ptr: u32,
) -> Result<(), HttpError> {
    let mem = memory(caller)?;
    check_writable(&mem, &*caller, written_ptr, 4)?;
    let ctx = get(caller.data_mut());
    let response = ctx.responses.get(&handle).ok_or(HttpError::InvalidHandle)?;
    let block = header_block(&response.headers);
    write_sized(&mem, caller, (buf_ptr, buf_len), written_ptr, &block)
}

/// Writes `value` into the guest's buffer and its length to `written_ptr`; if it does not
/// fit, writes the needed length and returns [`HttpError::BufferTooSmall`].
fn write_sized<T>(
    mem: &Memory,
    caller: &mut Caller<'_, T>,
    (buf_ptr, buf_len): (u32, u32),
    written_ptr: u32,
    value: &[u8],
) -> Result<(), HttpError> {
    let needed =
        u32::try_from(value.len()).map_err(|_| HttpError::Runtime("value too large".into()))?;
    if value.len() > buf_len as usize {
        write_guest(mem, &mut *caller, written_ptr, &needed.to_le_bytes())?;
        return Err(HttpError::BufferTooSmall {
            needed: value.len(),
        });
    }
    check_writable(mem, &*caller, buf_ptr, buf_len)?;
    write_guest(mem, &mut *caller, buf_ptr, value)?;
    write_guest(mem, &mut *caller, written_ptr, &needed.to_le_bytes())
}

async fn body_read<T: Send>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx,
    handle: u32,
    (buf_ptr, buf_len): (u32, u32),
    written_ptr: u32,
) -> Result<(), HttpError> {
    let mem = memory(caller)?;
    check_writable(&mem, &*caller, written_ptr, 4)?;
    check_writable(&mem, &*caller, buf_ptr, buf_len)?;
    let ctx = get(caller.data_mut());
    let cap = ctx.shared.limits().max_response_body_bytes;
    // Taken out of the table while awaiting, put back after.
    let mut response = ctx
        .responses
        .remove(&handle)
        .ok_or(HttpError::InvalidHandle)?;
    let result = response.next_chunk(buf_len as usize, cap).await;
    get(caller.data_mut()).responses.insert(handle, response);
    let chunk = result?;
    write_guest(&mem, &mut *caller, buf_ptr, &chunk)?;
    write_guest(
        &mem,
        &mut *caller,
        written_ptr,
        &(chunk.len() as u32).to_le_bytes(),
    )
}

impl OpenResponse {
    async fn next_chunk(&mut self, max: usize, cap: usize) -> Result<Bytes, HttpError> {
        if max == 0 {
            return Ok(Bytes::new());
        }
        while self.pending.is_empty() && !self.finished {
            match timeout_at(self.deadline, self.body.chunk()).await {
                Err(_) => {
                    return Err(HttpError::Request(
                        "timed out reading the response body".into(),
                    ));
                }
                Ok(Err(e)) => {
                    return Err(HttpError::Request(format!(
                        "reading the response body: {e}"
                    )));
                }
                Ok(Ok(None)) => self.finished = true,
                Ok(Ok(Some(chunk))) => {
                    self.read = self.read.saturating_add(chunk.len());
                    if self.read > cap {
                        warn!(
                            limit = cap,
                            "outbound response body exceeds max_response_body_bytes"
                        );
                        self.finished = true;
                        return Err(HttpError::Request(
                            "response body exceeds max_response_body_bytes".into(),
                        ));
                    }
                    self.pending = chunk;
                }
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.split_to(n))
    }
}

struct Sent {
    status: StatusCode,
    open: OpenResponse,
}

impl OutboundHttp {
    /// Checks the allowlist; a denial is logged with the entry that would allow it.
    fn check_allowed(&self, url: &Url) -> Result<(), HttpError> {
        self.inner.config.allowed_hosts.check(url).map_err(|denied| {
            warn!(
                url = %denied.url,
                allow_with = %denied.suggestion,
                "outbound request denied: add {:?} to allowed_hosts in allowlist.toml to allow it",
                denied.suggestion
            );
            HttpError::DestinationNotAllowed
        })
    }

    async fn send(&self, request: GuestRequest) -> Result<Sent, HttpError> {
        let limits = self.limits();
        let deadline = Instant::now() + limits.request_timeout;
        let GuestRequest {
            mut url,
            mut method,
            mut headers,
            mut body,
        } = request;
        let mut hops = 0u32;
        loop {
            self.check_allowed(&url)?;
            let mut outgoing = headers.clone();
            if let Some(token) = &self.inner.token
                && self.inner.sidecar.is_sidecar(&url)
            {
                let value = HeaderValue::from_str(token.expose()).map_err(|_| {
                    HttpError::Runtime("DAPR_API_TOKEN is not a valid header value".into())
                })?;
                outgoing.insert("dapr-api-token", value);
            }
            let started = std::time::Instant::now();
            let sent = self
                .inner
                .client
                .request(method.clone(), url.clone())
                .headers(outgoing)
                .body(body.clone())
                .send();
            let response = match timeout_at(deadline, sent).await {
                Err(_) => {
                    warn!(url = %loggable(&url), timeout = ?limits.request_timeout, "outbound request timed out");
                    return Err(HttpError::Request("timed out".into()));
                }
                Ok(Err(e)) => {
                    warn!(url = %loggable(&url), error = %e, "outbound request failed");
                    return Err(HttpError::Request(e.to_string()));
                }
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            debug!(%method, url = %loggable(&url), status = status.as_u16(), elapsed = ?started.elapsed(), "outbound request");

            if status.is_redirection()
                && hops < limits.max_redirects
                && let Some(next) = redirect_target(&url, response.headers())
            {
                hops += 1;
                if !same_origin(&url, &next) {
                    for name in [
                        header::AUTHORIZATION,
                        header::COOKIE,
                        header::PROXY_AUTHORIZATION,
                    ] {
                        headers.remove(name);
                    }
                    headers.remove("dapr-api-token");
                }
                let keeps_method = matches!(status.as_u16(), 307 | 308);
                if !keeps_method && method != Method::HEAD {
                    method = Method::GET;
                    body = Bytes::new();
                    headers.remove(header::CONTENT_TYPE);
                }
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
                return Err(HttpError::Request(
                    "response headers exceed max_response_headers_bytes".into(),
                ));
            }
            if let Some(len) = response.content_length()
                && len > limits.max_response_body_bytes as u64
            {
                warn!(url = %loggable(&url), size = len, "outbound response body exceeds max_response_body_bytes");
                return Err(HttpError::Request(
                    "response body exceeds max_response_body_bytes".into(),
                ));
            }
            let headers = response.headers().clone();
            return Ok(Sent {
                status,
                open: OpenResponse {
                    headers,
                    body: response,
                    pending: Bytes::new(),
                    finished: false,
                    read: 0,
                    deadline,
                },
            });
        }
    }
}

fn redirect_target(base: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    let next = base.join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL as it may appear in a log: no userinfo, no query, no fragment.
pub fn loggable(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn parse_url(bytes: &[u8]) -> Result<Url, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    let url = Url::parse(text.trim()).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::InvalidUrl(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(HttpError::InvalidUrl("no host".into()));
    }
    Ok(url)
}

fn parse_method(bytes: &[u8]) -> Result<Method, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    if text.is_empty() || text.eq_ignore_ascii_case("CONNECT") {
        return Err(HttpError::InvalidMethod);
    }
    // Methods are case-sensitive tokens; the old guest crate sent them upper case.
    Method::from_bytes(text.as_bytes()).map_err(|_| HttpError::InvalidMethod)
}

/// Headers a guest may not set: the host derives them from the URL and body, and letting
/// a guest choose `Host` would let it reach a virtual host the allowlist did not name.
const HOST_CONTROLLED: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// Parses a `name:value\n` header block. Blank lines are skipped, `\r\n` is accepted,
/// whitespace around the value is trimmed, repeated names are kept.
pub fn parse_header_block(bytes: &[u8]) -> Result<HeaderMap, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::Utf8)?;
    let mut headers = HeaderMap::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            HttpError::InvalidEncoding(format!("header line without ':': {line:?}"))
        })?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| HttpError::InvalidEncoding(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value.trim_matches([' ', '\t']))
            .map_err(|_| HttpError::InvalidEncoding(format!("invalid value for header {name}")))?;
        if HOST_CONTROLLED.contains(&name.as_str()) {
            debug!(header = %name, "ignoring a header the host controls");
            continue;
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// Serialises headers as `name:value\n` lines, one line per value.
pub fn header_block(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// All values of header `name` joined by `", "`, or `None` if absent (or not a valid name).
pub fn joined_header(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
    let mut values = headers.get_all(&name).iter().peekable();
    values.peek()?;
    let mut out = Vec::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_match_the_abi() {
        let all = [
            (HttpError::InvalidHandle, 1),
            (HttpError::MemoryNotFound, 2),
            (HttpError::MemoryAccess, 3),
            (HttpError::BufferTooSmall { needed: 1 }, 4),
            (HttpError::HeaderNotFound, 5),
            (HttpError::Utf8, 6),
            (HttpError::DestinationNotAllowed, 7),
            (HttpError::InvalidMethod, 8),
            (HttpError::InvalidEncoding(String::new()), 9),
            (HttpError::InvalidUrl(String::new()), 10),
            (HttpError::Request(String::new()), 11),
            (HttpError::Runtime(String::new()), 12),
            (HttpError::TooManySessions, 13),
        ];
        for (e, n) in all {
            assert_eq!(u32::from(e), n);
        }
    }

    #[test]
    fn header_block_parses_lines() {
        let h = parse_header_block(b"a:1\nB: two \r\n\nc:x:y\na:3\n").unwrap();
        assert_eq!(h.get_all("a").iter().collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h["b"], "two");
        assert_eq!(h["c"], "x:y");
    }

    #[test]
    fn header_line_without_colon_is_invalid_encoding() {
        assert!(matches!(
            parse_header_block(b"a:1\nbroken\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn bad_header_name_or_value_is_invalid_encoding() {
        assert!(matches!(
            parse_header_block(b"bad name:1\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
        assert!(matches!(
            parse_header_block(b":1\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
        assert!(matches!(
            parse_header_block(b"a:\x01\n"),
            Err(HttpError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn non_utf8_header_block_is_utf8_error() {
        assert_eq!(
            parse_header_block(b"a:\xff\n").unwrap_err(),
            HttpError::Utf8
        );
    }

    #[test]
    fn host_controlled_headers_are_dropped() {
        let h = parse_header_block(b"Host: evil.example\ncontent-length: 5\nx-ok: 1\n").unwrap();
        assert!(h.get("host").is_none());
        assert!(h.get("content-length").is_none());
        assert_eq!(h["x-ok"], "1");
    }

    #[test]
    fn header_block_round_trip_keeps_repeats() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.append("x-time", HeaderValue::from_static("12:30"));
        let block = header_block(&h);
        assert_eq!(
            String::from_utf8(block.clone()).unwrap(),
            "set-cookie:a=1\nset-cookie:b=2\nx-time:12:30\n"
        );
        assert_eq!(parse_header_block(&block).unwrap(), h);
        assert_eq!(joined_header(&h, "Set-Cookie").unwrap(), b"a=1, b=2");
        assert!(joined_header(&h, "missing").is_none());
        assert!(joined_header(&h, "bad name").is_none());
    }

    #[test]
    fn methods() {
        assert_eq!(parse_method(b"GET").unwrap(), Method::GET);
        assert_eq!(parse_method(b"DELETE").unwrap(), Method::DELETE);
        assert_eq!(parse_method(b"PURGE").unwrap().as_str(), "PURGE");
        assert_eq!(parse_method(b"").unwrap_err(), HttpError::InvalidMethod);
        assert_eq!(parse_method(b"GE T").unwrap_err(), HttpError::InvalidMethod);
        assert_eq!(
            parse_method(b"CONNECT").unwrap_err(),
            HttpError::InvalidMethod
        );
        assert_eq!(parse_method(b"\xff").unwrap_err(), HttpError::Utf8);
    }

    #[test]
    fn urls() {
        assert!(parse_url(b"http://127.0.0.1:3500/v1.0/state").is_ok());
        assert!(matches!(
            parse_url(b"not a url"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url(b"file:///etc/passwd"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url(b"ftp://example.com/"),
            Err(HttpError::InvalidUrl(_))
        ));
        assert_eq!(parse_url(b"http://\xff/").unwrap_err(), HttpError::Utf8);
    }

    #[test]
    fn loggable_urls_hide_credentials_and_queries() {
        let u = Url::parse("http://user:pw@example.com/path?token=abc#f").unwrap();
        assert_eq!(loggable(&u), "http://example.com/path");
    }

    #[test]
    fn redirect_resolution() {
        let base = Url::parse("http://a.example/x/y").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, HeaderValue::from_static("/z"));
        assert_eq!(
            redirect_target(&base, &h).unwrap().as_str(),
            "http://a.example/z"
        );
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("file:///etc/passwd"),
        );
        assert!(redirect_target(&base, &h).is_none());
        assert!(same_origin(
            &base,
            &Url::parse("http://a.example:80/q").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("https://a.example/q").unwrap()
        ));
    }
}
