//! Virtual actors, the caller's side: invoke actor methods, actor state, reminders, timers.
//!
//! The calls and what daprd answers:
//!
//! | call | daprd | success |
//! |---|---|---|
//! | [`Client::invoke_actor`] | `{VERB} /v1.0/actors/{type}/{id}/method/{method}` | the actor's 200 |
//! | [`Client::get_actor_state`] | `GET /v1.0/actors/{type}/{id}/state/{key}` | 200 bytes, 204 missing |
//! | [`Client::transact_actor_state`] | `POST /v1.0/actors/{type}/{id}/state`, a bare JSON array | 204 |
//! | [`Client::create_actor_reminder`] | `POST /v1.0/actors/{type}/{id}/reminders/{name}` | 204 |
//! | [`Client::get_actor_reminder`] | `GET …/reminders/{name}` | 200, 404 missing |
//! | [`Client::delete_actor_reminder`] | `DELETE …/reminders/{name}` | 204 (also when missing) |
//! | [`Client::create_actor_timer`] | `POST /v1.0/actors/{type}/{id}/timers/{name}` | 204 |
//! | [`Client::delete_actor_timer`] | `DELETE …/timers/{name}` | 204 |
//!
//! daprd's failures are [`Error::Dapr`], with these codes among others:
//!
//! | status | `errorCode` | when |
//! |---|---|---|
//! | 400 | `ERR_ACTOR_NO_PLACEMENT` | no placement service configured |
//! | 400 | `ERR_ACTOR_INSTANCE_MISSING` | a state transaction for an actor not active on this host ([`Error::is_actor_instance_missing`]) |
//! | 400 | `ERR_BAD_REQUEST` | a type, id or name with `# ? / \`, NUL or control characters |
//! | 400 | `ERR_MALFORMED_REQUEST` | a body daprd cannot decode |
//! | 403 | `ERR_ACTOR_REMINDER_NON_HOSTED` | a reminder for a type this app does not host |
//! | 403 | `ERR_ACTOR_TYPE_RESERVED` | state, reminders or timers of a workflow actor type |
//! | 409 | `ERR_ACTOR_REMINDER_ALREADY_EXISTS` | a reminder that exists, created with `overwrite: false` |
//! | 500 | `ERR_ACTOR_INVOKE_METHOD` | the call failed: the type is hosted nowhere, or the actor answered something else than 200 (`error from actor service: (<status>) <body>`) |
//! | 500 | `ERR_ACTOR_STACK_DEPTH` | a reentrant call chain deeper than `maxStackDepth` (may arrive as `ERR_ACTOR_INVOKE_METHOD`) |
//! | 500 | `ERR_ACTOR_RUNTIME_NOT_FOUND` | no state store has `actorStateStore: "true"` |
//! | 500 | `ERR_ACTOR_STATE_GET`, `ERR_ACTOR_STATE_TRANSACTION_SAVE` | the actor state store failed (or a bad operation) |
//! | 500 | `ERR_ACTOR_REMINDER_CREATE`, `ERR_ACTOR_REMINDER_GET`, `ERR_ACTOR_REMINDER_DELETE`, `ERR_ACTOR_TIMER_CREATE` | bad times (`P1D` periods, neither due time nor period, …) or a scheduler failure |
//! | 503 | `ERR_ACTOR_RUNTIME_CLOSED` | the sidecar is shutting down |
//!
//! An error the actor itself raised on purpose (Dapr's actor-error protocol, answered
//! with `X-DaprErrorResponseHeader`) is [`Error::Actor`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::encode::{self, Query};
use super::{Client, Error, Metadata, error, from_object, to_json, to_value};
use crate::http::{self, Headers, Request};

/// The header that carries a reentrant call chain's id (`Dapr-Reentrancy-Id`).
///
/// daprd adds it to the calls it makes to an actor of a type with reentrancy enabled;
/// nested actor calls that carry it again enter the same chain instead of queueing
/// behind it. See [`Client::with_reentrancy_id`].
pub const REENTRANCY_ID_HEADER: &str = "Dapr-Reentrancy-Id";

/// The header by which an actor marks its answer as an actor error
/// (`X-DaprErrorResponseHeader`, any value; daprd matches it case-insensitively).
///
/// daprd only honours it on a 200 answer: it then passes the actor's body and headers to
/// the caller, still with status 200. A non-200 answer is always turned into daprd's own
/// 500 `ERR_ACTOR_INVOKE_METHOD`.
pub const ACTOR_ERROR_HEADER: &str = "X-DaprErrorResponseHeader";

/// The header in which this SDK's actors send the status of an actor error
/// (`X-Wasi-Dapr-Actor-Status`), since the HTTP status through daprd is always 200.
///
/// [`Error::Actor`] takes its `status` from it.
pub const ACTOR_ERROR_STATUS_HEADER: &str = "X-Wasi-Dapr-Actor-Status";

