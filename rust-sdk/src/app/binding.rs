//! Input bindings on the app side: the events daprd posts to `/<binding name>`.

use serde::de::DeserializeOwned;

use super::Error;
use crate::http::Headers;

/// An event from an input binding (e.g. a cron tick or a queue message).
///
/// daprd first probes `OPTIONS /<name>` (the [`App`](super::App) answers 200, so the
/// binding counts as subscribed), then posts each event's bytes to `/<name>`. Binding
/// metadata arrives as headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingEvent {
    /// The binding's component name.
    pub name: String,
    /// The delivery's headers (binding metadata, `content-type`, ...).
    pub headers: Headers,
    /// The event's bytes.
    pub data: Vec<u8>,
}

impl BindingEvent {
    /// The data as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.data).map_err(|_| Error::DataNotUtf8)
    }

    /// The data decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.data).map_err(Error::DataNotJson)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_accessors() {
        let ev = BindingEvent {
            name: "tick".into(),
            headers: [("Timestamp", "now")].into_iter().collect(),
            data: br#"{"n":1}"#.to_vec(),
        };
        assert_eq!(ev.text().unwrap(), r#"{"n":1}"#);
        assert_eq!(ev.json::<serde_json::Value>().unwrap()["n"], 1);
        assert_eq!(ev.header("timestamp"), Some("now"));
        let bad = BindingEvent {
            data: vec![0xff],
            ..ev
        };
        assert!(matches!(bad.text(), Err(Error::DataNotUtf8)));
        assert!(matches!(
            bad.json::<serde_json::Value>(),
            Err(Error::DataNotJson(_))
        ));
    }
}
