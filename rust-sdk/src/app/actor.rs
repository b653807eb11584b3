//! Hosting virtual actors: the types an [`App`](super::App) registers, `GET /dapr/config`,
//! and the method, reminder, timer and deactivation calls daprd makes, one turn each.

use std::collections::BTreeMap;
use std::fmt;

use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{Error, HandlerResult, Request, Response};
use crate::dapr::{
    self, ACTOR_ERROR_HEADER, ACTOR_ERROR_STATUS_HEADER, ActorResponse, ActorStateOperation,
    Client, REENTRANCY_ID_HEADER, ReminderRequest, TimerRequest,
};
use crate::http::Headers;

/// What actor method handlers return: a [`Response`] (answered 200), or an
/// [`ActorError`].
pub type ActorResult = Result<Response, ActorError>;

pub(super) type MethodHandler = Box<dyn Fn(&mut ActorContext, &ActorRequest) -> ActorResult>;
pub(super) type ReminderHandler = Box<dyn Fn(&mut ActorContext, &ReminderEvent) -> HandlerResult>;
pub(super) type TimerHandler = Box<dyn Fn(&mut ActorContext, &TimerEvent) -> HandlerResult>;
pub(super) type DeactivateHandler = Box<dyn Fn(&mut ActorContext) -> HandlerResult>;

/// An actor method's failure.
///
/// - From any error (`?` on an [`Error`], a [`dapr::Error`], a `&str`, ...): the turn
///   answers 500 with the message (logged to stderr), which the caller gets as daprd's
///   500 `ERR_ACTOR_INVOKE_METHOD` ("error from actor service: (500) …").
/// - [`ActorError::with_status`] / [`ActorError::json`] / [`ActorError::response`]: an
///   error the caller should see as is (Dapr's actor-error protocol): answered **200**
///   with `X-DaprErrorResponseHeader: true`, the status in `X-Wasi-Dapr-Actor-Status`,
///   and the body; daprd passes body and headers to the caller, whose
///   [`Client::invoke_actor`] returns [`dapr::Error::Actor`] with that status.
///
/// Either way, nothing the turn wrote to the actor state is saved.
pub struct ActorError(Failure);

enum Failure {
    Failed(Box<dyn std::error::Error>),
    Answer(Response),
}

impl ActorError {
    /// An actor error with `status` and `body` (no `Content-Type`).
    pub fn with_status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        ActorError(Failure::Answer(Response::new(status).with_body(body)))
    }

    /// An actor error with `status` and `value` as an `application/json` body.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        ActorError(Failure::Answer(Response::json(value).with_status(status)))
    }

    /// An actor error answered as `response` (status, headers, body).
    pub fn response(response: Response) -> Self {
        ActorError(Failure::Answer(response))
    }

    /// The status the caller is meant to see: the actor error's, or 500.
    pub fn status(&self) -> u16 {
        match &self.0 {
            Failure::Failed(_) => 500,
            Failure::Answer(response) => response.status,
        }
    }

    /// The HTTP answer to daprd; a failure is logged as `<what> failed: <error>`.
    fn into_response(self, what: &str, log: &mut dyn FnMut(&str)) -> Response {
        match self.0 {
            Failure::Failed(e) => {
                log(&format!("{what} failed: {e}"));
                Response::text(format!("{what} failed: {e}")).with_status(500)
            }
            Failure::Answer(mut response) => {
                let status = response.status;
                response.headers.set(ACTOR_ERROR_HEADER, "true");
                response
                    .headers
                    .set(ACTOR_ERROR_STATUS_HEADER, status.to_string());
                response.with_status(200)
            }
        }
    }
}

impl<E: Into<Box<dyn std::error::Error>>> From<E> for ActorError {
    fn from(error: E) -> Self {
        ActorError(Failure::Failed(error.into()))
    }
}

impl fmt::Debug for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Failure::Failed(e) => f.debug_tuple("ActorError").field(&e.to_string()).finish(),
            Failure::Answer(r) => f.debug_tuple("ActorError").field(r).finish(),
        }
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Failure::Failed(e) => e.fmt(f),
            Failure::Answer(r) => write!(
                f,
                "actor error {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        }
    }
}

/// A call of an actor method, as daprd passes it on: `PUT
/// /actors/{type}/{id}/method/{method}` with the caller's headers, query and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRequest {
    /// The method name (percent-decoded).
    pub method: String,
    /// The caller's headers (lower-case names), with `dapr-reentrancy-id` when the
    /// type has reentrancy.
    pub headers: Headers,
    /// The raw query string, without the `?`.
    pub query: String,
    /// The caller's body.
    pub body: Vec<u8>,
}

impl ActorRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::BodyNotUtf8)
    }

    /// The body decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(Error::BodyNotJson)
    }
}

/// A reminder delivery: `PUT /actors/{type}/{id}/method/remind/{name}` with
/// `{"data":…,"dueTime":"…","period":"…"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderEvent {
    /// The reminder's name.
    pub name: String,
    /// The reminder's data, raw JSON as registered; `None` when it has none.
    pub data: Option<Value>,
    /// `dueTime` as daprd sends it (`""` with the Scheduler, Dapr 1.15+).
    pub due_time: String,
    /// `period` as daprd sends it (`""` with the Scheduler).
    pub period: String,
}

impl ReminderEvent {
    /// The data decoded into `T` (a missing data decodes from `null`).
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.data.clone().unwrap_or(Value::Null)).map_err(Error::DataNotJson)
    }
}