/// A call of an actor method, for [`Client::invoke_actor_with`].
///
/// The verb defaults to `PUT`, which is what daprd sends the actor whatever the
/// caller's verb; `GET`, `POST` and `DELETE` are accepted too.
///
/// ```
/// use wasi_dapr_sdk::dapr::ActorInvokeRequest;
///
/// let request = ActorInvokeRequest::new("BankAccount", "alice", "deposit")
///     .json(&serde_json::json!({"amount": 100}))
///     .unwrap()
///     .query("audit", "yes");
/// assert_eq!(request.verb, "PUT");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorInvokeRequest {
    /// The actor type, e.g. `BankAccount`.
    pub actor_type: String,
    /// The actor id, e.g. `alice`.
    pub actor_id: String,
    /// The method name.
    pub method: String,
    /// The HTTP verb sent to daprd (`PUT` unless changed).
    pub verb: String,
    /// Query parameters, in order; daprd passes the query string to the actor.
    pub query: Vec<(String, String)>,
    /// Headers passed to the actor.
    pub headers: Headers,
    /// The body, passed through unchanged.
    pub body: Vec<u8>,
}

impl ActorInvokeRequest {
    /// A `PUT` of `method` on the actor `actor_type`/`actor_id`, without a body.
    pub fn new(
        actor_type: impl Into<String>,
        actor_id: impl Into<String>,
        method: impl Into<String>,
    ) -> Self {
        ActorInvokeRequest {
            actor_type: actor_type.into(),
            actor_id: actor_id.into(),
            method: method.into(),
            verb: "PUT".to_owned(),
            query: Vec::new(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Sets the verb (`GET`, `POST`, `PUT` or `DELETE`).
    pub fn verb(mut self, verb: impl Into<String>) -> Self {
        self.verb = verb.into();
        self
    }

    /// Appends a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Appends a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets `Dapr-Reentrancy-Id` (a [`Client::with_reentrancy_id`] wins over it).
    pub fn reentrancy_id(mut self, id: impl Into<String>) -> Self {
        self.headers.set(REENTRANCY_ID_HEADER, id);
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.set("content-type", content_type);
        self.body = body.into();
        self
    }

    /// Sets a JSON body (`application/json`).
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = to_json("actor invoke body", value)?;
        Ok(self.body("application/json", body))
    }
}

/// An actor method's answer (status 200, the actor's headers and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorResponse {
    /// The status code (200 from daprd).
    pub status: u16,
    /// The actor's headers.
    pub headers: Headers,
    /// The actor's body.
    pub body: Vec<u8>,
}

impl ActorResponse {
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::Http(http::Error::BodyNotUtf8))
    }

    /// The body decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            what: "actor method",
            source,
        })
    }
}

/// One operation of [`Client::transact_actor_state`].
///
/// ```
/// use wasi_dapr_sdk::dapr::ActorStateOperation;
///
/// let ops = [
///     ActorStateOperation::upsert("balance", 100).ttl_in_seconds(60),
///     ActorStateOperation::delete("pending"),
/// ];
/// assert_eq!(ops[1].key(), "pending");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ActorStateOperation {
    /// `upsert`: store `value` (any JSON) under `key`.
    Upsert {
        /// The key.
        key: String,
        /// The value, stored as its JSON text.
        value: Value,
        /// Request metadata, e.g. `ttlInSeconds` (daprd's `ActorStateTTL` feature).
        metadata: Metadata,
    },
    /// `delete`: remove `key`.
    Delete {
        /// The key.
        key: String,
    },
}

impl ActorStateOperation {
    /// An upsert of `key` = `value` without metadata.
    pub fn upsert(key: impl Into<String>, value: impl Into<Value>) -> Self {
        ActorStateOperation::Upsert {
            key: key.into(),
            value: value.into(),
            metadata: Metadata::new(),
        }
    }

    /// An upsert of `key` = `value` serialised as JSON.
    pub fn upsert_json<T: Serialize + ?Sized>(
        key: impl Into<String>,
        value: &T,
    ) -> Result<Self, Error> {
        Ok(Self::upsert(key, to_value("actor state value", value)?))
    }

    /// A delete of `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        ActorStateOperation::Delete { key: key.into() }
    }

    /// Adds request metadata to an upsert (a delete carries none: unchanged).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let ActorStateOperation::Upsert { metadata, .. } = &mut self {
            metadata.insert(key.into(), value.into());
        }
        self
    }

    /// Expires an upsert after `seconds` (metadata `ttlInSeconds`; daprd needs its
    /// `ActorStateTTL` feature for it, else answers 500).
    pub fn ttl_in_seconds(self, seconds: u64) -> Self {
        self.metadata("ttlInSeconds", seconds.to_string())
    }

    /// The key.
    pub fn key(&self) -> &str {
        match self {
            ActorStateOperation::Upsert { key, .. } | ActorStateOperation::Delete { key } => key,
        }
    }

    /// `{"operation":"upsert"|"delete","request":{"key",…}}`.
    fn to_json(&self) -> Value {
        match self {
            ActorStateOperation::Upsert {
                key,
                value,
                metadata,
            } => {
                let mut request = Map::new();
                request.insert("key".into(), json!(key));
                request.insert("value".into(), value.clone());
                if !metadata.is_empty() {
                    request.insert("metadata".into(), json!(metadata));
                }
                json!({"operation": "upsert", "request": request})
            }
            ActorStateOperation::Delete { key } => {
                json!({"operation": "delete", "request": {"key": key}})
            }
        }
    }
}

