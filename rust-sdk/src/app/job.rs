//! Jobs on the app side: the `POST /job/<name>` daprd sends when a scheduled job triggers.

use serde::de::DeserializeOwned;

use super::Error;
use crate::http::Headers;

/// A triggered job, as daprd posts it to `/job/<name>`: the body is the job's `data`
/// JSON (`"hello"` with its quotes, `123`, `{"a":1}`).
///
/// daprd counts any 2xx (and 404) as done; anything else is a failure and the job's
/// failure policy decides whether it is triggered again (daprd's default: every 1 s,
/// 3 retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// The job's name.
    pub name: String,
    /// The trigger's headers (`content-type`, `traceparent`, ...).
    pub headers: Headers,
    /// The body: the job's data as JSON text.
    pub data: Vec<u8>,
}

impl JobEvent {
    /// The data decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.data).map_err(Error::DataNotJson)
    }

    /// The body as UTF-8 text (the JSON text of the data).
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.data).map_err(|_| Error::DataNotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn data_accessors() {
        let ev = JobEvent {
            name: "report".into(),
            headers: Headers::new(),
            data: br#"{"task":"report"}"#.to_vec(),
        };
        assert_eq!(ev.json::<Value>().unwrap(), json!({"task": "report"}));
        assert_eq!(ev.text().unwrap(), r#"{"task":"report"}"#);
        let string = JobEvent {
            data: br#""hello""#.to_vec(),
            ..ev.clone()
        };
        assert_eq!(string.json::<String>().unwrap(), "hello");
        let bad = JobEvent {
            data: vec![0xff],
            ..ev
        };
        assert!(matches!(bad.text(), Err(Error::DataNotUtf8)));
        assert!(matches!(bad.json::<Value>(), Err(Error::DataNotJson(_))));
    }
}