/// A timer tick: `PUT /actors/{type}/{id}/method/timer/{name}` with
/// `{"data":…,"callback":"…","dueTime":"…","period":"…"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerEvent {
    /// The timer's name.
    pub name: String,
    /// The callback it was created with (which handler gets it).
    pub callback: String,
    /// The timer's data, raw JSON; `None` when it has none.
    pub data: Option<Value>,
    /// `dueTime` as registered.
    pub due_time: String,
    /// `period` as registered.
    pub period: String,
}

impl TimerEvent {
    /// The data decoded into `T` (a missing data decodes from `null`).
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.data.clone().unwrap_or(Value::Null)).map_err(Error::DataNotJson)
    }
}

/// A key's state within one turn.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    /// As stored (read through once): the JSON bytes, `None` when absent.
    Stored(Option<Vec<u8>>),
    /// Written in this turn.
    Set(Value),
    /// Removed in this turn.
    Removed,
}

/// The actor's state within one turn: reads go to the sidecar once per key, then come
/// from the turn's cache; writes are buffered and saved in one
/// [`Client::transact_actor_state`] at the end of a successful turn.
pub struct ActorState {
    client: Client,
    actor_type: String,
    actor_id: String,
    slots: BTreeMap<String, Slot>,
}

impl fmt::Debug for ActorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorState")
            .field("actor_type", &self.actor_type)
            .field("actor_id", &self.actor_id)
            .field("keys", &self.slots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ActorState {
    /// The slot of `key`, read from the sidecar if this turn has not seen it.
    fn slot(&mut self, key: &str) -> Result<&Slot, dapr::Error> {
        if !self.slots.contains_key(key) {
            let stored = self
                .client
                .get_actor_state(&self.actor_type, &self.actor_id, key)?;
            self.slots.insert(key.to_owned(), Slot::Stored(stored));
        }
        self.slots
            .get(key)
            .ok_or_else(|| dapr::Error::InvalidArgument(format!("actor state key {key:?}")))
    }

    /// The value of `key` decoded from JSON; `None` when there is none.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, dapr::Error> {
        let decode = |source| dapr::Error::Decode {
            what: "actor state",
            source,
        };
        match self.slot(key)? {
            Slot::Stored(None) | Slot::Removed => Ok(None),
            Slot::Stored(Some(bytes)) => serde_json::from_slice(bytes).map(Some).map_err(decode),
            Slot::Set(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(decode),
        }
    }

    /// The JSON text of `key`; `None` when there is none.
    pub fn get_raw(&mut self, key: &str) -> Result<Option<Vec<u8>>, dapr::Error> {
        match self.slot(key)? {
            Slot::Stored(bytes) => Ok(bytes.clone()),
            Slot::Removed => Ok(None),
            Slot::Set(value) => {
                serde_json::to_vec(value)
                    .map(Some)
                    .map_err(|source| dapr::Error::Encode {
                        what: "actor state value",
                        source,
                    })
            }
        }
    }

    /// Whether `key` has a value.
    pub fn contains(&mut self, key: &str) -> Result<bool, dapr::Error> {
        Ok(match self.slot(key)? {
            Slot::Stored(bytes) => bytes.is_some(),
            Slot::Set(_) => true,
            Slot::Removed => false,
        })
    }

    /// Sets `key` to `value` (as JSON), saved at the end of the turn.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), dapr::Error> {
        if key.is_empty() {
            return Err(dapr::Error::InvalidArgument(
                "actor state key must not be empty".into(),
            ));
        }
        let value = serde_json::to_value(value).map_err(|source| dapr::Error::Encode {
            what: "actor state value",
            source,
        })?;
        self.slots.insert(key.to_owned(), Slot::Set(value));
        Ok(())
    }

    /// Removes `key`, at the end of the turn (nothing is sent for a key known to be
    /// absent).
    pub fn remove(&mut self, key: &str) {
        if self.slots.get(key) != Some(&Slot::Stored(None)) {
            self.slots.insert(key.to_owned(), Slot::Removed);
        }
    }

    /// The buffered writes, in key order.
    pub fn pending(&self) -> Vec<ActorStateOperation> {
        self.slots
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Set(value) => Some(ActorStateOperation::upsert(key, value.clone())),
                Slot::Removed => Some(ActorStateOperation::delete(key)),
                Slot::Stored(_) => None,
            })
            .collect()
    }

    /// Saves the buffered writes in one transaction (none sent when there are none).
    fn commit(&self) -> Result<(), dapr::Error> {
        let operations = self.pending();
        if operations.is_empty() {
            return Ok(());
        }
        self.client
            .transact_actor_state(&self.actor_type, &self.actor_id, &operations)
    }
}

/// One turn of one actor: who it is, its state, and a client for calls made from it.
pub struct ActorContext {
    actor_type: String,
    actor_id: String,
    client: Client,
    state: ActorState,
}

impl fmt::Debug for ActorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorContext")
            .field("actor_type", &self.actor_type)
            .field("actor_id", &self.actor_id)
            .field("reentrancy_id", &self.client.reentrancy_id())
            .finish_non_exhaustive()
    }
}

impl ActorContext {
    /// A turn of `actor_type`/`actor_id`, its sidecar calls sent with `client` (which
    /// carries the turn's reentrancy id, if any).
    pub(super) fn new(client: Client, actor_type: &str, actor_id: &str) -> Self {
        ActorContext {
            actor_type: actor_type.to_owned(),
            actor_id: actor_id.to_owned(),
            state: ActorState {
                client: client.clone(),
                actor_type: actor_type.to_owned(),
                actor_id: actor_id.to_owned(),
                slots: BTreeMap::new(),
            },
            client,
        }
    }

    /// The actor type.
    pub fn actor_type(&self) -> &str {
        &self.actor_type
    }

    /// The actor id.
    pub fn actor_id(&self) -> &str {
        &self.actor_id
    }