/// A reminder to create with [`Client::create_actor_reminder`]: durable, delivered to
/// the actor's reminder handler until deleted or out of repetitions. Unset fields are
/// not sent.
///
/// Set a `due_time`, a `period`, or both (daprd refuses neither).
///
/// ```
/// use wasi_dapr_sdk::dapr::ReminderRequest;
///
/// let reminder = ReminderRequest::new()
///     .due_time("1s")
///     .period("R5/PT1S") // five times, every second
///     .data(serde_json::json!({"ratePercent": 10}));
/// assert_eq!(reminder.to_json()["period"], "R5/PT1S");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReminderRequest {
    /// `dueTime`: the first delivery: a Go duration (`1s`, `1m30s`), ISO 8601 (`PT1S`)
    /// or an RFC 3339 time. Unset: at once.
    pub due_time: Option<String>,
    /// `period`: the interval after that: a Go duration, ISO 8601 (`PT1S`), or ISO 8601
    /// with repetitions (`R5/PT1S`: five deliveries in all). Unset: delivered once.
    /// Periods in days, months or years (`P1D`) are refused by daprd 1.15+.
    pub period: Option<String>,
    /// `ttl`: when it stops, as `due_time` (needs a `period`).
    pub ttl: Option<String>,
    /// `data`: any JSON, delivered as is (raw JSON, not base64) with each reminder.
    pub data: Option<Value>,
    /// `overwrite`: replace a reminder of the same name. Unset: daprd's default, `true`;
    /// `false` makes an existing one a 409 `ERR_ACTOR_REMINDER_ALREADY_EXISTS`.
    pub overwrite: Option<bool>,
}

impl ReminderRequest {
    /// An empty reminder; set at least a due time or a period.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `dueTime`.
    pub fn due_time(mut self, due_time: impl Into<String>) -> Self {
        self.due_time = Some(due_time.into());
        self
    }

    /// Sets `period`.
    pub fn period(mut self, period: impl Into<String>) -> Self {
        self.period = Some(period.into());
        self
    }

    /// Sets `ttl`.
    pub fn ttl(mut self, ttl: impl Into<String>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// Sets `data` to a JSON value.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets `data` to `value` serialised as JSON.
    pub fn data_json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        Ok(self.data(to_value("reminder data", value)?))
    }

    /// Sets `overwrite`.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = Some(overwrite);
        self
    }

    /// The body daprd reads: `{"dueTime","period","ttl","data","overwrite"}`, unset
    /// fields left out.
    pub fn to_json(&self) -> Value {
        let mut body = times(&self.due_time, &self.period, &self.ttl);
        if let Some(data) = &self.data {
            body.insert("data".into(), data.clone());
        }
        if let Some(overwrite) = self.overwrite {
            body.insert("overwrite".into(), json!(overwrite));
        }
        Value::Object(body)
    }
}

/// A timer to create with [`Client::create_actor_timer`]: kept in memory by the
/// sidecar hosting the actor (gone when the actor deactivates), delivered to the
/// actor's timer callback named `callback`. Unset fields are not sent.
///
/// ```
/// use wasi_dapr_sdk::dapr::TimerRequest;
///
/// let timer = TimerRequest::new("tick").due_time("0s").period("5s");
/// assert_eq!(timer.to_json()["callback"], "tick");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimerRequest {
    /// `callback`: the timer callback that handles it (see
    /// [`ActorBuilder::timer_callback`](crate::app::ActorBuilder::timer_callback)).
    pub callback: String,
    /// `dueTime`, as [`ReminderRequest::due_time`]. Unset: at once.
    pub due_time: Option<String>,
    /// `period`, as [`ReminderRequest::period`]. Unset: fires once.
    pub period: Option<String>,
    /// `ttl`, as [`ReminderRequest::ttl`].
    pub ttl: Option<String>,
    /// `data`: any JSON, delivered raw with each tick.
    pub data: Option<Value>,
}

impl TimerRequest {
    /// A timer handled by the callback `callback`, firing at once and only once unless
    /// a due time or period is set.
    pub fn new(callback: impl Into<String>) -> Self {
        TimerRequest {
            callback: callback.into(),
            ..Self::default()
        }
    }

    /// Sets `dueTime`.
    pub fn due_time(mut self, due_time: impl Into<String>) -> Self {
        self.due_time = Some(due_time.into());
        self
    }

