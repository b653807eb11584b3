//! State management: get, save, bulk get, delete, transactions and queries.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::encode::{self, Query};
use super::{Client, Error, Metadata, to_json, to_value};
use crate::http::Request;

/// How a write with an ETag is checked (`options.concurrency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Concurrency {
    /// `first-write`: the write fails unless the ETag matches (or, without an ETag, unless
    /// the key does not exist yet).
    #[serde(rename = "first-write")]
    FirstWrite,
    /// `last-write`: the last write wins.
    #[serde(rename = "last-write")]
    LastWrite,
}

impl Concurrency {
    /// The wire value, `first-write` or `last-write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::FirstWrite => "first-write",
            Concurrency::LastWrite => "last-write",
        }
    }
}

/// The consistency asked of the store (`consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// `eventual`.
    Eventual,
    /// `strong`.
    Strong,
}

impl Consistency {
    /// The wire value, `eventual` or `strong`.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Eventual => "eventual",
            Consistency::Strong => "strong",
        }
    }
}

/// Options of a write or delete: ETag, concurrency, consistency and metadata.
///
/// Everything defaults to unset, which lets the store decide (last write wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateOptions {
    /// The ETag the stored value must have (`etag`, or `If-Match` on delete).
    pub etag: Option<String>,
    /// The concurrency mode.
    pub concurrency: Option<Concurrency>,
    /// The consistency mode.
    pub consistency: Option<Consistency>,
    /// Component metadata, e.g. `ttlInSeconds`.
    pub metadata: Metadata,
}

impl StateOptions {
    /// Sets the ETag.
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Sets the concurrency mode.
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = Some(concurrency);
        self
    }

    /// Sets the consistency mode.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = Some(consistency);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Options of a single get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetStateOptions {
    /// The consistency mode.
    pub consistency: Option<Consistency>,
    /// Component metadata.
    pub metadata: Metadata,
}

impl GetStateOptions {
    /// Sets the consistency mode.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = Some(consistency);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Options of a bulk get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetBulkStateOptions {
    /// How many keys the sidecar reads at once (`parallelism`); unset lets it choose.
    pub parallelism: Option<u32>,
    /// Component metadata.
    pub metadata: Metadata,
}

impl GetBulkStateOptions {
    /// Sets the parallelism.
    pub fn parallelism(mut self, parallelism: u32) -> Self {
        self.parallelism = Some(parallelism);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// One key/value to save, with its options.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveStateItem {
    /// The key.
    pub key: String,
    /// The value; the store keeps its JSON text (a string is stored with its quotes).
    pub value: Value,
    /// ETag, concurrency, consistency and metadata.
    pub options: StateOptions,
}

impl SaveStateItem {
    /// An item with no options.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        SaveStateItem {
            key: key.into(),
            value: value.into(),
            options: StateOptions::default(),
        }
    }

    /// An item whose value is `value` serialised with serde.
    pub fn json<T: Serialize + ?Sized>(key: impl Into<String>, value: &T) -> Result<Self, Error> {
        Ok(Self::new(key, to_value("state value", value)?))
    }

    /// Sets every option at once.
    pub fn options(mut self, options: StateOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the ETag.
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.options.etag = Some(etag.into());
        self
    }

    /// Sets the concurrency mode.
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.options.concurrency = Some(concurrency);
        self
    }

    /// Sets the consistency mode.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.options.consistency = Some(consistency);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.metadata.insert(key.into(), value.into());
        self
    }
}

/// A value read with [`Client::get_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// The stored bytes, verbatim: the JSON text of the saved value.
    pub value: Vec<u8>,
    /// The ETag, if the store returned one.
    pub etag: Option<String>,
    /// `metadata.*` response headers, e.g. `ttlexpiretime`.
    pub metadata: Metadata,
}

impl StateEntry {
    /// Decodes the value as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.value).map_err(|source| Error::Decode {
            what: "state value",
            source,
        })
    }
}

