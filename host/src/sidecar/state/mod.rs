//! The state API: the store trait, key prefixes, and the HTTP handlers of `/v1.0/state`.

pub(crate) mod memory;
pub(crate) mod query;
pub(crate) mod redis;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{ApiError, bytes_response, json_response, no_content};
use super::server::{ApiRequest, Resp};

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

/// Looks a store up: none configured → 500, unknown → 400.
fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a StateComponent, ApiError> {
    if ctx.states.is_empty() {
        return Err(ApiError::internal(
            "ERR_STATE_STORE_NOT_CONFIGURED",
            "state store is not configured",
        ));
    }
    ctx.states.get(store).ok_or_else(|| {
        ApiError::bad_request(
            "ERR_STATE_STORE_NOT_FOUND",
            format!("state store {store} is not found"),
        )
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct StateOptions {
    concurrency: Option<String>,
    consistency: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SaveItem {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    options: Option<StateOptions>,
}

/// `first-write` → true; `last-write` or absent → false; anything else is an error.
fn first_write(concurrency: Option<&str>, consistency: Option<&str>) -> Result<bool, String> {
    match consistency {
        None | Some("") | Some("strong") | Some("eventual") => {}
        Some(c) => return Err(format!("unrecognized consistency model '{c}'")),
    }
    match concurrency {
        None | Some("") | Some("last-write") => Ok(false),
        Some("first-write") => Ok(true),
        Some(c) => Err(format!("unrecognized concurrency model '{c}'")),
    }
}

/// Query `metadata.k` wins over the body's `metadata` object.
fn merged_metadata(
    req: &ApiRequest,
    body: Option<BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut m = body.unwrap_or_default();
    m.extend(req.query_metadata());
    m
}

/// `ttlInSeconds` metadata: absent → none; `-1` → persist.
fn ttl(metadata: &BTreeMap<String, String>) -> Result<Option<i64>, String> {
    match metadata.get("ttlInSeconds").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|e| format!("incorrect value for metadata 'ttlInSeconds' {v:?}: {e}")),
    }
}

/// The bytes stored for a JSON `value`: its JSON text.
fn value_bytes(value: Option<&Value>) -> Vec<u8> {
    serde_json::to_vec(value.unwrap_or(&Value::Null)).unwrap_or_default()
}

fn non_empty(etag: Option<String>) -> Option<String> {
    etag.filter(|e| !e.is_empty())
}

/// A stored value as a JSON value for `data` fields: the JSON itself, or a string if it is not JSON.
fn data_json(data: &[u8]) -> Value {
    serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()))
}

/// `GET /v1.0/state/{store}/{key}`.
pub(crate) async fn get(
    ctx: &Ctx,
    _req: &ApiRequest,
    store: &str,
    key: &str,
) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let full = comp.full_key(key)?;
    match comp.store.get(&full).await {
        Ok(None) => Ok(no_content()),
        Ok(Some(item)) => {
            let mut res =
                bytes_response(StatusCode::OK, "application/json", Bytes::from(item.data));
            if let Ok(v) = HeaderValue::from_str(&item.etag)
                && !item.etag.is_empty()
            {
                res.headers_mut().insert(header::ETAG, v);
            }
            if let Some(exp) = item.expires
                && let Some(text) = super::rfc3339(exp)
                && let Ok(v) = HeaderValue::from_str(&text)
            {
                res.headers_mut().insert("metadata.ttlexpiretime", v);
            }
            Ok(res)
        }
        Err(e) => Err(ApiError::internal(
            "ERR_STATE_GET",
            format!("fail to get {key} from state store {store}: {e}"),
        )),
    }
}

fn save_error(store: &str, e: StateError) -> ApiError {
    let status = match e {
        StateError::EtagMismatch(_) => StatusCode::CONFLICT,
        StateError::InvalidEtag(_) => StatusCode::BAD_REQUEST,
        StateError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(
        status,
        "ERR_STATE_SAVE",
        format!("failed saving state in state store {store}: {e}"),
    )
}

/// `POST|PUT /v1.0/state/{store}`.
pub(crate) async fn save(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let items: Vec<SaveItem> = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let key = item
            .key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::malformed(format!("state item {i} has no key")))?;
        let full = comp.full_key(&key)?;
        let metadata = merged_metadata(req, item.metadata);
        let opts = item.options.unwrap_or_default();
        let first = first_write(opts.concurrency.as_deref(), opts.consistency.as_deref())
            .map_err(|e| save_error(store, StateError::Backend(e)))?;
        let ttl_seconds = ttl(&metadata).map_err(|e| save_error(store, StateError::Backend(e)))?;
        ops.push(WriteOp {
            key: full,
            kind: WriteKind::Upsert {
                data: value_bytes(item.value.as_ref()),
                ttl_seconds,
            },
            etag: non_empty(item.etag),
            first_write: first,
        });
    }
    for op in ops {
        comp.store
            .apply(vec![op])
            .await
            .map_err(|e| save_error(store, e))?;
    }
    Ok(no_content())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct BulkGetBody {
    keys: Vec<String>,
    #[allow(dead_code)]
    parallelism: Option<i64>,
    #[allow(dead_code)]
    metadata: Option<BTreeMap<String, String>>,
}

