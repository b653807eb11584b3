//! A client for the Dapr sidecar's HTTP API (state, pub/sub, invocation, bindings, jobs,
//! actors, ...).

mod actors;
mod bindings;
mod configuration;
mod conversation;
mod encode;
mod error;
mod invoke;
mod jobs;
mod lock;
mod metadata;
mod pubsub;
mod secrets;
mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::http::{Headers, ImportTransport, Request, Transport};

pub use actors::{
    ACTOR_ERROR_HEADER, ACTOR_ERROR_STATUS_HEADER, ActorInvokeRequest, ActorReminder,
    ActorResponse, ActorStateOperation, REENTRANCY_ID_HEADER, ReminderRequest, TimerRequest,
};
pub use bindings::{BindingRequest, BindingResponse};
pub use configuration::ConfigurationItem;
pub use conversation::{
    Choice, ChoiceMessage, ConversationInput, ConversationOutput, ConversationRequest,
    ConversationResponse, Message, Tool, ToolCall, ToolChoice, Usage,
};
pub use error::Error;
pub use invoke::{InvokeRequest, InvokeResponse};
pub use jobs::{FailurePolicy, Job, JobRequest};
pub use lock::UnlockStatus;
pub use metadata::{ComponentMetadata, SidecarMetadata};
pub use pubsub::{BulkPublishEntry, Event, FailedEntry, PublishOptions};
pub use state::{
    BulkStateItem, Concurrency, Consistency, GetBulkStateOptions, GetStateOptions, QueryItem,
    QueryResponse, SaveStateItem, StateEntry, StateOperation, StateOptions,
};

/// Component metadata: sent as `metadata.<key>=<value>` query parameters or as a
/// `metadata` JSON object, depending on the call.
pub type Metadata = BTreeMap<String, String>;

/// The address used when neither `DAPR_HTTP_ENDPOINT` nor `DAPR_HTTP_PORT` is set.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:3500";

/// Resolves the sidecar address from environment variables, through `lookup`.
///
/// In this order, the first that is set and not blank wins:
/// 1. `DAPR_HTTP_ENDPOINT`, used as is (e.g. `http://dapr.internal:3500`), minus any
///    trailing `/`;
/// 2. `DAPR_HTTP_PORT`, as `http://127.0.0.1:<port>`;
/// 3. [`DEFAULT_ADDRESS`], `http://127.0.0.1:3500`.
///
/// [`Client::new`] calls this with the process environment; pass your own `lookup` to
/// resolve from elsewhere.
pub fn resolve_address(lookup: impl Fn(&str) -> Option<String>) -> String {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(endpoint) = get("DAPR_HTTP_ENDPOINT") {
        return endpoint.trim_end_matches('/').to_owned();
    }
    if let Some(port) = get("DAPR_HTTP_PORT") {
        return format!("http://127.0.0.1:{port}");
    }
    DEFAULT_ADDRESS.to_owned()
}

