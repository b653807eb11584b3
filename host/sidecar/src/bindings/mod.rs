//! Bindings: `POST /v1.0/bindings/{name}` (output) and the events an input binding posts
//! to the app, over the backends of `component.rs`.

pub(crate) mod component;
pub(crate) mod confined;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use crate::api::{ApiError, ApiRequest, Resp, bytes_response, no_content};
use crate::ctx::{Ctx, wait_for_shutdown};
use crate::gojson::{self, Shape};

/// Input bindings: probes `OPTIONS /{name}` until the app answers, then (when 2xx or 405)
/// posts an event every interval until shutdown.
pub(crate) async fn run_input(ctx: Arc<Ctx>, name: String, every: Duration) {
    let mut shutdown = ctx.shutdown_rx();
    let mut backoff = ctx.tuning.subscribe_initial_backoff;
    let path = format!("/{name}");
    let request = |method: Method| {
        let mut b = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = ctx.app_token_header() {
            b = b.header("dapr-api-token", token);
        }
        b.body(Full::new(Bytes::new()))
    };
    loop {
        let Ok(req) = request(Method::OPTIONS) else {
            return;
        };
        match ctx.call_app(req).await {
            Ok(res) if res.status.is_success() || res.status == StatusCode::METHOD_NOT_ALLOWED => {
                break;
            }
            Ok(res) => {
                tracing::info!(binding = %name, status = %res.status, "the app does not take this input binding");
                return;
            }
            Err(e) => {
                tracing::debug!(binding = %name, error = %e, "the app does not answer yet; probing the input binding again")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.subscribe_max_backoff);
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = wait_for_shutdown(&mut shutdown) => return,
        }
        let Ok(req) = request(Method::POST) else {
            return;
        };
        match ctx.call_app(req).await {
            Ok(res) if res.status.is_success() => {}
            Ok(res) => {
                tracing::warn!(binding = %name, status = %res.status, "the app failed an input binding event")
            }
            Err(e) => {
                tracing::warn!(binding = %name, error = %e, "delivering an input binding event failed")
            }
        }
    }
}

/// daprd's `OutputBindingRequest`. [`gojson`] has matched the keys to these names (Go's
/// case-insensitive rule) and dropped `null`s, so a plain derive decodes the rest.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct BindingRequest {
    data: Value,
    metadata: BTreeMap<String, String>,
    operation: String,
}

/// Go's `json.Marshal` of a value decoded into `interface{}`: numbers are float64
/// (`1e+21`, `1e-7`, `12345678901234567000`), object keys sorted, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped.
fn go_marshal(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or_default();
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                let e = format!("{f:e}");
                match e.split_once('e') {
                    Some((m, exp)) if !exp.starts_with('-') => {
                        out.push_str(m);
                        out.push_str("e+");
                        out.push_str(exp);
                    }
                    _ => out.push_str(&e),
                }
            } else {
                out.push_str(&format!("{f}"));
            }
        }
        Value::String(s) => go_quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_marshal(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_quote(k, out);
                out.push(':');
                go_marshal(&map[k], out);
            }
            out.push('}');
        }
    }
}

fn go_quote(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The Go shape of an output binding body (`OutputBindingRequest`), for [`gojson`].
const BINDING_REQUEST: Shape = Shape::Struct(&[
    ("metadata", Shape::Map),
    ("data", Shape::Plain),
    ("operation", Shape::Plain),
]);

/// `POST|PUT /v1.0/bindings/{name}`.
pub(crate) async fn invoke(ctx: &Ctx, req: &ApiRequest, name: &str) -> Result<Resp, ApiError> {
    let body: BindingRequest =
        gojson::from_slice(&req.body, &BINDING_REQUEST).map_err(ApiError::malformed)?;
    let fail = |e: String| {
        ApiError::internal(
            "ERR_INVOKE_OUTPUT_BINDING",
            format!("error invoking output binding {name}: {e}"),
        )
    };
    let binding = ctx
        .bindings
        .get(name)
        .ok_or_else(|| fail(format!("couldn't find output binding {name}")))?;
    if body.operation.is_empty() {
        return Err(fail("operation field is missing from request".into()));
    }
    let operation = body.operation;
    let mut metadata = body.metadata;
    metadata.extend(req.query_metadata());
    let mut data = String::new();
    go_marshal(&body.data, &mut data);
    let data = data.into_bytes();
    // daprd answers the component's bytes as they are, always as `application/json`
    // (an empty file read is a 200 with an empty body); nothing at all is a 204.
    match binding
        .invoke(&operation, data, &metadata)
        .await
        .map_err(fail)?
    {
        Some(bytes) => Ok(json_response_bytes(bytes)),
        None => Ok(no_content()),
    }
}

fn json_response_bytes(bytes: Bytes) -> Resp {
    bytes_response(StatusCode::OK, "application/json", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marshal(json: &str) -> String {
        let v: Value = serde_json::from_str(json).expect("json");
        let mut out = String::new();
        go_marshal(&v, &mut out);
        out
    }

    #[test]
    fn data_is_marshalled_as_go_does() {
        assert_eq!(marshal("null"), "null");
        assert_eq!(marshal("1234"), "1234");
        assert_eq!(marshal("1.50"), "1.5");
        assert_eq!(marshal("1e21"), "1e+21");
        assert_eq!(marshal("0.0000001"), "1e-7");
        assert_eq!(marshal("12345678901234567890"), "12345678901234567000");
        assert_eq!(
            marshal(r#"{"b":"<&>","a":[true,"x\ny"]}"#),
            r#"{"a":[true,"x\ny"],"b":"\u003c\u0026\u003e"}"#
        );
        assert_eq!(marshal(r#""\u0001""#), r#""\u0001""#);
    }

    #[test]
    fn requests_decode_case_insensitively() {
        let decode =
            |body: &str| gojson::from_slice::<BindingRequest>(body.as_bytes(), &BINDING_REQUEST);
        let r = decode(r#"{"Operation":"get","DATA":1,"metadata":null,"x":[]}"#).expect("decodes");
        assert_eq!((r.operation.as_str(), r.data), ("get", Value::from(1)));
        let r = decode(r#"{"operation":"a","OPERATION":"b"}"#).expect("decodes");
        assert_eq!(r.operation, "b", "the later key wins");
        for bad in [r#"{"operation":1}"#, r#"{"metadata":{"k":1}}"#, "[1]", "{"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