    /// The turn's `Dapr-Reentrancy-Id`, if the call had one.
    pub fn reentrancy_id(&self) -> Option<&str> {
        self.client.reentrancy_id()
    }

    /// The actor's state for this turn.
    pub fn state(&mut self) -> &mut ActorState {
        &mut self.state
    }

    /// The sidecar client: the app's (see
    /// [`App::actor_client`](super::App::actor_client)), carrying the turn's
    /// `Dapr-Reentrancy-Id` on its actor calls.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls `method` on another actor (or this one, re-entering when reentrancy is
    /// on); see [`Client::invoke_actor`].
    pub fn invoke_actor(
        &self,
        actor_type: &str,
        actor_id: &str,
        method: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<ActorResponse, dapr::Error> {
        self.client.invoke_actor(actor_type, actor_id, method, body)
    }

    /// Creates (or replaces) this actor's reminder `name`.
    pub fn create_reminder(
        &self,
        name: &str,
        reminder: &ReminderRequest,
    ) -> Result<(), dapr::Error> {
        self.client
            .create_actor_reminder(&self.actor_type, &self.actor_id, name, reminder)
    }

    /// Deletes this actor's reminder `name`.
    pub fn delete_reminder(&self, name: &str) -> Result<(), dapr::Error> {
        self.client
            .delete_actor_reminder(&self.actor_type, &self.actor_id, name)
    }

    /// Creates (or replaces) this actor's timer `name`.
    pub fn create_timer(&self, name: &str, timer: &TimerRequest) -> Result<(), dapr::Error> {
        self.client
            .create_actor_timer(&self.actor_type, &self.actor_id, name, timer)
    }

    /// Deletes this actor's timer `name`.
    pub fn delete_timer(&self, name: &str) -> Result<(), dapr::Error> {
        self.client
            .delete_actor_timer(&self.actor_type, &self.actor_id, name)
    }
}

/// Per-type or app-wide settings sent in `GET /dapr/config`; unset ones are left out
/// (daprd's defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ActorSettings {
    pub(super) idle_timeout: Option<String>,
    pub(super) drain_ongoing_call_timeout: Option<String>,
    pub(super) drain_rebalanced_actors: Option<bool>,
    /// `Some(Some(depth))`: enabled; `Some(None)`: disabled.
    pub(super) reentrancy: Option<Option<u32>>,
}

impl ActorSettings {
    fn is_empty(&self) -> bool {
        *self == ActorSettings::default()
    }

    fn write(&self, out: &mut Map<String, Value>) {
        if let Some(t) = &self.idle_timeout {
            out.insert("actorIdleTimeout".into(), json!(t));
        }
        if let Some(t) = &self.drain_ongoing_call_timeout {
            out.insert("drainOngoingCallTimeout".into(), json!(t));
        }
        if let Some(d) = self.drain_rebalanced_actors {
            out.insert("drainRebalancedActors".into(), json!(d));
        }
        match self.reentrancy {
            Some(Some(depth)) => {
                out.insert(
                    "reentrancy".into(),
                    json!({"enabled": true, "maxStackDepth": depth}),
                );
            }
            Some(None) => {
                out.insert("reentrancy".into(), json!({"enabled": false}));
            }
            None => {}
        }
    }
}

/// A registered actor type and its handlers.
#[derive(Default)]
pub(super) struct ActorType {
    pub(super) name: String,
    pub(super) methods: Vec<(String, MethodHandler)>,
    pub(super) reminder: Option<ReminderHandler>,
    pub(super) timers: Vec<(String, TimerHandler)>,
    pub(super) deactivate: Option<DeactivateHandler>,
    pub(super) settings: ActorSettings,
}

/// The app's actor types, settings and sidecar client.
#[derive(Default)]
pub(super) struct Actors {
    pub(super) types: Vec<ActorType>,
    pub(super) settings: ActorSettings,
    pub(super) client: Option<Client>,
}

