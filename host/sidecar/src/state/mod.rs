//! The state API's HTTP handlers (`/v1.0/state`, `/v1.0-alpha1/state/{store}/query`) over
//! the backends of `store.rs` (`memory.rs`, `redis.rs`; queries run by `query.rs`).

pub(crate) mod memory;
pub(crate) mod query;
pub(crate) mod redis;
pub(crate) mod store;

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiRequest, Resp, bytes_response, no_content, rfc3339};
use crate::ctx::{Ctx, NamedStore, find_store};
use crate::gojson::{self, Shape};
use store::{StateComponent, StateError, WriteKind, WriteOp};

/// Looks a store up: none configured → 500, unknown → 400.
fn find<'a>(ctx: &'a Ctx, store: &str) -> Result<&'a StateComponent, ApiError> {
    find_store(&ctx.states, NamedStore::State, store)
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

impl SaveItem {
    /// The write this item asks for, in a save or a transaction: the key checked and
    /// prefixed, the metadata merged with the query's, the concurrency and TTL read.
    /// `fail` turns a bad option into the caller's error answer.
    fn into_write(
        self,
        comp: &StateComponent,
        req: &ApiRequest,
        delete: bool,
        missing_key: String,
        fail: impl Fn(String) -> ApiError,
    ) -> Result<WriteOp, ApiError> {
        let key = self
            .key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::malformed(missing_key))?;
        let full = comp.full_key(&key)?;
        let metadata = merged_metadata(req, self.metadata);
        let opts = self.options.unwrap_or_default();
        let first =
            first_write(opts.concurrency.as_deref(), opts.consistency.as_deref()).map_err(&fail)?;
        let kind = if delete {
            WriteKind::Delete
        } else {
            WriteKind::Upsert {
                data: value_bytes(self.value.as_ref()),
                ttl_seconds: ttl(&metadata).map_err(&fail)?,
            }
        };
        Ok(WriteOp {
            key: full,
            kind,
            etag: non_empty(self.etag),
            first_write: first,
        })
    }
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

/// The Go shape of a save body (`[]state.SetRequest`), for [`gojson`].
const SAVE_ITEMS: Shape = Shape::List(&Shape::Struct(&[
    ("key", Shape::Plain),
    ("value", Shape::Plain),
    ("etag", Shape::Plain),
    ("metadata", Shape::Map),
    (
        "options",
        Shape::Struct(&[("concurrency", Shape::Plain), ("consistency", Shape::Plain)]),
    ),
    ("contentType", Shape::Plain),
]));

/// The Go shape of a bulk get body (`BulkGetRequest`).
const BULK_GET: Shape = Shape::Struct(&[
    ("keys", Shape::Plain),
    ("parallelism", Shape::Plain),
    ("metadata", Shape::Map),
]);

/// The Go shape of a transaction body (`stateTransactionRequestBody`); each `request` is a
/// Go `any`, decoded after with `mapstructure` ([`TX_REQUEST`]).
const TX: Shape = Shape::Struct(&[
    (
        "operations",
        Shape::List(&Shape::Struct(&[
            ("operation", Shape::Plain),
            ("request", Shape::Plain),
        ])),
    ),
    ("metadata", Shape::Map),
]);

/// `state.SetRequest` / `DeleteRequest` fields for `mapstructure`: (json name, Go name).
const TX_REQUEST: &[gojson::GoField] = &[
    ("key", "Key", &[]),
    ("value", "Value", &[]),
    ("etag", "ETag", &[]),
    ("metadata", "Metadata", &[]),
    (
        "options",
        "Options",
        &[
            ("concurrency", "Concurrency"),
            ("consistency", "Consistency"),
        ],
    ),
];

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
                && let Some(text) = rfc3339(exp)
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
    let items: Vec<SaveItem> =
        gojson::from_slice(&req.body, &SAVE_ITEMS).map_err(ApiError::malformed)?;
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let fail = |e: String| save_error(store, StateError::Backend(e));
        ops.push(item.into_write(comp, req, false, format!("state item {i} has no key"), fail)?);
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

/// Keys answered between two yields to the scheduler in a bulk get.
const BULK_YIELD_EVERY: usize = 64;

/// Appends a stored value as the JSON of a `data` field: verbatim when it is JSON, else as
/// a JSON string.
fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        out.extend_from_slice(data);
    } else {
        let text = String::from_utf8_lossy(data);
        let _ = serde_json::to_writer(&mut *out, &text);
    }
}

