//! The single-node actor runtime (no HTTP): the types the app hosts, the active actors with their turn locks (FIFO per actor, reentrancy by id and depth), implicit activation and deactivation after the idle timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedMutexGuard, watch};

use super::config::{HostedTypes, TypeConfig};
use crate::jobs::store::JobTable;

/// One actor: its type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ActorKey {
    pub actor_type: String,
    pub actor_id: String,
}

impl ActorKey {
    pub fn new(actor_type: &str, actor_id: &str) -> Self {
        ActorKey {
            actor_type: actor_type.to_string(),
            actor_id: actor_id.to_string(),
        }
    }

    /// `type||id`, as daprd names an actor in messages and keys.
    pub fn joined(&self) -> String {
        format!("{}||{}", self.actor_type, self.actor_id)
    }
}

/// Why a turn could not begin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TurnError {
    /// The app does not host the type (or has no actor state store).
    #[error("failed to lookup actor: did not find address for actor '{0}'")]
    NotHosted(String),
    /// Activating one more actor would pass `max_active_actors`.
    #[error("too many active actors (the maximum is {0})")]
    TooManyActors(usize),
    /// The actor already has `max_actor_pending_calls` calls queued.
    #[error("too many calls waiting for actor '{actor}' (the maximum is {max})")]
    Busy { actor: String, max: usize },
    /// A reentrant call would go deeper than the type's `maxStackDepth`.
    #[error("maximum stack depth exceeded")]
    StackDepth,
}

#[derive(Debug)]
struct SlotState {
    last_used: Instant,
    /// Calls holding or waiting for the turn.
    pending: usize,
    /// The reentrancy id of the turn running now and how deep it is nested.
    current: Option<(String, u32)>,
    /// Set once the actor was deactivated: waiters start again on a fresh slot.
    gone: bool,
}

/// An active actor.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The turn: tokio's mutex hands it over in FIFO order.
    turn: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<SlotState>,
}

impl Slot {
    fn new() -> Self {
        Slot {
            turn: Arc::new(tokio::sync::Mutex::new(())),
            state: Mutex::new(SlotState {
                last_used: Instant::now(),
                pending: 0,
                current: None,
                gone: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running turn (or a reentrant call inside one); dropping it ends it.
#[derive(Debug)]
pub(crate) struct Turn {
    slot: Arc<Slot>,
    /// `None` for a reentrant call, which runs inside another call's turn.
    guard: Option<OwnedMutexGuard<()>>,
    /// The `Dapr-Reentrancy-Id` to send to the app (reentrant types only).
    pub reentrancy_id: Option<String>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut s = self.slot.lock();
        s.last_used = Instant::now();
        if self.guard.is_some() {
            s.current = None;
            s.pending = s.pending.saturating_sub(1);
        } else if let Some((_, depth)) = &mut s.current {
            *depth = depth.saturating_sub(1);
        }
    }
}

/// What `/dapr/config` said, once asked.
#[derive(Debug, Clone)]
enum Hosting {
    /// The app was not asked yet.
    Unknown,
    Known(Arc<HostedTypes>),
}

/// The actor runtime's state in the `Ctx`.
pub(crate) struct Actors {
    /// The state store with `actorStateStore: "true"`, if any.
    pub state_store: Option<String>,
    hosting: watch::Sender<Hosting>,
    active: Mutex<HashMap<ActorKey, Arc<Slot>>>,
    /// Reminders, keyed `type||id||name`.
    pub reminders: JobTable,
    /// Timers, keyed `type||id||name`.
    pub timers: JobTable,
    max_active: usize,
    max_pending: usize,
}

impl std::fmt::Debug for Actors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actors")
            .field("state_store", &self.state_store)
            .finish_non_exhaustive()
    }
}

/// How long a call waits for the app's `/dapr/config` answer before the type counts as
/// hosted nowhere (daprd retries its placement lookup for about as long).
const HOSTING_WAIT: Duration = Duration::from_secs(5);

impl Actors {
    pub fn new(
        state_store: Option<String>,
        max_active: usize,
        max_pending: usize,
        max_reminders: usize,
        max_timers: usize,
    ) -> Self {
        Actors {
            state_store,
            hosting: watch::channel(Hosting::Unknown).0,
            active: Mutex::new(HashMap::new()),
            reminders: JobTable::new(max_reminders),
            timers: JobTable::new(max_timers),
            max_active,
            max_pending: max_pending.max(1),
        }
    }

    fn active(&self) -> MutexGuard<'_, HashMap<ActorKey, Arc<Slot>>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the hosted types (after asking the app). Without an actor state store no
    /// type is hosted, as in daprd.
    pub fn set_hosted(&self, hosted: HostedTypes) {
        let hosted = if self.state_store.is_none() && !hosted.types.is_empty() {
            tracing::warn!(
                types = ?hosted.types.keys().collect::<Vec<_>>(),
                "the app registers actor types but no state store has actorStateStore: \"true\"; actor hosting is disabled"
            );
            HostedTypes::default()
        } else {
            hosted
        };
        if !hosted.types.is_empty() {
            tracing::info!(types = ?hosted.types.keys().collect::<Vec<_>>(), "hosting the app's actor types");
        }
        self.hosting.send_replace(Hosting::Known(Arc::new(hosted)));
    }

    /// The hosted types, `None` while the app was not asked yet.
    pub fn hosted(&self) -> Option<Arc<HostedTypes>> {
        match &*self.hosting.borrow() {
            Hosting::Unknown => None,
            Hosting::Known(h) => Some(h.clone()),
        }
    }

    /// The settings of `actor_type` if hosted here, waiting a little for the app's answer.
    pub async fn type_config(&self, actor_type: &str) -> Option<TypeConfig> {
        let mut rx = self.hosting.subscribe();
        let known = tokio::time::timeout(
            HOSTING_WAIT,
            rx.wait_for(|h| matches!(h, Hosting::Known(_))),
        )
        .await;
        match known {
            Ok(Ok(h)) => match &*h {
                Hosting::Known(h) => h.types.get(actor_type).cloned(),
                Hosting::Unknown => None,
            },
            _ => None,
        }
    }

    /// Whether the actor is active now (a turn ran and it was not deactivated since).
    pub fn is_active(&self, key: &ActorKey) -> bool {
        self.active().contains_key(key)
    }

    /// Active actors per hosted type (types with none included), sorted by type.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let Some(hosted) = self.hosted() else {
            return Vec::new();
        };
        let active = self.active();
        hosted
            .types
            .keys()
            .map(|t| {
                let n = active.keys().filter(|k| &k.actor_type == t).count();
                (t.clone(), n)
            })
            .collect()
    }

