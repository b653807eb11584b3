//! The `wasi:http` ABI glue for components. wasmtime-wasi-http implements the interfaces
//! (`wasi:http/types`, `wasi:http/outgoing-handler`) and ends every outgoing request in
//! [`WasiHttpHooks::send_request`]; [`PolicyHooks`] implements that hook by handing the
//! request to the one send path, [`OutboundHttp::send`], exactly as the legacy
//! `wasi_experimental_http` import does ([`crate::outbound_http`]). So both ABIs share
//! the allowlist (a denial is `error-code.HTTP-request-denied`, never a connection), the
//! sidecar token (added by the host for the sidecar origin only; the guest never sees
//! it), redirects, the body and header caps, the host's deadline and the per-instance
//! cap on requests in flight.
//!
//! What only this ABI decides: the request body is collected from the guest's stream
//! (at most `max_request_body_bytes`, refused early when a larger `content-length` is
//! declared), the timeouts a guest may ask for in `request-options` are applied inside
//! the host's deadline (so they can shorten it, never extend it), and [`SendError`] is
//! mapped to `wasi:http`'s error codes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;
use url::Url;
use wasmtime_wasi_http::{Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

use crate::outbound::{OutboundHttp, OutboundRequest, ResponseBody, SendError, loggable};

/// How many bytes of a response body one frame handed to the guest holds at most.
const RESPONSE_FRAME_BYTES: usize = 64 << 10;

/// The hooks one component instance's `wasi:http` calls go through.
pub struct PolicyHooks {
    outbound: OutboundHttp,
    /// Requests in flight plus response bodies still open, per instance
    /// (`max_concurrent_requests`, as for the legacy import's handles).
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for PolicyHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyHooks")
            .field("outbound", &self.outbound)
            .field("in_flight_free", &self.in_flight.available_permits())
            .finish()
    }
}

impl PolicyHooks {
    /// Hooks for one instance, sending through `outbound`.
    pub fn new(outbound: OutboundHttp) -> Self {
        let cap = outbound.limits().max_concurrent_requests;
        Self {
            outbound,
            in_flight: Arc::new(Semaphore::new(cap)),
        }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for PolicyHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        // The defaults (`connection`, `host`, `transfer-encoding`, ...): a guest setting
        // one gets `header-error.forbidden`. Framing headers it may set (`content-length`)
        // are dropped before sending; the client derives them from the body.
        Arc::new(|name| wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name))
    }

    fn set_host_header(&mut self) -> bool {
        // The client sets `Host` from the URL the allowlist checked.
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        let outbound = self.outbound.clone();
        let in_flight = self.in_flight.clone();
        Box::new(async move {
            let Ok(permit) = in_flight.try_acquire_owned() else {
                warn!(
                    limit = outbound.limits().max_concurrent_requests,
                    "outbound request refused: too many requests in flight for this instance"
                );
                return Err(Error::ConnectionLimitReached);
            };
            let options = options.unwrap_or_default();
            let started = tokio::time::Instant::now();
            let request = outgoing_request(&outbound, request).await?;
            let url = request.url.clone();
            // One deadline for the whole exchange, the body collection above included;
            // what the guest asked for may only shorten it.
            let host_left = outbound
                .limits()
                .request_timeout
                .saturating_sub(started.elapsed());
            let guest_wait = match (options.connect_timeout, options.first_byte_timeout) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            };
            let wait = guest_wait.map_or(host_left, |g| g.min(host_left));
            let response = match tokio::time::timeout(wait, outbound.send(request)).await {
                Ok(result) => result,
                Err(_) if guest_wait.is_some_and(|g| g < host_left) => {
                    warn!(url = %loggable(&url), timeout = ?wait, "outbound request timed out (the guest's request-options)");
                    return Err(Error::ConnectionReadTimeout);
                }
                Err(_) => {
                    warn!(url = %loggable(&url), timeout = ?outbound.limits().request_timeout, "outbound request timed out");
                    return Err(Error::ConnectionTimeout);
                }
            }
            .map_err(|e| error_code(&e, &outbound))?;
            let mut builder = http::Response::builder().status(response.status);
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers;
            }
            let body = response_body(response.body, options.between_bytes_timeout, permit);
            let response = builder
                .body(body)
                .map_err(|e| Error::InternalError(Some(e.to_string())))?;
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// The guest's request as the send path takes it: URL, method, headers without the
/// ones the host controls, and the body collected within its cap.
async fn outgoing_request(
    outbound: &OutboundHttp,
    request: http::Request<WasiBody>,
) -> Result<OutboundRequest, Error> {
    let (parts, body) = request.into_parts();
    let url = Url::parse(&parts.uri.to_string()).map_err(|_| Error::HttpRequestUriInvalid)?;
    let limit = outbound.limits().max_request_body_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared {
        outbound
            .check_request_body_len(usize::try_from(len).unwrap_or(usize::MAX))
            .map_err(|_| Error::HttpRequestBodySize(Some(len)))?;
    }
    let deadline = outbound.limits().request_timeout;
    let collected = tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await;
    let body = match collected {
        Err(_) => return Err(Error::ConnectionWriteTimeout),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            if e.is::<http_body_util::LengthLimitError>() {
                warn!(
                    limit,
                    "outbound request refused: body larger than max_request_body_bytes"
                );
                return Err(Error::HttpRequestBodySize(None));
            }
            return Err(match e.downcast::<Error>() {
                Ok(error) => *error,
                Err(other) => Error::InternalError(Some(other.to_string())),
            });
        }
    };
    let mut headers = parts.headers;
    for name in crate::outbound::HOST_CONTROLLED_HEADERS {
        headers.remove(name);
    }
    Ok(OutboundRequest {
        url,
        method: parts.method,
        headers,
        body,
    })
}

