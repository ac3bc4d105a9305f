//! Rows kept in memory together with the generation of their tables they were read
//! at (migrations 5 and 6: triggers raise a table's generation in every transaction
//! that changes it). A kept row is only ever used against a generation read in the
//! same snapshot as whatever it is combined with, so it is exactly the row that
//! snapshot holds (`docs/client-cache.md`, `docs/user-cache.md`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most `capacity` values by key; past that the map starts over (the hot keys come
/// back at their next read).
#[derive(Debug)]
pub(super) struct Kept<K, V> {
    rows: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            rows: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn rows(&self) -> MutexGuard<'_, HashMap<K, V>> {
        // The map is whole after any panic: entries are inserted and removed whole.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.rows().get(key).cloned()
    }

    pub fn keep(&self, key: K, value: V) {
        let mut rows = self.rows();
        if rows.len() >= self.capacity {
            rows.clear();
        }
        rows.insert(key, value);
    }

    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.rows().remove(key);
    }
}