    /// Begins a turn on `key` (activating it), waiting in FIFO order behind the calls
    /// queued before. A call of a reentrant type that carries the reentrancy id of the turn
    /// running now enters at once, one level deeper.
    pub async fn begin_turn(
        &self,
        key: &ActorKey,
        config: &TypeConfig,
        reentrancy_id: Option<&str>,
    ) -> Result<Turn, TurnError> {
        loop {
            let slot = {
                let mut active = self.active();
                match active.get(key) {
                    Some(slot) => slot.clone(),
                    None => {
                        if active.len() >= self.max_active {
                            return Err(TurnError::TooManyActors(self.max_active));
                        }
                        let slot = Arc::new(Slot::new());
                        active.insert(key.clone(), slot.clone());
                        tracing::debug!(actor = %key.joined(), "actor activated");
                        slot
                    }
                }
            };
            {
                let mut s = slot.lock();
                if let (Some(max), Some(id), Some((current, depth))) =
                    (config.reentrancy, reentrancy_id, s.current.as_mut())
                    && id == current
                {
                    if *depth >= max {
                        return Err(TurnError::StackDepth);
                    }
                    *depth += 1;
                    let id = id.to_string();
                    drop(s);
                    return Ok(Turn {
                        slot,
                        guard: None,
                        reentrancy_id: Some(id),
                    });
                }
                if s.pending >= self.max_pending {
                    return Err(TurnError::Busy {
                        actor: key.joined(),
                        max: self.max_pending,
                    });
                }
                s.pending += 1;
            }
            // Counted in `pending` from here: a cancelled wait must give the count back.
            let mut waiter = PendingGuard(Some(slot.clone()));
            let guard = slot.turn.clone().lock_owned().await;
            let mut s = slot.lock();
            if s.gone {
                drop(s);
                drop(guard);
                drop(waiter);
                continue;
            }
            let id = config.reentrancy.map(|_| {
                reentrancy_id
                    .map(str::to_string)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
            });
            s.current = id.clone().map(|id| (id, 1));
            drop(s);
            // The turn's `Drop` gives the count back from here.
            waiter.0 = None;
            return Ok(Turn {
                slot,
                guard: Some(guard),
                reentrancy_id: id,
            });
        }
    }

    /// The idle actors to deactivate now: not running or awaiting a turn, unused for
    /// longer than their type's idle timeout. Each comes with its turn, so no call runs
    /// while the app is told; the slot stays in the table until [`Actors::finish_deactivation`].
    pub(crate) fn take_idle(
        &self,
        hosted: &HostedTypes,
    ) -> Vec<(ActorKey, Arc<Slot>, OwnedMutexGuard<()>)> {
        let active = self.active();
        let mut out = Vec::new();
        for (key, slot) in active.iter() {
            let idle = hosted
                .types
                .get(&key.actor_type)
                .map_or(Duration::ZERO, |t| t.idle_timeout);
            let s = slot.lock();
            if s.pending > 0 || s.gone || s.last_used.elapsed() < idle {
                continue;
            }
            drop(s);
            if let Ok(guard) = slot.turn.clone().try_lock_owned() {
                out.push((key.clone(), slot.clone(), guard));
            }
        }
        out
    }