    /// Sets `period`.
    pub fn period(mut self, period: impl Into<String>) -> Self {
        self.period = Some(period.into());
        self
    }

    /// Sets `ttl`.
    pub fn ttl(mut self, ttl: impl Into<String>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// Sets `data` to a JSON value.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets `data` to `value` serialised as JSON.
    pub fn data_json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        Ok(self.data(to_value("timer data", value)?))
    }

    /// The body daprd reads: `{"dueTime","period","ttl","callback","data"}`, unset
    /// fields (and an empty callback) left out.
    pub fn to_json(&self) -> Value {
        let mut body = times(&self.due_time, &self.period, &self.ttl);
        if !self.callback.is_empty() {
            body.insert("callback".into(), json!(self.callback));
        }
        if let Some(data) = &self.data {
            body.insert("data".into(), data.clone());
        }
        Value::Object(body)
    }
}

/// `dueTime`, `period` and `ttl`, those that are set.
fn times(
    due_time: &Option<String>,
    period: &Option<String>,
    ttl: &Option<String>,
) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, value) in [("dueTime", due_time), ("period", period), ("ttl", ttl)] {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    body
}

/// A reminder as [`Client::get_actor_reminder`] returns it; daprd leaves out empty
/// fields.
///
/// With the Scheduler (Dapr 1.15+), `period` comes back as the job's schedule
/// (`R5/PT1S` reads `@every 1s`), and `ttl` only when it was an RFC 3339 time.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorReminder {
    /// `actorID`.
    #[serde(default, rename = "actorID", alias = "actorId")]
    pub actor_id: Option<String>,
    /// `actorType`.
    #[serde(default)]
    pub actor_type: Option<String>,
    /// `data`, the JSON the reminder was created with.
    #[serde(default)]
    pub data: Option<Value>,
    /// `dueTime`.
    #[serde(default)]
    pub due_time: Option<String>,
    /// `period`.
    #[serde(default)]
    pub period: Option<String>,
    /// `ttl`.
    #[serde(default)]
    pub ttl: Option<String>,
}

impl ActorReminder {
    /// Decodes daprd's `GET …/reminders/{name}` answer.
    pub fn parse(body: &[u8]) -> Result<ActorReminder, Error> {
        from_object("actor reminder", body)
    }
}

impl Client {
    /// Carries `Dapr-Reentrancy-Id: <id>` on every actor call of this client (invoke,
    /// state, reminders, timers), so that nested calls join the caller's reentrant call
    /// chain. The [`ActorContext`](crate::app::ActorContext) of a turn sets it from the
    /// incoming call.
    pub fn with_reentrancy_id(mut self, id: impl Into<String>) -> Self {
        self.reentrancy_id = Some(id.into());
        self
    }

    /// The `Dapr-Reentrancy-Id` this client's actor calls carry, if any.
    pub fn reentrancy_id(&self) -> Option<&str> {
        self.reentrancy_id.as_deref()
    }

    /// `address/v1.0/actors/{type}/{id}{rest}`, type and id percent-encoded.
    fn actor_url(&self, actor_type: &str, actor_id: &str, rest: &str) -> Result<String, Error> {
        Ok(self.url(&format!(
            "/v1.0/actors/{}/{}{rest}",
            encode::segment("actor type", actor_type)?,
            encode::segment("actor id", actor_id)?,
        )))
    }

    /// Adds the reentrancy id, if this client has one.
    fn actor_request(&self, mut request: Request) -> Request {
        if let Some(id) = &self.reentrancy_id {
            request.headers.set(REENTRANCY_ID_HEADER, id.clone());
        }
        request
    }

