//! Configuration: get items, subscribe to and unsubscribe from updates.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::encode::{self, Query};
use super::{Client, Error, Metadata};
use crate::http::Request;

/// One configuration item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ConfigurationItem {
    /// The value.
    #[serde(default)]
    pub value: String,
    /// The version, if the store has versions.
    #[serde(default)]
    pub version: String,
    /// Item metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Deserialize)]
struct SubscribeReply {
    id: String,
}

#[derive(Deserialize)]
struct UnsubscribeReply {
    #[serde(default)]
    ok: bool,
}

fn keys_query(keys: &[&str], metadata: &Metadata) -> String {
    let mut query = Query::default();
    for key in keys {
        query.push("key", key);
    }
    query.metadata(metadata);
    query.finish()
}

impl Client {
    /// Reads configuration items; an empty `keys` asks for every item.
    pub fn get_configuration(
        &self,
        store: &str,
        keys: &[&str],
    ) -> Result<BTreeMap<String, ConfigurationItem>, Error> {
        self.get_configuration_with(store, keys, &Metadata::new())
    }

    /// Reads configuration items with metadata.
    ///
    /// `GET /v1.0/configuration/{store}?key=a&key=b&metadata.k=v` →
    /// `{"a":{"value","version","metadata"}}`; none (204) is an empty map.
    pub fn get_configuration_with(
        &self,
        store: &str,
        keys: &[&str],
        metadata: &Metadata,
    ) -> Result<BTreeMap<String, ConfigurationItem>, Error> {
        let url = self.url(&format!(
            "/v1.0/configuration/{}{}",
            encode::segment("configuration store name", store)?,
            keys_query(keys, metadata)
        ));
        let reply = self.call(Request::get(url))?;
        if reply.is_empty() {
            return Ok(BTreeMap::new());
        }
        reply.json("configuration")
    }

    /// Subscribes to updates of `keys` (all if empty) and returns the subscription id.
    ///
    /// Updates are delivered to the app as `POST /configuration/{store}/{key}`.
    pub fn subscribe_configuration(&self, store: &str, keys: &[&str]) -> Result<String, Error> {
        let url = self.url(&format!(
            "/v1.0/configuration/{}/subscribe{}",
            encode::segment("configuration store name", store)?,
            keys_query(keys, &Metadata::new())
        ));
        let reply = self.call(Request::get(url))?;
        Ok(reply.json::<SubscribeReply>("configuration subscribe")?.id)
    }

    /// Ends a configuration subscription; returns Dapr's `ok`.
    pub fn unsubscribe_configuration(&self, store: &str, id: &str) -> Result<bool, Error> {
        let url = self.url(&format!(
            "/v1.0/configuration/{}/{}/unsubscribe",
            encode::segment("configuration store name", store)?,
            encode::segment("subscription id", id)?
        ));
        let reply = self.call(Request::get(url))?;
        Ok(reply
            .json::<UnsubscribeReply>("configuration unsubscribe")?
            .ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dapr::testing::Recorder;

    #[test]
    fn get_configuration_keys() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[],
            r#"{"a":{"value":"1","version":"v1","metadata":{"m":"n"}},"b c":{"value":"2"}}"#,
        );
        let items = rec
            .client()
            .get_configuration("config", &["a", "b c"])
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/configuration/config?key=a&key=b%20c"
        );
        assert_eq!(items["a"].value, "1");
        assert_eq!(items["a"].version, "v1");
        assert_eq!(items["a"].metadata["m"], "n");
        assert_eq!(items["b c"].value, "2");
        assert_eq!(items["b c"].version, "");
    }

    #[test]
    fn all_keys_with_metadata_and_empty_answer() {
        let rec = Recorder::default();
        rec.reply(204, &[], "");
        let mut md = Metadata::new();
        md.insert("label".into(), "prod".into());
        let items = rec
            .client()
            .get_configuration_with("config", &[], &md)
            .unwrap();
        assert!(items.is_empty());
        assert_eq!(
            rec.single().url,
            "http://dapr:3500/v1.0/configuration/config?metadata.label=prod"
        );
    }

    #[test]
    fn unknown_store() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[],
            r#"{"errorCode":"ERR_CONFIGURATION_STORE_NOT_FOUND","message":"x"}"#,
        );
        let err = rec.client().get_configuration("nope", &["a"]).unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_CONFIGURATION_STORE_NOT_FOUND"));
    }

    #[test]
    fn subscribe_and_unsubscribe() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"id":"sub-1"}"#);
        rec.reply(200, &[], r#"{"ok":true}"#);
        let c = rec.client();
        let id = c.subscribe_configuration("config", &["a"]).unwrap();
        assert_eq!(id, "sub-1");
        assert!(c.unsubscribe_configuration("config", &id).unwrap());
        let urls: Vec<_> = rec
            .requests()
            .into_iter()
            .map(|r| (r.method, r.url))
            .collect();
        assert_eq!(
            urls,
            [
                (
                    "GET".to_string(),
                    "http://dapr:3500/v1.0/configuration/config/subscribe?key=a".to_string()
                ),
                (
                    "GET".to_string(),
                    "http://dapr:3500/v1.0/configuration/config/sub-1/unsubscribe".to_string()
                ),
            ]
        );
    }
}
