//! The binding backends: output `bindings.localstorage` (files confined to `rootPath`) and
//! input `bindings.cron` (its `schedule` as a Go duration).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    /// The largest file `get` reads (the body cap).
    max_read_bytes: usize,
}

fn outside(file: &str, why: &str) -> String {
    format!("invalid fileName {file:?}: {why}; links are not followed inside rootPath")
}

impl LocalStorage {
    /// Creates `rootPath` if needed and remembers its canonical form.
    pub fn from_spec(spec: &ComponentSpec, max_read_bytes: usize) -> Result<Self, SidecarError> {
        let root = spec
            .meta("rootPath")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| spec.init_error("metadata rootPath is required (a folder)"))?;
        std::fs::create_dir_all(root)
            .map_err(|e| spec.init_error(format!("creating rootPath {root}: {e}")))?;
        let root = std::fs::canonicalize(root)
            .map_err(|e| spec.init_error(format!("resolving rootPath {root}: {e}")))?;
        Ok(LocalStorage {
            root,
            max_read_bytes,
        })
    }

    /// A file name as a path inside the root: relative, no `..`, no root, no prefix.
    fn relative(file: &str) -> Result<PathBuf, String> {
        let p = Path::new(file);
        if file.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!(
                "invalid fileName {file:?}: it must be a relative path inside rootPath, without '..'"
            ));
        }
        // Rebuilt from its components: `a//b/` is `a/b`, as Go's `filepath.Rel` answers.
        Ok(p.components().collect())
    }

    /// The path for `file`, walked from the root one component at a time without following
    /// links: every existing component must be a real folder (the last one a real file or
    /// missing); a symbolic link anywhere, dangling or not, is refused.
    async fn confined(&self, file: &str) -> Result<PathBuf, String> {
        let rel = Self::relative(file)?;
        let parts: Vec<_> = rel.components().collect();
        let mut path = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            match tokio::fs::symlink_metadata(&path).await {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(outside(file, "it names a symbolic link"));
                }
                Ok(m) if i + 1 < parts.len() && !m.is_dir() => {
                    return Err(format!(
                        "invalid fileName {file:?}: a parent is not a folder"
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(self.root.join(&rel));
                }
                Err(e) => return Err(format!("checking {file}: {e}")),
            }
        }
        Ok(path)
    }

    /// Opens `file` for reading, or creates it with its folders, through
    /// [`super::confined`]: no link is followed anywhere below the root.
    async fn open_confined(&self, file: &str, create: bool) -> std::io::Result<tokio::fs::File> {
        let rel = Self::relative(file).map_err(std::io::Error::other)?;
        let root = self.root.clone();
        let file = tokio::task::spawn_blocking(move || {
            if create {
                super::confined::open_create(&root, &rel)
            } else {
                super::confined::open_read(&root, &rel)
            }
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(tokio::fs::File::from_std(file))
    }

    /// The absolute path daprd names in its messages for `rel`.
    fn abs(&self, rel: &Path) -> String {
        self.root.join(rel).display().to_string()
    }

    async fn invoke(
        &self,
        operation: &str,
        data: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<Bytes>, String> {
        let given = metadata.get("fileName").filter(|f| !f.is_empty()).cloned();
        match operation {
            "create" => {
                let name = given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                self.create(&name, data).await
            }
            "get" => match given {
                Some(name) => self.get(&name).await,
                // daprd opens rootPath itself, which cannot be read as a file.
                None => {
                    let root = self.root.display();
                    Err(format!(
                        "error reading file {root}: read {root}: is a directory"
                    ))
                }
            },
            "delete" => {
                // daprd would remove rootPath itself (when empty); this sidecar refuses.
                let name = given.ok_or_else(|| "metadata fileName is required".to_string())?;
                self.delete(&name).await
            }
            "list" => self.list(given.as_deref()).await,
            other => Err(format!(
                "binding does not support operation {other}. supported operations: create get list delete"
            )),
        }
    }

    /// `create`: daprd's bytes are `json.Marshal(data)`; a JSON string is unquoted, then
    /// anything that decodes as padded standard base64 is stored decoded.
    async fn create(&self, name: &str, data: Vec<u8>) -> Result<Option<Bytes>, String> {
        let data = match serde_json::from_slice::<String>(&data) {
            Ok(text) => text.into_bytes(),
            Err(_) => data,
        };
        let data = go_base64_decode(&data).unwrap_or(data);
        // Checked first for a clear error, then opened folder by folder from the root
        // without following links: a link swapped in after the check is not followed
        // either.
        self.confined(name).await?;
        let rel = Self::relative(name)?;
        let abs = self.abs(&rel);
        let mut f = self
            .open_confined(name, true)
            .await
            .map_err(|e| open_error(name, &format!("error creating file {abs}: open {abs}"), &e))?;
        let write_err = |e: std::io::Error| {
            format!("error writing to file {abs}: write {abs}: {}", go_errno(&e))
        };
        f.write_all(&data).await.map_err(write_err)?;
        f.flush().await.map_err(write_err)?;
        let answer = json!({ "fileName": rel.display().to_string() });
        Ok(Some(Bytes::from(
            serde_json::to_vec(&answer).unwrap_or_default(),
        )))
    }

    /// `get`: the file's bytes, at most the body cap.
    async fn get(&self, name: &str) -> Result<Option<Bytes>, String> {
        self.confined(name).await?;
        let abs = self.abs(&Self::relative(name)?);
        let f = self.open_confined(name, false).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("file not found: {abs}")
            } else {
                open_error(name, &format!("error opening path {abs}: open {abs}"), &e)
            }
        })?;
        let mut bytes = Vec::new();
        let limit = self.max_read_bytes as u64;
        f.take(limit + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| format!("error reading file {abs}: read {abs}: {}", go_errno(&e)))?;
        if bytes.len() as u64 > limit {
            return Err(format!(
                "error reading file {abs}: the file is larger than the maximum response of {limit} bytes"
            ));
        }
        Ok(Some(Bytes::from(bytes)))
    }

    /// `delete`: Go's `os.Remove` (a file or an empty folder).
    async fn delete(&self, name: &str) -> Result<Option<Bytes>, String> {
        self.confined(name).await?;
        let rel = Self::relative(name)?;
        let abs = self.abs(&rel);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || super::confined::remove(&root, &rel))
            .await
            .map_err(|e| format!("error deleting file {abs}: {e}"))?
            .map_err(|e| format!("error deleting file {abs}: remove {abs}: {}", go_errno(&e)))?;
        Ok(None)
    }

    /// `list`: the absolute paths of every non-folder below `fileName` (a folder,
    /// default rootPath), in `filepath.Walk` order; `null` when there is none.
    async fn list(&self, name: Option<&str>) -> Result<Option<Bytes>, String> {
        let rel = match name {
            Some(name) => {
                self.confined(name).await?;
                Self::relative(name)?
            }
            None => PathBuf::new(),
        };
        let base = self.root.join(&rel);
        let abs = base.display().to_string();
        match tokio::fs::symlink_metadata(&base).await {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "unable to list files as the file specified is not a directory: {abs}"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "error getting stats for path {abs}: stat {abs}: {}",
                    go_errno(&e)
                ));
            }
        }
        let (root, cap) = (self.root.clone(), self.max_read_bytes);
        let walk_base = base.clone();
        let listed = tokio::task::spawn_blocking(move || {
            // The answer is bounded like every other: stop once the names alone pass
            // the response cap.
            let mut size = 2usize;
            let mut admit = |p: &Path| {
                size += walk_base.join(p).as_os_str().len() + 3;
                if size > cap {
                    Err(std::io::Error::other(format!(
                        "the answer is larger than the maximum response of {cap} bytes"
                    )))
                } else {
                    Ok(())
                }
            };
            super::confined::walk(&root, &rel, &mut admit)
        })
        .await
        .map_err(|e| format!("error listing files in the directory {abs}: {e}"))?
        .map_err(|e| {
            format!(
                "error listing files in the directory {abs}: {}",
                go_errno(&e)
            )
        })?;
        let names: Vec<String> = listed
            .iter()
            .map(|p| base.join(p).to_string_lossy().into_owned())
            .collect();
        let body = if names.is_empty() {
            b"null".to_vec()
        } else {
            serde_json::to_vec(&names).unwrap_or_default()
        };
        Ok(Some(Bytes::from(body)))
    }
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` skipped,
/// non-zero trailing bits accepted.
fn go_base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    GO_STD.decode(cleaned).ok()
}

/// An I/O error as Go's `syscall.Errno` prints it (`no such file or directory`).
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::EISDIR) => "is a directory".into(),
        Some(libc::ENOTDIR) => "not a directory".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ENOTEMPTY) => "directory not empty".into(),
        Some(libc::EEXIST) => "file exists".into(),
        _ => e.to_string(),
    }
}

/// An open failure; `ELOOP` means the last component became a link.
fn open_error(name: &str, what: &str, e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(libc::ELOOP) {
        outside(name, "it names a symbolic link")
    } else {
        format!("{what}: {}", go_errno(e))
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

    fn storage(root: &Path) -> LocalStorage {
        LocalStorage {
            root: std::fs::canonicalize(root).unwrap(),
            max_read_bytes: 16,
        }
    }

    fn meta(file: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("fileName".to_string(), file.to_string())])
    }

    #[tokio::test]
    async fn list_answers_are_bounded_by_the_response_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let mut s = storage(&root);
        s.max_read_bytes = root.as_os_str().len() + 10;
        std::fs::write(root.join("a"), "x").unwrap();
        let one = s
            .invoke("list", Vec::new(), &BTreeMap::new())
            .await
            .unwrap();
        let want = serde_json::to_vec(&[root.join("a")]).unwrap();
        assert_eq!(one.as_deref(), Some(&want[..]));
        std::fs::write(root.join("b"), "x").unwrap();
        let err = s
            .invoke("list", Vec::new(), &BTreeMap::new())
            .await
            .unwrap_err();
        assert!(err.contains("larger than the maximum response of"), "{err}");
    }

    #[test]
    fn go_base64_rules() {
        assert_eq!(go_base64_decode(b"aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(go_base64_decode(b"aG\nk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(go_base64_decode(b"").as_deref(), Some(&b""[..]));
        // Trailing bits that are not zero are accepted, as by Go's StdEncoding.
        assert!(go_base64_decode(b"aGl=").is_some());
        for bad in [
            &b"aGk"[..],
            b"aGk==",
            b"false",
            b"123",
            b"{\"a\":1}",
            b"a b=",
        ] {
            assert_eq!(go_base64_decode(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn links_inside_root_path_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, out) = (tmp.path().join("root"), tmp.path().join("out"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(out.join("new"), root.join("dangling")).unwrap();
        std::os::unix::fs::symlink(out.join("secret"), root.join("file")).unwrap();
        std::os::unix::fs::symlink(&out, root.join("dir")).unwrap();
        std::os::unix::fs::symlink("inner", root.join("relative")).unwrap();
        let s = storage(&root);
        for name in ["dangling", "file", "dir/x", "dir/sub/x", "relative"] {
            let e = s.invoke("create", b"x".to_vec(), &meta(name)).await;
            assert!(e.is_err(), "create {name}");
        }
        for name in ["file", "dir/secret", "dangling"] {
            assert!(
                s.invoke("get", Vec::new(), &meta(name)).await.is_err(),
                "get {name}"
            );
            assert!(
                s.invoke("delete", Vec::new(), &meta(name)).await.is_err(),
                "delete {name}"
            );
        }
        let mut written: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        written.sort();
        assert_eq!(written, vec!["secret"]);
        assert!(!root.join("inner").exists());
        // Plain files and folders still work; a file over the read cap is refused.
        s.invoke("create", b"hello".to_vec(), &meta("a/b/c.txt"))
            .await
            .unwrap();
        let got = s
            .invoke("get", Vec::new(), &meta("a/b/c.txt"))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"hello"[..]));
        s.invoke("create", vec![b'x'; 17], &meta("big"))
            .await
            .unwrap();
        assert!(s.invoke("get", Vec::new(), &meta("big")).await.is_err());
    }
}
