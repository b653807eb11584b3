//! `state.in-memory`: a process-local, transactional state store with UUID etags.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::store::{BoxFut, StateError, StateStore, StoredItem, WriteKind, WriteOp};

/// The in-memory store: keys as given (already `<appId>||<key>`), one lock for atomicity.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    items: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    data: Vec<u8>,
    etag: String,
    /// Monotonic deadline, and the wall-clock time reported as `ttlExpireTime`.
    expires: Option<(Instant, SystemTime)>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|(t, _)| t > now)
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means another request panicked mid-update; the map itself is
        // still a valid map, so keep serving.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The etag rules shared by every write: an etag must match the current one (a missing key
/// never matches); `first-write` without an etag fails if the key exists.
pub(crate) fn check_etag(current: Option<&str>, op: &WriteOp) -> Result<(), StateError> {
    match (&op.etag, current) {
        (Some(want), Some(have)) if want == have => Ok(()),
        (Some(_), Some(_)) => Err(StateError::EtagMismatch(
            "etag does not match the stored etag".into(),
        )),
        (Some(_), None) => Err(StateError::EtagMismatch("key does not exist".into())),
        (None, Some(_)) if op.first_write => Err(StateError::EtagMismatch(
            "first-write: key already exists".into(),
        )),
        (None, _) => Ok(()),
    }
}

impl StateStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<StoredItem>, StateError>> {
        let now = Instant::now();
        let found = self
            .lock()
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| StoredItem {
                data: e.data.clone(),
                etag: e.etag.clone(),
                expires: e.expires.map(|(_, wall)| wall),
            });
        Box::pin(async move { Ok(found) })
    }

    fn apply<'a>(&'a self, ops: Vec<WriteOp>) -> BoxFut<'a, Result<(), StateError>> {
        let result = (|| {
            let now = Instant::now();
            let mut items = self.lock();
            for op in &ops {
                let current = items
                    .get(&op.key)
                    .filter(|e| e.live(now))
                    .map(|e| e.etag.as_str());
                check_etag(current, op)?;
            }
            for op in ops {
                match op.kind {
                    WriteKind::Delete => {
                        items.remove(&op.key);
                    }
                    WriteKind::Upsert { data, ttl_seconds } => {
                        // A TTL too large to represent means "never expires".
                        let expires = ttl_seconds.filter(|t| *t > 0).and_then(|t| {
                            let d = Duration::from_secs(t.unsigned_abs());
                            Some((now.checked_add(d)?, SystemTime::now().checked_add(d)?))
                        });
                        let etag = uuid::Uuid::new_v4().to_string();
                        items.insert(
                            op.key,
                            Entry {
                                data,
                                etag,
                                expires,
                            },
                        );
                    }
                }
            }
            Ok(())
        })();
        Box::pin(async move { result })
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, StoredItem)>, StateError>> {
        let now = Instant::now();
        let mut out: Vec<(String, StoredItem)> = self
            .lock()
            .iter()
            .filter(|(k, e)| k.starts_with(prefix) && e.live(now))
            .map(|(k, e)| {
                (
                    k.clone(),
                    StoredItem {
                        data: e.data.clone(),
                        etag: e.etag.clone(),
                        expires: e.expires.map(|(_, wall)| wall),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Box::pin(async move { Ok(out) })
    }

    fn supports_query(&self) -> bool {
        true
    }
}
