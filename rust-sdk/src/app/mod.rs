//! The inbound side, for apps that daprd calls: a router for topic subscriptions (one
//! message or bulk), invoked methods, input bindings, jobs, configuration updates and
//! virtual actors.
//!
//! Register handlers on an [`App`] in a function that returns it, and make that function
//! the entry point with [`export!`]. The same source builds for both targets:
//!
//! - `wasm32-wasip1`: a module that `wasi-dapr serve` runs once per request, CGI style
//!   (the request in environment variables and stdin, the response on stdout);
//!   `export!` writes a `fn main()` that builds the app and calls [`App::run`].
//! - `wasm32-wasip2`: a `wasi:http/proxy` component (`wasi-dapr serve` or
//!   `wasmtime serve`, one fresh instance per request); `export!` exports
//!   `wasi:http/incoming-handler`, which builds the app and answers the request.
//!
//! ```no_run
//! use wasi_dapr_sdk::app::{App, Response, TopicEvent, TopicResult};
//!
//! fn on_order(event: &TopicEvent) -> TopicResult {
//!     match event.data_json::<serde_json::Value>() {
//!         Ok(order) => {
//!             eprintln!("order received: {order}");
//!             TopicResult::Success
//!         }
//!         Err(_) => TopicResult::Drop,
//!     }
//! }
//!
//! fn build_app() -> App {
//!     let mut app = App::new();
//!     app.subscribe("pubsub", "orders", "/orders", on_order)
//!         .dead_letter_topic("orders-dead");
//!     app.on_invoke("hello", |_request| Response::text("hello"));
//!     app
//! }
//!
//! wasi_dapr_sdk::app::export!(build_app);
//! ```
//!
//! A `wasm32-wasip1` module may also keep its own `fn main()` and call [`App::run`].

mod actor;
mod binding;
mod bulk;
mod cgi;
mod configuration;
mod job;
mod topic;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
pub(crate) mod wasi_http;

use std::fmt;
use std::io::Write;

use serde_json::Value;

pub use actor::{
    ActorBuilder, ActorContext, ActorError, ActorRequest, ActorResult, ActorState, ReminderEvent,
    TimerEvent,
};
pub use binding::BindingEvent;
pub use bulk::{BulkEntry, BulkEntryEvent, BulkEntryStatus, BulkMessage, BulkSubscribe};
pub use cgi::{Request, Response, TraceContext};
pub use configuration::ConfigurationUpdate;
pub use job::JobEvent;
pub use topic::{EventData, Rule, Subscription, TopicEvent, TopicResult};

use cgi::normalize_path;

/// What binding, job and configuration handlers return: `Ok(())` answers 200; an error
/// answers 500 (its message goes to stderr), which daprd treats as a failed delivery.
pub type HandlerResult = Result<(), Box<dyn std::error::Error>>;

/// An error reading a request or decoding what daprd sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `REQUEST_METHOD` is not set: the module was not started by `wasi-dapr serve`.
    #[error(
        "not a CGI request (REQUEST_METHOD is not set): serve this module with `wasi-dapr serve MODULE.wasm`"
    )]
    NotCgi,
    /// stdin could not be read.
    #[error("reading the request body from stdin: {0}")]
    ReadBody(#[source] std::io::Error),
    /// The request body is not UTF-8 text.
    #[error("the request body is not UTF-8 text")]
    BodyNotUtf8,
    /// The request body is not the expected JSON.
    #[error("the request body is not the expected JSON: {0}")]
    BodyNotJson(#[source] serde_json::Error),
    /// A pub/sub delivery whose body is not a CloudEvent: not a JSON object, or a
    /// `data_base64` that is not a base64 string.
    #[error("malformed CloudEvent: {0}")]
    MalformedEvent(String),
    /// The event data is not the expected JSON.
    #[error("the event data is not the expected JSON: {0}")]
    DataNotJson(#[source] serde_json::Error),
    /// The event data is not UTF-8 text.
    #[error("the event data is not UTF-8 text")]
    DataNotUtf8,
}

type TopicHandler = Box<dyn Fn(&TopicEvent) -> TopicResult>;
type BulkHandler = Box<dyn Fn(&BulkMessage) -> Vec<BulkEntryStatus>>;
type JobHandler = Box<dyn Fn(&JobEvent) -> HandlerResult>;
type InvokeHandler = Box<dyn Fn(&Request) -> Response>;
type BindingHandler = Box<dyn Fn(&BindingEvent) -> HandlerResult>;
type ConfigurationHandler = Box<dyn Fn(&ConfigurationUpdate) -> HandlerResult>;

/// What handles a route's deliveries: one CloudEvent at a time, or daprd's bulk envelope.
enum RouteHandler {
    Single(TopicHandler),
    Bulk(BulkHandler),
}

/// A route that receives pub/sub deliveries.
struct TopicRoute {
    path: String,
    pubsub_name: String,
    topic: String,
    handler: RouteHandler,
}

/// An invoked-method route: an exact path, or every path under a prefix (`orders/*`).
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(path: &str) -> Pattern {
        let path = normalize_path(path);
        match path.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('/') => Pattern::Prefix(prefix.to_owned()),
            _ => Pattern::Exact(path),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Pattern::Exact(p) | Pattern::Prefix(p) => p,
        }
    }
}

struct InvokeRoute {
    pattern: Pattern,
    handler: InvokeHandler,
}