    /// Calls `method` on the actor `actor_type`/`actor_id` with `body` (a `PUT`; a
    /// body that is not empty is sent as `application/json`); see
    /// [`Client::invoke_actor_with`].
    pub fn invoke_actor(
        &self,
        actor_type: &str,
        actor_id: &str,
        method: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<ActorResponse, Error> {
        let body = body.into();
        let mut request = ActorInvokeRequest::new(actor_type, actor_id, method);
        if !body.is_empty() {
            request = request.body("application/json", body);
        }
        self.invoke_actor_with(&request)
    }

    /// Calls an actor method: `{VERB} /v1.0/actors/{type}/{id}/method/{method}?{query}`,
    /// each path segment percent-encoded.
    ///
    /// daprd activates the actor if needed and waits for its turn. A 2xx from the
    /// actor is `Ok`. An actor error is [`Error::Actor`]: a 2xx answer with
    /// `X-DaprErrorResponseHeader` (its status from `X-Wasi-Dapr-Actor-Status` when the
    /// actor is served by this SDK), or a non-2xx answer whose body is not daprd's error
    /// JSON. daprd's own failures are [`Error::Dapr`], e.g. 500 `ERR_ACTOR_INVOKE_METHOD`
    /// when the actor answered anything but 200 or the type is hosted nowhere.
    pub fn invoke_actor_with(&self, request: &ActorInvokeRequest) -> Result<ActorResponse, Error> {
        let mut query = Query::default();
        for (key, value) in &request.query {
            query.push(key, value);
        }
        let rest = format!(
            "/method/{}{}",
            encode::segment("actor method", &request.method)?,
            query.finish()
        );
        let url = self.actor_url(&request.actor_type, &request.actor_id, &rest)?;
        let mut http_request = Request::new(request.verb.as_str(), url).body(request.body.clone());
        http_request.headers = request.headers.clone();
        let reply = self.execute(self.actor_request(http_request))?;
        if reply.is_success() && !reply.headers.contains(ACTOR_ERROR_HEADER) {
            return Ok(ActorResponse {
                status: reply.status,
                headers: reply.headers,
                body: reply.body,
            });
        }
        if !reply.is_success()
            && let err @ (Error::Dapr { .. } | Error::Unauthorized { .. }) =
                error::from_response(reply.status, &reply.body)
        {
            return Err(err);
        }
        let status = reply
            .headers
            .get(ACTOR_ERROR_STATUS_HEADER)
            .and_then(|s| s.trim().parse::<u16>().ok())
            .unwrap_or(reply.status);
        Err(Error::Actor {
            status,
            headers: reply.headers,
            body: reply.body,
        })
    }

    /// Reads the actor's state `key`: the stored bytes (JSON text), `None` when there is
    /// none (daprd's 204).
    pub fn get_actor_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let rest = format!("/state/{}", encode::segment("actor state key", key)?);
        let url = self.actor_url(actor_type, actor_id, &rest)?;
        let reply = self.call(self.actor_request(Request::get(url)))?;
        Ok((!reply.is_empty()).then_some(reply.body))
    }

