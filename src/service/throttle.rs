//! Login throttling: per account and per IP, a growing lock after repeated failures.
//!
//! ```text
//!   failures < limit ──fail──▶ failures+1
//!   failures ≥ limit ──────▶ locked for base·2^(failures-limit), at most MAX_LOCK
//!   success ──────────────▶ the account's counter is cleared (the IP's is not)
//! ```
//!
//! Counters live in this process. A deployment of several instances shares them
//! through Redis (`USERCENTER_REDIS_URL`, SPEC §6).

use std::collections::HashMap;
use std::sync::Mutex;

const BASE_LOCK: i64 = 30;
const MAX_LOCK: i64 = 15 * 60;
/// An entry untouched this long is forgotten.
const FORGET_AFTER: i64 = 3600;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: i64,
    last: i64,
}

/// Failure counters keyed by `account:…` or `ip:…`.
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

/// A key and the number of failures it may have before it locks.
pub type Rule<'a> = (&'a str, u32);

impl Throttle {
    /// `Err(seconds)` when any of the keys is locked.
    pub fn check(&self, keys: &[Rule<'_>], now: i64) -> Result<(), i64> {
        let Ok(entries) = self.entries.lock() else {
            return Ok(());
        };
        let wait = keys
            .iter()
            .filter_map(|(k, _)| entries.get(*k))
            .map(|e| e.locked_until - now)
            .max()
            .unwrap_or(0);
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Records a failure against every key.
    pub fn fail(&self, keys: &[Rule<'_>], now: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() > 100_000 {
            entries.retain(|_, e| now - e.last < FORGET_AFTER);
        }
        for (key, limit) in keys {
            let e = entries.entry((*key).to_string()).or_insert(Entry {
                failures: 0,
                locked_until: 0,
                last: now,
            });
            if now - e.last >= FORGET_AFTER {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
            if e.failures >= *limit {
                let doublings = (e.failures - limit).min(10);
                e.locked_until = now + (BASE_LOCK << doublings).min(MAX_LOCK);
            }
        }
    }

    pub fn clear(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_grows() {
        let t = Throttle::default();
        let keys = [("account:a", 3)];
        for _ in 0..2 {
            t.fail(&keys, 100);
        }
        assert!(t.check(&keys, 100).is_ok());
        t.fail(&keys, 100);
        assert_eq!(t.check(&keys, 100), Err(30));
        assert!(t.check(&keys, 130).is_ok(), "the lock ends");
        t.fail(&keys, 130);
        assert_eq!(t.check(&keys, 130), Err(60), "the next lock is longer");
        t.clear("account:a");
        assert!(t.check(&keys, 130).is_ok());
    }
}