/// The app's router: register handlers, then [`App::run`] (or [`App::handle`] in tests).
///
/// | request | answer |
/// |---|---|
/// | `GET /dapr/subscribe` | 200, the JSON array of [`App::subscriptions`] (`[]` if none) |
/// | `POST` to a subscription's route or rule path | the handler's [`TopicResult`] as `{"status":"SUCCESS"\|"RETRY"\|"DROP"}`; a malformed CloudEvent is answered `DROP` (see below) |
/// | `POST` to a bulk subscription's route | 200 `{"statuses":[{"entryId","status"}]}`, one per entry (see [`App::subscribe_bulk`]) |
/// | `POST /job/<name>`, job registered | 200 when the handler returns `Ok`, 500 on its error |
/// | `POST /configuration/<store>/<key>`, store registered | 200 (empty body) when the handler returns `Ok`; 500 on its error; 400 if the body is not an update |
/// | `GET /dapr/config`, `PUT /actors/…`, `DELETE /actors/…`, actor types registered | see [`App::actor`] |
/// | `OPTIONS /<binding>` | 200, so daprd counts the input binding as subscribed |
/// | `POST` or `PUT /<binding>` | 200 when the handler returns `Ok`, 500 on its error |
/// | any method to an [`App::on_invoke`] path | the handler's [`Response`] |
/// | anything else | 404 |
///
/// Paths are compared percent-decoded, with a leading `/` and without a trailing one, so
/// `orders`, `/orders` and `/orders/` are the same route.
///
/// **Malformed CloudEvents** (a body that is not a JSON object, or a `data_base64` that
/// is not base64) are answered `DROP` and a line `wasi-dapr-sdk: dropping a malformed
/// CloudEvent ...` is written to stderr: redelivering the same bytes could never
/// succeed, and DROP sends the message to the dead-letter topic when the subscription
/// has one, where it can be inspected. The handler is not called.
#[derive(Default)]
pub struct App {
    subscriptions: Vec<Subscription>,
    topic_routes: Vec<TopicRoute>,
    invoke_routes: Vec<InvokeRoute>,
    bindings: Vec<(String, BindingHandler)>,
    jobs: Vec<(String, JobHandler)>,
    configurations: Vec<(String, ConfigurationHandler)>,
    actors: actor::Actors,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("subscriptions", &self.subscriptions)
            .field(
                "invoke_routes",
                &self
                    .invoke_routes
                    .iter()
                    .map(|r| r.pattern.as_str())
                    .collect::<Vec<_>>(),
            )
            .field(
                "bindings",
                &self.bindings.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "jobs",
                &self.jobs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "configurations",
                &self
                    .configurations
                    .iter()
                    .map(|(s, _)| s)
                    .collect::<Vec<_>>(),
            )
            .field(
                "actor_types",
                &self
                    .actors
                    .types
                    .iter()
                    .map(|t| &t.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl App {
    /// An app with no handlers: it answers `GET /dapr/subscribe` with `[]` and 404 to
    /// everything else.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to `topic` on the pub/sub component `pubsub`: daprd delivers its
    /// messages to `route` (a path on this app, e.g. `/orders`), where `handler` gets
    /// each one as a [`TopicEvent`].
    ///
    /// The returned builder adds routing rules, a dead-letter topic and metadata.
    pub fn subscribe<F>(
        &mut self,
        pubsub: &str,
        topic: &str,
        route: &str,
        handler: F,
    ) -> SubscriptionBuilder<'_>
    where
        F: Fn(&TopicEvent) -> TopicResult + 'static,
    {
        let route = normalize_path(route);
        self.topic_routes.push(TopicRoute {
            path: route.clone(),
            pubsub_name: pubsub.to_owned(),
            topic: topic.to_owned(),
            handler: RouteHandler::Single(Box::new(handler)),
        });
        self.subscriptions.push(Subscription {
            pubsub_name: pubsub.to_owned(),
            topic: topic.to_owned(),
            route,
            rules: Vec::new(),
            dead_letter_topic: None,
            metadata: Default::default(),
            bulk_subscribe: None,
        });
        let index = self.subscriptions.len() - 1;
        SubscriptionBuilder { app: self, index }
    }

    /// Subscribes to `topic` on `pubsub` with bulk delivery: the subscription carries
    /// `bulkSubscribe` (daprd's defaults, 100 messages or 1000 ms, unless the builder
    /// changes them), and daprd posts batches of messages to `route`, where `handler`
    /// gets each batch as a [`BulkMessage`] and returns one [`BulkEntryStatus`] per entry.
    ///
    /// The app answers `{"statuses":[{"entryId","status"}]}` with exactly one status per
    /// entry daprd sent, in its order: an entry the handler gave no status is `RETRY`
    /// (daprd's reading of a missing status), statuses for ids daprd did not send are
    /// left out (and logged). Entries that cannot be decoded never reach the handler and
    /// are answered `DROP` (logged). An envelope without entry ids is answered 400,
    /// which daprd counts as a failure of every entry.
    ///
    /// A single CloudEvent posted to the route (a sidecar that ignores `bulkSubscribe`)
    /// still reaches the handler, as a batch of one whose entry id is the event's `id`,
    /// and the entry's status is answered as a single delivery, `{"status":…}`.
    ///
    /// ```
    /// use wasi_dapr_sdk::app::{App, TopicResult};
    ///
    /// let mut app = App::new();
    /// app.subscribe_bulk("pubsub", "orders", "/orders-bulk", |batch| {
    ///     batch.each(|entry| match entry.data_json::<serde_json::Value>() {
    ///         Ok(_) => TopicResult::Success,
    ///         Err(_) => TopicResult::Drop,
    ///     })
    /// })
    /// .max_messages_count(10)
    /// .max_await_duration_ms(500);
    /// assert_eq!(app.subscriptions_json()[0]["bulkSubscribe"]["maxMessagesCount"], 10);
    /// ```
    pub fn subscribe_bulk<F>(
        &mut self,
        pubsub: &str,
        topic: &str,
        route: &str,
        handler: F,
    ) -> BulkSubscriptionBuilder<'_>
    where
        F: Fn(&BulkMessage) -> Vec<BulkEntryStatus> + 'static,
    {
        let route = normalize_path(route);
        self.topic_routes.push(TopicRoute {
            path: route.clone(),
            pubsub_name: pubsub.to_owned(),
            topic: topic.to_owned(),
            handler: RouteHandler::Bulk(Box::new(handler)),
        });
        self.subscriptions.push(Subscription {
            pubsub_name: pubsub.to_owned(),
            topic: topic.to_owned(),
            route,
            rules: Vec::new(),
            dead_letter_topic: None,
            metadata: Default::default(),
            bulk_subscribe: Some(BulkSubscribe::default()),
        });
        let index = self.subscriptions.len() - 1;
        BulkSubscriptionBuilder { app: self, index }
    }

    /// Handles the scheduled job `name`: daprd posts `POST /job/<name>` with the job's
    /// data as the body each time it triggers (see
    /// [`Client::schedule_job`](crate::dapr::Client::schedule_job)). `Ok` answers 200;
    /// an error answers 500, which daprd retries by the job's failure policy.
    pub fn on_job<F>(&mut self, name: &str, handler: F) -> &mut Self
    where
        F: Fn(&JobEvent) -> HandlerResult + 'static,
    {
        self.jobs.push((name.to_owned(), Box::new(handler)));
        self
    }

    /// Handles invocations of `path` (any method): daprd forwards
    /// `/v1.0/invoke/<this app>/method/<path>` here.
    ///
    /// `path` is exact (`hello`, `orders/new`) or ends in `/*` for every path below it
    /// (`orders/*` matches `/orders/17` but not `/orders`); `*` alone matches every path.
    /// An exact match wins, then the longest prefix.
    pub fn on_invoke<F>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Fn(&Request) -> Response + 'static,
    {
        self.invoke_routes.push(InvokeRoute {
            pattern: Pattern::parse(path),
            handler: Box::new(handler),
        });
        self
    }

    /// Handles the input binding `name`: answers daprd's `OPTIONS /<name>` probe with 200
    /// and passes each `POST /<name>` to `handler`.
    pub fn on_binding<F>(&mut self, name: &str, handler: F) -> &mut Self
    where
        F: Fn(&BindingEvent) -> HandlerResult + 'static,
    {
        let name = name.trim_matches('/').to_owned();
        self.bindings.push((name, Box::new(handler)));
        self
    }

    /// Handles configuration updates of `store`: `POST /configuration/<store>/<key>`,
    /// answered exactly 200 when `handler` returns `Ok`.
    pub fn on_configuration<F>(&mut self, store: &str, handler: F) -> &mut Self
    where
        F: Fn(&ConfigurationUpdate) -> HandlerResult + 'static,
    {
        self.configurations
            .push((store.to_owned(), Box::new(handler)));
        self
    }

    /// Hosts the actor type `name` (e.g. `BankAccount`); the returned builder adds its
    /// method, reminder, timer and deactivation handlers and its settings. Registering
    /// the same name again adds to that type.
    ///
    /// With at least one actor type the app also answers daprd's actor calls:
    ///
    /// | request | answer |
    /// |---|---|
    /// | `GET /dapr/config` | 200, [`App::actor_config_json`] |
    /// | `PUT /actors/{type}/{id}/method/{method}` | the method's turn: 200 with its [`Response`]; 404 for an unknown method; 500 on a handler error; an [`ActorError::with_status`] is 200 with `X-DaprErrorResponseHeader` |
    /// | `PUT /actors/{type}/{id}/method/remind/{name}` | the reminder handler's turn: 200, or 500 on its error |
    /// | `PUT /actors/{type}/{id}/method/timer/{name}` | the turn of the timer callback the body names: 200, 500 on its error, 404 for an unknown callback |
    /// | `DELETE /actors/{type}/{id}` | the deactivation handler, if any: 200 |
    ///
    /// Path segments are percent-decoded one by one. `POST` is accepted where daprd
    /// sends `PUT`. A path for a type that is not registered goes on to the other
    /// routes (and is a 404 there). Without actor types, `GET /dapr/config` is a 404,
    /// which daprd reads as "no actors".
    ///
    /// **A turn**: the handler gets an [`ActorContext`]. Its state reads go to the
    /// sidecar once per key; its writes are buffered and saved in one
    /// [`Client::transact_actor_state`](crate::dapr::Client::transact_actor_state)
    /// after the handler succeeded (nothing is sent without writes). A handler error
    /// saves nothing; a failed save answers 500. The context's client is
    /// [`App::actor_client`]'s, with the call's `Dapr-Reentrancy-Id` on its actor calls.
    pub fn actor(&mut self, name: &str) -> ActorBuilder<'_> {
        let index = match self.actors.types.iter().position(|t| t.name == name) {
            Some(index) => index,
            None => {
                self.actors.types.push(actor::ActorType {
                    name: name.to_owned(),
                    ..Default::default()
                });
                self.actors.types.len() - 1
            }
        };
        ActorBuilder {
            actor: &mut self.actors.types[index],
        }
    }

    /// `actorIdleTimeout`: deactivate actors after this long without calls (a Go
    /// duration, `1h`). Unset: daprd's default, 60 minutes.
    pub fn actor_idle_timeout(&mut self, timeout: &str) -> &mut Self {
        self.actors.settings.idle_timeout = Some(timeout.to_owned());
        self
    }

    /// `drainOngoingCallTimeout`: how long a rebalance waits for running calls. Unset:
    /// daprd's default, 2 s (Dapr 1.17+; 60 s before).
    pub fn actor_drain_ongoing_call_timeout(&mut self, timeout: &str) -> &mut Self {
        self.actors.settings.drain_ongoing_call_timeout = Some(timeout.to_owned());
        self
    }

    /// `drainRebalancedActors`: wait for running calls before a rebalance moves an
    /// actor. Unset: daprd's default, `true` (Dapr 1.17+; `false` before).
    pub fn actor_drain_rebalanced_actors(&mut self, drain: bool) -> &mut Self {
        self.actors.settings.drain_rebalanced_actors = Some(drain);
        self
    }

    /// `reentrancy` for every type: `Some(max_stack_depth)` enables it (daprd's default
    /// depth is 32), `None` disables it. Unset: disabled. Types can override it
    /// ([`ActorBuilder::reentrancy`]).
    pub fn actor_reentrancy(&mut self, max_stack_depth: Option<u32>) -> &mut Self {
        self.actors.settings.reentrancy = Some(max_stack_depth);
        self
    }

    /// The sidecar client actor turns use (state, reminders, nested calls). Default:
    /// [`Client::new`](crate::dapr::Client::new), resolved from the environment
    /// (`DAPR_HTTP_ENDPOINT`, `DAPR_HTTP_PORT`, which `wasi-dapr serve` sets) at each
    /// turn. Set one for tests (a client with a test transport) or another address.
    pub fn actor_client(&mut self, client: crate::dapr::Client) -> &mut Self {
        self.actors.client = Some(client);
        self
    }

    /// The `GET /dapr/config` answer: `{"entities":[…]}` with the app-wide settings that
    /// were set, and an `entitiesConfig` entry for each type with settings of its own.
    pub fn actor_config_json(&self) -> Value {
        self.actors.config_json()
    }

    /// The registered subscriptions, in order.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// The `GET /dapr/subscribe` answer: a JSON array of the subscriptions.
    pub fn subscriptions_json(&self) -> Value {
        Value::Array(
            self.subscriptions
                .iter()
                .map(Subscription::to_json)
                .collect(),
        )
    }

    /// Serves the current request: reads it from the CGI environment and stdin, calls the
    /// matching handler and writes the CGI response to stdout.
    ///
    /// Never panics. Outside `wasi-dapr serve` (no `REQUEST_METHOD`) it writes an error
    /// to stderr and a 500 response to stdout.
    ///
    /// On `wasm32-wasip2` there is no CGI request: a component is served through
    /// `wasi:http/incoming-handler` (see [`export!`]). There `run` writes an error
    /// saying so to stderr and exits the component with status 1.
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    pub fn run(&self) {
        stderr_log(
            "this component answers HTTP requests through wasi:http/incoming-handler and \
             is not run as a command: serve it with `wasi-dapr serve COMPONENT.wasm` \
             (or `wasmtime serve -S cli COMPONENT.wasm`)",
        );
        std::process::exit(1);
    }

    /// Serves the current request: reads it from the CGI environment and stdin, calls the
    /// matching handler and writes the CGI response to stdout.
    ///
    /// Never panics. Outside `wasi-dapr serve` (no `REQUEST_METHOD`) it writes an error
    /// to stderr and a 500 response to stdout.
    ///
    /// On `wasm32-wasip2` there is no CGI request: a component is served through
    /// `wasi:http/incoming-handler` (see [`export!`]). There `run` writes an error
    /// saying so to stderr and exits the component with status 1.
    #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
    pub fn run(&self) {
        let vars = std::env::vars_os().map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        });
        let response = self.respond(vars, std::io::stdin().lock(), &mut stderr_log);
        let mut out = std::io::stdout().lock();
        // Nothing useful can be done if stdout is gone: the host answers 500 then.
        let _ = out.write_all(&response.to_cgi());
        let _ = out.flush();
    }

