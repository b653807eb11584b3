//! Secrets: one secret (which may have several keys) or every secret of a store.

use std::collections::BTreeMap;

use super::encode::{self, Query};
use super::{Client, Error, Metadata};
use crate::http::Request;

impl Client {
    /// Reads the secret `key` from `store`: a map of its keys to values (empty on 204).
    pub fn get_secret(&self, store: &str, key: &str) -> Result<BTreeMap<String, String>, Error> {
        self.get_secret_with(store, key, &Metadata::new())
    }

    /// Reads a secret with metadata (e.g. `version_id`, `namespace`).
    ///
    /// `GET /v1.0/secrets/{store}/{key}?metadata.k=v` → `{"key":"value"}`. An unknown
    /// store is a 401 `ERR_SECRET_STORE_NOT_FOUND` [`Error::Dapr`].
    pub fn get_secret_with(
        &self,
        store: &str,
        key: &str,
        metadata: &Metadata,
    ) -> Result<BTreeMap<String, String>, Error> {
        let mut query = Query::default();
        query.metadata(metadata);
        let url = self.url(&format!(
            "/v1.0/secrets/{}/{}{}",
            encode::segment("secret store name", store)?,
            encode::segment("secret key", key)?,
            query.finish()
        ));
        let reply = self.call(Request::get(url))?;
        if reply.is_empty() {
            return Ok(BTreeMap::new());
        }
        reply.json("secret")
    }

    /// Reads every secret of `store`: secret name → its keys and values.
    pub fn get_bulk_secret(
        &self,
        store: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
        self.get_bulk_secret_with(store, &Metadata::new())
    }

    /// Reads every secret of `store` with metadata.
    ///
    /// `GET /v1.0/secrets/{store}/bulk?metadata.k=v` → `{"name":{"key":"value"}}`.
    pub fn get_bulk_secret_with(
        &self,
        store: &str,
        metadata: &Metadata,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
        let mut query = Query::default();
        query.metadata(metadata);
        let url = self.url(&format!(
            "/v1.0/secrets/{}/bulk{}",
            encode::segment("secret store name", store)?,
            query.finish()
        ));
        let reply = self.call(Request::get(url))?;
        if reply.is_empty() {
            return Ok(BTreeMap::new());
        }
        reply.json("bulk secret")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dapr::testing::Recorder;

    #[test]
    fn get_secret() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"user":"admin","password":"p@ss"}"#);
        let secret = rec
            .client()
            .get_secret("local secrets", "db/creds")
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/secrets/local%20secrets/db%2Fcreds"
        );
        assert_eq!(secret["user"], "admin");
        assert_eq!(secret["password"], "p@ss");
    }

    #[test]
    fn get_secret_with_metadata_and_empty() {
        let rec = Recorder::default();
        rec.reply(204, &[], "");
        let mut md = Metadata::new();
        md.insert("version_id".into(), "2".into());
        let secret = rec.client().get_secret_with("s", "k", &md).unwrap();
        assert!(secret.is_empty());
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0/secrets/s/k?metadata.version_id=2"
        );
    }

    #[test]
    fn unknown_store_is_401_dapr_error() {
        let rec = Recorder::default();
        rec.reply(
            401,
            &[],
            r#"{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"failed finding secret store with key nope"}"#,
        );
        let err = rec.client().get_secret("nope", "k").unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.error_code(), Some("ERR_SECRET_STORE_NOT_FOUND"));
    }

    #[test]
    fn bulk_secret() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"a":{"a":"1"},"b":{"x":"2","y":"3"}}"#);
        let all = rec.client().get_bulk_secret("s").unwrap();
        assert_eq!(rec.single().url, "http://dapr:3500/v1.0/secrets/s/bulk");
        assert_eq!(all.len(), 2);
        assert_eq!(all["b"]["y"], "3");
    }

    #[test]
    fn bad_secret_shape_is_decode_error() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"a":1}"#);
        assert!(matches!(
            rec.client().get_secret("s", "k"),
            Err(Error::Decode { .. })
        ));
    }
}
