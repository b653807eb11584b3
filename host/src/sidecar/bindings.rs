//! Bindings: output `bindings.localstorage` (confined to `rootPath`), input `bindings.cron`, and `/v1.0/bindings`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};

use super::Ctx;
use super::components::ComponentSpec;
use super::errors::{ApiError, SidecarError, bytes_response, no_content};
use super::server::{ApiRequest, Resp};

/// A binding component.
#[derive(Debug)]
pub(crate) enum Binding {
    /// Output: files under a folder.
    LocalStorage(LocalStorage),
    /// Input: an empty event to the app every interval.
    Cron(Duration),
}

impl Binding {
    async fn invoke(
        &self,
        operation: &str,
        data: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<Bytes>, String> {
        match self {
            Binding::LocalStorage(l) => l.invoke(operation, data, metadata).await,
            Binding::Cron(_) => Err(format!(
                "binding does not support operation {operation}: bindings.cron is an input binding"
            )),
        }
    }
}

/// Parses a Go duration (`1s`, `500ms`, `1m30s`, `1h`).
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(value * scale).ok()?;
    }
    Some(total)
}

/// `bindings.cron` `schedule`: only `@every <duration>` is supported.
pub(crate) fn cron_from_spec(spec: &ComponentSpec) -> Result<Duration, SidecarError> {
    let schedule = spec.meta("schedule").unwrap_or_default();
    schedule
        .strip_prefix("@every ")
        .and_then(go_duration)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            spec.init_error(format!(
                "schedule {schedule:?}: the wasi-dapr sidecar supports only \"@every <duration>\", e.g. \"@every 1s\""
            ))
        })
}

/// Input bindings: probes `OPTIONS /{name}` until the app answers, then (when 2xx or 405)
/// posts an event every interval until shutdown.
pub(crate) async fn run_input(ctx: std::sync::Arc<Ctx>, name: String, every: Duration) {
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
            () = super::wait_for_shutdown(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(ctx.tuning.subscribe_max_backoff);
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = super::wait_for_shutdown(&mut shutdown) => return,
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

/// A `bindings.localstorage` component: files under one canonical root folder.
#[derive(Debug)]
pub(crate) struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Creates `rootPath` if needed and remembers its canonical form.
    pub fn from_spec(spec: &ComponentSpec) -> Result<Self, SidecarError> {
        let root = spec
            .meta("rootPath")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| spec.init_error("metadata rootPath is required (a folder)"))?;
        std::fs::create_dir_all(root)
            .map_err(|e| spec.init_error(format!("creating rootPath {root}: {e}")))?;
        let root = std::fs::canonicalize(root)
            .map_err(|e| spec.init_error(format!("resolving rootPath {root}: {e}")))?;
        Ok(LocalStorage { root })
    }

    /// A file name as a path inside the root: relative, no `..`, no root, no prefix.
    fn relative(file: &str) -> Result<PathBuf, String> {
        let p = Path::new(file);
        if file.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!(
                "invalid fileName {file:?}: it must be a relative path inside rootPath, without '..'"
            ));
        }
        Ok(p.to_path_buf())
    }

    /// The path for `file`, refusing anything that resolves (through symlinks) outside the root.
    async fn confined(&self, file: &str) -> Result<PathBuf, String> {
        let path = self.root.join(Self::relative(file)?);
        let mut probe = path.as_path();
        loop {
            if let Ok(real) = tokio::fs::canonicalize(probe).await {
                if !real.starts_with(&self.root) {
                    return Err(format!(
                        "invalid fileName {file:?}: it resolves outside rootPath"
                    ));
                }
                return Ok(path);
            }
            match probe.parent() {
                Some(parent) => probe = parent,
                None => return Ok(path),
            }
        }
    }

    async fn invoke(
        &self,
        operation: &str,
        data: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<Bytes>, String> {
        let file_name = || {
            metadata
                .get("fileName")
                .filter(|f| !f.is_empty())
                .cloned()
                .ok_or_else(|| "metadata fileName is required".to_string())
        };
        match operation {
            "create" => {
                let name = metadata
                    .get("fileName")
                    .filter(|f| !f.is_empty())
                    .cloned()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let path = self.confined(&name).await?;
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                // Re-check after creating folders, then write.
                let path = self.confined(&name).await?;
                tokio::fs::write(&path, data)
                    .await
                    .map_err(|e| format!("writing {name}: {e}"))?;
                Ok(Some(Bytes::from(
                    serde_json::to_vec(&json!({ "fileName": name })).unwrap_or_default(),
                )))
            }
            "get" => {
                let name = file_name()?;
                let path = self.confined(&name).await?;
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("reading {name}: {e}"))?;
                Ok(Some(Bytes::from(bytes)))
            }
            "delete" => {
                let name = file_name()?;
                let path = self.confined(&name).await?;
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(|e| format!("deleting {name}: {e}"))?;
                Ok(None)
            }
            "list" => {
                let mut names = Vec::new();
                let mut stack = vec![self.root.clone()];
                while let Some(dir) = stack.pop() {
                    let mut rd = tokio::fs::read_dir(&dir).await.map_err(|e| e.to_string())?;
                    while let Some(entry) = rd.next_entry().await.map_err(|e| e.to_string())? {
                        let ty = entry.file_type().await.map_err(|e| e.to_string())?;
                        if ty.is_dir() {
                            stack.push(entry.path());
                        } else if ty.is_file()
                            && let Ok(rel) = entry.path().strip_prefix(&self.root)
                        {
                            names.push(rel.to_string_lossy().into_owned());
                        }
                    }
                }
                names.sort();
                Ok(Some(Bytes::from(
                    serde_json::to_vec(&names).unwrap_or_default(),
                )))
            }
            other => Err(format!(
                "binding does not support operation {other}. supported operations: create get list delete"
            )),
        }
    }
}

#[derive(Debug, serde::Deserialize, Default)]
#[serde(default)]
struct BindingRequest {
    data: Value,
    metadata: Option<BTreeMap<String, String>>,
    operation: Option<String>,
}

/// `POST|PUT /v1.0/bindings/{name}`.
pub(crate) async fn invoke(ctx: &Ctx, req: &ApiRequest, name: &str) -> Result<Resp, ApiError> {
    let body: BindingRequest = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
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
    let operation = body
        .operation
        .filter(|o| !o.is_empty())
        .ok_or_else(|| fail("operation field is missing from request".into()))?;
    let mut metadata = body.metadata.unwrap_or_default();
    metadata.extend(req.query_metadata());
    let data = match &body.data {
        Value::Null => Vec::new(),
        Value::String(s) => s.as_bytes().to_vec(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    };
    match binding
        .invoke(&operation, data, &metadata)
        .await
        .map_err(fail)?
    {
        Some(bytes) if !bytes.is_empty() => {
            let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
            if is_json {
                Ok(json_response_bytes(bytes))
            } else {
                Ok(bytes_response(
                    StatusCode::OK,
                    "application/octet-stream",
                    bytes,
                ))
            }
        }
        _ => Ok(no_content()),
    }
}

fn json_response_bytes(bytes: Bytes) -> Resp {
    bytes_response(StatusCode::OK, "application/json", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("1.5h"), Some(Duration::from_secs(5400)));
        for bad in ["", "5", "1d", "s", "1s-"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn confined_paths() {
        assert!(LocalStorage::relative("a/b.txt").is_ok());
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./a"] {
            assert!(LocalStorage::relative(bad).is_err(), "{bad}");
        }
    }
}