    /// Answers one request. Diagnostics (a malformed CloudEvent, a handler's error) are
    /// written to stderr, which `wasi-dapr serve` logs as `guest: ...` lines.
    pub fn handle(&self, request: &Request) -> Response {
        self.dispatch(request, &mut stderr_log)
    }

    /// Reads the request from CGI variables and `stdin`, then dispatches it.
    #[cfg(any(test, not(all(target_os = "wasi", target_env = "p2"))))]
    fn respond(
        &self,
        vars: impl IntoIterator<Item = (String, String)>,
        mut stdin: impl std::io::Read,
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let mut request = match Request::from_cgi(vars, Vec::new()) {
            Ok(request) => request,
            Err(e) => {
                log(&e.to_string());
                return Response::text(e.to_string()).with_status(500);
            }
        };
        if let Err(e) = stdin.read_to_end(&mut request.body) {
            let e = Error::ReadBody(e);
            log(&e.to_string());
            return Response::text(e.to_string()).with_status(400);
        }
        self.dispatch(&request, log)
    }

    fn dispatch(&self, request: &Request, log: &mut dyn FnMut(&str)) -> Response {
        let path = normalize_path(&request.path);
        let method = request.method.to_ascii_uppercase();
        if method == "GET" && path == "/dapr/subscribe" {
            return Response::json(&self.subscriptions_json());
        }
        if let Some(response) = self.actors.dispatch(&method, request, log) {
            return response;
        }
        if method == "POST"
            && let Some(response) = self.topic(&path, request, log)
        {
            return response;
        }
        if method == "POST"
            && let Some(response) = self.configuration(&path, request, log)
        {
            return response;
        }
        if let Some(response) = self.job(&method, &path, request, log) {
            return response;
        }
        if let Some((name, handler)) = self
            .bindings
            .iter()
            .find(|(name, _)| path.strip_prefix('/') == Some(name.as_str()))
        {
            return match method.as_str() {
                "OPTIONS" => Response::ok(),
                "POST" | "PUT" => {
                    let event = BindingEvent {
                        name: name.clone(),
                        headers: request.headers.clone(),
                        data: request.body.clone(),
                    };
                    outcome(handler(&event), &format!("input binding {name}"), log)
                }
                _ => Response::text("method not allowed")
                    .with_status(405)
                    .with_header("Allow", "OPTIONS, POST, PUT"),
            };
        }
        if let Some(route) = self.invoke_route(&path) {
            return (route.handler)(request);
        }
        Response::text(format!("no handler for {method} {path}")).with_status(404)
    }

