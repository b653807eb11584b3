//! Serving a WASI 0.3 `wasi:http/service` component: `wasi:http/handler.handle` called
//! with the request (its body already read and capped by [`super::handle`]) inside the
//! store's event loop ([`wasmtime::Store::run_concurrent`]), and the response body
//! collected there, within `--max-response-bytes` and the request's deadline.
//!
//! By default every request gets a fresh instance from the pre-instantiated
//! [`ServicePre`], as for 0.2 proxies. With `--reuse-instances N` (opt-in) an instance
//! that answered cleanly goes back to an idle list and serves up to `N` requests, one
//! at a time, before it is dropped. Reuse shares between those requests what lives in
//! the instance: its linear memory (globals, heap, statics, caches), open resources and
//! any task the guest left running after a response. It never shares the request, the
//! deadline (re-armed per request), the trace context or the outbound concurrency
//! count (both reset per request), or guest output (logged per request). An instance
//! that trapped, ran past its deadline, broke off or overflowed its response body is
//! never reused. At most `--max-concurrent` instances are alive, idle ones included.
//!
//! Work a guest leaves running after its response ends when the instance is dropped
//! (fresh instances: right after the response), or runs on during the next request of a
//! reused instance.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};

use super::component::{failure_of, guest_request, response_from};
use super::{App, HandlerError, log_guest_stderr};
use crate::component::ComponentState;
use crate::defaults;
use crate::outbound::TraceContext;
use crate::wasi_http::PolicyHooks;

/// A prepared `wasi:http/service` component, and its idle instances when reuse is on.
pub(super) struct ServiceHandler {
    pre: ServicePre<ComponentState>,
    /// Requests one instance may serve (1: a fresh instance per request).
    max_uses: u32,
    /// Instances that answered cleanly and may serve again; at most `max_idle`.
    idle: Mutex<Vec<Warm>>,
    max_idle: usize,
}

/// One live instance of the service.
struct Warm {
    store: Store<ComponentState>,
    service: Service,
    log: GuestLog,
    /// Requests it has served.
    uses: u32,
}

impl ServiceHandler {
    /// `reuse`: requests per instance (0 or 1: fresh per request); `max_idle`: idle
    /// instances kept at most (`--max-concurrent`).
    pub(super) fn new(pre: ServicePre<ComponentState>, reuse: u32, max_idle: usize) -> Self {
        Self {
            pre,
            max_uses: reuse.max(1),
            idle: Mutex::new(Vec::new()),
            max_idle: if reuse > 1 { max_idle } else { 0 },
        }
    }

    /// Instances waiting for a request (always 0 without reuse).
    pub(super) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take_idle(&self) -> Option<Warm> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_back(&self, warm: Warm) {
        if warm.uses >= self.max_uses {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(warm);
        }
    }

    async fn fresh(&self, app: &App) -> Result<Warm, HandlerError> {
        let limits = &app.options.limits;
        let log = GuestLog::new(defaults::SERVE_MAX_GUEST_STDERR_BYTES);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(log.clone())
            .stderr(log.clone())
            .arg(&app.env.program)
            .envs(&app.env.vars);
        let state = ComponentState::new(
            wasi.build(),
            app.outbound.clone(),
            limits.max_memory_bytes,
            Some(limits.request_timeout),
        );
        let mut store = app.runtime.new_store(state);
        match self.pre.instantiate_async(&mut store).await {
            Ok(service) => Ok(Warm {
                store,
                service,
                log,
                uses: 0,
            }),
            Err(e) => Err(failure_of(Err(e), limits.request_timeout)
                .unwrap_or_else(|| HandlerError::Instantiate("no instance".into()))),
        }
    }
}

