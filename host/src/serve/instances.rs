//! Instances prepared ahead of requests and torn down behind them, off the request path.
//!
//! For every request `serve` creates a store and instantiates the module (about 6 µs on
//! the benchmark machine), and afterwards drops the store, which resets the pages the
//! guest dirtied and returns its pool slots (about 9 µs). None of that depends on the
//! request, so a helper thread does it while the request path speaks HTTP: it keeps a
//! few instances ready, and takes used stores off the requests' hands. When requests
//! arrive one at a time this work overlaps the network exchange instead of adding to it.
//!
//! A used store is handed over only if the helper is idle, waiting for one (a rendezvous
//! channel); otherwise the request drops it itself, as it would without the helper. When
//! every core is busy, a queue for the helper would only add cross-core cache misses and
//! let the helper fall behind: measured, a backlog of four cost about 15% of throughput
//! at 16 connections, while the rendezvous costs nothing there.
//!
//! A request's concurrency permit travels with its store and is released only once the
//! store is gone, so at most `max_concurrent` request stores plus the prepared ones hold
//! pool slots; [`pool_size`] sizes the pool for that, plus slots on their way back to it.
//!
//! The same helper serves `wasi:http/proxy` components ([`ComponentTemplate`]), whose
//! instantiation (three core instances for a Rust hello) costs about 7 µs and the store's
//! teardown about 2.5 µs. A component's store is handed to the helper only when its
//! request was the only one in flight: with every core busy, waking the helper for a
//! 2.5 µs teardown cost 7% of throughput at 16 connections (measured), while at one
//! connection the helper's work overlaps the network exchange (+16% requests per
//! second). Under load the ready instances are used up and the helper waits; the next
//! quiet request's store wakes it to top them up again.
//!
//! Instantiation runs a module's wasm `start` function, if it has one (for a component:
//! any of its core modules' start functions, or a component start function), and that
//! code would see the placeholder WASI context of a prepared store rather than the
//! request's. Such guests are therefore never prepared ahead: their requests instantiate
//! on the request path, as before.

use std::future::Future;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;
use wasmtime::{Engine, Instance, InstancePre, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};

use crate::component::ComponentState;
use crate::outbound::OutboundHttp;
use crate::outbound_http::OutboundHttpCtx;
use crate::runtime::{self, HostState, POOL_DECOMMIT_BATCH};
use crate::wasi_http::PolicyHooks;

/// Pool slots for `max_concurrent` request instances and `prepared` ready ones, plus one
/// decommit batch: a dropped store's slots return to the pool in batches, and a thread
/// descheduled halfway through returning a batch briefly holds that many.
pub(crate) fn pool_size(max_concurrent: u32, prepared: u32) -> u32 {
    let batch = u32::try_from(POOL_DECOMMIT_BATCH).unwrap_or(u32::MAX);
    max_concurrent
        .max(1)
        .saturating_add(prepared)
        .saturating_add(batch)
}

/// How one kind of guest is prepared on the helper thread: a CGI module
/// ([`Template`]) or a `wasi:http/proxy` component ([`ComponentTemplate`]).
pub(crate) trait Prepare: Send + 'static {
    /// The store's data.
    type State: Send + 'static;
    /// What instantiating gives the request.
    type Instance: Send + 'static;
    /// What a request puts in place of a prepared store's placeholders; the
    /// placeholders are dropped with the store, on the helper thread.
    type Placeholder: Send + 'static;
    /// A store for one request, with placeholders where the request's context goes.
    fn store(&self) -> Store<Self::State>;
    /// Instantiates the guest in `store`.
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<Self::State>,
    ) -> impl Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a;
    /// How many instances to keep ready (0: none, the helper only tears down).
    fn prepared(&self) -> usize;
}

/// What a prepared module store needs to be built on the helper thread.
pub(crate) struct Template {
    pub engine: Engine,
    pub pre: InstancePre<HostState>,
    pub outbound: OutboundHttp,
    pub max_memory_bytes: usize,
    /// How many instances to keep ready (0: none, the helper only tears down).
    pub prepared: usize,
}

impl Prepare for Template {
    type State = HostState;
    type Instance = Instance;
    type Placeholder = WasiP1Ctx;

    fn store(&self) -> Store<HostState> {
        let state = HostState::new(
            WasiCtxBuilder::new().build_p1(),
            OutboundHttpCtx::new(self.outbound.clone()),
            self.max_memory_bytes,
            None,
        );
        runtime::new_store(&self.engine, state)
    }

    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Instance>> + Send + 'a {
        self.pre.instantiate_async(store)
    }

    fn prepared(&self) -> usize {
        self.prepared
    }
}

/// What a prepared `wasi:http/proxy` component store needs to be built on the helper
/// thread. Its placeholders are the WASI context and the outbound hooks (which carry the
/// request's trace context); the resource table is still empty after instantiation,
/// since no guest code has run.
pub(crate) struct ComponentTemplate {
    pub engine: Engine,
    pub pre: ProxyPre<ComponentState>,
    pub outbound: OutboundHttp,
    pub max_memory_bytes: usize,
    /// How many instances to keep ready (0: none, the helper only tears down).
    pub prepared: usize,
}

impl Prepare for ComponentTemplate {
    type State = ComponentState;
    type Instance = Proxy;
    type Placeholder = (wasmtime_wasi::WasiCtx, PolicyHooks);