    /// A pub/sub delivery to `path`, if a subscription routes there.
    fn topic(&self, path: &str, request: &Request, log: &mut dyn FnMut(&str)) -> Option<Response> {
        let candidates: Vec<&TopicRoute> = self
            .topic_routes
            .iter()
            .filter(|r| r.path == path)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let (bulk, single): (Vec<&TopicRoute>, Vec<&TopicRoute>) = candidates
            .into_iter()
            .partition(|r| matches!(r.handler, RouteHandler::Bulk(_)));
        if !bulk.is_empty() && (single.is_empty() || looks_bulk(&request.body)) {
            return Some(self.bulk_delivery(path, request, &bulk, log));
        }
        let first = *single.first()?;
        let event = match TopicEvent::parse(path, request.headers.clone(), &request.body) {
            Ok(event) => event,
            Err(e) => {
                log(&format!(
                    "dropping a malformed CloudEvent delivered to {path}: {e}"
                ));
                return Some(TopicResult::Drop.to_response());
            }
        };
        // Several subscriptions may share a route: pick the one the event is for.
        let route = single
            .iter()
            .find(|r| r.pubsub_name == event.pubsub_name && r.topic == event.topic)
            .copied()
            .unwrap_or(first);
        match &route.handler {
            RouteHandler::Single(handler) => Some(handler(&event).to_response()),
            RouteHandler::Bulk(_) => None,
        }
    }

    /// A bulk delivery to `path`, handled by one of `routes` (all bulk, not empty).
    fn bulk_delivery(
        &self,
        path: &str,
        request: &Request,
        routes: &[&TopicRoute],
        log: &mut dyn FnMut(&str),
    ) -> Response {
        if !looks_bulk(&request.body) {
            return Self::single_to_bulk(path, request, routes, log);
        }
        let parsed = match BulkMessage::parse(path, request.headers.clone(), &request.body) {
            Ok(parsed) => parsed,
            Err(e) => {
                log(&format!(
                    "refusing a malformed bulk delivery to {path}: {e}"
                ));
                return Response::text(format!("malformed bulk delivery: {e}")).with_status(400);
            }
        };
        for (id, why) in &parsed.malformed {
            log(&format!(
                "dropping malformed entry {id} of a bulk delivery to {path}: {why}"
            ));
        }
        let message = &parsed.message;
        let route = routes
            .iter()
            .find(|r| r.pubsub_name == message.pubsub_name && r.topic == message.topic)
            .or(routes.first());
        let statuses = match route.map(|r| &r.handler) {
            Some(RouteHandler::Bulk(handler)) if !message.entries.is_empty() => handler(message),
            _ => Vec::new(),
        };
        let (response, unknown) = bulk::answer(&parsed, statuses);
        for id in unknown {
            log(&format!(
                "ignoring the status for entry {id}, which the bulk delivery to {path} did not have"
            ));
        }
        response
    }

    /// A single CloudEvent delivered to a bulk route (by a sidecar that does not bulk
    /// deliver): the handler gets it as a batch of one, entry id = the event's id, and
    /// its status is answered the single-delivery way, `{"status":…}`.
    fn single_to_bulk(
        path: &str,
        request: &Request,
        routes: &[&TopicRoute],
        log: &mut dyn FnMut(&str),
    ) -> Response {
        let event = match TopicEvent::parse(path, request.headers.clone(), &request.body) {
            Ok(event) => event,
            Err(e) => {
                log(&format!(
                    "dropping a malformed CloudEvent delivered to {path}: {e}"
                ));
                return TopicResult::Drop.to_response();
            }
        };
        let route = routes
            .iter()
            .find(|r| r.pubsub_name == event.pubsub_name && r.topic == event.topic)
            .or(routes.first());
        let Some(RouteHandler::Bulk(handler)) = route.map(|r| &r.handler) else {
            return TopicResult::Retry.to_response();
        };
        let message = BulkMessage::single(path, request.headers.clone(), event);
        let entry_id = message.entries[0].entry_id.clone();
        let status = handler(&message)
            .into_iter()
            .find(|s| s.entry_id == entry_id)
            .map_or(TopicResult::Retry, |s| s.status);
        status.to_response()
    }

    /// `/job/<name>`, if `name` has a handler.
    fn job(
        &self,
        method: &str,
        path: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Option<Response> {
        let name = path.strip_prefix("/job/")?;
        let (name, handler) = self.jobs.iter().find(|(n, _)| n == name)?;
        Some(match method {
            "POST" => {
                let event = JobEvent {
                    name: name.clone(),
                    headers: request.headers.clone(),
                    data: request.body.clone(),
                };
                outcome(handler(&event), &format!("job {name}"), log)
            }
            _ => Response::text("method not allowed")
                .with_status(405)
                .with_header("Allow", "POST"),
        })
    }

    /// `POST /configuration/<store>/<key>`, if `store` has a handler.
    fn configuration(
        &self,
        path: &str,
        request: &Request,
        log: &mut dyn FnMut(&str),
    ) -> Option<Response> {
        let (store, key) = path.strip_prefix("/configuration/")?.split_once('/')?;
        let (_, handler) = self.configurations.iter().find(|(s, _)| s == store)?;
        Some(
            match ConfigurationUpdate::parse(store, key, &request.body) {
                Ok(update) => outcome(
                    handler(&update),
                    &format!("configuration update {store}/{key}"),
                    log,
                ),
                Err(e) => {
                    log(&format!("configuration update {store}/{key}: {e}"));
                    Response::text(e.to_string()).with_status(400)
                }
            },
        )
    }

    fn invoke_route(&self, path: &str) -> Option<&InvokeRoute> {
        let exact = self
            .invoke_routes
            .iter()
            .find(|r| matches!(&r.pattern, Pattern::Exact(p) if p == path));
        exact.or_else(|| {
            self.invoke_routes
                .iter()
                .filter(
                    |r| matches!(&r.pattern, Pattern::Prefix(p) if path.starts_with(p.as_str())),
                )
                .max_by_key(|r| r.pattern.as_str().len())
        })
    }
}

/// Whether `body` is daprd's bulk envelope (a JSON object with an `entries` array).
fn looks_bulk(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(fields)) if fields.get("entries").is_some_and(Value::is_array)
    )
}

/// 200 for `Ok`, 500 (and a log line) for an error.
fn outcome(result: HandlerResult, what: &str, log: &mut dyn FnMut(&str)) -> Response {
    match result {
        Ok(()) => Response::ok(),
        Err(e) => {
            log(&format!("{what} failed: {e}"));
            Response::text(format!("{what} failed: {e}")).with_status(500)
        }
    }
}

/// Writes `wasi-dapr-sdk: <line>` to stderr in one write, so a host that labels each
/// write (`wasmtime serve` does) shows it whole.
fn stderr_log(line: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("wasi-dapr-sdk: {line}\n").as_bytes());
}

/// Makes a function returning an [`App`] the entry point of the guest, on both targets.
///
/// ```ignore
/// wasi_dapr_sdk::app::export!(build_app); // fn build_app() -> App
/// ```
///
/// The argument is a function (or closure) `fn() -> App`; it is called once per
/// request, and every request runs in a fresh instance anyway.
///
/// - On `wasm32-wasip1` this is `fn main() { build_app().run() }`: a module for
///   `wasi-dapr serve`'s CGI ([`App::run`]).
/// - On `wasm32-wasip2` it exports `wasi:http/incoming-handler`: each request is read
///   from `wasi:http`, passed to the handlers exactly like a CGI request would be, and
///   the [`Response`] is streamed back (with a `content-length`). It also writes the
///   `fn main()` a `bin` target needs, so the crate stays a `bin` on both targets; run as
///   a command, the component only says it must be served ([`App::run`]).
///
/// Use it once, at the top level of the `bin` crate, instead of writing `fn main()`.
#[doc(inline)]
pub use crate::__wasi_dapr_app_export as export;

