//! Serving a `wasi:http/proxy` component: one fresh instance per request, instantiated
//! ahead by the helper thread when one is ready (see [`super::instances`]; never for a
//! component that runs code when instantiated) or else from the pre-instantiated
//! [`ProxyPre`], `wasi:http/incoming-handler` called with the request
//! (its body already read and capped by [`super::handle`]), the response collected
//! within `--max-response-bytes` and the request's deadline.
//!
//! The guest may go on running after it has set the response (to finish streaming the
//! body, or for work of its own). The client is answered as soon as the whole body is
//! written; an instance still running then finishes in a background task that holds the
//! request's concurrency permit until the instance is gone (so a flood of lingering
//! guests meets the concurrency cap, and shutdown's drain waits for them), and the
//! request's deadline stops it like any other handler. Until the answer is complete
//! the instance is polled in the request's own task, so a client that goes away takes
//! its instance with it. Guest stdout and stderr are logged, escaped and
//! capped, as for modules.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::OwnedSemaphorePermit;
use tracing::warn;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use super::instances::{ComponentTemplate, Instances, Prepared};
use super::{App, FRAMING_HEADERS, HandlerError, log_guest_stderr};
use crate::component::ComponentState;
use crate::defaults;
use crate::outbound::TraceContext;
use crate::run::{Outcome, classify};
use crate::wasi_http::PolicyHooks;