/// A client for the Dapr sidecar's HTTP API.
///
/// Every call is one blocking HTTP request through the host's import. A non-success
/// answer from Dapr becomes an [`Error`]; service invocation is the exception, where the
/// target app's 4xx and 5xx are returned as an [`InvokeResponse`].
///
/// ```no_run
/// use wasi_dapr_sdk::dapr::Client;
///
/// # fn main() -> Result<(), wasi_dapr_sdk::dapr::Error> {
/// let client = Client::new(); // DAPR_HTTP_ENDPOINT, else DAPR_HTTP_PORT, else :3500
/// client.save_state("statestore", "weapon", "Death Star")?;
/// let entry = client.get_state("statestore", "weapon")?;
/// assert_eq!(entry.map(|e| e.value), Some(br#""Death Star""#.to_vec()));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    address: String,
    api_token: Option<String>,
    /// `Dapr-Reentrancy-Id` for actor calls ([`Client::with_reentrancy_id`]).
    reentrancy_id: Option<String>,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("reentrancy_id", &self.reentrancy_id)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client for the sidecar named by the environment (see [`resolve_address`]),
    /// sending through the host's import.
    pub fn new() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Client::new`], resolving the address through `lookup` instead of the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Client {
            address: resolve_address(lookup),
            api_token: None,
            reentrancy_id: None,
            transport: Arc::new(ImportTransport),
        }
    }

    /// Uses `address` (e.g. `http://127.0.0.1:3501`) instead of the resolved one.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sends `dapr-api-token: <token>` with every request.
    ///
    /// Usually not needed: `wasi-dapr` adds the token for requests to the sidecar when
    /// `DAPR_API_TOKEN` is set in the host's environment, so the token never enters the
    /// module.
    pub fn with_api_token(mut self, token: impl Into<String>) -> Self {
        self.api_token = Some(token.into());
        self
    }

    /// Sends requests through `transport` instead of the host's import (for tests).
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// The sidecar address requests go to, without a trailing `/`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `address + path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request and reads the whole response, whatever its status.
    fn execute(&self, mut request: Request) -> Result<Reply, Error> {
        if let Some(token) = &self.api_token {
            request.headers.set("dapr-api-token", token.clone());
        }
        let response = self.transport.send(&request)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes()?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Like [`Client::execute`], turning a non-2xx status into an error.
    fn call(&self, request: Request) -> Result<Reply, Error> {
        let reply = self.execute(request)?;
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(error::from_response(reply.status, &reply.body))
        }
    }
}

/// A fully read response.
struct Reply {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl Reply {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether there is nothing to decode (204, or an empty body).
    fn is_empty(&self) -> bool {
        self.status == 204 || self.body.is_empty()
    }

    /// Decodes the body as JSON.
    fn json<T: DeserializeOwned>(&self, what: &'static str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode { what, source })
    }

    /// Collects `metadata.<key>` response headers (Dapr canonicalises their names).
    fn header_metadata(&self) -> Metadata {
        metadata_from_headers(&self.headers)
    }
}

fn metadata_from_headers(headers: &Headers) -> Metadata {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let (prefix, key) = (name.get(..9)?, name.get(9..)?);
            prefix
                .eq_ignore_ascii_case("metadata.")
                .then(|| (key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Decodes `body` as a JSON object into `T` (a JSON array is refused, though serde would
/// read one into a struct).
fn from_object<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|source| Error::Decode { what, source })?;
    if !value.is_object() {
        let source = <serde_json::Error as serde::de::Error>::custom(format!(
            "expected a JSON object, got {value}"
        ));
        return Err(Error::Decode { what, source });
    }
    serde_json::from_value(value).map_err(|source| Error::Decode { what, source })
}

/// Serialises `value` to JSON bytes.
fn to_json<T: serde::Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|source| Error::Encode { what, source })
}

/// Serialises `value` to a JSON value.
fn to_value<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|source| Error::Encode { what, source })
}

#[cfg(test)]
pub(crate) mod testing {
    //! A recording transport for unit tests.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::Client;
    use crate::http::{self, Headers, Request, Response, Transport};

    /// A queued answer: status, headers, body; or a transport error.
    type Canned = Result<(u16, Vec<(String, String)>, Vec<u8>), http::Error>;

    /// Records requests and answers them with queued responses (then 204s).
    #[derive(Clone, Default)]
    pub(crate) struct Recorder {
        requests: Arc<Mutex<Vec<Request>>>,
        replies: Arc<Mutex<VecDeque<Canned>>>,
    }

    impl Recorder {
        /// Queues a response.
        pub(crate) fn reply(&self, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
            let headers = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            self.replies
                .lock()
                .unwrap()
                .push_back(Ok((status, headers, body.as_bytes().to_vec())));
            self
        }

        /// Queues a transport error.
        pub(crate) fn fail(&self, error: http::Error) -> &Self {
            self.replies.lock().unwrap().push_back(Err(error));
            self
        }