/// The target-independent half of [`export!`]: the `fn main()` of the `bin` crate.
#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_dapr_app_export {
    ($build:expr $(,)?) => {
        fn main() {
            $crate::app::App::run(&($build)());
        }
        $crate::__wasi_dapr_export_incoming_handler!($build);
    };
}

/// On `wasm32-wasip2`, the `wasi:http/incoming-handler` export behind [`export!`].
#[cfg(all(target_os = "wasi", target_env = "p2"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_dapr_export_incoming_handler {
    ($build:expr) => {
        const _: () = {
            struct WasiDaprApp;

            impl $crate::__private::wasip2::exports::http::incoming_handler::Guest for WasiDaprApp {
                fn handle(
                    request: $crate::__private::wasip2::http::types::IncomingRequest,
                    out: $crate::__private::wasip2::http::types::ResponseOutparam,
                ) {
                    $crate::__private::serve(&($build)(), request, out);
                }
            }

            $crate::__private::wasip2::http::proxy::export!(WasiDaprApp);
        };
    };
}

/// On `wasm32-wasip1` (and native builds) [`export!`] exports nothing but `main`.
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_dapr_export_incoming_handler {
    ($build:expr) => {};
}

/// Options for a subscription made with [`App::subscribe`].
///
/// ```
/// use wasi_dapr_sdk::app::{App, TopicResult};
///
/// let mut app = App::new();
/// app.subscribe("pubsub", "orders", "/orders", |_| TopicResult::Success)
///     .rule(r#"event.type == "priority""#, "/orders/priority", |_| TopicResult::Success)
///     .dead_letter_topic("orders-dead")
///     .raw_payload(true);
/// assert_eq!(
///     app.subscriptions_json()[0]["routes"]["rules"][0]["path"],
///     "/orders/priority"
/// );
/// ```
pub struct SubscriptionBuilder<'a> {
    app: &'a mut App,
    index: usize,
}

impl fmt::Debug for SubscriptionBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionBuilder")
            .field("subscription", &self.app.subscriptions.get(self.index))
            .finish()
    }
}

impl SubscriptionBuilder<'_> {
    fn subscription(&mut self) -> Option<&mut Subscription> {
        self.app.subscriptions.get_mut(self.index)
    }

    /// Adds a routing rule: events for which the CEL expression `match_expr` holds go to
    /// `path`, handled by `handler`. Rules are tried in order; the subscription's route is
    /// the default.
    pub fn rule<F>(mut self, match_expr: &str, path: &str, handler: F) -> Self
    where
        F: Fn(&TopicEvent) -> TopicResult + 'static,
    {
        let path = normalize_path(path);
        let Some(sub) = self.subscription() else {
            return self;
        };
        sub.rules.push(Rule {
            match_expr: match_expr.to_owned(),
            path: path.clone(),
        });
        let (pubsub_name, topic) = (sub.pubsub_name.clone(), sub.topic.clone());
        self.app.topic_routes.push(TopicRoute {
            path,
            pubsub_name,
            topic,
            handler: RouteHandler::Single(Box::new(handler)),
        });
        self
    }

    /// Sets the dead-letter topic: where daprd sends the messages the handler dropped or
    /// that ran out of retries. Subscribe to it separately to handle them.
    pub fn dead_letter_topic(mut self, topic: &str) -> Self {
        if let Some(sub) = self.subscription() {
            sub.dead_letter_topic = Some(topic.to_owned());
        }
        self
    }

    /// Adds subscription metadata (sent in the `metadata` object).
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        if let Some(sub) = self.subscription() {
            sub.metadata.insert(key.to_owned(), value.to_owned());
        }
        self
    }

    /// `rawPayload`: receive messages published without a CloudEvent envelope; daprd
    /// wraps them with the bytes in `data_base64` ([`TopicEvent::data_bytes`]).
    pub fn raw_payload(self, raw: bool) -> Self {
        self.metadata("rawPayload", if raw { "true" } else { "false" })
    }
}

/// Options for a bulk subscription made with [`App::subscribe_bulk`].
pub struct BulkSubscriptionBuilder<'a> {
    app: &'a mut App,
    index: usize,
}

impl fmt::Debug for BulkSubscriptionBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkSubscriptionBuilder")
            .field("subscription", &self.app.subscriptions.get(self.index))
            .finish()
    }
}