    /// Reads the actor's state `key` decoded from JSON; `None` when there is none.
    pub fn get_actor_state_json<T: DeserializeOwned>(
        &self,
        actor_type: &str,
        actor_id: &str,
        key: &str,
    ) -> Result<Option<T>, Error> {
        self.get_actor_state(actor_type, actor_id, key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
                    what: "actor state",
                    source,
                })
            })
            .transpose()
    }

    /// Applies upserts and deletes to the actor's state atomically: `POST
    /// /v1.0/actors/{type}/{id}/state` with a bare array,
    /// `[{"operation":"upsert","request":{"key","value","metadata"?}},{"operation":"delete","request":{"key"}}]`.
    ///
    /// daprd only accepts it for an actor active on its host (else 400
    /// `ERR_ACTOR_INSTANCE_MISSING`): call it from the actor's own turn. An empty key is
    /// refused before sending.
    pub fn transact_actor_state(
        &self,
        actor_type: &str,
        actor_id: &str,
        operations: &[ActorStateOperation],
    ) -> Result<(), Error> {
        if operations.iter().any(|op| op.key().is_empty()) {
            return Err(Error::InvalidArgument(
                "actor state key must not be empty".into(),
            ));
        }
        let body: Vec<Value> = operations
            .iter()
            .map(ActorStateOperation::to_json)
            .collect();
        let url = self.actor_url(actor_type, actor_id, "/state")?;
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(to_json("actor state transaction", &body)?);
        self.call(self.actor_request(request))?;
        Ok(())
    }

    fn reminder_url(&self, actor_type: &str, actor_id: &str, name: &str) -> Result<String, Error> {
        let rest = format!("/reminders/{}", encode::segment("reminder name", name)?);
        self.actor_url(actor_type, actor_id, &rest)
    }

    fn timer_url(&self, actor_type: &str, actor_id: &str, name: &str) -> Result<String, Error> {
        let rest = format!("/timers/{}", encode::segment("timer name", name)?);
        self.actor_url(actor_type, actor_id, &rest)
    }

    /// Creates (or, unless `overwrite` is `false`, replaces) the reminder `name` of the
    /// actor: `POST /v1.0/actors/{type}/{id}/reminders/{name}`.
    ///
    /// daprd refuses a type this app does not host (403 `ERR_ACTOR_REMINDER_NON_HOSTED`).
    pub fn create_actor_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
        reminder: &ReminderRequest,
    ) -> Result<(), Error> {
        let request = Request::post(self.reminder_url(actor_type, actor_id, name)?)
            .header("content-type", "application/json")
            .body(to_json("actor reminder", &reminder.to_json())?);
        self.call(self.actor_request(request))?;
        Ok(())
    }

    /// Reads the reminder `name`; `None` when there is none (daprd's 404
    /// `ERR_ACTOR_REMINDER_NOT_FOUND`, also once a reminder ran out of repetitions).
    pub fn get_actor_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<Option<ActorReminder>, Error> {
        let url = self.reminder_url(actor_type, actor_id, name)?;
        let reply = self.execute(self.actor_request(Request::get(url)))?;
        if reply.is_success() {
            return ActorReminder::parse(&reply.body).map(Some);
        }
        match error::from_response(reply.status, &reply.body) {
            Error::Dapr { error_code, .. } if error_code == "ERR_ACTOR_REMINDER_NOT_FOUND" => {
                Ok(None)
            }
            err => Err(err),
        }
    }

    /// Deletes the reminder `name` (fine when there is none).
    pub fn delete_actor_reminder(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), Error> {
        let url = self.reminder_url(actor_type, actor_id, name)?;
        self.call(self.actor_request(Request::delete(url)))?;
        Ok(())
    }

    /// Creates (or replaces) the timer `name` of the actor: `POST
    /// /v1.0/actors/{type}/{id}/timers/{name}`.
    pub fn create_actor_timer(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
        timer: &TimerRequest,
    ) -> Result<(), Error> {
        let request = Request::post(self.timer_url(actor_type, actor_id, name)?)
            .header("content-type", "application/json")
            .body(to_json("actor timer", &timer.to_json())?);
        self.call(self.actor_request(request))?;
        Ok(())
    }

    /// Deletes the timer `name` (fine when there is none).
    pub fn delete_actor_timer(
        &self,
        actor_type: &str,
        actor_id: &str,
        name: &str,
    ) -> Result<(), Error> {
        let url = self.timer_url(actor_type, actor_id, name)?;
        self.call(self.actor_request(Request::delete(url)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn invoke_puts_to_the_method_path() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[("content-type", "application/json")],
            r#"{"balance":5}"#,
        );
        let resp = rec
            .client()
            .invoke_actor("BankAccount", "alice smith", "deposit", r#"{"amount":5}"#)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "PUT");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/actors/BankAccount/alice%20smith/method/deposit"
        );
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(req.body, br#"{"amount":5}"#);
        assert!(!req.headers.contains(REENTRANCY_ID_HEADER));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json::<Value>().unwrap(), json!({"balance": 5}));
        assert_eq!(resp.text().unwrap(), r#"{"balance":5}"#);
    }

    #[test]
    fn invoke_without_body_sends_no_content_type() {
        let rec = Recorder::default();
        rec.reply(200, &[], "");
        rec.client().invoke_actor("T", "1", "get", "").unwrap();
        let req = rec.single();
        assert!(!req.headers.contains("content-type"));
        assert!(req.body.is_empty());
    }

    #[test]
    fn invoke_with_verb_query_and_headers() {
        let rec = Recorder::default();
        rec.reply(200, &[], "ok");
        let request = ActorInvokeRequest::new("T", "a/b", "m x")
            .verb("GET")
            .query("q", "1 2")
            .header("x-trace", "7");
        rec.client().invoke_actor_with(&request).unwrap();
        let req = rec.single();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/actors/T/a%2Fb/method/m%20x?q=1%202"
        );
        assert_eq!(req.headers.get("x-trace"), Some("7"));
    }

    #[test]
    fn invoke_refuses_empty_segments() {
        let rec = Recorder::default();
        let c = rec.client();
        for (t, i, m) in [
            ("", "1", "m"),
            ("T", "", "m"),
            ("T", "1", ""),
            ("T", "..", "m"),
        ] {
            let err = c.invoke_actor(t, i, m, "").unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        }
        assert!(rec.requests().is_empty());
    }

    #[test]
    fn invoke_daprd_errors_are_dapr_errors() {
        let rec = Recorder::default();
        rec.reply(
            500,
            &[],
            r#"{"errorCode":"ERR_ACTOR_INVOKE_METHOD","message":"error invoke actor method: error from actor service: (404) no such method"}"#,
        );
        let err = rec.client().invoke_actor("T", "1", "m", "").unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.error_code(), Some("ERR_ACTOR_INVOKE_METHOD"));
    }

    #[test]
    fn invoke_actor_error_header_is_an_actor_error() {
        // daprd's protocol: 200 plus X-DaprErrorResponseHeader; the SDK's status header.
        let rec = Recorder::default();
        rec.reply(
            200,
            &[
                ("X-Daprerrorresponseheader", "true"),
                ("X-Wasi-Dapr-Actor-Status", "409"),
                ("content-type", "application/json"),
            ],
            r#"{"error":"insufficient funds"}"#,
        );
        let err = rec
            .client()
            .invoke_actor("T", "1", "withdraw", "{}")
            .unwrap_err();
        let Error::Actor {
            status,
            headers,
            body,
        } = &err
        else {
            panic!("expected an actor error, got {err:?}");
        };
        assert_eq!(*status, 409);
        assert_eq!(headers.get("content-type"), Some("application/json"));
        assert_eq!(body, br#"{"error":"insufficient funds"}"#);
        assert_eq!(err.status(), Some(409));
        assert_eq!(
            err.to_string(),
            r#"actor error 409: {"error":"insufficient funds"}"#
        );
        // Another SDK's actor error: no status header, the HTTP status stays.
        let rec = Recorder::default();
        rec.reply(200, &[("x-daprerrorresponseheader", "")], "boom");
        let err = rec.client().invoke_actor("T", "1", "m", "").unwrap_err();
        assert!(matches!(err, Error::Actor { status: 200, .. }), "{err:?}");
    }

    #[test]
    fn invoke_passed_through_status_is_an_actor_error() {
        // A sidecar that passes the actor's own non-2xx status and body through.
        let rec = Recorder::default();
        rec.reply(
            409,
            &[("X-DaprErrorResponseHeader", "true")],
            r#"{"error":"no"}"#,
        );
        let err = rec.client().invoke_actor("T", "1", "m", "").unwrap_err();
        assert!(
            matches!(&err, Error::Actor { status: 409, body, .. } if body == br#"{"error":"no"}"#),
            "{err:?}"
        );
        assert_eq!(err.error_code(), None);
    }

    #[test]
    fn reentrancy_id_is_sent_on_actor_calls() {
        let rec = Recorder::default();
        rec.reply(200, &[], "").reply(204, &[], "");
        let c = rec.client().with_reentrancy_id("chain-1");
        assert_eq!(c.reentrancy_id(), Some("chain-1"));
        c.invoke_actor_with(&ActorInvokeRequest::new("T", "1", "m").reentrancy_id("other"))
            .unwrap();
        c.get_actor_state("T", "1", "k").unwrap();
        c.delete_actor_timer("T", "1", "t").unwrap();
        assert_eq!(rec.requests().len(), 3);
        for req in rec.requests() {
            assert_eq!(
                req.headers
                    .get_all(REENTRANCY_ID_HEADER)
                    .collect::<Vec<_>>(),
                ["chain-1"],
                "{req:?}"
            );
        }
    }

    #[test]
    fn get_state_200_is_bytes_204_is_none() {
        let rec = Recorder::default();
        rec.reply(200, &[("content-type", "application/json")], "7000")
            .reply(204, &[], "");
        let c = rec.client();
        assert_eq!(
            c.get_actor_state("BankAccount", "alice", "balance")
                .unwrap(),
            Some(b"7000".to_vec())
        );
        assert_eq!(
            c.get_actor_state("BankAccount", "alice", "none").unwrap(),
            None
        );
        let reqs = rec.requests();
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(
            reqs[0].url,
            "http://dapr:3500/v1.0/actors/BankAccount/alice/state/balance"
        );
    }

    #[test]
    fn get_state_json_decodes() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"n":1}"#)
            .reply(200, &[], "not json");
        let c = rec.client();
        assert_eq!(
            c.get_actor_state_json::<Value>("T", "1", "k").unwrap(),
            Some(json!({"n": 1}))
        );
        assert!(matches!(
            c.get_actor_state_json::<Value>("T", "1", "k"),
            Err(Error::Decode { .. })
        ));
        assert_eq!(
            c.get_actor_state_json::<Value>("T", "1", "k").unwrap(),
            None
        );
    }

    #[test]
    fn transaction_body_is_a_bare_array() {
        let rec = Recorder::default();
        let ops = [
            ActorStateOperation::upsert("balance", 7000),
            ActorStateOperation::upsert_json("profile", &json!({"name": "Alice"}))
                .unwrap()
                .ttl_in_seconds(60),
            ActorStateOperation::delete("pending").ttl_in_seconds(5),
        ];
        rec.client()
            .transact_actor_state("BankAccount", "alice", &ops)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/actors/BankAccount/alice/state"
        );
        assert_eq!(req.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            body_json(&req),
            json!([
                {"operation": "upsert", "request": {"key": "balance", "value": 7000}},
                {"operation": "upsert", "request": {"key": "profile", "value": {"name": "Alice"},
                                                   "metadata": {"ttlInSeconds": "60"}}},
                {"operation": "delete", "request": {"key": "pending"}},
            ])
        );
    }

    #[test]
    fn transaction_errors() {
        let rec = Recorder::default();
        let c = rec.client();
        assert!(matches!(
            c.transact_actor_state("T", "1", &[ActorStateOperation::delete("")]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(rec.requests().is_empty());
        rec.reply(
            400,
            &[],
            r#"{"errorCode":"ERR_ACTOR_INSTANCE_MISSING","message":"actor instance is missing"}"#,
        );
        let err = c
            .transact_actor_state("T", "1", &[ActorStateOperation::delete("k")])
            .unwrap_err();
        assert!(err.is_actor_instance_missing(), "{err:?}");
        assert_eq!(err.status(), Some(400));
    }

    #[test]
    fn reminder_body_has_raw_json_data_and_repeats() {
        let rec = Recorder::default();
        let reminder = ReminderRequest::new()
            .due_time("1s")
            .period("R5/PT1S")
            .ttl("1h")
            .data_json(&json!({"ratePercent": 10}))
            .unwrap()
            .overwrite(false);
        rec.client()
            .create_actor_reminder("BankAccount", "alice", "interest", &reminder)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "http://dapr:3500/v1.0/actors/BankAccount/alice/reminders/interest"
        );
        assert_eq!(
            body_json(&req),
            json!({"dueTime": "1s", "period": "R5/PT1S", "ttl": "1h",
                   "data": {"ratePercent": 10}, "overwrite": false})
        );
        assert_eq!(
            ReminderRequest::new().period("PT1S").to_json(),
            json!({"period": "PT1S"})
        );
    }

    #[test]
    fn reminder_conflict_is_a_dapr_error() {
        let rec = Recorder::default();
        rec.reply(
            409,
            &[],
            r#"{"errorCode":"ERR_ACTOR_REMINDER_ALREADY_EXISTS","message":"reminder already exists"}"#,
        );
        let err = rec
            .client()
            .create_actor_reminder("T", "1", "r", &ReminderRequest::new().overwrite(false))
            .unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_ACTOR_REMINDER_ALREADY_EXISTS"));
        assert_eq!(err.status(), Some(409));
    }

    #[test]
    fn get_reminder_decodes_daprd_fields() {
        let rec = Recorder::default();
        rec.reply(
            200,
            &[("content-type", "application/json")],
            r#"{"actorID":"alice","actorType":"BankAccount","data":{"ratePercent":10},"dueTime":"1s","period":"@every 1s"}"#,
        );
        let reminder = rec
            .client()
            .get_actor_reminder("BankAccount", "alice", "interest")
            .unwrap()
            .expect("a reminder");
        assert_eq!(rec.single().method, "GET");
        assert_eq!(reminder.actor_id.as_deref(), Some("alice"));
        assert_eq!(reminder.actor_type.as_deref(), Some("BankAccount"));
        assert_eq!(reminder.data, Some(json!({"ratePercent": 10})));
        assert_eq!(reminder.due_time.as_deref(), Some("1s"));
        assert_eq!(reminder.period.as_deref(), Some("@every 1s"));
        assert_eq!(reminder.ttl, None);
        assert!(matches!(
            ActorReminder::parse(b"[]"),
            Err(Error::Decode { .. })
        ));
        assert_eq!(
            ActorReminder::parse(b"{}").unwrap(),
            ActorReminder::default()
        );
    }

    #[test]
    fn get_reminder_404_is_none() {
        let rec = Recorder::default();
        rec.reply(
            404,
            &[],
            r#"{"errorCode":"ERR_ACTOR_REMINDER_NOT_FOUND","message":"actor reminder not found: interest"}"#,
        );
        assert_eq!(
            rec.client()
                .get_actor_reminder("T", "1", "interest")
                .unwrap(),
            None
        );
        // Anything else is an error: a plain 404 (no such route) and daprd's 403.
        rec.reply(404, &[], "404 page not found").reply(
            403,
            &[],
            r#"{"errorCode":"ERR_ACTOR_REMINDER_NON_HOSTED","message":"x"}"#,
        );
        let c = rec.client();
        assert!(matches!(
            c.get_actor_reminder("T", "1", "r"),
            Err(Error::UnexpectedStatus { status: 404, .. })
        ));
        assert_eq!(
            c.get_actor_reminder("T", "1", "r")
                .unwrap_err()
                .error_code(),
            Some("ERR_ACTOR_REMINDER_NON_HOSTED")
        );
    }

    #[test]
    fn delete_reminder_and_timer() {
        let rec = Recorder::default();
        let c = rec.client();
        c.delete_actor_reminder("T", "1", "interest").unwrap();
        c.delete_actor_timer("T", "1", "tick tock").unwrap();
        let reqs = rec.requests();
        assert_eq!(reqs[0].method, "DELETE");
        assert_eq!(
            reqs[0].url,
            "http://dapr:3500/v1.0/actors/T/1/reminders/interest"
        );
        assert_eq!(reqs[1].method, "DELETE");
        assert_eq!(
            reqs[1].url,
            "http://dapr:3500/v1.0/actors/T/1/timers/tick%20tock"
        );
        assert!(matches!(
            c.delete_actor_timer("T", "1", ""),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn timer_body() {
        let rec = Recorder::default();
        let timer = TimerRequest::new("tick")
            .due_time("0s")
            .period("5s")
            .ttl("1m")
            .data(json!("hello"));
        rec.client()
            .create_actor_timer("T", "1", "heartbeat", &timer)
            .unwrap();
        let req = rec.single();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0/actors/T/1/timers/heartbeat");
        assert_eq!(
            body_json(&req),
            json!({"dueTime": "0s", "period": "5s", "ttl": "1m", "callback": "tick", "data": "hello"})
        );
        assert_eq!(TimerRequest::new("").to_json(), json!({}));
        assert_eq!(
            TimerRequest::new("cb")
                .data_json(&[1, 2])
                .unwrap()
                .to_json(),
            json!({"callback": "cb", "data": [1, 2]})
        );
    }
}