impl Actors {
    /// The `GET /dapr/config` answer.
    pub(super) fn config_json(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "entities".into(),
            json!(self.types.iter().map(|t| &t.name).collect::<Vec<_>>()),
        );
        self.settings.write(&mut out);
        let entities: Vec<Value> = self
            .types
            .iter()
            .filter(|t| !t.settings.is_empty())
            .map(|t| {
                let mut entry = Map::new();
                entry.insert("entities".into(), json!([t.name]));
                t.settings.write(&mut entry);
                Value::Object(entry)
            })
            .collect();
        if !entities.is_empty() {
            out.insert("entitiesConfig".into(), Value::Array(entities));
        }
        Value::Object(out)
    }

    /// Answers an actor call, or `None` when `request` is not one for a registered type.
    pub(super) fn dispatch(
        &self,
        method: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Option<Response> {
        if self.types.is_empty() {
            return None;
        }
        let segments = raw_segments(request);
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        if method == "GET" && parts == ["dapr", "config"] {
            return Some(Response::json(&self.config_json()));
        }
        let ["actors", type_name, id, rest @ ..] = parts.as_slice() else {
            return None;
        };
        let actor = self.types.iter().find(|t| t.name == *type_name)?;
        let allowed = match rest {
            [] => "DELETE",
            ["method", ..] => "PUT",
            _ => return None,
        };
        if method != allowed && !(allowed == "PUT" && method == "POST") {
            return Some(
                Response::text("method not allowed")
                    .with_status(405)
                    .with_header("Allow", allowed),
            );
        }
        Some(match rest {
            [] => self.deactivate(actor, id, request, log),
            ["method", "remind", name] => self.remind(actor, id, name, request, log),
            ["method", "timer", name] => self.timer(actor, id, name, request, log),
            ["method", name @ ..] => self.method(actor, id, &name.join("/"), request, log),
            _ => return None,
        })
    }

    fn context(&self, actor: &ActorType, id: &str, request: &Request) -> ActorContext {
        let mut client = self.client.clone().unwrap_or_default();
        if let Some(chain) = request.header(REENTRANCY_ID_HEADER) {
            client = client.with_reentrancy_id(chain);
        }
        ActorContext::new(client, &actor.name, id)
    }

    /// Runs one turn: `turn`, then the state commit when it succeeded.
    fn turn(
        &self,
        actor: &ActorType,
        id: &str,
        request: &Request,
        what: &str,
        log: &mut dyn FnMut(&str),
        turn: impl FnOnce(&mut ActorContext) -> ActorResult,
    ) -> Response {
        let mut ctx = self.context(actor, id, request);
        match turn(&mut ctx) {
            Ok(response) if (200..300).contains(&response.status) => {
                if let Err(e) = ctx.state.commit() {
                    log(&format!("{what}: saving the actor state failed: {e}"));
                    return Response::text(format!("{what}: saving the actor state failed: {e}"))
                        .with_status(500);
                }
                response.with_status(200)
            }
            Ok(response) => response,
            Err(e) => e.into_response(what, log),
        }
    }

    fn method(
        &self,
        actor: &ActorType,
        id: &str,
        name: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let what = format!("actor {}/{id} method {name}", actor.name);
        let Some((_, handler)) = actor.methods.iter().find(|(n, _)| n == name) else {
            log(&format!("{what}: no such method"));
            return Response::text(format!("{what}: no such method")).with_status(404);
        };
        let call = ActorRequest {
            method: name.to_owned(),
            headers: request.headers.clone(),
            query: request.query.clone(),
            body: request.body.clone(),
        };
        self.turn(actor, id, request, &what, log, |ctx| handler(ctx, &call))
    }

    fn remind(
        &self,
        actor: &ActorType,
        id: &str,
        name: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let what = format!("actor {}/{id} reminder {name}", actor.name);
        let Some(handler) = &actor.reminder else {
            log(&format!("{what}: the type has no reminder handler"));
            return Response::text(format!("{what}: the type has no reminder handler"))
                .with_status(404);
        };
        let body = match TickBody::parse(&request.body) {
            Ok(body) => body,
            Err(e) => return bad_body(&what, &e, log),
        };
        let event = ReminderEvent {
            name: name.to_owned(),
            data: body.data,
            due_time: body.due_time,
            period: body.period,
        };
        self.turn(actor, id, request, &what, log, |ctx| {
            handler(ctx, &event)
                .map(|()| Response::ok())
                .map_err(ActorError::from)
        })
    }

    fn timer(
        &self,
        actor: &ActorType,
        id: &str,
        name: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let what = format!("actor {}/{id} timer {name}", actor.name);
        let body = match TickBody::parse(&request.body) {
            Ok(body) => body,
            Err(e) => return bad_body(&what, &e, log),
        };
        let Some((_, handler)) = actor.timers.iter().find(|(c, _)| *c == body.callback) else {
            let message = format!("{what}: no timer callback {:?}", body.callback);
            log(&message);
            return Response::text(message).with_status(404);
        };
        let event = TimerEvent {
            name: name.to_owned(),
            callback: body.callback,
            data: body.data,
            due_time: body.due_time,
            period: body.period,
        };
        self.turn(actor, id, request, &what, log, |ctx| {
            handler(ctx, &event)
                .map(|()| Response::ok())
                .map_err(ActorError::from)
        })
    }

    fn deactivate(
        &self,
        actor: &ActorType,
        id: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let Some(handler) = &actor.deactivate else {
            return Response::ok();
        };
        let mut ctx = self.context(actor, id, request);
        // Writes are discarded: the actor is no longer active, daprd would refuse them.
        match handler(&mut ctx) {
            Ok(()) => Response::ok(),
            Err(e) => {
                let what = format!("actor {}/{id} deactivation", actor.name);
                ActorError::from(e).into_response(&what, log)
            }
        }
    }
}

fn bad_body(what: &str, e: &Error, log: &mut dyn FnMut(&str)) -> Response {
    log(&format!("{what}: {e}"));
    Response::text(format!("{what}: {e}")).with_status(400)
}

