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
//! Instantiation runs the module's wasm `start` function, if it has one, and that code
//! would see the placeholder WASI context of a prepared store rather than the request's.
//! Such modules are therefore never prepared ahead: their requests instantiate on the
//! request path, as before.

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

use crate::outbound::OutboundHttp;
use crate::outbound_http::OutboundHttpCtx;
use crate::runtime::{self, HostState, POOL_DECOMMIT_BATCH};

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

/// What a prepared store needs to be built on the helper thread.
pub(crate) struct Template {
    pub engine: Engine,
    pub pre: InstancePre<HostState>,
    pub outbound: OutboundHttp,
    pub max_memory_bytes: usize,
    /// How many instances to keep ready (0: none, the helper only tears down).
    pub prepared: usize,
}

impl Template {
    /// A store for one request, its WASI context a placeholder until the request's is set.
    fn store(&self) -> Store<HostState> {
        let state = HostState::new(
            WasiCtxBuilder::new().build_p1(),
            OutboundHttpCtx::new(self.outbound.clone()),
            self.max_memory_bytes,
            None,
        );
        runtime::new_store(&self.engine, state)
    }
}

/// A store with the module instantiated in it.
pub(crate) struct Prepared {
    pub store: Store<HostState>,
    pub instance: Instance,
}

/// What the helper drops. Fields drop in declaration order, so the permit that let the
/// store run is released only after the store has given back its pool slots.
struct Retired {
    store: Store<HostState>,
    placeholder: Option<WasiP1Ctx>,
    _permit: OwnedSemaphorePermit,
}

/// The helper thread's two queues.
pub(crate) struct Instances {
    ready: Arc<Mutex<Vec<Prepared>>>,
    retire: SyncSender<Retired>,
}

impl Instances {
    /// Starts the helper thread. It stops once these `Instances` are dropped and every
    /// lease has been returned.
    pub(crate) fn start(template: Template, handle: Handle) -> std::io::Result<Self> {
        let ready = Arc::new(Mutex::new(Vec::with_capacity(template.prepared)));
        let (retire, retired) = mpsc::sync_channel(0);
        let helper_ready = ready.clone();
        thread::Builder::new()
            .name("wasi-dapr-instances".into())
            .spawn(move || helper(&template, &handle, &helper_ready, &retired))?;
        Ok(Self { ready, retire })
    }

    /// A prepared instance, if one is ready.
    pub(crate) fn take_prepared(&self) -> Option<Prepared> {
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

    /// Lends `store` to a request holding `permit`; dropping the lease hands both back.
    pub(crate) fn lease(&self, store: Store<HostState>, permit: OwnedSemaphorePermit) -> Lease {
        Lease {
            inner: Some(Retired {
                store,
                placeholder: None,
                _permit: permit,
            }),
            retire: self.retire.clone(),
        }
    }
}

/// A store lent to one request. Dropping it, however the request ends (answered, failed
/// or cancelled by a closed connection), sends the store and permit to the helper.
pub(crate) struct Lease {
    inner: Option<Retired>,
    retire: SyncSender<Retired>,
}

impl Lease {
    /// The store.
    pub(crate) fn store(&mut self) -> &mut Store<HostState> {
        &mut self
            .inner
            .as_mut()
            .expect("a lease holds its store until dropped")
            .store
    }

    /// Puts the request's WASI context in place of a prepared store's placeholder, which
    /// is then dropped with the store on the helper thread.
    pub(crate) fn set_wasi(&mut self, wasi: WasiP1Ctx) {
        let inner = self
            .inner
            .as_mut()
            .expect("a lease holds its store until dropped");
        inner.placeholder = Some(std::mem::replace(&mut inner.store.data_mut().wasi, wasi));
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(retired) = self.inner.take() {
            match self.retire.try_send(retired) {
                Ok(()) => {}
                // The helper is busy (or gone, as the process exits): drop it here.
                Err(TrySendError::Full(retired) | TrySendError::Disconnected(retired)) => {
                    drop(retired);
                }
            }
        }
    }
}

fn helper(
    template: &Template,
    handle: &Handle,
    ready: &Mutex<Vec<Prepared>>,
    retired: &Receiver<Retired>,
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

/// Prepares instances until `template.prepared` are ready.
fn top_up(template: &Template, handle: &Handle, ready: &Mutex<Vec<Prepared>>) {
    loop {
        if ready.lock().unwrap_or_else(PoisonError::into_inner).len() >= template.prepared {
            return;
        }
        let started = Instant::now();
        let mut store = template.store();
        match handle.block_on(template.pre.instantiate_async(&mut store)) {
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
