//! The binding backends: output `bindings.localstorage` (files confined to `rootPath`) and
//! input `bindings.cron` (its `schedule` as a Go duration).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use crate::components::ComponentSpec;
use crate::error::SidecarError;

/// A binding component.
#[derive(Debug)]
pub(crate) enum Binding {
    /// Output: files under a folder.
    LocalStorage(LocalStorage),
    /// Input: an empty event to the app every interval.
    Cron(Duration),
}

impl Binding {
    pub(crate) async fn invoke(
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