impl BulkSubscriptionBuilder<'_> {
    fn subscription(&mut self) -> Option<&mut Subscription> {
        self.app.subscriptions.get_mut(self.index)
    }

    fn bulk(&mut self) -> Option<&mut BulkSubscribe> {
        self.subscription()?.bulk_subscribe.as_mut()
    }

    /// `maxMessagesCount`: at most this many messages per delivery (daprd's default 100).
    pub fn max_messages_count(mut self, count: u32) -> Self {
        if let Some(bulk) = self.bulk() {
            bulk.max_messages_count = count;
        }
        self
    }

    /// `maxAwaitDurationMs`: deliver at most this long after a batch's first message
    /// (daprd's default 1000).
    pub fn max_await_duration_ms(mut self, ms: u32) -> Self {
        if let Some(bulk) = self.bulk() {
            bulk.max_await_duration_ms = ms;
        }
        self
    }

    /// Sets the dead-letter topic: daprd bulk-publishes the entries answered `DROP`, or
    /// still failed after retries, there.
    pub fn dead_letter_topic(mut self, topic: &str) -> Self {
        if let Some(sub) = self.subscription() {
            sub.dead_letter_topic = Some(topic.to_owned());
        }
        self
    }

    /// Adds subscription metadata (sent in the `metadata` object).
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        if let Some(sub) = self.subscription() {
            sub.metadata.insert(key.to_owned(), value.to_owned());
        }
        self
    }

    /// `rawPayload`: receive messages published without a CloudEvent envelope; each
    /// entry's event is then the raw bytes ([`BulkEntryEvent::Raw`]).
    pub fn raw_payload(self, raw: bool) -> Self {
        self.metadata("rawPayload", if raw { "true" } else { "false" })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use serde_json::json;

    use super::*;

    /// A request with `method`, `path` and `body` (also for the `actor` tests).
    pub(super) fn request(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            ..Request::default()
        }
    }

    /// Dispatches and returns the response and the log lines.
    pub(super) fn call(app: &App, req: &Request) -> (Response, Vec<String>) {
        let mut log = Vec::new();
        let response = app.dispatch(req, &mut |line: &str| log.push(line.to_owned()));
        (response, log)
    }

    fn body(r: &Response) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    fn event(pubsub: &str, topic: &str, data: Value) -> String {
        json!({"id": "1", "specversion": "1.0", "type": "com.dapr.event.sent", "source": "me",
               "pubsubname": pubsub, "topic": topic, "datacontenttype": "application/json",
               "data": data})
        .to_string()
    }

    #[test]
    fn empty_app() {
        let app = App::new();
        let (r, _) = call(&app, &request("GET", "/dapr/subscribe", ""));
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
        assert_eq!(body(&r), "[]");
        let (r, log) = call(&app, &request("POST", "/orders", "{}"));
        assert_eq!(r.status, 404);
        assert_eq!(body(&r), "no handler for POST /orders");
        assert!(log.is_empty());
    }

    #[test]
    fn subscribe_lists_every_subscription() {
        let mut app = App::new();
        app.subscribe("pubsub", "orders", "orders/", |_| TopicResult::Success)
            .rule("event.type == \"big\"", "big-orders", |_| {
                TopicResult::Success
            })
            .dead_letter_topic("orders-dead")
            .metadata("maxRetries", "3");
        app.subscribe("pubsub", "raw", "/raw", |_| TopicResult::Success)
            .raw_payload(true);
        app.subscribe("other", "orders-dead", "/dead", |_| TopicResult::Success);
        let (r, _) = call(&app, &request("GET", "/dapr/subscribe/", ""));
        assert_eq!(r.status, 200);
        let list: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            list,
            json!([
                {"pubsubname": "pubsub", "topic": "orders",
                 "routes": {"rules": [{"match": "event.type == \"big\"", "path": "/big-orders"}],
                            "default": "/orders"},
                 "deadLetterTopic": "orders-dead", "metadata": {"maxRetries": "3"}},
                {"pubsubname": "pubsub", "topic": "raw", "route": "/raw",
                 "metadata": {"rawPayload": "true"}},
                {"pubsubname": "other", "topic": "orders-dead", "route": "/dead"},
            ])
        );
        assert_eq!(app.subscriptions().len(), 3);
        assert_eq!(app.subscriptions()[0].rules[0].path, "/big-orders");
        assert!(format!("{app:?}").contains("orders-dead"));
    }

    #[test]
    fn topic_results_on_the_wire() {
        let mut app = App::new();
        app.subscribe("pubsub", "orders", "/orders", |ev| {
            match ev.data_json::<Value>().unwrap()["answer"].as_str() {
                Some("retry") => TopicResult::Retry,
                Some("drop") => TopicResult::Drop,
                _ => TopicResult::Success,
            }
        });
        for (answer, status) in [("ok", "SUCCESS"), ("retry", "RETRY"), ("drop", "DROP")] {
            let ev = event("pubsub", "orders", json!({"answer": answer}));
            let (r, log) = call(&app, &request("POST", "/orders", &ev));
            assert_eq!(r.status, 200);
            assert_eq!(body(&r), format!(r#"{{"status":"{status}"}}"#));
            assert!(log.is_empty());
        }
        // Only POST delivers; a GET to the route is not a delivery.
        let (r, _) = call(&app, &request("GET", "/orders", ""));
        assert_eq!(r.status, 404);
    }

    #[test]
    fn the_handler_sees_the_decoded_event() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut app = App::new();
        let s = seen.clone();
        app.subscribe("pubsub", "orders", "/orders", move |ev| {
            s.borrow_mut().push((
                ev.route.clone(),
                ev.topic.clone(),
                ev.headers.get("pubsubname").map(str::to_owned),
                ev.data_text().unwrap(),
            ));
            TopicResult::Success
        });
        let mut req = request("POST", "/orders", &event("pubsub", "orders", json!("hi")));
        req.headers.append("pubsubname", "pubsub");
        call(&app, &req);
        assert_eq!(
            seen.borrow().as_slice(),
            [(
                "/orders".to_string(),
                "orders".to_string(),
                Some("pubsub".to_string()),
                "hi".to_string()
            )]
        );
    }

    #[test]
    fn rules_route_to_their_own_handlers() {
        let mut app = App::new();
        app.subscribe("pubsub", "orders", "/orders", |_| TopicResult::Success)
            .rule("event.type == \"big\"", "/orders/big", |_| {
                TopicResult::Drop
            });
        let ev = event("pubsub", "orders", json!(1));
        let (r, _) = call(&app, &request("POST", "/orders/big", &ev));
        assert_eq!(body(&r), r#"{"status":"DROP"}"#);
        let (r, _) = call(&app, &request("POST", "/orders", &ev));
        assert_eq!(body(&r), r#"{"status":"SUCCESS"}"#);
    }

    #[test]
    fn a_shared_route_picks_the_subscription_of_the_event() {
        let mut app = App::new();
        app.subscribe("pubsub", "a", "/events", |_| TopicResult::Success);
        app.subscribe("pubsub", "b", "/events", |_| TopicResult::Retry);
        let (r, _) = call(
            &app,
            &request("POST", "/events", &event("pubsub", "b", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"RETRY"}"#);
        let (r, _) = call(
            &app,
            &request("POST", "/events", &event("pubsub", "a", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"SUCCESS"}"#);
        // An event for neither goes to the first.
        let (r, _) = call(
            &app,
            &request("POST", "/events", &event("x", "y", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"SUCCESS"}"#);
    }

    #[test]
    fn malformed_cloud_events_are_dropped_and_logged() {
        let called = Rc::new(RefCell::new(0));
        let c = called.clone();
        let mut app = App::new();
        app.subscribe("pubsub", "orders", "/orders", move |_| {
            *c.borrow_mut() += 1;
            TopicResult::Success
        });
        for bad in ["", "not json", "[]", r#"{"data_base64":"%%%"}"#] {
            let (r, log) = call(&app, &request("POST", "/orders", bad));
            assert_eq!(r.status, 200, "{bad}");
            assert_eq!(body(&r), r#"{"status":"DROP"}"#, "{bad}");
            assert_eq!(log.len(), 1, "{bad}");
            assert!(
                log[0].starts_with("dropping a malformed CloudEvent delivered to /orders: "),
                "{}",
                log[0]
            );
        }
        assert_eq!(*called.borrow(), 0);
    }

    #[test]
    fn invoke_routes() {
        let mut app = App::new();
        app.on_invoke("hello", |_| Response::text("hello"))
            .on_invoke("/orders/*", |req| {
                Response::text(format!("order {}", req.path))
            })
            .on_invoke("orders/special", |_| Response::text("special"))
            .on_invoke("orders/big/*", |_| Response::text("big"))
            .on_invoke("echo", |req| {
                Response::json(&json!({
                    "method": req.method,
                    "query": req.query,
                    "x": req.header("x-custom"),
                    "body": req.text().unwrap_or_default(),
                }))
                .with_status(201)
            });
        let (r, _) = call(&app, &request("GET", "/hello/", ""));
        assert_eq!((r.status, body(&r)), (200, "hello".to_string()));
        let (r, _) = call(&app, &request("DELETE", "/orders/17", ""));
        assert_eq!(body(&r), "order /orders/17");
        let (r, _) = call(&app, &request("GET", "/orders/special", ""));
        assert_eq!(body(&r), "special");
        let (r, _) = call(&app, &request("GET", "/orders/big/1", ""));
        assert_eq!(body(&r), "big");
        let (r, _) = call(&app, &request("GET", "/orders", ""));
        assert_eq!(r.status, 404);
        let mut req = request("PUT", "/echo", "ping");
        req.query = "a=1".into();
        req.headers.append("x-custom", "v");
        let (r, _) = call(&app, &req);
        assert_eq!(r.status, 201);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"method": "PUT", "query": "a=1", "x": "v", "body": "ping"})
        );
        let mut app = App::new();
        app.on_invoke("*", |req| Response::text(req.path.clone()));
        let (r, _) = call(&app, &request("GET", "/any/thing", ""));
        assert_eq!(body(&r), "/any/thing");
    }

    #[test]
    fn topic_routes_win_for_post_invoke_routes_for_the_rest() {
        let mut app = App::new();
        app.subscribe("pubsub", "orders", "/orders", |_| TopicResult::Success);
        app.on_invoke("orders", |_| Response::text("invoked"));
        let (r, _) = call(
            &app,
            &request("POST", "/orders", &event("pubsub", "orders", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"SUCCESS"}"#);
        let (r, _) = call(&app, &request("GET", "/orders", ""));
        assert_eq!(body(&r), "invoked");
    }

    #[test]
    fn input_bindings() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.on_binding("tick", move |ev| {
            s.borrow_mut()
                .push((ev.name.clone(), ev.text()?.to_owned()));
            if ev.data == b"fail" {
                return Err("cannot tick".into());
            }
            Ok(())
        });
        let (r, _) = call(&app, &request("OPTIONS", "/tick", ""));
        assert_eq!((r.status, r.body.len()), (200, 0));
        let (r, log) = call(&app, &request("POST", "/tick", "{}"));
        assert_eq!((r.status, r.body.len()), (200, 0));
        assert!(log.is_empty());
        let (r, log) = call(&app, &request("POST", "/tick", "fail"));
        assert_eq!(r.status, 500);
        assert_eq!(log, ["input binding tick failed: cannot tick"]);
        let (r, _) = call(&app, &request("GET", "/tick", ""));
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.get("allow"), Some("OPTIONS, POST, PUT"));
        assert_eq!(
            seen.borrow().as_slice(),
            [
                ("tick".to_string(), "{}".to_string()),
                ("tick".to_string(), "fail".to_string())
            ]
        );
        // An unknown binding is not probed successfully.
        let (r, _) = call(&app, &request("OPTIONS", "/other", ""));
        assert_eq!(r.status, 404);
    }

    #[test]
    fn configuration_updates() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.on_configuration("configstore", move |u| {
            s.borrow_mut().push(format!(
                "{}/{} {} {}",
                u.store, u.key, u.id, u.items["color"].value
            ));
            Ok(())
        });
        let update = r#"{"id":"s1","items":{"color":{"value":"blue","version":"1"}}}"#;
        let (r, log) = call(
            &app,
            &request("POST", "/configuration/configstore/color", update),
        );
        assert_eq!(r, Response::ok());
        assert!(log.is_empty());
        assert_eq!(seen.borrow().as_slice(), ["configstore/color s1 blue"]);
        let (r, log) = call(
            &app,
            &request("POST", "/configuration/configstore/color", "{"),
        );
        assert_eq!(r.status, 400);
        assert_eq!(log.len(), 1);
        assert!(
            log[0].starts_with("configuration update configstore/color: "),
            "{log:?}"
        );
        let (r, _) = call(&app, &request("POST", "/configuration/other/color", update));
        assert_eq!(r.status, 404);
        let (r, _) = call(&app, &request("POST", "/configuration/configstore", update));
        assert_eq!(r.status, 404);

        let mut failing = App::new();
        failing.on_configuration("configstore", |_| Err("no".into()));
        let (r, log) = call(
            &failing,
            &request("POST", "/configuration/configstore/k", update),
        );
        assert_eq!(r.status, 500);
        assert_eq!(log, ["configuration update configstore/k failed: no"]);
    }

    fn bulk_body(pubsub: &str, topic: &str, entries: Value) -> String {
        json!({"entries": entries, "id": "env-1", "metadata": {"pubsubName": pubsub},
               "pubsubname": pubsub, "topic": topic, "type": "com.dapr.event.sent.bulk"})
        .to_string()
    }

    fn ce_entry(id: &str, data: Value) -> Value {
        json!({"entryId": id, "event": {"id": format!("ce-{id}"), "specversion": "1.0",
               "type": "com.dapr.event.sent", "source": "me", "pubsubname": "pubsub",
               "topic": "orders", "datacontenttype": "application/json", "data": data},
               "metadata": null, "contentType": "application/cloudevents+json"})
    }

    #[test]
    fn bulk_subscription_is_listed_with_bulk_subscribe() {
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "orders-bulk/", |b| {
            b.each(|_| TopicResult::Success)
        })
        .max_messages_count(10)
        .max_await_duration_ms(250)
        .dead_letter_topic("orders-dead")
        .raw_payload(true);
        app.subscribe_bulk("pubsub", "other", "/other", |_| Vec::new());
        let (r, _) = call(&app, &request("GET", "/dapr/subscribe", ""));
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!([
                {"pubsubname": "pubsub", "topic": "orders", "route": "/orders-bulk",
                 "deadLetterTopic": "orders-dead", "metadata": {"rawPayload": "true"},
                 "bulkSubscribe": {"enabled": true, "maxMessagesCount": 10, "maxAwaitDurationMs": 250}},
                {"pubsubname": "pubsub", "topic": "other", "route": "/other",
                 "bulkSubscribe": {"enabled": true, "maxMessagesCount": 100, "maxAwaitDurationMs": 1000}},
            ])
        );
        assert_eq!(
            app.subscriptions()[0].bulk_subscribe,
            Some(BulkSubscribe {
                max_messages_count: 10,
                max_await_duration_ms: 250
            })
        );
        assert!(format!("{app:?}").contains("max_messages_count: 10"));
    }

    #[test]
    fn bulk_delivery_answers_one_status_per_entry() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "/orders-bulk", move |batch| {
            s.borrow_mut().push((
                batch.topic.clone(),
                batch.route.clone(),
                batch.headers.get("pubsubname").map(str::to_owned),
                batch
                    .entries
                    .iter()
                    .map(|e| e.entry_id.clone())
                    .collect::<Vec<_>>(),
            ));
            batch.each(|entry| match entry.data_json::<Value>() {
                Ok(v) if v["n"] == 2 => TopicResult::Retry,
                Ok(v) if v["n"] == 3 => TopicResult::Drop,
                Ok(_) => TopicResult::Success,
                Err(_) => TopicResult::Drop,
            })
        });
        let body = bulk_body(
            "pubsub",
            "orders",
            json!([ce_entry("a", json!({"n": 1})), ce_entry("b", json!({"n": 2})),
                   ce_entry("c", json!({"n": 3})),
                   {"entryId": "raw", "event": "eyJuIjoxfQ==", "metadata": {"k": "v"},
                    "contentType": "application/octet-stream"},
                   {"entryId": "bad", "event": 42}]),
        );
        let mut req = request("POST", "/orders-bulk", &body);
        req.headers.append("pubsubname", "pubsub");
        let (r, log) = call(&app, &req);
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"statuses": [
                {"entryId": "a", "status": "SUCCESS"},
                {"entryId": "b", "status": "RETRY"},
                {"entryId": "c", "status": "DROP"},
                {"entryId": "raw", "status": "SUCCESS"},
                {"entryId": "bad", "status": "DROP"},
            ]})
        );
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].starts_with("dropping malformed entry bad of a bulk delivery to /orders-bulk: "),
            "{log:?}"
        );
        assert_eq!(
            seen.borrow().as_slice(),
            [(
                "orders".to_string(),
                "/orders-bulk".to_string(),
                Some("pubsub".to_string()),
                vec!["a".to_string(), "b".into(), "c".into(), "raw".into()]
            )]
        );
    }

    #[test]
    fn bulk_handler_statuses_missing_or_unknown() {
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "/b", |batch| {
            vec![
                batch.entries[1].status(TopicResult::Success),
                BulkEntryStatus {
                    entry_id: "ghost".into(),
                    status: TopicResult::Success,
                },
            ]
        });
        let body = bulk_body(
            "pubsub",
            "orders",
            json!([ce_entry("a", json!(1)), ce_entry("b", json!(2))]),
        );
        let (r, log) = call(&app, &request("POST", "/b", &body));
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"statuses": [
                {"entryId": "a", "status": "RETRY"},
                {"entryId": "b", "status": "SUCCESS"},
            ]})
        );
        assert_eq!(
            log,
            ["ignoring the status for entry ghost, which the bulk delivery to /b did not have"]
        );
        // An envelope with no entries does not call the handler (which would panic here).
        let (r, log) = call(
            &app,
            &request("POST", "/b", &bulk_body("pubsub", "orders", json!([]))),
        );
        assert_eq!(r.status, 200);
        assert_eq!(body_of_json(&r), json!({"statuses": []}));
        assert!(log.is_empty());
    }

    fn body_of_json(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn malformed_bulk_deliveries_are_refused() {
        let called = Rc::new(RefCell::new(0));
        let c = called.clone();
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "/b", move |_| {
            *c.borrow_mut() += 1;
            Vec::new()
        });
        for bad in [
            r#"{"entries":[{"event":{}}]}"#,
            r#"{"entries":[1]}"#,
            r#"{"entries":[],"metadata":7}"#,
        ] {
            let (r, log) = call(&app, &request("POST", "/b", bad));
            assert_eq!(r.status, 400, "{bad}");
            assert_eq!(log.len(), 1, "{bad}");
            assert!(
                log[0].starts_with("refusing a malformed bulk delivery to /b: "),
                "{log:?}"
            );
        }
        // Not an envelope and not a CloudEvent either: DROP, as for a single delivery.
        for bad in ["", "not json", "[]"] {
            let (r, log) = call(&app, &request("POST", "/b", bad));
            assert_eq!(body(&r), r#"{"status":"DROP"}"#, "{bad}");
            assert!(log[0].starts_with("dropping a malformed CloudEvent delivered to /b: "));
        }
        assert_eq!(*called.borrow(), 0);
    }

    #[test]
    fn a_single_cloud_event_on_a_bulk_route_is_a_batch_of_one() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "/b", move |batch| {
            s.borrow_mut().push((
                batch.topic.clone(),
                batch.entries.len(),
                batch.entries[0].entry_id.clone(),
                batch.entries[0].content_type.clone(),
            ));
            batch.each(|e| match e.data_json::<Value>() {
                Ok(v) if v == 2 => TopicResult::Drop,
                _ => TopicResult::Success,
            })
        });
        let (r, _) = call(
            &app,
            &request("POST", "/b", &event("pubsub", "orders", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"SUCCESS"}"#);
        let (r, _) = call(
            &app,
            &request("POST", "/b", &event("pubsub", "orders", json!(2))),
        );
        assert_eq!(body(&r), r#"{"status":"DROP"}"#);
        assert_eq!(
            seen.borrow()[0],
            (
                "orders".to_string(),
                1,
                "1".to_string(),
                "application/cloudevents+json".to_string()
            )
        );
        // A handler that gives no status for it: RETRY, never a silent SUCCESS.
        let mut app = App::new();
        app.subscribe_bulk("pubsub", "orders", "/b", |_| Vec::new());
        let (r, _) = call(
            &app,
            &request("POST", "/b", &event("pubsub", "orders", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"RETRY"}"#);
    }

    #[test]
    fn bulk_and_single_routes_side_by_side() {
        let mut app = App::new();
        app.subscribe("pubsub", "one", "/shared", |_| TopicResult::Drop);
        app.subscribe_bulk("pubsub", "many", "/shared", |b| {
            b.each(|_| TopicResult::Success)
        });
        app.subscribe_bulk("pubsub", "a", "/bulk", |b| b.each(|_| TopicResult::Retry));
        app.subscribe_bulk("pubsub", "b", "/bulk", |b| b.each(|_| TopicResult::Success));
        // A CloudEvent goes to the single handler, an envelope to the bulk one.
        let (r, _) = call(
            &app,
            &request("POST", "/shared", &event("pubsub", "one", json!(1))),
        );
        assert_eq!(body(&r), r#"{"status":"DROP"}"#);
        let envelope = bulk_body("pubsub", "many", json!([ce_entry("x", json!(1))]));
        let (r, _) = call(&app, &request("POST", "/shared", &envelope));
        assert_eq!(
            body_of_json(&r),
            json!({"statuses": [{"entryId": "x", "status": "SUCCESS"}]})
        );
        // Bulk routes shared by two topics pick the envelope's topic.
        let envelope = bulk_body("pubsub", "b", json!([ce_entry("y", json!(1))]));
        let (r, _) = call(&app, &request("POST", "/bulk", &envelope));
        assert_eq!(
            body_of_json(&r),
            json!({"statuses": [{"entryId": "y", "status": "SUCCESS"}]})
        );
        let envelope = bulk_body("pubsub", "a", json!([ce_entry("y", json!(1))]));
        let (r, _) = call(&app, &request("POST", "/bulk", &envelope));
        assert_eq!(
            body_of_json(&r),
            json!({"statuses": [{"entryId": "y", "status": "RETRY"}]})
        );
    }

    #[test]
    fn jobs() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let mut app = App::new();
        app.on_job("report", move |job| {
            let data: Value = job.json()?;
            s.borrow_mut().push((job.name.clone(), data.clone()));
            if data == "fail" {
                return Err("cannot report".into());
            }
            Ok(())
        });
        let (r, log) = call(&app, &request("POST", "/job/report", r#"{"task":"daily"}"#));
        assert_eq!(r, Response::ok());
        assert!(log.is_empty());
        let (r, log) = call(&app, &request("POST", "/job/report/", r#""fail""#));
        assert_eq!(r.status, 500);
        assert_eq!(log, ["job report failed: cannot report"]);
        let (r, log) = call(&app, &request("POST", "/job/report", "not json"));
        assert_eq!(r.status, 500);
        assert!(
            log[0].starts_with("job report failed: the event data is not the expected JSON"),
            "{log:?}"
        );
        let (r, _) = call(&app, &request("GET", "/job/report", ""));
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.get("allow"), Some("POST"));
        let (r, _) = call(&app, &request("POST", "/job/other", "1"));
        assert_eq!(r.status, 404);
        let (r, _) = call(&app, &request("POST", "/job", "1"));
        assert_eq!(r.status, 404);
        assert_eq!(
            seen.borrow().as_slice(),
            [
                ("report".to_string(), json!({"task": "daily"})),
                ("report".to_string(), json!("fail"))
            ]
        );
        assert!(format!("{app:?}").contains("report"));
    }

    #[test]
    fn respond_reads_cgi_and_stdin() {
        let mut app = App::new();
        app.on_invoke("echo", |req| {
            Response::bytes("text/plain", req.body.clone())
        });
        let vars = [
            ("REQUEST_METHOD".to_string(), "POST".to_string()),
            ("PATH_INFO".to_string(), "/echo".to_string()),
        ];
        let mut log = Vec::new();
        let r = app.respond(vars, &b"from stdin"[..], &mut |l: &str| {
            log.push(l.to_owned())
        });
        assert_eq!(
            r.to_cgi(),
            b"Status: 200\nContent-Type: text/plain\n\nfrom stdin"
        );
        assert!(log.is_empty());
    }

    #[test]
    fn respond_outside_serve_is_a_500_with_a_message() {
        let app = App::new();
        let mut log = Vec::new();
        let r = app.respond(Vec::new(), &b""[..], &mut |l: &str| log.push(l.to_owned()));
        assert_eq!(r.status, 500);
        assert_eq!(log.len(), 1);
        assert!(log[0].contains("wasi-dapr serve"), "{log:?}");
    }

    #[test]
    fn unreadable_stdin_is_a_400() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("gone"))
            }
        }
        let app = App::new();
        let vars = [("REQUEST_METHOD".to_string(), "GET".to_string())];
        let mut log = Vec::new();
        let r = app.respond(vars, Broken, &mut |l: &str| log.push(l.to_owned()));
        assert_eq!(r.status, 400);
        assert_eq!(log, ["reading the request body from stdin: gone"]);
    }
}