/// Handles one request with a fresh instance of the component.
pub(super) async fn invoke(
    app: &App,
    pre: &ProxyPre<ComponentState>,
    instances: &Instances<ComponentTemplate>,
    id: u64,
    parts: &http::request::Parts,
    body: Bytes,
    permit: OwnedSemaphorePermit,
) -> Result<Response<Full<Bytes>>, HandlerError> {
    let limits = &app.options.limits;
    let deadline = Instant::now() + limits.request_timeout;
    let output = MemoryOutputPipe::new(defaults::SERVE_MAX_GUEST_STDERR_BYTES);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        .arg(&app.env.program)
        .envs(&app.env.vars);
    let outbound = app
        .outbound
        .clone()
        .with_trace(TraceContext::from_headers(&parts.headers));
    // The store goes with the permit when `lease` is dropped, however the instance ends
    // (here, or in the background after its answer): to the helper thread if this is
    // the only request in flight (this one holds a permit), else dropped in place.
    let quiet = app.permits.available_permits() + 1 >= app.permits_total;
    let (mut lease, prepared) = match instances.take_prepared() {
        Some(Prepared { store, instance }) => {
            let mut lease = instances.lease(store, permit, quiet);
            lease.set_request(|state| {
                (
                    std::mem::replace(&mut state.wasi, wasi.build()),
                    std::mem::replace(&mut state.hooks, PolicyHooks::new(outbound)),
                )
            });
            let store = lease.store();
            store.data_mut().deadline = Some(Instant::now() + limits.request_timeout);
            // Count epochs from now rather than from when the store was prepared.
            store.set_epoch_deadline(1);
            (lease, Some(instance))
        }
        None => {
            let state = ComponentState::new(
                wasi.build(),
                outbound,
                limits.max_memory_bytes,
                Some(limits.request_timeout),
            );
            (
                instances.lease(app.runtime.new_store(state), permit, quiet),
                None,
            )
        }
    };

    let request = guest_request(app, parts, body)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (request, out) = {
        let mut http = lease.store().data_mut().http();
        let request = http
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| HandlerError::Instantiate(format!("{e:#}")))?;
        let out = http
            .new_response_outparam(sender)
            .map_err(|e| HandlerError::Instantiate(format!("{e:#}")))?;
        (request, out)
    };
    // The instance and the answer are polled together in this task: the guest may still
    // be writing the body while it is read. The permit goes when the instance does.
    let pre = pre.clone();
    let mut guest = Box::pin(async move {
        let store = lease.store();
        let proxy = match prepared {
            Some(proxy) => proxy,
            None => pre.instantiate_async(&mut *store).await?,
        };
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut *store, request, out)
            .await
    });
    let answer = async {
        match receiver.await {
            Ok(Ok(response)) => {
                let (head, body) = response.into_parts();
                let cap = limits.max_response_bytes;
                let collect = Limited::new(body, cap).collect();
                match tokio::time::timeout_at(deadline.into(), collect).await {
                    Err(_) => Err(HandlerError::TimedOut(limits.request_timeout)),
                    Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                        Err(HandlerError::OutputTooLarge(cap))
                    }
                    Ok(Err(e)) => Err(HandlerError::BodyFailed(e.to_string())),
                    Ok(Ok(collected)) => response_from(head, collected.to_bytes()),
                }
            }
            Ok(Err(code)) => Err(HandlerError::GuestError(format!("{code:?}"))),
            // The sender went with the store: the instance ended without an answer.
            Err(_) => Err(HandlerError::NoResponse),
        }
    };
    tokio::pin!(answer);
    let mut ended = None;
    let result = loop {
        tokio::select! {
            result = &mut answer => break result,
            e = &mut guest, if ended.is_none() => ended = Some(e),
        }
    };
    // The answer is usually complete a moment before the guest returns from its
    // handler: poll it once more, so that only a guest really running on is moved to a
    // task of its own.
    if ended.is_none() {
        ended = std::future::poll_fn(|cx| match guest.as_mut().poll(cx) {
            std::task::Poll::Ready(e) => std::task::Poll::Ready(Some(e)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await;
    }
    let timeout = limits.request_timeout;
    match (result, ended) {
        // The whole response is written and the guest goes on running (work of its own
        // after answering): the client has its answer now, and the instance finishes in
        // the background within its deadline, holding the request's concurrency permit
        // (the drain at shutdown waits for it). A failure then is logged.
        (Ok(response), None) => {
            tracing::debug!(
                request = id,
                "answered; the instance runs on in the background"
            );
            tokio::spawn(async move {
                let ended = guest.await;
                log_guest_stderr(id, &output.contents());
                if let Some(failure) = failure_of(ended, timeout) {
                    warn!(request = id, "after its response: {failure}");
                }
            });
            Ok(response)
        }
        // The whole response was written before the instance ended: it stands, and a
        // failure is logged.
        (Ok(response), Some(ended)) => {
            log_guest_stderr(id, &output.contents());
            if let Some(failure) = failure_of(ended, timeout) {
                warn!(request = id, "after its response: {failure}");
            }
            Ok(response)
        }
        // No answer: the instance's end says why (trap, deadline, exit), and its output
        // is complete only then.
        (Err(error), ended) => {
            let ended = match ended {
                Some(ended) => ended,
                None => guest.await,
            };
            log_guest_stderr(id, &output.contents());
            match (error, failure_of(ended, timeout)) {
                (HandlerError::NoResponse | HandlerError::BodyFailed(_), Some(failure)) => {
                    Err(failure)
                }
                (error, _) => Err(error),
            }
        }
    }
}

/// The request as a component sees it, for either WASI version: a server-side request
/// has only a path, so the guest is given the full URL it was sent to; the
/// `dapr-api-token` header (`APP_API_TOKEN`) is checked by the host and stays with it.
pub(super) fn guest_request(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, HandlerError> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{path}", app.env.authority))
        .version(parts.version);
    if let Some(headers) = request.headers_mut() {
        *headers = parts.headers.clone();
        headers.remove("dapr-api-token");
    }
    request
        .body(Full::new(body))
        .map_err(|e| HandlerError::Instantiate(format!("building the request: {e}")))
}

/// How an instance ended, as a request failure (`None`: it returned).
pub(super) fn failure_of(ended: wasmtime::Result<()>, timeout: Duration) -> Option<HandlerError> {
    let ended = match ended {
        Ok(()) => Outcome::Exited(0),
        Err(e) => classify(e),
    };
    match ended {
        Outcome::Exited(0) => None,
        Outcome::Exited(code) => Some(HandlerError::Exited(code)),
        Outcome::TimedOut => Some(HandlerError::TimedOut(timeout)),
        Outcome::Trapped(trace) => Some(HandlerError::Trapped(trace)),
    }
}

/// The guest's response with the host's framing: its framing headers dropped, and a
/// status outside 200-599 refused.
pub(super) fn response_from(
    head: http::response::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, HandlerError> {
    let status = head.status.as_u16();
    if !(200..=599).contains(&status) {
        return Err(HandlerError::BadStatus(status));
    }
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in head.headers.iter() {
        if FRAMING_HEADERS.contains(&name.as_str()) {
            tracing::debug!(header = %name, "dropping a framing header from a component's response");
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    Ok(response)
}
