//! Service invocation: `/v1.0/invoke/{appId}/method/{path}` and the `dapr-app-id` header form, forwarded to the app.

use http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;

use crate::api::{ApiError, ApiRequest, Resp};
use crate::ctx::Ctx;

/// Headers that describe one hop and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

fn invoke_error(app_id: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(
        "ERR_DIRECT_INVOKE",
        format!("failed to invoke, id: {app_id}, err: {err}"),
    )
}

/// Forwards the request to the app as `{VERB} /{path}?{query}` and passes its answer back unchanged.
/// `path` is the raw (still percent-encoded) method path, without the leading slash.
pub(crate) async fn invoke(
    ctx: &Ctx,
    req: &ApiRequest,
    app_id: &str,
    path: &str,
) -> Result<Resp, ApiError> {
    if app_id != ctx.app_id {
        return Err(invoke_error(
            app_id,
            format!(
                "app id {app_id} is not reachable: the wasi-dapr sidecar only invokes its own app ({})",
                ctx.app_id
            ),
        ));
    }
    if path.is_empty() {
        return Err(ApiError::bad_request(
            "ERR_DIRECT_INVOKE",
            "invalid method name",
        ));
    }
    let uri = match req.raw_query.as_deref() {
        Some(q) if !q.is_empty() => format!("/{path}?{q}"),
        _ => format!("/{path}"),
    };
    let mut builder = Request::builder().method(req.method.clone()).uri(&uri);
    let original_host = req.header_str("host").unwrap_or_default().to_string();
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in &req.headers {
            let skip = is_hop_by_hop(name)
                || name == header::CONTENT_LENGTH
                || name == header::HOST
                || name.as_str() == "dapr-app-id"
                || name.as_str() == "dapr-api-token"
                || name.as_str() == "dapr-caller-app-id"
                || name.as_str() == "dapr-callee-app-id";
            if !skip {
                headers.append(name.clone(), value.clone());
            }
        }
        let needs_trace = !req.headers.contains_key("traceparent");
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set("dapr-caller-app-id", &ctx.app_id);
        set("dapr-callee-app-id", app_id);
        let ip = req.remote.ip().to_string();
        set("x-forwarded-for", &ip);
        if !original_host.is_empty() {
            set("x-forwarded-host", &original_host);
            set(
                "forwarded",
                &format!("for={ip};by=127.0.0.1;host={original_host}"),
            );
        } else {
            set("forwarded", &format!("for={ip};by=127.0.0.1"));
        }
        if needs_trace {
            let (tp, _) = crate::pubsub::cloudevent::traceparent(req);
            set("traceparent", &tp);
        }
        if let Some(token) = ctx.app_token_header() {
            headers.insert(HeaderName::from_static("dapr-api-token"), token);
        }
    }
    let out = builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| invoke_error(app_id, e))?;
    let res = ctx
        .call_app(out)
        .await
        .map_err(|e| invoke_error(app_id, e))?;
    let mut answer = Response::new(Full::new(res.body));
    *answer.status_mut() = res.status;
    for (name, value) in &res.headers {
        if !is_hop_by_hop(name) && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(answer)
}

/// An unrouted path: invocation if `dapr-app-id` is set, else daprd's 404.
pub(crate) async fn fallback(
    ctx: &Ctx,
    req: &ApiRequest,
    raw_path: &str,
) -> Result<Resp, ApiError> {
    match req.header_str("dapr-app-id").filter(|id| !id.is_empty()) {
        Some(app_id) => {
            let app_id = app_id.to_string();
            invoke(ctx, req, &app_id, raw_path.trim_start_matches('/')).await
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ERR_DIRECT_INVOKE",
            "failed getting app id either from the URL path or the header dapr-app-id",
        )),
    }
}
