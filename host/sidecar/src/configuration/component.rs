//! The `configuration.in-memory` store: items are the component's metadata entries, all at
//! version `1`; subscriptions are remembered but never notified (items never change).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use crate::components::ComponentSpec;

/// A configuration store whose items are the component's metadata entries, all at version `1`.
#[derive(Debug)]
pub(crate) struct ConfigStore {
    items: BTreeMap<String, String>,
    subscriptions: Mutex<HashSet<String>>,
}

impl ConfigStore {
    pub fn from_spec(spec: &ComponentSpec) -> Self {
        ConfigStore {
            items: spec.metadata.clone(),
            subscriptions: Mutex::new(HashSet::new()),
        }
    }

    /// Every item, by key.
    pub fn items(&self) -> &BTreeMap<String, String> {
        &self.items
    }

    /// Remembers a subscription id.
    pub fn subscribe(&self, id: String) {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
    }

    /// Forgets a subscription id; false if it was not known.
    pub fn unsubscribe(&self, id: &str) -> bool {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }
}