/// One entry of a [`Client::get_bulk_state`] answer, in the order the keys were asked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BulkStateItem {
    /// The key.
    pub key: String,
    /// The stored JSON; `None` if the key does not exist (or the read failed).
    #[serde(default)]
    pub data: Option<Value>,
    /// The ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// Metadata returned by the store.
    #[serde(default)]
    pub metadata: Metadata,
    /// Why this key could not be read, if it could not.
    #[serde(default)]
    pub error: Option<String>,
}

impl BulkStateItem {
    /// Decodes the data as `T`; `Ok(None)` if there is none.
    pub fn json<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.data
            .as_ref()
            .map(|data| {
                T::deserialize(data).map_err(|source| Error::Decode {
                    what: "bulk state data",
                    source,
                })
            })
            .transpose()
    }
}

/// One operation of a [`Client::transact_state`] call.
#[derive(Debug, Clone, PartialEq)]
pub enum StateOperation {
    /// `upsert`: save the item.
    Upsert(SaveStateItem),
    /// `delete`: delete `key`, checked against `options.etag` if set.
    Delete {
        /// The key.
        key: String,
        /// ETag, concurrency, consistency and metadata.
        options: StateOptions,
    },
}

impl StateOperation {
    /// An upsert of `key` = `value` with no options.
    pub fn upsert(key: impl Into<String>, value: impl Into<Value>) -> Self {
        StateOperation::Upsert(SaveStateItem::new(key, value))
    }

    /// A delete of `key` with no options.
    pub fn delete(key: impl Into<String>) -> Self {
        StateOperation::Delete {
            key: key.into(),
            options: StateOptions::default(),
        }
    }
}

/// One result of a [`Client::query_state`] call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryItem {
    /// The key.
    pub key: String,
    /// The stored JSON.
    #[serde(default)]
    pub data: Option<Value>,
    /// The ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// Why this item could not be read, if it could not.
    #[serde(default)]
    pub error: Option<String>,
}

/// The answer to [`Client::query_state`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct QueryResponse {
    /// The matching items.
    #[serde(default)]
    pub results: Vec<QueryItem>,
    /// The token for the next page, if there is one.
    #[serde(default)]
    pub token: Option<String>,
    /// Metadata returned by the store.
    #[serde(default)]
    pub metadata: Metadata,
}

// ---- wire shapes ----

#[derive(Serialize)]
struct WireOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<Concurrency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consistency: Option<Consistency>,
}

/// A save or delete request item: `{key, value?, etag?, metadata?, options?}`.
#[derive(Serialize)]
struct WireItem<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<WireOptions>,
}

impl<'a> WireItem<'a> {
    fn new(key: &'a str, value: Option<&'a Value>, options: &'a StateOptions) -> Self {
        let wire_options = (options.concurrency.is_some() || options.consistency.is_some())
            .then_some(WireOptions {
                concurrency: options.concurrency,
                consistency: options.consistency,
            });
        WireItem {
            key,
            value,
            etag: options.etag.as_deref(),
            metadata: &options.metadata,
            options: wire_options,
        }
    }
}

#[derive(Serialize)]
struct WireOperation<'a> {
    operation: &'static str,
    request: WireItem<'a>,
}

#[derive(Serialize)]
struct WireTransaction<'a> {
    operations: Vec<WireOperation<'a>>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
}

#[derive(Serialize)]
struct WireBulkGet<'a> {
    keys: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("state key must not be empty".into()));
    }
    Ok(())
}

impl Client {
    fn state_url(&self, store: &str, rest: &str) -> Result<String, Error> {
        Ok(self.url(&format!(
            "/v1.0/state/{}{rest}",
            encode::segment("state store name", store)?
        )))
    }

    /// Reads `key`; `Ok(None)` if it does not exist (204).
    pub fn get_state(&self, store: &str, key: &str) -> Result<Option<StateEntry>, Error> {
        self.get_state_with(store, key, &GetStateOptions::default())
    }