    fn store(&self) -> Store<ComponentState> {
        let state = ComponentState::new(
            WasiCtxBuilder::new().build(),
            self.outbound.clone(),
            self.max_memory_bytes,
            None,
        );
        runtime::new_store(&self.engine, state)
    }

    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<ComponentState>,
    ) -> impl Future<Output = wasmtime::Result<Proxy>> + Send + 'a {
        self.pre.instantiate_async(store)
    }

    fn prepared(&self) -> usize {
        self.prepared
    }
}

/// A store with the guest instantiated in it.
pub(crate) struct Prepared<S: 'static, I> {
    pub store: Store<S>,
    pub instance: I,
}

/// What the helper drops. Fields drop in declaration order, so the permit that let the
/// store run is released only after the store has given back its pool slots.
struct Retired<S: 'static, H> {
    store: Store<S>,
    placeholder: Option<H>,
    _permit: OwnedSemaphorePermit,
}

/// The instances ready for requests, shared with the helper thread.
type Ready<P> = Mutex<Vec<Prepared<<P as Prepare>::State, <P as Prepare>::Instance>>>;

/// The helper thread's two queues.
pub(crate) struct Instances<P: Prepare> {
    ready: Arc<Ready<P>>,
    retire: SyncSender<Retired<P::State, P::Placeholder>>,
}

impl<P: Prepare> Instances<P> {
    /// Starts the helper thread. It stops once these `Instances` are dropped and every
    /// lease has been returned.
    pub(crate) fn start(template: P, handle: Handle) -> std::io::Result<Self> {
        let ready = Arc::new(Mutex::new(Vec::with_capacity(template.prepared())));
        let (retire, retired) = mpsc::sync_channel(0);
        let helper_ready = ready.clone();
        thread::Builder::new()
            .name("wasi-dapr-instances".into())
            .spawn(move || helper(&template, &handle, &helper_ready, &retired))?;
        Ok(Self { ready, retire })
    }

    /// A prepared instance, if one is ready.
    pub(crate) fn take_prepared(&self) -> Option<Prepared<P::State, P::Instance>> {
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// How many prepared instances are ready now.
    pub(crate) fn prepared_count(&self) -> usize {
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Lends `store` to a request holding `permit`; dropping the lease hands both back
    /// to the helper (if it is idle), or drops them in place when `offload` is false.
    pub(crate) fn lease(
        &self,
        store: Store<P::State>,
        permit: OwnedSemaphorePermit,
        offload: bool,
    ) -> Lease<P::State, P::Placeholder> {
        Lease {
            inner: Some(Retired {
                store,
                placeholder: None,
                _permit: permit,
            }),
            retire: offload.then(|| self.retire.clone()),
        }
    }
}

/// A store lent to one request. Dropping it, however the request ends (answered, failed
/// or cancelled by a closed connection), sends the store and permit to the helper.
pub(crate) struct Lease<S: 'static, H> {
    inner: Option<Retired<S, H>>,
    /// The helper's queue; `None`: drop in place.
    retire: Option<SyncSender<Retired<S, H>>>,
}

impl<S: 'static, H> Lease<S, H> {
    /// The store.
    pub(crate) fn store(&mut self) -> &mut Store<S> {
        &mut self
            .inner
            .as_mut()
            .expect("a lease holds its store until dropped")
            .store
    }

    /// Puts the request's context in place of a prepared store's placeholders: `swap`
    /// sets the request's parts in the state and returns the placeholders, which are
    /// then dropped with the store on the helper thread.
    pub(crate) fn set_request(&mut self, swap: impl FnOnce(&mut S) -> H) {
        let inner = self
            .inner
            .as_mut()
            .expect("a lease holds its store until dropped");
        inner.placeholder = Some(swap(inner.store.data_mut()));
    }
}

impl<S: 'static, H> Drop for Lease<S, H> {
    fn drop(&mut self) {
        let (Some(retired), Some(retire)) = (self.inner.take(), self.retire.as_ref()) else {
            return;
        };
        match retire.try_send(retired) {
            Ok(()) => {}
            // The helper is busy (or gone, as the process exits): drop it here.
            Err(TrySendError::Full(retired) | TrySendError::Disconnected(retired)) => {
                drop(retired);
            }
        }
    }
}

fn helper<P: Prepare>(
    template: &P,
    handle: &Handle,
    ready: &Ready<P>,
    retired: &Receiver<Retired<P::State, P::Placeholder>>,
) {
    top_up(template, handle, ready);
    while let Ok(first) = retired.recv() {
        drop(first);
        // Return every waiting slot before preparing new instances.
        while let Ok(next) = retired.try_recv() {
            drop(next);
        }
        top_up(template, handle, ready);
    }
    debug!("instance helper stopped");
}

/// Prepares instances until `template.prepared()` are ready.
fn top_up<P: Prepare>(template: &P, handle: &Handle, ready: &Ready<P>) {
    loop {
        if ready.lock().unwrap_or_else(PoisonError::into_inner).len() >= template.prepared() {
            return;
        }
        let started = Instant::now();
        let mut store = template.store();
        match handle.block_on(template.instantiate(&mut store)) {
            Ok(instance) => ready
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Prepared { store, instance }),
            Err(e) => {
                // Requests instantiate for themselves until the next retirement.
                debug!(error = %format!("{e:#}"), elapsed = ?started.elapsed(), "could not prepare an instance");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pool_size;
    use crate::runtime::POOL_DECOMMIT_BATCH;

    #[test]
    fn the_pool_has_room_for_requests_prepared_instances_and_a_batch() {
        let batch = POOL_DECOMMIT_BATCH as u32;
        assert_eq!(pool_size(64, 2), 66 + batch);
        assert_eq!(pool_size(0, 0), 1 + batch);
        assert_eq!(pool_size(u32::MAX, 2), u32::MAX);
    }
}