/// `POST|PUT /v1.0/state/{store}/bulk`.
pub(crate) async fn bulk_get(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let body: BulkGetBody = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    let mut full_keys = Vec::with_capacity(body.keys.len());
    for key in &body.keys {
        full_keys.push(comp.full_key(key)?);
    }
    let mut out = Vec::with_capacity(body.keys.len());
    for (key, full) in body.keys.iter().zip(&full_keys) {
        out.push(match comp.store.get(full).await {
            Ok(Some(item)) => {
                let mut o = json!({ "key": key, "data": data_json(&item.data) });
                if !item.etag.is_empty() {
                    o["etag"] = Value::String(item.etag);
                }
                if let Some(exp) = item.expires.and_then(super::rfc3339) {
                    o["metadata"] = json!({ "ttlExpireTime": exp });
                }
                o
            }
            Ok(None) => json!({ "key": key }),
            Err(e) => json!({ "key": key, "error": e.to_string() }),
        });
    }
    Ok(json_response(StatusCode::OK, &Value::Array(out)))
}

/// `DELETE /v1.0/state/{store}/{key}`.
pub(crate) async fn delete(
    ctx: &Ctx,
    req: &ApiRequest,
    store: &str,
    key: &str,
) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let full = comp.full_key(key)?;
    let del_err = |e: StateError| {
        let status = match e {
            StateError::EtagMismatch(_) => StatusCode::CONFLICT,
            StateError::InvalidEtag(_) => StatusCode::BAD_REQUEST,
            StateError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(
            status,
            "ERR_STATE_DELETE",
            format!("failed deleting state with key {key}: {e}"),
        )
    };
    let first = first_write(
        req.query_value("concurrency"),
        req.query_value("consistency"),
    )
    .map_err(|e| del_err(StateError::Backend(e)))?;
    let etag = req
        .headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let op = WriteOp {
        key: full,
        kind: WriteKind::Delete,
        etag: non_empty(etag),
        first_write: first,
    };
    comp.store.apply(vec![op]).await.map_err(del_err)?;
    Ok(no_content())
}

#[derive(Debug, Deserialize)]
struct TxBody {
    #[serde(default)]
    operations: Vec<TxOperation>,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct TxOperation {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    request: Option<SaveItem>,
}

/// `POST|PUT /v1.0/state/{store}/transaction`.
pub(crate) async fn transaction(
    ctx: &Ctx,
    req: &ApiRequest,
    store: &str,
) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let body: TxBody = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    let tx_err = |e: String| {
        ApiError::internal(
            "ERR_STATE_TRANSACTION",
            format!("error while executing state transaction: {e}"),
        )
    };
    let mut ops = Vec::with_capacity(body.operations.len());
    for (i, op) in body.operations.into_iter().enumerate() {
        let delete = match op.operation.as_str() {
            "upsert" => false,
            "delete" => true,
            other => {
                return Err(ApiError::bad_request(
                    "ERR_NOT_SUPPORTED_STATE_OPERATION",
                    format!("operation type {other} not supported"),
                ));
            }
        };
        let item = op
            .request
            .ok_or_else(|| ApiError::malformed(format!("operation {i} has no request")))?;
        let key = item
            .key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::malformed(format!("operation {i} has no key")))?;
        let full = comp.full_key(&key)?;
        let metadata = merged_metadata(req, item.metadata);
        let opts = item.options.unwrap_or_default();
        let first = first_write(opts.concurrency.as_deref(), opts.consistency.as_deref())
            .map_err(tx_err)?;
        let kind = if delete {
            WriteKind::Delete
        } else {
            WriteKind::Upsert {
                data: value_bytes(item.value.as_ref()),
                ttl_seconds: ttl(&metadata).map_err(tx_err)?,
            }
        };
        ops.push(WriteOp {
            key: full,
            kind,
            etag: non_empty(item.etag),
            first_write: first,
        });
    }
    comp.store
        .apply(ops)
        .await
        .map_err(|e| tx_err(e.to_string()))?;
    Ok(no_content())
}

/// `POST|PUT /v1.0-alpha1/state/{store}/query`.
pub(crate) async fn query(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    if !comp.store.supports_query() {
        return Err(ApiError::internal(
            "ERR_STATE_STORE_NOT_SUPPORTED",
            "state store does not support querying",
        ));
    }
    let q: query::Query = serde_json::from_slice(&req.body).map_err(ApiError::malformed)?;
    let qerr = |e: String| {
        ApiError::internal(
            "ERR_STATE_QUERY",
            format!("failed query in state store {store}: {e}"),
        )
    };
    let scanned = comp
        .store
        .scan(&comp.prefix)
        .await
        .map_err(|e| qerr(e.to_string()))?;
    let rows = scanned
        .into_iter()
        .map(|(k, item)| query::Row {
            key: comp.plain_key(&k).to_string(),
            value: data_json(&item.data),
            etag: item.etag,
        })
        .collect();
    let (page, token) = query::run(&q, rows).map_err(qerr)?;
    if page.is_empty() {
        return Ok(no_content());
    }
    let results: Vec<Value> = page
        .into_iter()
        .map(|r| json!({ "key": r.key, "data": r.value, "etag": r.etag }))
        .collect();
    let mut body = json!({ "results": results });
    if let Some(t) = token {
        body["token"] = Value::String(t);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// Whether a method is one of the write verbs (`POST`, `PUT`).
pub(crate) fn is_write(m: &Method) -> bool {
    m == Method::POST || m == Method::PUT
}
