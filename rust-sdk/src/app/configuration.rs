//! Configuration updates on the app side: `POST /configuration/<store>/<key>`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Error;
use crate::dapr::ConfigurationItem;

/// A change to subscribed configuration items, as daprd posts it to
/// `/configuration/<store>/<key>` after
/// [`Client::subscribe_configuration`](crate::dapr::Client::subscribe_configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationUpdate {
    /// The configuration store (from the path).
    pub store: String,
    /// The key in the path.
    pub key: String,
    /// The subscription id.
    pub id: String,
    /// The changed items, by key.
    pub items: BTreeMap<String, ConfigurationItem>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    id: String,
    #[serde(default)]
    items: Option<BTreeMap<String, ConfigurationItem>>,
}

impl ConfigurationUpdate {
    /// Decodes the body `{"id":"…","items":{"key":{"value","version","metadata"}}}`.
    pub fn parse(store: &str, key: &str, body: &[u8]) -> Result<ConfigurationUpdate, Error> {
        // Through a map first: a derived struct would also accept a JSON array.
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(Error::BodyNotJson)?;
        let wire: Wire = serde_json::from_value(serde_json::Value::Object(object))
            .map_err(Error::BodyNotJson)?;
        Ok(ConfigurationUpdate {
            store: store.to_owned(),
            key: key.to_owned(),
            id: wire.id,
            items: wire.items.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_update() {
        let body = br#"{"id":"sub-1","items":{"color":{"value":"blue","version":"2","metadata":{"a":"b"}},"size":{"value":"L"}}}"#;
        let u = ConfigurationUpdate::parse("configstore", "color", body).unwrap();
        assert_eq!(u.store, "configstore");
        assert_eq!(u.key, "color");
        assert_eq!(u.id, "sub-1");
        assert_eq!(u.items.len(), 2);
        assert_eq!(u.items["color"].value, "blue");
        assert_eq!(u.items["color"].version, "2");
        assert_eq!(u.items["color"].metadata["a"], "b");
        assert_eq!(u.items["size"].version, "");
        let u = ConfigurationUpdate::parse("s", "k", br#"{"items":null}"#).unwrap();
        assert!(u.items.is_empty());
        assert_eq!(u.id, "");
    }

    #[test]
    fn bad_bodies_are_errors() {
        for body in [&b"not json"[..], b"[]", br#"{"items":[1]}"#] {
            assert!(matches!(
                ConfigurationUpdate::parse("s", "k", body),
                Err(Error::BodyNotJson(_))
            ));
        }
    }
}
