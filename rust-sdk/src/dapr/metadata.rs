//! Sidecar metadata, health checks, waiting for the sidecar, and shutdown.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::encode;
use super::{Client, Error};
use crate::http::{self, Request};

/// How often [`Client::wait_for_sidecar`] polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What `GET /v1.0/metadata` returns (fields the sidecar omits are empty).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarMetadata {
    /// The app id.
    #[serde(default)]
    pub id: String,
    /// The runtime version.
    #[serde(default)]
    pub runtime_version: String,
    /// The loaded components.
    #[serde(default)]
    pub components: Vec<ComponentMetadata>,
    /// The app's subscriptions, as daprd reports them.
    #[serde(default)]
    pub subscriptions: Vec<Value>,
    /// Attributes set with [`Client::set_metadata`].
    #[serde(default)]
    pub extended: BTreeMap<String, String>,
    /// How daprd reaches the app, as daprd reports it.
    #[serde(default)]
    pub app_connection_properties: Option<Value>,
}

/// One loaded component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ComponentMetadata {
    /// The component name, e.g. `statestore`.
    #[serde(default)]
    pub name: String,
    /// The component type, e.g. `state.redis`.
    #[serde(default, rename = "type")]
    pub component_type: String,
    /// The component version, e.g. `v1`.
    #[serde(default)]
    pub version: String,
    /// The component's capabilities, e.g. `ETAG`, `TRANSACTIONAL`.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl Client {
    /// Reads the sidecar's metadata: app id, components, subscriptions, attributes.
    pub fn get_metadata(&self) -> Result<SidecarMetadata, Error> {
        let reply = self.call(Request::get(self.url("/v1.0/metadata")))?;
        if reply.is_empty() {
            return Ok(SidecarMetadata::default());
        }
        reply.json("metadata")
    }

    /// Sets the custom attribute `key` to `value` (`PUT /v1.0/metadata/{key}`).
    pub fn set_metadata(&self, key: &str, value: &str) -> Result<(), Error> {
        let url = self.url(&format!(
            "/v1.0/metadata/{}",
            encode::segment("metadata key", key)?
        ));
        self.call(Request::put(url).body(value))?;
        Ok(())
    }

    /// Whether the sidecar is healthy (`GET /v1.0/healthz` answers 204).
    pub fn healthz(&self) -> Result<(), Error> {
        self.call(Request::get(self.url("/v1.0/healthz")))?;
        Ok(())
    }

    /// Whether the sidecar is ready for the app's calls (`GET /v1.0/healthz/outbound`).
    pub fn healthz_outbound(&self) -> Result<(), Error> {
        self.call(Request::get(self.url("/v1.0/healthz/outbound")))?;
        Ok(())
    }

    /// Polls [`healthz_outbound`](Client::healthz_outbound) until it succeeds or `timeout`
    /// has passed.
    ///
    /// Fails at once, without waiting, when retrying cannot help: the destination is not
    /// allowed, the URL is invalid, or there is no HTTP import (native builds). Otherwise
    /// returns [`Error::SidecarNotReady`] with the last error after `timeout`.
    pub fn wait_for_sidecar(&self, timeout: Duration) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            let error = match self.healthz_outbound() {
                Ok(()) => return Ok(()),
                Err(
                    error @ Error::Http(
                        http::Error::DestinationNotAllowed
                        | http::Error::InvalidUrl
                        | http::Error::RuntimeError,
                    ),
                ) => return Err(error),
                Err(error) => error,
            };
            let waited = start.elapsed();
            let Some(left) = timeout.checked_sub(waited).filter(|left| !left.is_zero()) else {
                return Err(Error::SidecarNotReady {
                    waited,
                    last: Box::new(error),
                });
            };
            std::thread::sleep(left.min(POLL_INTERVAL));
        }
    }

    /// Asks the sidecar to shut down (`POST /v1.0/shutdown`).
    pub fn shutdown(&self) -> Result<(), Error> {
        self.call(Request::post(self.url("/v1.0/shutdown")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::Recorder;

    #[test]
    fn get_metadata_parses_and_ignores_unknown_fields() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[],
            r#"{"id":"app1","runtimeVersion":"1.15.0","components":[{"name":"statestore","type":"state.in-memory","version":"v1","capabilities":["ETAG","TRANSACTIONAL"]}],"extended":{"a":"b"},"actorRuntime":{},"appConnectionProperties":{"port":8080}}"#,
        );
        let md = rec.client().get_metadata().unwrap();
        let req = rec.single();
        assert_eq!(
            (req.method.as_str(), req.url.as_str()),
            ("GET", "http://dapr:3500/v1.0/metadata")
        );
        assert_eq!(md.id, "app1");
        assert_eq!(md.runtime_version, "1.15.0");
        assert_eq!(md.components[0].component_type, "state.in-memory");
        assert_eq!(md.components[0].capabilities, ["ETAG", "TRANSACTIONAL"]);
        assert_eq!(md.extended["a"], "b");
        assert!(md.subscriptions.is_empty());
        assert_eq!(md.app_connection_properties, Some(json!({"port": 8080})));
    }

    #[test]
    fn set_metadata() {
        let rec = Recorder::default();
        rec.client().set_metadata("my key", "v").unwrap();
        let req = rec.single();
        assert_eq!(req.method, "PUT");
        assert_eq!(req.url, "http://dapr:3500/v1.0/metadata/my%20key");
        assert_eq!(req.body, b"v");
    }

    #[test]
    fn health_and_shutdown_urls() {
        let rec = Recorder::default();
        let c = rec.client();
        c.healthz().unwrap();
        c.healthz_outbound().unwrap();
        c.shutdown().unwrap();
        let got: Vec<_> = rec
            .requests()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect();
        assert_eq!(
            got,
            [
                "GET http://dapr:3500/v1.0/healthz",
                "GET http://dapr:3500/v1.0/healthz/outbound",
                "POST http://dapr:3500/v1.0/shutdown",
            ]
        );
    }

    #[test]
    fn healthz_not_ready() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"ERR_HEALTH_NOT_READY","message":"dapr is not ready"}"#,
        );
        assert_eq!(
            rec.client().healthz().unwrap_err().error_code(),
            Some("ERR_HEALTH_NOT_READY")
        );
    }

    #[test]
    fn wait_for_sidecar_retries_until_ready() {
        let rec = Recorder::default();
        rec.fail(http::Error::RequestError);
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"ERR_HEALTH_NOT_READY","message":"x"}"#,
        );
        rec.reply(204, &[], "");
        rec.client()
            .wait_for_sidecar(Duration::from_secs(10))
            .unwrap();
        let requests = rec.requests();
        assert_eq!(requests.len(), 3);
        assert!(
            requests
                .iter()
                .all(|r| r.url == "http://dapr:3500/v1.0/healthz/outbound")
        );
    }

    #[test]
    fn wait_for_sidecar_times_out_with_last_error() {
        let rec = Recorder::default();
        for _ in 0..100 {
            rec.fail(http::Error::RequestError);
        }
        let err = rec
            .client()
            .wait_for_sidecar(Duration::from_millis(150))
            .unwrap_err();
        let Error::SidecarNotReady { waited, last } = err else {
            panic!("expected SidecarNotReady, got {err:?}");
        };
        assert!(waited >= Duration::from_millis(150));
        assert!(matches!(*last, Error::Http(http::Error::RequestError)));
        assert!(rec.requests().len() >= 2);
    }

    #[test]
    fn wait_for_sidecar_gives_up_at_once_when_denied() {
        let rec = Recorder::default();
        rec.fail(http::Error::DestinationNotAllowed);
        let err = rec
            .client()
            .wait_for_sidecar(Duration::from_secs(60))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Http(http::Error::DestinationNotAllowed)
        ));
        assert_eq!(rec.requests().len(), 1);
    }
}