/// Appends one bulk-get entry (fields in the order `serde_json` sorts them).
fn push_entry(out: &mut Vec<u8>, key: &str, found: Result<Option<store::StoredItem>, StateError>) {
    let string = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.push(b'{');
    match found {
        Ok(Some(item)) => {
            out.extend_from_slice(br#""data":"#);
            push_data(out, &item.data);
            if !item.etag.is_empty() {
                out.extend_from_slice(br#","etag":"#);
                string(out, &item.etag);
            }
            out.extend_from_slice(br#","key":"#);
            string(out, key);
            if let Some(exp) = item.expires.and_then(rfc3339) {
                out.extend_from_slice(br#","metadata":{"ttlExpireTime":"#);
                string(out, &exp);
                out.push(b'}');
            }
        }
        Ok(None) => {
            out.extend_from_slice(br#""key":"#);
            string(out, key);
        }
        Err(e) => {
            out.extend_from_slice(br#""error":"#);
            string(out, &e.to_string());
            out.extend_from_slice(br#","key":"#);
            string(out, key);
        }
    }
    out.push(b'}');
}

/// `POST|PUT /v1.0/state/{store}/bulk`. A key named twice is answered once (at its first
/// position); an answer that would pass the body cap is `500 ERR_STATE_BULK_GET`, found
/// while building it, so no more than the cap is ever held.
pub(crate) async fn bulk_get(ctx: &Ctx, req: &ApiRequest, store: &str) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let body: BulkGetBody =
        gojson::from_slice(&req.body, &BULK_GET).map_err(ApiError::malformed)?;
    let mut seen = HashSet::with_capacity(body.keys.len());
    let mut keys = Vec::new();
    for key in &body.keys {
        if seen.insert(key.as_str()) {
            keys.push((key.as_str(), comp.full_key(key)?));
        }
    }
    drop(seen);
    let limit = ctx.tuning.max_body_bytes;
    let mut out = Vec::with_capacity(limit.min(64 * 1024));
    out.push(b'[');
    for (i, (key, full)) in keys.iter().enumerate() {
        if i % BULK_YIELD_EVERY == BULK_YIELD_EVERY - 1 {
            // The in-memory store answers without awaiting: yield so that a long bulk get
            // does not hold a worker thread (and shutdown) until it is done.
            tokio::task::yield_now().await;
        }
        if i > 0 {
            out.push(b',');
        }
        push_entry(&mut out, key, comp.store.get(full).await);
        if out.len() >= limit {
            return Err(ApiError::internal(
                "ERR_STATE_BULK_GET",
                format!(
                    "the bulk get answer for {} keys exceeds the maximum response size of {limit} bytes; ask for fewer keys",
                    keys.len()
                ),
            ));
        }
    }
    out.push(b']');
    Ok(bytes_response(
        StatusCode::OK,
        "application/json",
        Bytes::from(out),
    ))
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
    request: Option<Value>,
}

/// `POST|PUT /v1.0/state/{store}/transaction`.
pub(crate) async fn transaction(
    ctx: &Ctx,
    req: &ApiRequest,
    store: &str,
) -> Result<Resp, ApiError> {
    let comp = find(ctx, store)?;
    let body: TxBody = gojson::from_slice(&req.body, &TX).map_err(ApiError::malformed)?;
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
        let request = op
            .request
            .ok_or_else(|| ApiError::malformed(format!("operation {i} has no request")))?;
        let item: SaveItem = serde_json::from_value(gojson::mapstructure(request, TX_REQUEST))
            .map_err(ApiError::malformed)?;
        ops.push(item.into_write(
            comp,
            req,
            delete,
            format!("operation {i} has no key"),
            tx_err,
        )?);
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
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let limit = ctx.tuning.max_body_bytes;
    if bytes.len() > limit {
        return Err(qerr(format!(
            "the query answer exceeds the maximum response size of {limit} bytes; ask for a smaller page"
        )));
    }
    Ok(bytes_response(
        StatusCode::OK,
        "application/json",
        Bytes::from(bytes),
    ))
}

/// Whether a method is one of the write verbs (`POST`, `PUT`).
pub(crate) fn is_write(m: &Method) -> bool {
    m == Method::POST || m == Method::PUT
}