/// The path's segments, percent-decoded one by one (so an id with `%2F` stays one
/// segment): from the raw `uri` when there is one, else from the decoded `path`.
fn raw_segments(request: &Request) -> Vec<String> {
    let raw = request.uri.split('?').next().unwrap_or_default();
    if raw.is_empty() {
        return request
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
    }
    raw.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The body of a reminder or timer delivery. Keys are matched case-insensitively (daprd
/// reads and writes them with Go's encoding/json); every field may be missing.
#[derive(Debug, Default)]
struct TickBody {
    data: Option<Value>,
    callback: String,
    due_time: String,
    period: String,
}

impl TickBody {
    fn parse(body: &[u8]) -> Result<TickBody, Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(TickBody::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(Error::BodyNotJson)?;
        let Value::Object(fields) = value else {
            let source = <serde_json::Error as serde::de::Error>::custom(format!(
                "expected a JSON object, got {value}"
            ));
            return Err(Error::BodyNotJson(source));
        };
        let field = |name: &str| {
            fields
                .get(name)
                .or_else(|| {
                    fields
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
                .filter(|v| !v.is_null())
        };
        let text = |name: &str| {
            field(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(TickBody {
            data: field("data").cloned(),
            callback: text("callback"),
            due_time: text("dueTime"),
            period: text("period"),
        })
    }
}

/// The handlers and settings of an actor type, from [`App::actor`](super::App::actor).
///
/// ```
/// use wasi_dapr_sdk::app::{App, Response};
///
/// let mut app = App::new();
/// app.actor("Counter")
///     .method("increment", |ctx, _req| {
///         let n: i64 = ctx.state().get("n")?.unwrap_or(0);
///         ctx.state().set("n", &(n + 1))?;
///         Ok(Response::json(&(n + 1)))
///     })
///     .idle_timeout("30s");
/// assert_eq!(app.actor_config_json()["entities"][0], "Counter");
/// ```
pub struct ActorBuilder<'a> {
    pub(super) actor: &'a mut ActorType,
}

impl fmt::Debug for ActorBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorBuilder")
            .field("actor_type", &self.actor.name)
            .finish_non_exhaustive()
    }
}

impl ActorBuilder<'_> {
    /// Handles the method `name`: `PUT /actors/{type}/{id}/method/{name}`. A handler's
    /// `Ok` answers exactly 200 (a 2xx status is sent as 200, since daprd treats
    /// anything else as a failure) and saves the turn's state writes; see
    /// [`ActorError`] for failures.
    ///
    /// The names `remind` and `timer` are taken by reminder and timer deliveries
    /// (`…/method/remind/{name}`, `…/method/timer/{name}`): a method called `remind`
    /// or `timer` with a further path segment never reaches its handler.
    pub fn method<F>(self, name: &str, handler: F) -> Self
    where
        F: Fn(&mut ActorContext, &ActorRequest) -> ActorResult + 'static,
    {
        self.actor
            .methods
            .push((name.to_owned(), Box::new(handler)));
        self
    }

    /// Handles every reminder of the type (tell them apart by [`ReminderEvent::name`]).
    /// `Ok` answers 200; an error answers 500, which daprd retries by the reminder's
    /// failure policy (by default every 1 s, 3 times). A reminder for a type without a
    /// handler is answered 404.
    pub fn on_reminder<F>(self, handler: F) -> Self
    where
        F: Fn(&mut ActorContext, &ReminderEvent) -> HandlerResult + 'static,
    {
        self.actor.reminder = Some(Box::new(handler));
        self
    }

    /// Handles the timers created with `callback` (see [`TimerRequest::new`]). A tick
    /// whose callback has no handler is answered 404 (daprd logs it; the timer keeps
    /// firing).
    pub fn timer_callback<F>(self, callback: &str, handler: F) -> Self
    where
        F: Fn(&mut ActorContext, &TimerEvent) -> HandlerResult + 'static,
    {
        self.actor
            .timers
            .push((callback.to_owned(), Box::new(handler)));
        self
    }

    /// Runs `handler` when daprd deactivates an actor (`DELETE /actors/{type}/{id}`,
    /// after the idle timeout or a rebalance). It may read the state; its writes are
    /// not saved. Without one, deactivation is answered 200 and nothing runs.
    pub fn on_deactivate<F>(self, handler: F) -> Self
    where
        F: Fn(&mut ActorContext) -> HandlerResult + 'static,
    {
        self.actor.deactivate = Some(Box::new(handler));
        self
    }

    /// Deactivates this type's actors after `timeout` (a Go duration, `30s`) without
    /// calls, instead of the app-wide [`App::actor_idle_timeout`](super::App::actor_idle_timeout).
    pub fn idle_timeout(self, timeout: &str) -> Self {
        self.actor.settings.idle_timeout = Some(timeout.to_owned());
        self
    }

    /// This type's `drainOngoingCallTimeout` (see
    /// [`App::actor_drain_ongoing_call_timeout`](super::App::actor_drain_ongoing_call_timeout)).
    pub fn drain_ongoing_call_timeout(self, timeout: &str) -> Self {
        self.actor.settings.drain_ongoing_call_timeout = Some(timeout.to_owned());
        self
    }

    /// This type's `drainRebalancedActors` (see
    /// [`App::actor_drain_rebalanced_actors`](super::App::actor_drain_rebalanced_actors)).
    pub fn drain_rebalanced_actors(self, drain: bool) -> Self {
        self.actor.settings.drain_rebalanced_actors = Some(drain);
        self
    }

    /// Enables reentrancy for this type, chains at most `max_stack_depth` deep
    /// (daprd's default 32).
    pub fn reentrancy(self, max_stack_depth: u32) -> Self {
        self.actor.settings.reentrancy = Some(Some(max_stack_depth));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::app::App;
    use crate::app::tests::{call, request};
    use crate::dapr::testing::{Recorder, body_json};

    fn text(r: &Response) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    /// An app with a `Counter` actor whose client sends through `rec`.
    fn counter(rec: &Recorder) -> App {
        let mut app = App::new();
        app.actor_client(rec.client());
        app.actor("Counter")
            .method("increment", |ctx, _| {
                let n: i64 = ctx.state().get("n")?.unwrap_or(0);
                ctx.state().set("n", &(n + 1))?;
                let again: Option<i64> = ctx.state().get("n")?;
                Ok(Response::json(&json!({"n": again})))
            })
            .method("fail", |ctx, _| {
                ctx.state().set("n", &100)?;
                Err("the counter broke".into())
            })
            .method("nothing", |_, _| Ok(Response::new(204)))
            .method("refuse", |ctx, _| {
                ctx.state().set("n", &0)?;
                Err(ActorError::json(409, &json!({"error": "no"})))
            });
        app
    }

    #[test]
    fn config_lists_the_types_and_only_the_settings_set() {
        let mut app = App::new();
        app.actor("BankAccount")
            .method("deposit", |_, _| Ok(Response::ok()));
        app.actor("Counter");
        let (r, _) = call(&app, &request("GET", "/dapr/config", ""));
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"entities": ["BankAccount", "Counter"]})
        );
    }

    #[test]
    fn config_with_app_settings_and_type_overrides() {
        let mut app = App::new();
        app.actor_idle_timeout("1h")
            .actor_drain_ongoing_call_timeout("2s")
            .actor_drain_rebalanced_actors(true)
            .actor_reentrancy(None);
        app.actor("BankAccount").idle_timeout("30s").reentrancy(8);
        app.actor("Plain");
        app.actor("Draining")
            .drain_ongoing_call_timeout("10s")
            .drain_rebalanced_actors(false);
        assert_eq!(
            app.actor_config_json(),
            json!({"entities": ["BankAccount", "Plain", "Draining"],
            "actorIdleTimeout": "1h", "drainOngoingCallTimeout": "2s",
            "drainRebalancedActors": true, "reentrancy": {"enabled": false},
            "entitiesConfig": [
                {"entities": ["BankAccount"], "actorIdleTimeout": "30s",
                 "reentrancy": {"enabled": true, "maxStackDepth": 8}},
                {"entities": ["Draining"], "drainOngoingCallTimeout": "10s",
                 "drainRebalancedActors": false},
            ]})
        );
        app.actor_reentrancy(Some(32));
        assert_eq!(
            app.actor_config_json()["reentrancy"],
            json!({"enabled": true, "maxStackDepth": 32})
        );
        // Registering a name again adds to the same type.
        app.actor("Plain").idle_timeout("5m");
        assert_eq!(
            app.actor_config_json()["entities"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(format!("{app:?}").contains("Draining"));
    }

    #[test]
    fn without_actor_types_nothing_changes() {
        let app = App::new();
        let (r, _) = call(&app, &request("GET", "/dapr/config", ""));
        assert_eq!(r.status, 404);
        let (r, _) = call(&app, &request("PUT", "/actors/T/1/method/m", ""));
        assert_eq!(r.status, 404);
        let (r, _) = call(&app, &request("DELETE", "/actors/T/1", ""));
        assert_eq!(r.status, 404);
    }

    #[test]
    fn a_method_answers_exactly_200() {
        let rec = Recorder::default();
        let app = counter(&rec);
        let (r, log) = call(
            &app,
            &request("PUT", "/actors/Counter/a/method/nothing", ""),
        );
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert!(log.is_empty(), "{log:?}");
        assert!(rec.requests().is_empty());
        // POST is tolerated where daprd sends PUT.
        let (r, _) = call(
            &app,
            &request("POST", "/actors/Counter/a/method/nothing", ""),
        );
        assert_eq!(r.status, 200);
    }

    #[test]
    fn unknown_methods_and_types_are_404() {
        let rec = Recorder::default();
        let app = counter(&rec);
        let (r, log) = call(&app, &request("PUT", "/actors/Counter/a/method/nope", ""));
        assert_eq!(r.status, 404);
        assert_eq!(text(&r), "actor Counter/a method nope: no such method");
        assert_eq!(log.len(), 1);
        let (r, _) = call(
            &app,
            &request("PUT", "/actors/Other/a/method/increment", ""),
        );
        assert_eq!(r.status, 404);
        let (r, _) = call(
            &app,
            &request("GET", "/actors/Counter/a/method/increment", ""),
        );
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.get("allow"), Some("PUT"));
        let (r, _) = call(&app, &request("PUT", "/actors/Counter/a", ""));
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.get("allow"), Some("DELETE"));
        let (r, _) = call(&app, &request("PUT", "/actors/Counter/a/state/x", ""));
        assert_eq!(r.status, 404);
        assert!(rec.requests().is_empty());
    }

    #[test]
    fn state_is_read_once_and_committed_in_one_bare_array() {
        let rec = Recorder::default();
        rec.reply(200, &[("content-type", "application/json")], "41");
        let app = counter(&rec);
        let (r, log) = call(
            &app,
            &request("PUT", "/actors/Counter/a/method/increment", ""),
        );
        assert!(log.is_empty(), "{log:?}");
        assert_eq!(r.status, 200);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"n": 42})
        );
        let reqs = rec.requests();
        assert_eq!(reqs.len(), 2, "{reqs:#?}");
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(
            reqs[0].url,
            "http://dapr:3500/v1.0/actors/Counter/a/state/n"
        );
        assert_eq!(reqs[1].method, "POST");
        assert_eq!(reqs[1].url, "http://dapr:3500/v1.0/actors/Counter/a/state");
        assert_eq!(
            body_json(&reqs[1]),
            json!([{"operation": "upsert", "request": {"key": "n", "value": 42}}])
        );
    }

    #[test]
    fn state_manager_get_set_remove_contains() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"a":1}"#).reply(204, &[], "");
        let mut ctx = ActorContext::new(rec.client(), "T", "1");
        let state = ctx.state();
        assert_eq!(state.get_raw("doc").unwrap(), Some(br#"{"a":1}"#.to_vec()));
        assert_eq!(state.get::<Value>("doc").unwrap(), Some(json!({"a": 1})));
        assert!(!state.contains("missing").unwrap());
        state.remove("missing"); // known absent: nothing to send
        state.remove("doc");
        assert_eq!(state.get::<Value>("doc").unwrap(), None);
        state.set("new", "v").unwrap();
        assert_eq!(state.get_raw("new").unwrap(), Some(br#""v""#.to_vec()));
        assert!(state.contains("new").unwrap());
        assert!(matches!(
            state.get::<u8>("new"),
            Err(dapr::Error::Decode { .. })
        ));
        assert!(matches!(
            state.set("", &1),
            Err(dapr::Error::InvalidArgument(_))
        ));
        assert_eq!(rec.requests().len(), 2);
        assert_eq!(
            state.pending(),
            [
                ActorStateOperation::delete("doc"),
                ActorStateOperation::upsert("new", "v")
            ]
        );
        state.commit().unwrap();
        assert_eq!(
            body_json(&rec.requests()[2]),
            json!([{"operation": "delete", "request": {"key": "doc"}},
                   {"operation": "upsert", "request": {"key": "new", "value": "v"}}])
        );
    }

    #[test]
    fn a_handler_error_is_500_and_commits_nothing() {
        let rec = Recorder::default();
        let app = counter(&rec);
        let (r, log) = call(&app, &request("PUT", "/actors/Counter/a/method/fail", ""));
        assert_eq!(r.status, 500);
        assert_eq!(
            text(&r),
            "actor Counter/a method fail failed: the counter broke"
        );
        assert_eq!(
            log,
            ["actor Counter/a method fail failed: the counter broke"]
        );
        assert!(rec.requests().is_empty());
    }

    #[test]
    fn a_failed_commit_is_500() {
        let rec = Recorder::default();
        rec.reply(204, &[], "").reply(
            400,
            &[],
            r#"{"errorCode":"ERR_ACTOR_INSTANCE_MISSING","message":"actor instance is missing"}"#,
        );
        let app = counter(&rec);
        let (r, log) = call(
            &app,
            &request("PUT", "/actors/Counter/a/method/increment", ""),
        );
        assert_eq!(r.status, 500);
        assert!(
            text(&r).contains("ERR_ACTOR_INSTANCE_MISSING"),
            "{}",
            text(&r)
        );
        assert_eq!(log.len(), 1);
        assert!(
            log[0].starts_with("actor Counter/a method increment: saving the actor state failed")
        );
    }

    #[test]
    fn an_actor_error_is_200_with_the_error_header() {
        let rec = Recorder::default();
        let app = counter(&rec);
        let (r, log) = call(&app, &request("PUT", "/actors/Counter/a/method/refuse", ""));
        assert!(log.is_empty(), "{log:?}");
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("x-daprerrorresponseheader"), Some("true"));
        assert_eq!(r.headers.get("x-wasi-dapr-actor-status"), Some("409"));
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
        assert_eq!(text(&r), r#"{"error":"no"}"#);
        assert!(rec.requests().is_empty(), "an actor error saves nothing");
        let e = ActorError::with_status(418, "teapot");
        assert_eq!(e.status(), 418);
        assert_eq!(e.to_string(), "actor error 418: teapot");
        assert_eq!(ActorError::from("x").status(), 500);
        let r = ActorError::response(Response::text("x").with_status(402).with_header("a", "b"))
            .into_response("w", &mut |_| {});
        assert_eq!((r.status, r.headers.get("a")), (200, Some("b")));
    }

    #[test]
    fn the_request_reaches_the_method() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.actor_client(Recorder::default().client());
        app.actor("T").method("a b/c", move |ctx, req| {
            s.borrow_mut().push((
                ctx.actor_type().to_owned(),
                ctx.actor_id().to_owned(),
                req.method.clone(),
                req.query.clone(),
                req.header("x-caller").map(str::to_owned),
                req.json::<Value>()?,
            ));
            Ok(Response::text(req.text()?.to_owned()))
        });
        // The raw URI: an id with an encoded `/` stays one segment.
        let mut req = request("PUT", "/actors/T/x/y/method/a b/c", r#"{"k":1}"#);
        req.uri = "/actors/T/x%2Fy/method/a%20b/c?q=1".into();
        req.query = "q=1".into();
        req.headers.append("x-caller", "me");
        let (r, _) = call(&app, &req);
        assert_eq!(r.status, 200);
        assert_eq!(text(&r), r#"{"k":1}"#);
        assert_eq!(
            seen.borrow()[0],
            (
                "T".to_string(),
                "x/y".to_string(),
                "a b/c".to_string(),
                "q=1".to_string(),
                Some("me".to_string()),
                json!({"k": 1})
            )
        );
        // A bad body is the handler's error: 500.
        let (r, log) = call(&app, &request("PUT", "/actors/T/1/method/a b/c", "{"));
        assert_eq!(r.status, 500);
        assert!(log[0].contains("not the expected JSON"), "{log:?}");
    }

    #[test]
    fn reminders_decode_and_route() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let rec = Recorder::default();
        let mut app = App::new();
        app.actor_client(rec.client());
        app.actor("BankAccount").on_reminder(move |ctx, ev| {
            s.borrow_mut().push((ctx.actor_id().to_owned(), ev.clone()));
            if ev.name == "bad" {
                return Err("cannot".into());
            }
            ctx.state().set("last", &ev.name)?;
            Ok(())
        });
        let body = r#"{"data":{"ratePercent":10},"dueTime":"","period":""}"#;
        let (r, log) = call(
            &app,
            &request(
                "PUT",
                "/actors/BankAccount/alice/method/remind/interest",
                body,
            ),
        );
        assert_eq!((r.status, log.len()), (200, 0), "{log:?}");
        // Go's encoding/json keys are case-insensitive; fields may be missing.
        let body = r#"{"DATA":"x","duetime":"1s","Period":"@every 1s"}"#;
        let (r, _) = call(
            &app,
            &request("PUT", "/actors/BankAccount/bob/method/remind/r2", body),
        );
        assert_eq!(r.status, 200);
        let (r, _) = call(
            &app,
            &request("PUT", "/actors/BankAccount/bob/method/remind/r3", ""),
        );
        assert_eq!(r.status, 200);
        let (r, log) = call(
            &app,
            &request("PUT", "/actors/BankAccount/bob/method/remind/bad", "{}"),
        );
        assert_eq!(r.status, 500);
        assert_eq!(log, ["actor BankAccount/bob reminder bad failed: cannot"]);
        let (r, log) = call(
            &app,
            &request("PUT", "/actors/BankAccount/bob/method/remind/x", "[1]"),
        );
        assert_eq!(r.status, 400);
        assert_eq!(log.len(), 1);
        let seen = seen.borrow();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0].0, "alice");
        assert_eq!(
            seen[0].1,
            ReminderEvent {
                name: "interest".into(),
                data: Some(json!({"ratePercent": 10})),
                due_time: String::new(),
                period: String::new(),
            }
        );
        assert_eq!(seen[0].1.data_json::<Value>().unwrap()["ratePercent"], 10);
        assert_eq!(seen[1].1.data, Some(json!("x")));
        assert_eq!(
            (seen[1].1.due_time.as_str(), seen[1].1.period.as_str()),
            ("1s", "@every 1s")
        );
        assert_eq!(seen[2].1.data, None);
        assert_eq!(seen[2].1.data_json::<Option<u8>>().unwrap(), None);
        // Three successful reminder turns, three commits.
        assert_eq!(rec.requests().len(), 3);
        // A type without a reminder handler: 404.
        let mut app = App::new();
        app.actor("T");
        let (r, _) = call(&app, &request("PUT", "/actors/T/1/method/remind/x", "{}"));
        assert_eq!(r.status, 404);
    }

    #[test]
    fn timers_route_by_callback() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.actor_client(Recorder::default().client());
        app.actor("T").timer_callback("tick", move |_, ev| {
            s.borrow_mut().push(ev.clone());
            Ok(())
        });
        let body = r#"{"data":[1],"callback":"tick","dueTime":"0s","period":"5s"}"#;
        let (r, _) = call(
            &app,
            &request("PUT", "/actors/T/1/method/timer/heartbeat", body),
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            seen.borrow()[0],
            TimerEvent {
                name: "heartbeat".into(),
                callback: "tick".into(),
                data: Some(json!([1])),
                due_time: "0s".into(),
                period: "5s".into(),
            }
        );
        assert_eq!(seen.borrow()[0].data_json::<Vec<u8>>().unwrap(), [1]);
        let (r, log) = call(
            &app,
            &request(
                "PUT",
                "/actors/T/1/method/timer/h",
                r#"{"callback":"tock"}"#,
            ),
        );
        assert_eq!(r.status, 404);
        assert_eq!(log, [r#"actor T/1 timer h: no timer callback "tock""#]);
        let (r, _) = call(
            &app,
            &request("PUT", "/actors/T/1/method/timer/h", "not json"),
        );
        assert_eq!(r.status, 400);
    }

    #[test]
    fn deactivation_answers_200() {
        let mut app = App::new();
        app.actor("T");
        let (r, _) = call(&app, &request("DELETE", "/actors/T/1", ""));
        assert_eq!(r.status, 200);

        let rec = Recorder::default();
        let calls = Rc::new(RefCell::new(0));
        let c = calls.clone();
        let mut app = App::new();
        app.actor_client(rec.client());
        app.actor("T").on_deactivate(move |ctx| {
            *c.borrow_mut() += 1;
            ctx.state().set("k", &1)?;
            if ctx.actor_id() == "bad" {
                return Err("no".into());
            }
            Ok(())
        });
        let (r, _) = call(&app, &request("DELETE", "/actors/T/1", ""));
        assert_eq!(r.status, 200);
        let (r, log) = call(&app, &request("DELETE", "/actors/T/bad", ""));
        assert_eq!(r.status, 500);
        assert_eq!(log, ["actor T/bad deactivation failed: no"]);
        assert_eq!(*calls.borrow(), 2);
        assert!(rec.requests().is_empty(), "deactivation saves nothing");
    }

    #[test]
    fn the_reentrancy_id_goes_onto_nested_calls() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"ok":true}"#).reply(204, &[], "");
        let mut app = App::new();
        app.actor_client(rec.client());
        app.actor("A").reentrancy(4).method("call", |ctx, _| {
            assert_eq!(ctx.reentrancy_id(), Some("chain-9"));
            let answer = ctx.invoke_actor("B", "2", "ping", "{}")?;
            let _: Option<u8> = ctx.state().get("k")?;
            ctx.create_reminder("r", &ReminderRequest::new().due_time("1s"))?;
            ctx.delete_reminder("r")?;
            ctx.create_timer("t", &TimerRequest::new("cb"))?;
            ctx.delete_timer("t")?;
            Ok(Response::bytes("application/json", answer.body))
        });
        let mut req = request("PUT", "/actors/A/1/method/call", "");
        req.headers.append("dapr-reentrancy-id", "chain-9");
        let (r, log) = call(&app, &req);
        assert!(log.is_empty(), "{log:?}");
        assert_eq!(text(&r), r#"{"ok":true}"#);
        let reqs = rec.requests();
        assert_eq!(reqs.len(), 6);
        assert_eq!(reqs[0].url, "http://dapr:3500/v1.0/actors/B/2/method/ping");
        assert_eq!(reqs[2].url, "http://dapr:3500/v1.0/actors/A/1/reminders/r");
        assert_eq!(reqs[4].url, "http://dapr:3500/v1.0/actors/A/1/timers/t");
        for req in &reqs {
            assert_eq!(
                req.headers.get("dapr-reentrancy-id"),
                Some("chain-9"),
                "{req:?}"
            );
        }
        // Without the header the nested call carries none.
        let rec = Recorder::default();
        rec.reply(200, &[], "");
        let mut app = App::new();
        app.actor_client(rec.client());
        app.actor("A").method("call", |ctx, _| {
            ctx.invoke_actor("B", "2", "ping", "")?;
            Ok(Response::ok())
        });
        call(&app, &request("PUT", "/actors/A/1/method/call", ""));
        assert!(!rec.single().headers.contains("dapr-reentrancy-id"));
    }
}
