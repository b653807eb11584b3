//! The `lock.in-memory` store: process-local locks with an owner and an expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest expiry honoured (ten years), so a huge one cannot overflow the clock.
const MAX_EXPIRY_SECS: u64 = 10 * 365 * 24 * 3600;

/// resourceId → (owner, expiry).
#[derive(Debug, Default)]
pub(crate) struct LockStore {
    locks: Mutex<HashMap<String, (String, Instant)>>,
}

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
    /// Takes `resource` for `owner` for `expiry_secs` seconds if it is free (never held,
    /// or expired); returns whether it was taken.
    pub fn try_lock(&self, resource: String, owner: String, expiry_secs: u64) -> bool {
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let free = locks.get(&resource).is_none_or(|(_, exp)| *exp <= now);
        if free {
            let exp = now + Duration::from_secs(expiry_secs.min(MAX_EXPIRY_SECS));
            locks.insert(resource, (owner, exp));
        }
        free
    }

    /// Releases `resource` if `owner` holds it.
    pub fn unlock(&self, resource: &str, owner: &str) -> UnlockStatus {
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
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
        let store = LockStore::default();
        assert!(store.try_lock("r".into(), "a".into(), 60));
        assert!(!store.try_lock("r".into(), "b".into(), 60));
        assert_eq!(store.unlock("r", "b"), UnlockStatus::LockBelongsToOthers);
        assert_eq!(store.unlock("r", "a"), UnlockStatus::Success);
        assert_eq!(store.unlock("r", "a"), UnlockStatus::LockDoesNotExist);
        assert!(store.try_lock("r".into(), "b".into(), u64::MAX));
    }
}
