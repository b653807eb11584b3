#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Layers, each using only those above it:
//   api, error, options, app                leaves: wire vocabulary, startup errors, settings, the app channel
//   gojson                                  leaf: Go encoding/json key matching for bodies
//   components                              resource YAML, ComponentKind
//   */component.rs, state/store.rs, ...     the backends of each building block (no HTTP)
//   ctx                                     what the handlers share
//   state/, pubsub/, bindings/, ...         the HTTP handlers of each building block
//   loader, server                          components → Ctx; accept loop and route table
mod actors;
mod api;
mod app;
mod bindings;
mod components;
mod configuration;
mod conversation;
mod ctx;
mod error;
mod gojson;
mod invoke;
mod jobs;
mod loader;
mod lock;
mod metadata;
mod options;
mod pubsub;
mod secrets;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::SidecarError;
pub use options::*;

use bindings::component::Binding;
use components::{ComponentKind, ComponentSpec, Resources};
use ctx::{Ctx, wait_for_shutdown};

/// A running sidecar. Dropping the handle stops it (without waiting for the drain);
/// [`Sidecar::shutdown`] stops it gracefully.
pub struct Sidecar {
    addr: SocketAddr,
    ctx: Arc<Ctx>,
    server: Option<JoinHandle<()>>,
    subscriber: Option<JoinHandle<()>>,
    inputs: Vec<JoinHandle<()>>,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.ctx.request_shutdown();
        if let Some(sub) = self.subscriber.take() {
            sub.abort();
        }
        for task in self.inputs.drain(..) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar")
            .field("addr", &self.addr)
            .field("app_id", &self.ctx.app_id)
            .finish()
    }
}

impl Sidecar {
    /// Loads components, binds, starts serving and (with an app port) asks the app for its
    /// subscriptions in the background. Returns once listening.
    pub async fn start(opts: SidecarOptions) -> Result<Sidecar, SidecarError> {
        Self::start_with(opts, SidecarTuning::default()).await
    }

    /// [`Sidecar::start`] with explicit limits and retry schedules.
    pub async fn start_with(
        opts: SidecarOptions,
        tuning: SidecarTuning,
    ) -> Result<Sidecar, SidecarError> {
        let resources = match &opts.resources_path {
            Some(dir) => components::load_dir(dir, &opts.app_id)?,
            None => Resources {
                components: vec![
                    // As `dapr init`'s default statestore: also the actor state store.
                    ComponentSpec::builtin("statestore", ComponentKind::StateInMemory)
                        .with_metadata("actorStateStore", "true"),
                    ComponentSpec::builtin("pubsub", ComponentKind::PubSubInMemory),
                ],
                subscriptions: Vec::new(),
            },
        };
        let (shutdown, _) = watch::channel(false);
        let (ctx, declarative) = loader::build_ctx(&opts, tuning, resources, shutdown).await?;
        let ctx = Arc::new(ctx);
        pubsub::delivery::install(&ctx, declarative);
        let listener =
            TcpListener::bind(opts.listen)
                .await
                .map_err(|source| SidecarError::Bind {
                    addr: opts.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SidecarError::Bind {
            addr: opts.listen,
            source,
        })?;
        let server = tokio::spawn(server::serve(listener, ctx.clone()));
        let mut inputs = Vec::new();
        if ctx.app_port.is_some() {
            for (name, binding) in &ctx.bindings {
                if let Binding::Cron(every) = binding {
                    let task = bindings::run_input(ctx.clone(), name.clone(), *every);
                    inputs.push(tokio::spawn(task));
                }
            }
        }
        // Without an app port no trigger could be delivered: jobs are kept, never fired.
        if ctx.app_port.is_some() {
            inputs.push(tokio::spawn(jobs::scheduler::run(ctx.clone(), |c| &c.jobs)));
            inputs.push(tokio::spawn(jobs::scheduler::run(ctx.clone(), |c| {
                &c.actors.reminders
            })));
            inputs.push(tokio::spawn(jobs::scheduler::run(ctx.clone(), |c| {
                &c.actors.timers
            })));
            inputs.push(tokio::spawn(actors::deactivate_idle(ctx.clone())));
        }
        let subscriber = if ctx.app_port.is_some() {
            Some(tokio::spawn(pubsub::delivery::load_app_subscriptions(
                ctx.clone(),
            )))
        } else {
            ctx.actors
                .set_hosted(actors::config::HostedTypes::default());
            ctx.set_ready();
            None
        };
        tracing::info!(%addr, app_id = %ctx.app_id, app_port = ?ctx.app_port, "wasi-dapr sidecar listening");
        Ok(Sidecar {
            addr,
            ctx,
            server: Some(server),
            subscriber,
            inputs,
        })
    }

    /// The address the sidecar listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `GET /v1.0/healthz` answers 204 (the app answered, or there is no app port).
    pub fn is_ready(&self) -> bool {
        self.ctx.is_ready()
    }

    /// The stored entries of a state store, with full keys (`<appId>||<key>`), sorted by key;
    /// empty for an unknown store. For tests and debugging.
    pub async fn state_snapshot(&self, store: &str) -> Vec<(String, Vec<u8>)> {
        let Some(comp) = self.ctx.states.get(store) else {
            return Vec::new();
        };
        match comp.store.scan("").await {
            Ok(items) => items.into_iter().map(|(k, item)| (k, item.data)).collect(),
            Err(e) => {
                tracing::warn!(store, error = %e, "state snapshot failed");
                Vec::new()
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish, stops deliveries.
    pub async fn shutdown(self) {
        self.ctx.request_shutdown();
        self.finish().await;
    }

    /// Resolves when `POST /v1.0/shutdown` was called (or another shutdown happened), after
    /// the server has stopped.
    pub async fn wait(self) {
        let mut rx = self.ctx.shutdown_rx();
        wait_for_shutdown(&mut rx).await;
        self.finish().await;
    }

    async fn finish(mut self) {
        if let Some(sub) = self.subscriber.take() {
            sub.abort();
        }
        for task in self.inputs.drain(..) {
            task.abort();
        }
        if let Some(server) = self.server.take()
            && let Err(e) = server.await
            && e.is_panic()
        {
            tracing::error!("the sidecar's server task panicked");
        }
        tracing::info!(addr = %self.addr, "wasi-dapr sidecar stopped");
    }
}
