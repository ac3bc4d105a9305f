//! A value read from the database and kept for a short time.
//!
//! Settings and scope definitions are read on every token request but change
//! rarely. Each instance keeps them for [`TTL`]: a change made on another instance
//! is seen within that time; a change made here is seen at once. Nothing that must
//! take effect at once everywhere (a revocation, a disabled user or client) is
//! cached.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(1);

pub struct Cached<T> {
    slot: RwLock<Option<(Instant, Arc<T>)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self {
            slot: RwLock::new(None),
        }
    }
}

impl<T> Cached<T> {
    /// The value if it is younger than [`TTL`].
    pub fn get(&self) -> Option<Arc<T>> {
        let slot = self.slot.read().ok()?;
        slot.as_ref()
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, value: T) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some((Instant::now(), value.clone()));
        }
        value
    }

    pub fn clear(&self) {
        if let Ok(mut slot) = self.slot.write() {
            *slot = None;
        }
    }
}