/// Handles one request with an idle instance (reuse on) or a fresh one.
pub(super) async fn invoke(
    app: &App,
    handler: &ServiceHandler,
    id: u64,
    parts: &http::request::Parts,
    body: Bytes,
    permit: OwnedSemaphorePermit,
) -> Result<Response<Full<Bytes>>, HandlerError> {
    // The instance is alive while the permit is held: `--max-concurrent` bounds both.
    let _permit = permit;
    let limits = &app.options.limits;
    let timeout = limits.request_timeout;
    let deadline = Instant::now() + timeout;
    let mut warm = match handler.take_idle() {
        Some(warm) => warm,
        None => handler.fresh(app).await?,
    };
    warm.uses += 1;
    {
        let state = warm.store.data_mut();
        state.deadline = Some(deadline);
        state.hooks = PolicyHooks::new(
            app.outbound
                .clone()
                .with_trace(TraceContext::from_headers(&parts.headers)),
        );
    }
    warm.store.set_epoch_deadline(1);

    let request = guest_request(app, parts, body)?;
    // The request body is in memory: its send result (the second value) has nothing to say.
    let (request, _) =
        wasmtime_wasi_http::p3::Request::from_http(&mut warm.store.data_mut().hooks, request);

    let cap = limits.max_response_bytes;
    let Warm {
        store,
        service,
        log,
        ..
    } = &mut warm;
    let service = &*service;
    let run = store.run_concurrent(async |store| {
        let response = match service.handle(store, request).await? {
            Ok(response) => response,
            Err(code) => return Ok(Err(HandlerError::GuestError(format!("{code:?}")))),
        };
        let response = store.with(|store| response.into_http(store, async { Ok(()) }))?;
        let (head, body) = response.into_parts();
        wasmtime::error::Ok(match Limited::new(body, cap).collect().await {
            Ok(collected) => Ok((head, collected.to_bytes())),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err(HandlerError::OutputTooLarge(cap))
            }
            Err(e) => Err(HandlerError::BodyFailed(e.to_string())),
        })
    });
    let ended = tokio::time::timeout_at(deadline.into(), run).await;
    log_guest_stderr(id, &log.take());
    let (result, reusable) = match ended {
        Err(_) => (Err(HandlerError::TimedOut(timeout)), false),
        Ok(Err(e)) | Ok(Ok(Err(e))) => (
            Err(failure_of(Err(e), timeout).unwrap_or(HandlerError::NoResponse)),
            false,
        ),
        // An error code is an answer the guest chose: the instance is sound.
        Ok(Ok(Ok(Err(error @ HandlerError::GuestError(_))))) => (Err(error), true),
        Ok(Ok(Ok(Err(error)))) => (Err(error), false),
        Ok(Ok(Ok(Ok((head, body))))) => (response_from(head, body), true),
    };
    if reusable {
        handler.put_back(warm);
    }
    result
}

/// Guest stdout and stderr for one instance: kept up to a cap (the rest is dropped and
/// counted, never refused: the guest's writes always succeed), and taken per request.
#[derive(Clone)]
struct GuestLog {
    inner: Arc<Mutex<LogBuffer>>,
}

struct LogBuffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl GuestLog {
    fn new(cap: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LogBuffer {
                bytes: Vec::new(),
                cap,
                dropped: 0,
            })),
        }
    }

    /// What was written since the last call (and a note of how much was dropped).
    fn take(&self) -> Vec<u8> {
        let mut buffer = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut bytes = std::mem::take(&mut buffer.bytes);
        if buffer.dropped > 0 {
            bytes.extend_from_slice(
                format!(
                    "\n[{} more bytes of guest output dropped]\n",
                    buffer.dropped
                )
                .as_bytes(),
            );
            buffer.dropped = 0;
        }
        bytes
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buffer = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = buffer.cap.saturating_sub(buffer.bytes.len());
        let kept = room.min(buf.len());
        buffer.bytes.extend_from_slice(&buf[..kept]);
        buffer.dropped += buf.len() - kept;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::GuestLog;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test]
    async fn guest_log_keeps_up_to_its_cap_and_is_taken_per_request() {
        let log = GuestLog::new(8);
        let mut writer = log.clone();
        writer.write_all(b"hello ").await.expect("write");
        writer.write_all(b"world").await.expect("write never fails");
        let first = String::from_utf8(log.take()).expect("utf8");
        assert!(first.starts_with("hello wo"), "{first}");
        assert!(
            first.contains("[3 more bytes of guest output dropped]"),
            "{first}"
        );
        writer.write_all(b"next").await.expect("write");
        assert_eq!(log.take(), b"next");
        assert!(log.take().is_empty());
    }
}
