//! The `lock.in-memory` store: process-local locks with an owner and an expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest expiry honoured (ten years), so a huge one cannot overflow the clock.
const MAX_EXPIRY_SECS: u64 = 10 * 365 * 24 * 3600;

/// Locks taken between two sweeps of expired locks.
const SWEEP_EVERY: u32 = 1024;

/// resourceId → (owner, expiry), at most `max_locks` at a time.
#[derive(Debug)]
pub(crate) struct LockStore {
    locks: Mutex<Locks>,
    max_locks: usize,
}

#[derive(Debug, Default)]
struct Locks {
    held: HashMap<String, (String, Instant)>,
    /// Locks taken since the last sweep.
    since_sweep: u32,
}

impl Locks {
    fn sweep(&mut self, now: Instant) {
        self.held.retain(|_, (_, exp)| *exp > now);
        self.since_sweep = 0;
    }
}

/// The store already holds its maximum of unexpired locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the lock store holds its maximum of {0} locks")]
pub(crate) struct LockStoreFull(pub usize);

/// What unlocking answered: daprd's `status` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnlockStatus {
    /// Released (0).
    Success = 0,
    /// No such lock, or it had expired (1).
    LockDoesNotExist = 1,
    /// Held by another owner (2).
    LockBelongsToOthers = 2,
}

impl LockStore {
    /// An empty store holding at most `max_locks` unexpired locks.
    pub fn new(max_locks: usize) -> Self {
        LockStore {
            locks: Mutex::new(Locks::default()),
            max_locks,
        }
    }

    /// Takes `resource` for `owner` for `expiry_secs` seconds if it is free (never held,
    /// or expired); returns whether it was taken. Expired locks are swept every
    /// [`SWEEP_EVERY`] locks and whenever the store is full; a new lock in a store still
    /// full after the sweep is refused.
    pub fn try_lock(
        &self,
        resource: String,
        owner: String,
        expiry_secs: u64,
    ) -> Result<bool, LockStoreFull> {
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.since_sweep = locks.since_sweep.saturating_add(1);
        if locks.since_sweep >= SWEEP_EVERY {
            locks.sweep(now);
        }
        let existing = locks.held.get(&resource).map(|(_, exp)| *exp);
        if existing.is_some_and(|exp| exp > now) {
            return Ok(false);
        }
        if existing.is_none() && locks.held.len() >= self.max_locks {
            locks.sweep(now);
            if locks.held.len() >= self.max_locks {
                return Err(LockStoreFull(self.max_locks));
            }
        }
        let exp = now + Duration::from_secs(expiry_secs.min(MAX_EXPIRY_SECS));
        locks.held.insert(resource, (owner, exp));
        Ok(true)
    }

    /// How many locks are stored (expired ones not yet swept included).
    #[cfg(test)]
    fn stored(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .held
            .len()
    }

    /// Releases `resource` if `owner` holds it.
    pub fn unlock(&self, resource: &str, owner: &str) -> UnlockStatus {
        let now = Instant::now();
        let mut guard = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let locks = &mut guard.held;
        match locks.get(resource) {
            None => UnlockStatus::LockDoesNotExist,
            Some((_, exp)) if *exp <= now => {
                locks.remove(resource);
                UnlockStatus::LockDoesNotExist
            }
            Some((held_by, _)) if held_by != owner => UnlockStatus::LockBelongsToOthers,
            Some(_) => {
                locks.remove(resource);
                UnlockStatus::Success
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_held_until_its_owner_releases_it() {
        let store = LockStore::new(10);
        assert_eq!(store.try_lock("r".into(), "a".into(), 60), Ok(true));
        assert_eq!(store.try_lock("r".into(), "b".into(), 60), Ok(false));
        assert_eq!(store.unlock("r", "b"), UnlockStatus::LockBelongsToOthers);
        assert_eq!(store.unlock("r", "a"), UnlockStatus::Success);
        assert_eq!(store.unlock("r", "a"), UnlockStatus::LockDoesNotExist);
        assert_eq!(store.try_lock("r".into(), "b".into(), u64::MAX), Ok(true));
    }

    #[test]
    fn a_full_store_refuses_new_locks_until_some_expire() {
        let store = LockStore::new(3);
        for r in ["a", "b", "c"] {
            assert_eq!(store.try_lock(r.into(), "o".into(), 3600), Ok(true));
        }
        assert_eq!(
            store.try_lock("d".into(), "o".into(), 3600),
            Err(LockStoreFull(3))
        );
        // A held lock is still answered as taken, not as full.
        assert_eq!(store.try_lock("a".into(), "p".into(), 3600), Ok(false));
        assert_eq!(store.unlock("b", "o"), UnlockStatus::Success);
        assert_eq!(store.try_lock("d".into(), "o".into(), 3600), Ok(true));
    }

    #[test]
    fn expired_locks_are_swept() {
        let store = LockStore::new(4);
        {
            let mut locks = store.locks.lock().unwrap();
            let past = Instant::now() - Duration::from_millis(1);
            for r in ["a", "b", "c", "d"] {
                locks.held.insert(r.into(), ("o".into(), past));
            }
        }
        // Full of expired locks: the sweep makes room.
        assert_eq!(store.try_lock("e".into(), "o".into(), 3600), Ok(true));
        assert_eq!(store.stored(), 1);
        // And expired locks do not pile up below the cap either.
        let big = LockStore::new(usize::MAX);
        {
            let mut locks = big.locks.lock().unwrap();
            let past = Instant::now() - Duration::from_millis(1);
            for i in 0..100 {
                locks.held.insert(format!("old{i}"), ("o".into(), past));
            }
        }
        for i in 0..SWEEP_EVERY {
            assert_eq!(big.try_lock(format!("new{i}"), "o".into(), 3600), Ok(true));
        }
        assert_eq!(
            big.stored(),
            SWEEP_EVERY as usize,
            "the 100 expired locks are gone"
        );
    }
}