/// The response body as the guest reads it: frames of at most
/// [`RESPONSE_FRAME_BYTES`], under the host's caps and deadline and the guest's
/// `between-bytes-timeout`; `permit` is released when the guest drops the body.
fn response_body(
    body: ResponseBody,
    between_bytes: Option<Duration>,
    permit: OwnedSemaphorePermit,
) -> WasiBody {
    let frames = futures_util::stream::unfold(Some((body, permit)), move |state| async move {
        let (mut body, permit) = state?;
        let next = body.next_chunk(RESPONSE_FRAME_BYTES);
        let chunk = match between_bytes {
            Some(wait) => match tokio::time::timeout(wait, next).await {
                Ok(chunk) => chunk.map_err(|e| body_error(&e)),
                Err(_) => Err(Error::ConnectionReadTimeout),
            },
            None => next.await.map_err(|e| body_error(&e)),
        };
        match chunk {
            Ok(bytes) if bytes.is_empty() => None,
            Ok(bytes) => Some((Ok(Frame::data(bytes)), Some((body, permit)))),
            Err(error) => Some((Err(error), None)),
        }
    });
    StreamBody::new(frames).boxed_unsync()
}

fn body_error(error: &SendError) -> Error {
    match error {
        SendError::ResponseBodyTooLarge => Error::HttpResponseBodySize(None),
        SendError::BodyTimeout => Error::ConnectionReadTimeout,
        SendError::BodyFailed(_) => Error::HttpResponseIncomplete,
        other => Error::InternalError(Some(other.to_string())),
    }
}

/// What a guest sees for each way the send path can fail.
fn error_code(error: &SendError, outbound: &OutboundHttp) -> Error {
    let limits = outbound.limits();
    match error {
        SendError::Denied => Error::HttpRequestDenied,
        // Allowed by name, but every address it resolved to is refused (`[connect]`).
        SendError::BlockedAddress { .. } => Error::DestinationIpProhibited,
        SendError::RequestBodyTooLarge => {
            Error::HttpRequestBodySize(Some(limits.max_request_body_bytes as u64))
        }
        SendError::Timeout => Error::ConnectionTimeout,
        SendError::Failed(reason) => Error::InternalError(Some(reason.clone())),
        SendError::ResponseHeadersTooLarge => Error::HttpResponseHeaderSectionSize(
            u32::try_from(limits.max_response_headers_bytes).ok(),
        ),
        SendError::ResponseBodyTooLarge => {
            Error::HttpResponseBodySize(Some(limits.max_response_body_bytes as u64))
        }
        SendError::BodyTimeout | SendError::BodyFailed(_) => body_error(error),
        // The message names the variable, never its value.
        SendError::InvalidToken => Error::InternalError(Some(error.to_string())),
        SendError::InvalidUrl(_) => Error::HttpRequestUriInvalid,
    }
}
