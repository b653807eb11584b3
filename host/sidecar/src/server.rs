//! The HTTP server: accept loop, body cap, API token check, and the route table of `/v1.0`, `/v1.0-alpha1` and `/v1.0-alpha2`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::api::{ApiError, ApiRequest, Resp, bytes_response};
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::pubsub::publish;
use crate::state::is_write;
use crate::{
    actors, bindings, configuration, conversation, invoke, jobs, lock, metadata, secrets, state,
};

/// Percent-decodes one path segment or query part. Bytes that are not UTF-8 once decoded
/// are a 400: a replacement character would make `k%FF` and `k%FE` the same key.
fn decode(s: &str) -> Result<String, ApiError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|d| d.into_owned())
        .map_err(|_| {
            ApiError::malformed_input(format!("{s:?} is not valid UTF-8 once percent-decoded"))
        })
}

/// Parses a query string like Go's `url.ParseQuery` (`+` is a space).
fn parse_query(q: &str) -> Result<Vec<(String, String)>, ApiError> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(&k.replace('+', " "))?, decode(&v.replace('+', " "))?))
        })
        .collect()
}

/// Constant-time comparison of the token header.
fn token_ok(expected: &str, given: Option<&HeaderValue>) -> bool {
    let Some(given) = given else { return false };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs the accept loop until shutdown, then drains open connections.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let mut shutdown = ctx.shutdown_rx();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let ctx = ctx.clone();
                    conns.spawn(serve_connection(stream, remote, ctx));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = wait_for_shutdown(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, remote: SocketAddr, ctx: Arc<Ctx>) {
    let mut shutdown = ctx.shutdown_rx();
    let svc_ctx = ctx.clone();
    let svc = service_fn(move |req: Request<Incoming>| {
        let ctx = svc_ctx.clone();
        async move { Ok::<_, Infallible>(handle(ctx, req, remote).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = wait_for_shutdown(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn too_large(limit: usize) -> Resp {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "ERR_BODY_TOO_LARGE",
        format!("request body exceeds the maximum size of {limit} bytes"),
    )
    .into_response()
}

/// Token check, body read, routing.
async fn handle(ctx: Arc<Ctx>, req: Request<Incoming>, remote: SocketAddr) -> Resp {
    let raw_path = req.uri().path().to_string();
    let path = if raw_path.len() > 1 {
        raw_path.trim_end_matches('/')
    } else {
        raw_path.as_str()
    };
    let path = if path.is_empty() { "/" } else { path };
    if let Some(expected) = &ctx.api_token {
        let exempt = path == "/v1.0/healthz" || path == "/v1.0/healthz/outbound";
        if !exempt && !token_ok(expected, req.headers().get("dapr-api-token")) {
            tracing::debug!(%path, "request refused: missing or wrong dapr-api-token");
            return bytes_response(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                Bytes::from_static(b"invalid api token"),
            );
        }
    }
    let limit = ctx.tuning.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(limit);
            }
            return ApiError::malformed(format!("reading the request body: {e}")).into_response();
        }
    };
    let raw_query = parts.uri.query().map(str::to_string);
    // A query that does not decode is refused by every route but invocation, which
    // forwards the raw query as is.
    let (query, bad_query) = match raw_query.as_deref().map(parse_query) {
        None => (Vec::new(), None),
        Some(Ok(q)) => (q, None),
        Some(Err(e)) => (Vec::new(), Some(e)),
    };
    let api = ApiRequest {
        method: parts.method,
        headers: parts.headers,
        query,
        raw_query,
        body,
        remote,
    };
    let path = path.to_string();
    match route(&ctx, &api, &path, bad_query).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// The route table. Paths that match nothing (including a known path with the wrong verb)
/// are service invocation. A path segment or query that is not UTF-8 once percent-decoded
/// is `400 ERR_MALFORMED_REQUEST` (but invocation forwards its method path and query as is).
async fn route(
    ctx: &Arc<Ctx>,
    req: &ApiRequest,
    path: &str,
    bad_query: Option<ApiError>,
) -> Result<Resp, ApiError> {
    let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (version, rest) = match raw.split_first() {
        Some((v, rest)) if *v == "v1.0" || *v == "v1.0-alpha1" || *v == "v1.0-alpha2" => (*v, rest),
        _ => return invoke::fallback(ctx, req, path).await,
    };
    // Invocation: the method path stays percent-encoded.
    if let ["invoke", app_id, "method", ..] = rest
        && version == "v1.0"
    {
        let method_path = rest.get(3..).map(|p| p.join("/")).unwrap_or_default();
        return invoke::invoke(ctx, req, &decode(app_id)?, &method_path).await;
    }
    if let Some(e) = bad_query {
        return Err(e);
    }
    let seg = rest
        .iter()
        .map(|s| decode(s))
        .collect::<Result<Vec<String>, ApiError>>()?;
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let m = &req.method;
    let get = m == Method::GET;
    let write = is_write(m);
    if version == "v1.0-alpha2" {
        return match s.as_slice() {
            ["conversation", name, "converse"] if m == Method::POST => {
                conversation::converse(ctx, req, name).await
            }
            _ => invoke::fallback(ctx, req, path).await,
        };
    }
    let alpha = version == "v1.0-alpha1";
    match (alpha, s.as_slice()) {
        // State.
        (false, ["state", store]) if write => state::save(ctx, req, store).await,
        (false, ["state", store, "bulk"]) if write => state::bulk_get(ctx, req, store).await,
        (false, ["state", store, "transaction"]) if write => {
            state::transaction(ctx, req, store).await
        }
        (false, ["state", store, key]) if get => state::get(ctx, req, store, key).await,
        (false, ["state", store, key]) if m == Method::DELETE => {
            state::delete(ctx, req, store, key).await
        }
        (true, ["state", store, "query"]) if write => state::query(ctx, req, store).await,
        // Pub/sub. Bulk first, on both versions: as in daprd's router (chi),
        // `publish/bulk/{pubsub}/{topic}` shadows a single publish to a pub/sub named
        // `bulk`; `publish/bulk/{x}` (no topic) is still a single publish to `bulk`.
        (_, ["publish", "bulk", pubsub, topic @ ..]) if write && !topic.is_empty() => {
            publish::bulk_publish(ctx, req, pubsub, &topic.join("/")).await
        }
        (false, ["publish", pubsub, topic @ ..]) if write => {
            publish::publish(ctx, req, pubsub, &topic.join("/")).await
        }
        // Bindings and secrets.
        (false, ["bindings", name]) if write => bindings::invoke(ctx, req, name).await,
        (false, ["secrets", store, "bulk"]) if get => secrets::bulk(ctx, req, store).await,
        (false, ["secrets", store, key]) if get => secrets::get(ctx, req, store, key).await,
        // Configuration (stable and alpha1).
        (_, ["configuration", store]) if get => configuration::get(ctx, req, store).await,
        (_, ["configuration", store, "subscribe"]) if get || write => {
            configuration::subscribe(ctx, req, store).await
        }
        (_, ["configuration", store, id, "unsubscribe"]) if get || write => {
            configuration::unsubscribe(ctx, req, store, id).await
        }
        // Lock.
        (true, ["lock", store]) if write => lock::lock(ctx, req, store).await,
        (true, ["unlock", store]) if write => lock::unlock(ctx, req, store).await,
        // Jobs (stable and alpha1).
        (_, ["jobs", name]) if m == Method::POST => jobs::schedule(ctx, req, name).await,
        (_, ["jobs", name]) if get => jobs::get(ctx, name).await,
        (_, ["jobs", name]) if m == Method::DELETE => jobs::delete(ctx, name).await,
        // Actors (single node: this sidecar is its own placement).
        (false, ["actors", t, i, "method", method]) if get || write || m == Method::DELETE => {
            actors::invoke(ctx, req, t, i, method).await
        }
        (false, ["actors", t, i, "state"]) if write => actors::transaction(ctx, req, t, i).await,
        (false, ["actors", t, i, "state", key]) if get => actors::get_state(ctx, t, i, key).await,
        (false, ["actors", t, i, "reminders", name]) if write => {
            actors::timers::create_reminder(ctx, req, t, i, name).await
        }
        (false, ["actors", t, i, "reminders", name]) if get => {
            actors::timers::get_reminder(ctx, t, i, name).await
        }
        (false, ["actors", t, i, "reminders", name]) if m == Method::DELETE => {
            actors::timers::delete_reminder(ctx, t, i, name).await
        }
        (false, ["actors", t, i, "timers", name]) if write => {
            actors::timers::create_timer(ctx, req, t, i, name).await
        }
        (false, ["actors", t, i, "timers", name]) if m == Method::DELETE => {
            actors::timers::delete_timer(ctx, t, i, name).await
        }
        // Metadata, health, shutdown.
        (false, ["metadata"]) if get => metadata::get(ctx, req).await,
        (false, ["metadata", key]) if m == Method::PUT || m == Method::POST => {
            metadata::put(ctx, req, key).await
        }
        (false, ["healthz"]) if get => metadata::healthz(ctx).await,
        (false, ["healthz", "outbound"]) if get => metadata::healthz_outbound().await,
        (false, ["shutdown"]) if write || get => metadata::shutdown(ctx).await,
        _ => invoke::fallback(ctx, req, path).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_decodes_and_keeps_order() {
        let q = parse_query("metadata.a=1&metadata.a=2&key=x%20y&key=z+w&flag").unwrap();
        assert_eq!(q[2], ("key".into(), "x y".into()));
        assert_eq!(q[3], ("key".into(), "z w".into()));
        assert_eq!(q[4], ("flag".into(), String::new()));
    }

    #[test]
    fn percent_decoding_that_is_not_utf8_is_refused() {
        assert_eq!(decode("k%C3%A9").unwrap(), "k\u{e9}");
        assert_eq!(decode("k%EF%BF%BD").unwrap(), "k\u{fffd}");
        for bad in ["k%FF", "k%FE", "%C3", "a%80b"] {
            let e = decode(bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "ERR_MALFORMED_REQUEST")
            );
        }
        assert!(parse_query("metadata.a=%FF").is_err());
        assert!(parse_query("%FE=1").is_err());
    }

    #[test]
    fn token_comparison() {
        let v = HeaderValue::from_static("secret");
        assert!(token_ok("secret", Some(&v)));
        assert!(!token_ok("secreT", Some(&v)));
        assert!(!token_ok("secret2", Some(&v)));
        assert!(!token_ok("secret", None));
    }
}