        /// Every request sent so far.
        pub(crate) fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }

        /// The only request sent so far.
        pub(crate) fn single(&self) -> Request {
            let requests = self.requests();
            assert_eq!(requests.len(), 1, "{requests:#?}");
            requests.into_iter().next().unwrap()
        }

        /// A client at `http://dapr:3500` that sends through this recorder.
        pub(crate) fn client(&self) -> Client {
            Client::from_lookup(|_| None)
                .with_address("http://dapr:3500/")
                .with_transport(self.clone())
        }
    }

    impl Transport for Recorder {
        fn send(&self, request: &Request) -> Result<Response, http::Error> {
            self.requests.lock().unwrap().push(request.clone());
            match self.replies.lock().unwrap().pop_front() {
                Some(Ok((status, headers, body))) => {
                    Ok(Response::new(status, headers.into_iter().collect(), body))
                }
                Some(Err(error)) => Err(error),
                None => Ok(Response::new(204, Headers::new(), Vec::new())),
            }
        }
    }

    /// The request body as JSON.
    pub(crate) fn body_json(request: &Request) -> serde_json::Value {
        serde_json::from_slice(&request.body).expect("request body is JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Recorder;
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn address_defaults_to_3500() {
        assert_eq!(resolve_address(env(&[])), "http://127.0.0.1:3500");
        assert_eq!(resolve_address(env(&[])), DEFAULT_ADDRESS);
    }

    #[test]
    fn address_from_port() {
        assert_eq!(
            resolve_address(env(&[("DAPR_HTTP_PORT", "3601")])),
            "http://127.0.0.1:3601"
        );
    }

    #[test]
    fn endpoint_wins_over_port() {
        let vars = [
            ("DAPR_HTTP_PORT", "3601"),
            ("DAPR_HTTP_ENDPOINT", "https://dapr.example:443/"),
        ];
        assert_eq!(resolve_address(env(&vars)), "https://dapr.example:443");
    }

    #[test]
    fn blank_values_are_unset() {
        let vars = [("DAPR_HTTP_PORT", " 3601 "), ("DAPR_HTTP_ENDPOINT", "  ")];
        assert_eq!(resolve_address(env(&vars)), "http://127.0.0.1:3601");
        let vars = [("DAPR_HTTP_PORT", ""), ("DAPR_HTTP_ENDPOINT", "")];
        assert_eq!(resolve_address(env(&vars)), DEFAULT_ADDRESS);
    }

    #[test]
    fn client_builders() {
        let c = Client::from_lookup(env(&[("DAPR_HTTP_PORT", "1")]));
        assert_eq!(c.address(), "http://127.0.0.1:1");
        let c = c.with_address("http://x:2//");
        assert_eq!(c.address(), "http://x:2");
        let debug = format!("{:?}", c.with_api_token("secret"));
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn api_token_is_sent_when_configured() {
        let rec = Recorder::default();
        rec.client().with_api_token("t0k").healthz().unwrap();
        assert_eq!(rec.single().headers.get("dapr-api-token"), Some("t0k"));
        let rec = Recorder::default();
        rec.client().healthz().unwrap();
        assert!(!rec.single().headers.contains("dapr-api-token"));
    }

    #[test]
    fn native_client_without_transport_reports_runtime_error() {
        let err = Client::from_lookup(|_| None).healthz().unwrap_err();
        assert!(
            matches!(err, Error::Http(crate::http::Error::RuntimeError)),
            "{err:?}"
        );
    }

    #[test]
    fn header_metadata_is_collected() {
        let headers: Headers = [
            ("Metadata.ttlexpiretime", "2030"),
            ("etag", "1"),
            ("metadata.x", "y"),
            ("meta", "z"),
        ]
        .into_iter()
        .collect();
        let md = metadata_from_headers(&headers);
        assert_eq!(md.len(), 2);
        assert_eq!(md["ttlexpiretime"], "2030");
        assert_eq!(md["x"], "y");
    }
}