    /// Reads `key` with a consistency mode and metadata.
    ///
    /// `GET /v1.0/state/{store}/{key}?consistency=…&metadata.k=v`.
    pub fn get_state_with(
        &self,
        store: &str,
        key: &str,
        options: &GetStateOptions,
    ) -> Result<Option<StateEntry>, Error> {
        let mut query = Query::default();
        if let Some(consistency) = options.consistency {
            query.push("consistency", consistency.as_str());
        }
        query.metadata(&options.metadata);
        let url = self.state_url(
            store,
            &format!("/{}{}", encode::segment("state key", key)?, query.finish()),
        )?;
        let reply = self.call(Request::get(url))?;
        if reply.status == 204 {
            return Ok(None);
        }
        Ok(Some(StateEntry {
            etag: reply.headers.get("etag").map(str::to_owned),
            metadata: reply.header_metadata(),
            value: reply.body,
        }))
    }

    /// Reads `key` and decodes it as JSON; `Ok(None)` if it does not exist.
    pub fn get_state_json<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
    ) -> Result<Option<T>, Error> {
        self.get_state(store, key)?
            .map(|entry| entry.json())
            .transpose()
    }

    /// Saves `key` = `value` (last write wins).
    ///
    /// The store keeps the JSON text of `value`: saving the string `"Death Star"` stores
    /// `"Death Star"` with its quotes.
    pub fn save_state(&self, store: &str, key: &str, value: impl Into<Value>) -> Result<(), Error> {
        self.save_bulk_state(store, &[SaveStateItem::new(key, value)])
    }

    /// Saves `key` = `value` with an ETag, concurrency, consistency or metadata.
    pub fn save_state_with(
        &self,
        store: &str,
        key: &str,
        value: impl Into<Value>,
        options: &StateOptions,
    ) -> Result<(), Error> {
        let item = SaveStateItem::new(key, value).options(options.clone());
        self.save_bulk_state(store, &[item])
    }

    /// Saves `key` = `value` serialised with serde.
    pub fn save_state_json<T: Serialize + ?Sized>(
        &self,
        store: &str,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.save_bulk_state(store, &[SaveStateItem::json(key, value)?])
    }

    /// Saves several items in one request.
    ///
    /// `POST /v1.0/state/{store}` with `[{key, value, etag?, metadata?, options?}]`; a
    /// conflicting ETag fails the call with an error whose
    /// [`is_etag_mismatch`](Error::is_etag_mismatch) is true.
    pub fn save_bulk_state(&self, store: &str, items: &[SaveStateItem]) -> Result<(), Error> {
        let mut wire = Vec::with_capacity(items.len());
        for item in items {
            check_key(&item.key)?;
            wire.push(WireItem::new(&item.key, Some(&item.value), &item.options));
        }
        let url = self.state_url(store, "")?;
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(to_json("state items", &wire)?);
        self.call(request)?;
        Ok(())
    }

    /// Reads several keys in one request; the answer is in key order.
    pub fn get_bulk_state(&self, store: &str, keys: &[&str]) -> Result<Vec<BulkStateItem>, Error> {
        self.get_bulk_state_with(store, keys, &GetBulkStateOptions::default())
    }

    /// Reads several keys with a parallelism and metadata.
    ///
    /// `POST /v1.0/state/{store}/bulk` with `{"keys":[…],"parallelism":N,"metadata":{…}}`.
    pub fn get_bulk_state_with(
        &self,
        store: &str,
        keys: &[&str],
        options: &GetBulkStateOptions,
    ) -> Result<Vec<BulkStateItem>, Error> {
        let body = WireBulkGet {
            keys,
            parallelism: options.parallelism,
            metadata: &options.metadata,
        };
        let request = Request::post(self.state_url(store, "/bulk")?)
            .header("content-type", "application/json")
            .body(to_json("bulk get request", &body)?);
        let reply = self.call(request)?;
        if reply.is_empty() {
            return Ok(Vec::new());
        }
        reply.json("bulk state")
    }

    /// Deletes `key` (no ETag check).
    pub fn delete_state(&self, store: &str, key: &str) -> Result<(), Error> {
        self.delete_state_with(store, key, &StateOptions::default())
    }

    /// Deletes `key` with an ETag (`If-Match`), concurrency, consistency or metadata.
    ///
    /// `DELETE /v1.0/state/{store}/{key}?concurrency=…&consistency=…&metadata.k=v`.
    pub fn delete_state_with(
        &self,
        store: &str,
        key: &str,
        options: &StateOptions,
    ) -> Result<(), Error> {
        let mut query = Query::default();
        if let Some(concurrency) = options.concurrency {
            query.push("concurrency", concurrency.as_str());
        }
        if let Some(consistency) = options.consistency {
            query.push("consistency", consistency.as_str());
        }
        query.metadata(&options.metadata);
        let url = self.state_url(
            store,
            &format!("/{}{}", encode::segment("state key", key)?, query.finish()),
        )?;
        let mut request = Request::delete(url);
        if let Some(etag) = &options.etag {
            request = request.header("If-Match", etag.as_str());
        }
        self.call(request)?;
        Ok(())
    }

    /// Applies upserts and deletes atomically (the store must be transactional).
    pub fn transact_state(&self, store: &str, operations: &[StateOperation]) -> Result<(), Error> {
        self.transact_state_with(store, operations, &Metadata::new())
    }

    /// Applies upserts and deletes atomically, with request metadata.
    ///
    /// `POST /v1.0/state/{store}/transaction` with
    /// `{"operations":[{"operation":"upsert"|"delete","request":{…}}],"metadata":{…}}`.
    pub fn transact_state_with(
        &self,
        store: &str,
        operations: &[StateOperation],
        metadata: &Metadata,
    ) -> Result<(), Error> {
        let mut wire = Vec::with_capacity(operations.len());
        for operation in operations {
            wire.push(match operation {
                StateOperation::Upsert(item) => {
                    check_key(&item.key)?;
                    WireOperation {
                        operation: "upsert",
                        request: WireItem::new(&item.key, Some(&item.value), &item.options),
                    }
                }
                StateOperation::Delete { key, options } => {
                    check_key(key)?;
                    WireOperation {
                        operation: "delete",
                        request: WireItem::new(key, None, options),
                    }
                }
            });
        }
        let body = WireTransaction {
            operations: wire,
            metadata,
        };
        let request = Request::post(self.state_url(store, "/transaction")?)
            .header("content-type", "application/json")
            .body(to_json("state transaction", &body)?);
        self.call(request)?;
        Ok(())
    }

    /// Queries the store (alpha API; the store must support queries).
    ///
    /// `query` is the query document, `{"filter":…,"sort":…,"page":{"limit","token"}}`.
    /// `POST /v1.0-alpha1/state/{store}/query`; no results (204) is an empty response.
    pub fn query_state<Q: Serialize + ?Sized>(
        &self,
        store: &str,
        query: &Q,
    ) -> Result<QueryResponse, Error> {
        self.query_state_with(store, query, &Metadata::new())
    }

    /// Queries the store with metadata (`metadata.k=v` query parameters).
    pub fn query_state_with<Q: Serialize + ?Sized>(
        &self,
        store: &str,
        query: &Q,
        metadata: &Metadata,
    ) -> Result<QueryResponse, Error> {
        let mut params = Query::default();
        params.metadata(metadata);
        let url = self.url(&format!(
            "/v1.0-alpha1/state/{}/query{}",
            encode::segment("state store name", store)?,
            params.finish()
        ));
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(to_json("state query", query)?);
        let reply = self.call(request)?;
        if reply.is_empty() {
            return Ok(QueryResponse::default());
        }
        reply.json("state query")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn get_state_request_and_etag() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[
                ("Content-Type", "application/json"),
                ("Etag", "a1b2"),
                ("Metadata.ttlexpiretime", "2030-01-01T00:00:00Z"),
            ],
            r#""Death Star""#,
        );
        let entry = rec
            .client()
            .get_state("statestore", "weapon")
            .unwrap()
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, "http://dapr:3500/v1.0/state/statestore/weapon");
        assert!(req.body.is_empty());
        assert_eq!(entry.value, br#""Death Star""#);
        assert_eq!(entry.etag.as_deref(), Some("a1b2"));
        assert_eq!(entry.metadata["ttlexpiretime"], "2030-01-01T00:00:00Z");
        assert_eq!(entry.json::<String>().unwrap(), "Death Star");
    }

    #[test]
    fn get_state_missing_is_none() {
        let rec = Recorder::default();
        rec.reply(204, &[], "");
        assert_eq!(rec.client().get_state("s", "nope").unwrap(), None);
        rec.reply(204, &[], "");
        assert_eq!(
            rec.client().get_state_json::<String>("s", "nope").unwrap(),
            None
        );
    }

    #[test]
    fn get_state_with_options_and_encoding() {
        let rec = Recorder::default();
        rec.reply(200, &[], "1");
        let options = GetStateOptions::default()
            .consistency(Consistency::Strong)
            .metadata("partitionKey", "p 1");
        rec.client()
            .get_state_with("my store", "a/b c?", &options)
            .unwrap();
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0/state/my%20store/a%2Fb%20c%3F?consistency=strong&metadata.partitionKey=p%201"
        );
    }

    #[test]
    fn get_state_json_decodes_and_reports_bad_json() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"name":"Tatooine","test":123}"#);
        let v: Value = rec
            .client()
            .get_state_json("s", "planets")
            .unwrap()
            .unwrap();
        assert_eq!(v, json!({"name":"Tatooine","test":123}));
        rec.reply(200, &[], "not json");
        let err = rec.client().get_state_json::<Value>("s", "k").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode {
                    what: "state value",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn get_state_error_is_typed() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[("content-type", "application/json")],
            r#"{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nope is not found","details":[]}"#,
        );
        let err = rec.client().get_state("nope", "k").unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.error_code(), Some("ERR_STATE_STORE_NOT_FOUND"));
    }

    #[test]
    fn empty_names_and_dot_keys_are_refused_before_sending() {
        let rec = Recorder::default();
        let c = rec.client();
        assert!(matches!(
            c.get_state("", "k"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.get_state("s", ""),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.get_state("s", ".."),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.save_state("s", "", 1),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.delete_state("s", "."),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            c.transact_state("s", &[StateOperation::delete("")]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(rec.requests().is_empty());
    }

    #[test]
    fn save_state_stores_json_text_of_a_string() {
        let rec = Recorder::default();
        rec.client()
            .save_state("statestore", "weapon", "Death Star")
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/state/statestore");
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            String::from_utf8(req.body).unwrap(),
            r#"[{"key":"weapon","value":"Death Star"}]"#
        );
    }

    #[test]
    fn save_state_with_all_options() {
        let rec = Recorder::default();
        let options = StateOptions::default()
            .etag("e-1")
            .concurrency(Concurrency::FirstWrite)
            .consistency(Consistency::Strong)
            .metadata("ttlInSeconds", "60");
        rec.client()
            .save_state_with("s", "k", json!({"a": 1}), &options)
            .unwrap();
        assert_eq!(
            body_json(&rec.single()),
            json!([{
                "key": "k",
                "value": {"a": 1},
                "etag": "e-1",
                "metadata": {"ttlInSeconds": "60"},
                "options": {"concurrency": "first-write", "consistency": "strong"}
            }])
        );
    }

    #[test]
    fn save_state_partial_options() {
        let rec = Recorder::default();
        let options = StateOptions::default().consistency(Consistency::Eventual);
        rec.client().save_state_with("s", "k", 5, &options).unwrap();
        assert_eq!(
            body_json(&rec.single()),
            json!([{"key": "k", "value": 5, "options": {"consistency": "eventual"}}])
        );
    }

    #[test]
    fn save_state_json_serialises_with_serde() {
        #[derive(Serialize)]
        struct Planet<'a> {
            name: &'a str,
            test: u32,
        }
        let rec = Recorder::default();
        rec.client()
            .save_state_json(
                "s",
                "planets",
                &Planet {
                    name: "Tatooine",
                    test: 123,
                },
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(rec.single().body).unwrap(),
            r#"[{"key":"planets","value":{"name":"Tatooine","test":123}}]"#
        );
    }

    #[test]
    fn save_bulk_state_sends_all_items() {
        let rec = Recorder::default();
        let items = [
            SaveStateItem::new("a", "x"),
            SaveStateItem::new("b", json!(null))
                .etag("7")
                .concurrency(Concurrency::LastWrite),
            SaveStateItem::new("c", 1.5).metadata("k", "v"),
        ];
        rec.client().save_bulk_state("s", &items).unwrap();
        assert_eq!(
            body_json(&rec.single()),
            json!([
                {"key": "a", "value": "x"},
                {"key": "b", "value": null, "etag": "7", "options": {"concurrency": "last-write"}},
                {"key": "c", "value": 1.5, "metadata": {"k": "v"}}
            ])
        );
    }

    #[test]
    fn save_etag_conflict_is_recognisable() {
        let rec = Recorder::default();
        rec.reply(
            409,
            &[],
            r#"{"errorCode":"ERR_STATE_SAVE","message":"failed saving state in state store s: possible etag mismatch. error from state store: <nil>"}"#,
        );
        let err = rec
            .client()
            .save_state_with("s", "k", 1, &StateOptions::default().etag("old"))
            .unwrap_err();
        assert!(err.is_etag_mismatch(), "{err:?}");
    }

    #[test]
    fn bulk_get_request_and_response() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[],
            r#"[{"key":"weapon","data":"Death Star","etag":"1"},
                {"key":"planets","data":{"name":"Tatooine","test":123},"etag":"2","metadata":{"m":"n"}},
                {"key":"missing"},
                {"key":"broken","error":"boom"}]"#,
        );
        let items = rec
            .client()
            .get_bulk_state("statestore", &["weapon", "planets", "missing", "broken"])
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/state/statestore/bulk");
        assert_eq!(
            body_json(&req),
            json!({"keys": ["weapon", "planets", "missing", "broken"]})
        );
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0].json::<String>().unwrap().as_deref(),
            Some("Death Star")
        );
        assert_eq!(items[1].data, Some(json!({"name":"Tatooine","test":123})));
        assert_eq!(items[1].etag.as_deref(), Some("2"));
        assert_eq!(items[1].metadata["m"], "n");
        assert_eq!(items[2].data, None);
        assert_eq!(items[2].json::<String>().unwrap(), None);
        assert_eq!(items[3].error.as_deref(), Some("boom"));
    }

    #[test]
    fn bulk_get_with_options() {
        let rec = Recorder::default();
        rec.reply(200, &[], "[]");
        let options = GetBulkStateOptions::default()
            .parallelism(4)
            .metadata("k", "v");
        rec.client()
            .get_bulk_state_with("s", &["a"], &options)
            .unwrap();
        assert_eq!(
            body_json(&rec.single()),
            json!({"keys": ["a"], "parallelism": 4, "metadata": {"k": "v"}})
        );
    }

    #[test]
    fn bulk_get_bad_response_is_decode_error() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"not":"an array"}"#);
        let err = rec.client().get_bulk_state("s", &["a"]).unwrap_err();
        assert!(matches!(
            err,
            Error::Decode {
                what: "bulk state",
                ..
            }
        ));
    }

    #[test]
    fn delete_plain() {
        let rec = Recorder::default();
        rec.client().delete_state("statestore", "weapon").unwrap();
        let req = rec.single();
        assert_eq!(req.method, "DELETE");
        assert_eq!(req.url, "http://dapr:3500/v1.0/state/statestore/weapon");
        assert!(!req.headers.contains("if-match"));
        assert!(req.body.is_empty());
    }

    #[test]
    fn delete_with_etag_and_options() {
        let rec = Recorder::default();
        let options = StateOptions::default()
            .etag("e 9")
            .concurrency(Concurrency::FirstWrite)
            .consistency(Consistency::Strong)
            .metadata("a", "b");
        rec.client().delete_state_with("s", "k", &options).unwrap();
        let req = rec.single();
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/state/s/k?concurrency=first-write&consistency=strong&metadata.a=b"
        );
        assert_eq!(req.headers.get("If-Match"), Some("e 9"));
    }

    #[test]
    fn delete_etag_conflict() {
        let rec = Recorder::default();
        rec.reply(409, &[], r#"{"errorCode":"ERR_STATE_DELETE","message":"failed deleting state with key k: possible etag mismatch"}"#);
        let err = rec
            .client()
            .delete_state_with("s", "k", &StateOptions::default().etag("x"))
            .unwrap_err();
        assert!(err.is_etag_mismatch());
    }

    #[test]
    fn transaction_body() {
        let rec = Recorder::default();
        let ops = [
            StateOperation::upsert("a", "x"),
            StateOperation::Upsert(SaveStateItem::new("b", 2).etag("3")),
            StateOperation::delete("c"),
            StateOperation::Delete {
                key: "d".into(),
                options: StateOptions::default()
                    .etag("4")
                    .concurrency(Concurrency::FirstWrite),
            },
        ];
        let mut md = Metadata::new();
        md.insert("partitionKey".into(), "p".into());
        rec.client().transact_state_with("s", &ops, &md).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/state/s/transaction");
        assert_eq!(
            body_json(&req),
            json!({
                "operations": [
                    {"operation": "upsert", "request": {"key": "a", "value": "x"}},
                    {"operation": "upsert", "request": {"key": "b", "value": 2, "etag": "3"}},
                    {"operation": "delete", "request": {"key": "c"}},
                    {"operation": "delete", "request": {"key": "d", "etag": "4", "options": {"concurrency": "first-write"}}}
                ],
                "metadata": {"partitionKey": "p"}
            })
        );
    }

    #[test]
    fn transaction_without_metadata_omits_it() {
        let rec = Recorder::default();
        rec.client().transact_state("s", &[]).unwrap();
        assert_eq!(body_json(&rec.single()), json!({"operations": []}));
    }

    #[test]
    fn transaction_etag_mismatch() {
        let rec = Recorder::default();
        rec.reply(500, &[], r#"{"errorCode":"ERR_STATE_TRANSACTION","message":"error while executing state transaction: possible etag mismatch. error from state store: <nil>"}"#);
        let err = rec
            .client()
            .transact_state("s", &[StateOperation::delete("k")])
            .unwrap_err();
        assert!(err.is_etag_mismatch());
    }

    #[test]
    fn query_request_and_response() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[],
            r#"{"results":[{"key":"a","data":{"city":"x"},"etag":"1"}],"token":"t2"}"#,
        );
        let query = json!({"filter": {"EQ": {"city": "x"}}, "page": {"limit": 1}});
        let mut md = Metadata::new();
        md.insert("contentType".into(), "application/json".into());
        let resp = rec.client().query_state_with("s", &query, &md).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0-alpha1/state/s/query?metadata.contentType=application%2Fjson"
        );
        assert_eq!(body_json(&req), query);
        assert_eq!(resp.results.len(), 1);
        assert_eq!(resp.results[0].key, "a");
        assert_eq!(resp.results[0].data, Some(json!({"city": "x"})));
        assert_eq!(resp.token.as_deref(), Some("t2"));
    }

    #[test]
    fn query_no_results_is_empty() {
        let rec = Recorder::default();
        rec.reply(204, &[], "");
        let resp = rec.client().query_state("s", &json!({})).unwrap();
        assert_eq!(resp, QueryResponse::default());
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0-alpha1/state/s/query"
        );
    }

    #[test]
    fn query_not_supported_error() {
        let rec = Recorder::default();
        rec.reply(500, &[], r#"{"errorCode":"ERR_STATE_STORE_NOT_SUPPORTED","message":"state store s doesn't support query"}"#);
        let err = rec.client().query_state("s", &json!({})).unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_STATE_STORE_NOT_SUPPORTED"));
    }
}
