//! The `wasi_experimental_http` import: outbound HTTP for guests, binary-compatible with
//! the last public release (0.10) of that ABI. This module is only the ABI glue — the
//! linker functions and the handle table here, guest memory access in `memory.rs`, the
//! header-block, URL and method encodings in `codec.rs` — and hands every request to the
//! one send path, [`crate::outbound`], which owns the allowlist, token, redirect, deadline
//! and size policy (`[limits]` of `allowlist.toml`).
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

mod codec;
mod memory;

use std::collections::HashMap;

use bytes::Bytes;
use http::header::HeaderMap;
use tracing::warn;
use wasmtime::{Caller, Linker};

pub use codec::{header_block, joined_header, parse_header_block};
use codec::{parse_method, parse_url};
use memory::{check_writable, memory, range, read_guest, write_guest, write_sized};

use crate::outbound::{OutboundHttp, OutboundRequest, ResponseBody, SendError};

/// The import module name guests link against.
pub const MODULE: &str = "wasi_experimental_http";

/// Largest request header block a guest may pass.
pub const MAX_REQUEST_HEADER_BYTES: usize = 64 * 1024;
/// Longest URL a guest may pass.
pub const MAX_URL_BYTES: usize = crate::outbound::MAX_URL_BYTES;

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
    /// 7: the allowlist does not allow the destination, or the connect policy refuses
    /// every address it resolves to.
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

/// The send path's errors as the ABI's numbers: a denial (by the allowlist or by the
/// connect policy) is 7, the host's own failure 12, everything else about the request 11.
impl From<SendError> for HttpError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Denied | SendError::BlockedAddress { .. } => {
                HttpError::DestinationNotAllowed
            }
            SendError::InvalidToken => HttpError::Runtime(e.to_string()),
            SendError::InvalidUrl(reason) => HttpError::InvalidUrl(reason.to_string()),
            other => HttpError::Request(other.to_string()),
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
    /// A fresh per-instance context (its own handle table) over the process's send path.
    pub fn new(shared: OutboundHttp) -> Self {
        OutboundHttpCtx {
            shared,
            responses: HashMap::new(),
            next_handle: 1,
        }
    }

    /// Sets the trace context this instance's sidecar requests carry (a prepared
    /// instance gets its request's here).
    pub fn set_trace(&mut self, trace: Option<crate::outbound::TraceContext>) {
        self.shared = self.shared.clone().with_trace(trace);
    }

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

/// A response a handle refers to: its headers, and its body being read.
struct OpenResponse {
    headers: HeaderMap,
    body: ResponseBody,
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
            code(read_headers(
                &mut caller,
                get,
                handle as u32,
                Some((name_ptr as u32, name_len as u32)),
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
            code(read_headers(
                &mut caller,
                get,
                handle as u32,
                None,
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
    shared.check_request_body_len(b_len as usize)?;
    let url = read_guest(&mem, &*caller, (url_ptr, url_len))?;
    let method = read_guest(&mem, &*caller, (m_ptr, m_len))?;
    let headers = read_guest(&mem, &*caller, (h_ptr, h_len))?;
    let body = read_guest(&mem, &*caller, (b_ptr, b_len))?;
    let request = OutboundRequest {
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
    let handle = ctx.insert(OpenResponse {
        headers: response.headers,
        body: response.body,
    });
    write_guest(
        &mem,
        &mut *caller,
        status_ptr,
        &status.as_u16().to_le_bytes(),
    )?;
    write_guest(&mem, &mut *caller, handle_ptr, &handle.to_le_bytes())?;
    Ok(())
}

/// `header_get` (`name` given: that header's values joined by `", "`) and
/// `headers_get_all` (`name` absent: every header as `name:value\n` lines): the response
/// headers of `handle` into the guest's buffer (see [`write_sized`]).
fn read_headers<T>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut OutboundHttpCtx,
    handle: u32,
    name: Option<(u32, u32)>,
    buf: (u32, u32),
    written_ptr: u32,
) -> Result<(), HttpError> {
    let mem = memory(caller)?;
    check_writable(&mem, &*caller, written_ptr, 4)?;
    let name = match name {
        Some(range) => {
            let bytes = read_guest(&mem, &*caller, range)?;
            Some(String::from_utf8(bytes).map_err(|_| HttpError::Utf8)?)
        }
        None => None,
    };
    let ctx = get(caller.data_mut());
    let response = ctx.responses.get(&handle).ok_or(HttpError::InvalidHandle)?;
    let value = match &name {
        Some(name) => joined_header(&response.headers, name).ok_or(HttpError::HeaderNotFound)?,
        None => header_block(&response.headers),
    };
    write_sized(&mem, caller, buf, written_ptr, &value)
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
    // Taken out of the table while awaiting, put back after.
    let mut response = ctx
        .responses
        .remove(&handle)
        .ok_or(HttpError::InvalidHandle)?;
    let result = response.body.next_chunk(buf_len as usize).await;
    get(caller.data_mut()).responses.insert(handle, response);
    let chunk = result.map_err(HttpError::from)?;
    write_guest(&mem, &mut *caller, buf_ptr, &chunk)?;
    write_guest(
        &mem,
        &mut *caller,
        written_ptr,
        &(chunk.len() as u32).to_le_bytes(),
    )
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
}