    /// Removes a deactivated actor and its timers; calls waiting on its turn start over.
    pub(crate) fn finish_deactivation(&self, key: &ActorKey, slot: &Slot) {
        slot.lock().gone = true;
        let mut active = self.active();
        if active
            .get(key)
            .is_some_and(|s| std::ptr::eq(s.as_ref(), slot))
        {
            active.remove(key);
        }
        drop(active);
        self.timers.remove_prefixed(&format!("{}||", key.joined()));
    }
}

/// Gives back a waiting call's `pending` count if its wait is cancelled.
struct PendingGuard(Option<Arc<Slot>>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            let mut s = slot.lock();
            s.pending = s.pending.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actors() -> Actors {
        let a = Actors::new(Some("s".into()), 2, 3, 10, 10);
        a.set_hosted(super::super::config::parse(br#"{"entities":["T"]}"#).unwrap());
        a
    }

    fn cfg(reentrancy: Option<u32>) -> TypeConfig {
        TypeConfig {
            idle_timeout: Duration::from_secs(60),
            reentrancy,
        }
    }

    #[tokio::test]
    async fn one_turn_at_a_time_per_actor_in_order() {
        let a = Arc::new(actors());
        let key = ActorKey::new("T", "1");
        let first = a.begin_turn(&key, &cfg(None), None).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..2 {
            let (a, key, order) = (a.clone(), key.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _t = a.begin_turn(&key, &cfg(None), None).await.unwrap();
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(order.lock().unwrap().is_empty(), "no turn while one runs");
        // A third waiter passes the queue bound (3, the running one included).
        let err = a.begin_turn(&key, &cfg(None), None).await.unwrap_err();
        assert!(matches!(err, TurnError::Busy { .. }), "{err:?}");
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1]);
    }

    #[tokio::test]
    async fn activation_is_bounded() {
        let a = actors();
        let _x = a
            .begin_turn(&ActorKey::new("T", "1"), &cfg(None), None)
            .await;
        let _y = a
            .begin_turn(&ActorKey::new("T", "2"), &cfg(None), None)
            .await;
        let err = a
            .begin_turn(&ActorKey::new("T", "3"), &cfg(None), None)
            .await
            .unwrap_err();
        assert_eq!(err, TurnError::TooManyActors(2));
        assert_eq!(a.counts(), vec![("T".to_string(), 2)]);
    }

    #[tokio::test]
    async fn reentrant_calls_enter_by_id_up_to_the_depth() {
        let a = actors();
        let key = ActorKey::new("T", "1");
        let outer = a.begin_turn(&key, &cfg(Some(2)), None).await.unwrap();
        let id = outer.reentrancy_id.clone().unwrap();
        let inner = a.begin_turn(&key, &cfg(Some(2)), Some(&id)).await.unwrap();
        assert_eq!(inner.reentrancy_id.as_deref(), Some(id.as_str()));
        let err = a
            .begin_turn(&key, &cfg(Some(2)), Some(&id))
            .await
            .unwrap_err();
        assert_eq!(err, TurnError::StackDepth);
        drop(inner);
        let again = a.begin_turn(&key, &cfg(Some(2)), Some(&id)).await;
        assert!(again.is_ok());
        // Another id waits for the turn.
        let other = tokio::time::timeout(
            Duration::from_millis(50),
            a.begin_turn(&key, &cfg(Some(2)), Some("other")),
        )
        .await;
        assert!(other.is_err(), "a different reentrancy id queues");
    }

    #[tokio::test]
    async fn a_non_reentrant_type_ignores_the_header() {
        let a = actors();
        let key = ActorKey::new("T", "1");
        let _outer = a.begin_turn(&key, &cfg(None), Some("x")).await.unwrap();
        let inner = tokio::time::timeout(
            Duration::from_millis(50),
            a.begin_turn(&key, &cfg(None), Some("x")),
        )
        .await;
        assert!(inner.is_err());
    }

    #[tokio::test]
    async fn idle_actors_are_taken_only_when_free() {
        let a = Actors::new(Some("s".into()), 10, 10, 10, 10);
        a.set_hosted(
            super::super::config::parse(br#"{"entities":["T"],"actorIdleTimeout":"1ms"}"#).unwrap(),
        );
        let hosted = a.hosted().unwrap();
        let busy = ActorKey::new("T", "busy");
        let idle = ActorKey::new("T", "idle");
        let c = hosted.types["T"].clone();
        let _running = a.begin_turn(&busy, &c, None).await.unwrap();
        drop(a.begin_turn(&idle, &c, None).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let taken = a.take_idle(&hosted);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].0, idle);
        let (key, slot, guard) = taken.into_iter().next().unwrap();
        a.finish_deactivation(&key, &slot);
        drop(guard);
        assert!(!a.is_active(&idle));
        assert!(a.is_active(&busy));
    }

    #[tokio::test]
    async fn no_actor_state_store_hosts_nothing() {
        let a = Actors::new(None, 10, 10, 10, 10);
        a.set_hosted(super::super::config::parse(br#"{"entities":["T"]}"#).unwrap());
        assert!(a.type_config("T").await.is_none());
    }
}
