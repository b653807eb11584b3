//! The state store backend contract: the object-safe `StateStore` trait that the memory
//! and Redis stores implement, what they store and return, and key prefixing.

use std::sync::Arc;

use crate::api::ApiError;

/// A boxed future, for the object-safe store trait.
pub(crate) type BoxFut<'a, T> = futures_util::future::BoxFuture<'a, T>;

/// What a store returns for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredItem {
    /// The stored bytes, verbatim.
    pub data: Vec<u8>,
    /// The opaque etag (empty if the store has none for this key).
    pub etag: String,
    /// When a TTL set on the key expires it.
    pub expires: Option<std::time::SystemTime>,
}

/// One write of a save, delete or transaction.
#[derive(Debug, Clone)]
pub(crate) struct WriteOp {
    /// The full key (`<prefix>||<key>`).
    pub key: String,
    pub kind: WriteKind,
    /// `None` when the request had no etag or an empty one.
    pub etag: Option<String>,
    /// `options.concurrency == "first-write"`.
    pub first_write: bool,
}

/// Upsert or delete.
#[derive(Debug, Clone)]
pub(crate) enum WriteKind {
    Upsert {
        data: Vec<u8>,
        ttl_seconds: Option<i64>,
    },
    Delete,
}

/// A store's failure, mapped by the handlers to status codes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// 409 on save/delete, 500 inside a transaction.
    #[error("possible etag mismatch. error from state store: {0}")]
    EtagMismatch(String),
    /// 400 on save/delete.
    #[error("invalid etag value: {0}")]
    InvalidEtag(String),
    /// Anything else: 500.
    #[error("{0}")]
    Backend(String),
}

/// A state store backend. Keys given to it are full keys.
pub(crate) trait StateStore: Send + Sync {
    /// One key, `None` if missing.
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<StoredItem>, StateError>>;
    /// Applies the writes atomically: every etag is checked first, then all are applied.
    fn apply<'a>(&'a self, ops: Vec<WriteOp>) -> BoxFut<'a, Result<(), StateError>>;
    /// Every live key starting with `prefix`, sorted by key.
    fn scan<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, StoredItem)>, StateError>>;
    /// Whether the query API is available.
    fn supports_query(&self) -> bool;
}

/// How keys are prefixed (`keyPrefix` metadata).
#[derive(Debug, Clone)]
pub(crate) enum KeyPrefix {
    /// `<appId>||` (default).
    AppId,
    /// `<storeName>||`.
    Name,
    /// No prefix.
    None,
    /// `<custom>||`.
    Custom(String),
}

/// A configured state store component.
pub(crate) struct StateComponent {
    pub store: Arc<dyn StateStore>,
    pub prefix: String,
}

impl StateComponent {
    pub fn new(name: &str, app_id: &str, prefix: &KeyPrefix, store: Arc<dyn StateStore>) -> Self {
        let prefix = match prefix {
            KeyPrefix::AppId => format!("{app_id}||"),
            KeyPrefix::Name => format!("{name}||"),
            KeyPrefix::None => String::new(),
            KeyPrefix::Custom(p) => format!("{p}||"),
        };
        StateComponent { store, prefix }
    }

    /// The stored key for a plain key; a key containing `||` is refused.
    pub fn full_key(&self, key: &str) -> Result<String, ApiError> {
        if key.contains("||") {
            return Err(ApiError::bad_request(
                "ERR_MALFORMED_REQUEST",
                format!("input key/keyPrefix '{key}' can't contain '||'"),
            ));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    /// The plain key of a stored key.
    pub fn plain_key<'a>(&self, full: &'a str) -> &'a str {
        full.strip_prefix(self.prefix.as_str()).unwrap_or(full)
    }
}
