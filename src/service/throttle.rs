//! Login throttling: per account and per IP, a growing lock after repeated failures.
//!
//! ```text
//!   an attempt while locked ─▶ refused, not counted
//!   an attempt ─────────────▶ failures+1 before the password is checked, so that
//!                             attempts made at once are each counted
//!   failures ≥ limit ───────▶ locked for base·2^(failures-limit), at most MAX_LOCK
//!   success ────────────────▶ the account's counter is cleared, the IP's attempt
//!                             taken back
//!   no failure for an hour ──▶ the counter is forgotten
//! ```
//!
//! Counters live in this process, or, with `USERCENTER_REDIS_URL`, in Redis, where
//! every instance of a deployment sees them (SPEC §6). When Redis does not answer,
//! the counters of this process stand in (`docs/throttling.md`).

use crate::crypto::SecretKey;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const BASE_LOCK: i64 = 30;
const MAX_LOCK: i64 = 15 * 60;
/// An entry untouched this long is forgotten.
const FORGET_AFTER: i64 = 3600;
/// How long a login waits for Redis before the local counters stand in.
const REDIS_WAIT: Duration = Duration::from_millis(500);

/// An attempt against the counters of KEYS: the seconds to wait when one is locked
/// (nothing counted), else 0 and one failure counted against each, with the
/// arithmetic of [`Entry::fail`]. ARGV: now, the first lock, each counter's limit,
/// the longest lock, and how long an idle counter lives.
const ATTEMPT_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local locked = tonumber(redis.call('HGET', key, 'locked_until') or '0')
  if locked - now > wait then wait = locked - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  local limit = tonumber(ARGV[2 + i])
  if failures >= limit then
    local lock = tonumber(ARGV[2])
    for _ = 1, math.min(failures - limit, 10) do lock = lock * 2 end
    redis.call('HSET', key, 'locked_until', tonumber(ARGV[1]) + math.min(lock, tonumber(ARGV[3 + #KEYS])))
  end
  redis.call('EXPIRE', key, tonumber(ARGV[4 + #KEYS]))
end
return 0
";

/// Takes an attempt of KEYS[1] back (ARGV[1]: its limit): one failure less, and no
/// lock once under the limit.
const FORGIVE_SCRIPT: &str = r"
local failures = redis.call('HINCRBY', KEYS[1], 'failures', -1)
if failures < 0 then
  redis.call('HSET', KEYS[1], 'failures', 0)
  failures = 0
end
if failures < tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], 'locked_until') end
return failures
";

/// One more use of KEYS[1] in a window of ARGV[1] seconds, at most ARGV[2] per
/// window: 0, or the seconds until the window ends when the use is one too many.
const COUNT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if n > tonumber(ARGV[2]) then return ttl end
return 0
";

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: i64,
    last: i64,
}

impl Entry {
    fn fail(&mut self, limit: u32, now: i64) {
        if now - self.last >= FORGET_AFTER {
            self.failures = 0;
        }
        self.failures += 1;
        self.last = now;
        if self.failures >= limit {
            let doublings = (self.failures - limit).min(10);
            self.locked_until = now + (BASE_LOCK << doublings).min(MAX_LOCK);
        }
    }

    fn forgive(&mut self, limit: u32) {
        self.failures = self.failures.saturating_sub(1);
        if self.failures < limit {
            self.locked_until = 0;
        }
    }
}

/// A key as this process's counters hold it: 16 bytes of its SHA-256, whatever its
/// length. Keys hold what a request typed (a login, an address), and an entry lives
/// up to an hour; a key kept whole would let each request keep megabytes.
type LocalKey = [u8; 16];

fn local_key(key: &str) -> LocalKey {
    let digest = Sha256::digest(key.as_bytes());
    let mut k = [0; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

/// Failure counters keyed by `account:…` or `ip:…`.
#[derive(Default)]
pub struct Throttle {
    local: Mutex<HashMap<LocalKey, Entry>>,
    /// Uses per window ([`Throttle::count`]), per key: when its window started, its
    /// length, and the uses in it.
    windows: Mutex<HashMap<LocalKey, (i64, i64, u32)>>,
    shared: Option<Shared>,
}

/// The counters in Redis.
struct Shared {
    conn: ConnectionManager,
    attempt: redis::Script,
    forgive: redis::Script,
    count: redis::Script,
    /// Names the counters: the server key's hash of each, so that Redis holds no
    /// login names or addresses, and deployments sharing a Redis do not meet.
    key: SecretKey,
}

/// A key and the number of failures it may have before it locks.
pub type Rule<'a> = (&'a str, u32);

/// `USERCENTER_REDIS_URL` could not be used.
#[derive(Debug, thiserror::Error)]
#[error("USERCENTER_REDIS_URL: {0}")]
pub struct RedisError(String);

impl Throttle {
    /// Counters in Redis at `url`, connected on first use (the command line never
    /// needs them); [`Throttle::ping`] tells whether Redis answers.
    pub fn with_redis(url: &str, key: SecretKey) -> Result<Self, RedisError> {
        let client = redis::Client::open(url).map_err(|e| RedisError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_WAIT))
            .set_response_timeout(Some(REDIS_WAIT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisError(e.to_string()))?;
        Ok(Self {
            local: Mutex::default(),
            windows: Mutex::default(),
            shared: Some(Shared {
                conn,
                attempt: redis::Script::new(ATTEMPT_SCRIPT),
                forgive: redis::Script::new(FORGIVE_SCRIPT),
                count: redis::Script::new(COUNT_SCRIPT),
                key,
            }),
        })
    }

    /// Whether the shared counters answer (always, when they are this process's).
    pub async fn ping(&self) -> Result<(), RedisError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let mut conn = shared.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| RedisError(e.to_string()))
    }

    /// An attempt against every key: `Err(seconds)` when one is locked (nothing is
    /// counted then), else one failure counted against each, before the attempt is
    /// judged; a success takes it back ([`Throttle::clear`], [`Throttle::forgive`]).
    pub async fn attempt(&self, keys: &[Rule<'_>], now: i64) -> Result<(), i64> {
        if let Some(shared) = &self.shared {
            let mut call = shared.attempt.prepare_invoke();
            for (key, _) in keys {
                call.key(shared.name(key));
            }
            call.arg(now).arg(BASE_LOCK);
            for (_, limit) in keys {
                call.arg(*limit);
            }
            call.arg(MAX_LOCK).arg(FORGET_AFTER);
            let mut conn = shared.conn.clone();
            match call.invoke_async::<i64>(&mut conn).await {
                Ok(0) => return Ok(()),
                Ok(wait) => return Err(wait),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis did not answer; this instance's login counters stand in");
                }
            }
        }
        let Ok(mut entries) = self.local.lock() else {
            return Ok(());
        };
        let wait = keys
            .iter()
            .filter_map(|(k, _)| entries.get(&local_key(k)))
            .map(|e| e.locked_until - now)
            .max()
            .unwrap_or(0);
        if wait > 0 {
            return Err(wait);
        }
        if entries.len() > 100_000 {
            entries.retain(|_, e| now - e.last < FORGET_AFTER);
        }
        for (key, limit) in keys {
            entries
                .entry(local_key(key))
                .or_insert(Entry {
                    failures: 0,
                    locked_until: 0,
                    last: now,
                })
                .fail(*limit, now);
        }
        Ok(())
    }

    /// Takes one attempt of `key` back: a success was not a failure.
    pub async fn forgive(&self, (key, limit): Rule<'_>) {
        if let Some(shared) = &self.shared {
            let mut conn = shared.conn.clone();
            let forgiven = shared
                .forgive
                .key(shared.name(key))
                .arg(limit)
                .invoke_async::<i64>(&mut conn)
                .await;
            if let Err(e) = forgiven {
                tracing::warn!(error = %e, "Redis did not answer; a login counter stays there");
            }
        }
        if let Ok(mut entries) = self.local.lock()
            && let Some(entry) = entries.get_mut(&local_key(key))
        {
            entry.forgive(limit);
        }
    }

    /// Counts one use of `key`, at most `limit` per `window` seconds: `Err(seconds)`
    /// until the window ends when this use is one too many.
    pub async fn count(&self, key: &str, limit: u32, window: i64, now: i64) -> Result<(), i64> {
        if let Some(shared) = &self.shared {
            let mut conn = shared.conn.clone();
            let counted = shared
                .count
                .key(shared.name(key))
                .arg(window)
                .arg(limit)
                .invoke_async::<i64>(&mut conn)
                .await;
            match counted {
                Ok(0) => return Ok(()),
                Ok(wait) => return Err(wait.max(1)),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis did not answer; this instance's counters stand in");
                }
            }
        }
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            // Each key by its own window: a day's count outlives a minute's.
            windows.retain(|_, (start, length, _)| now - *start < *length);
        }
        let (start, length, uses) = windows.entry(local_key(key)).or_insert((now, window, 0));
        if now - *start >= window {
            (*start, *length, *uses) = (now, window, 0);
        }
        *uses += 1;
        if *uses > limit {
            Err((*start + window - now).max(1))
        } else {
            Ok(())
        }
    }

    pub async fn clear(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let mut conn = shared.conn.clone();
            if let Err(e) = redis::cmd("DEL")
                .arg(shared.name(key))
                .query_async::<i64>(&mut conn)
                .await
            {
                tracing::warn!(error = %e, "Redis did not answer; a login counter stays there");
            }
        }
        if let Ok(mut entries) = self.local.lock() {
            entries.remove(&local_key(key));
        }
    }
}

impl Shared {
    /// The Redis key of a counter, of one length whatever was typed.
    fn name(&self, key: &str) -> String {
        let hash = self.key.hash_secret(&format!("throttle\u{1f}{key}"));
        format!("usercenter:throttle:{}", &hash[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Redis the tests use, if any (`.ci/run` sets it).
    fn redis_url() -> Option<String> {
        std::env::var("USERCENTER_TEST_REDIS_URL")
            .ok()
            .filter(|v| !v.is_empty())
    }

    fn fresh_key() -> SecretKey {
        SecretKey::from_hex(&hex::encode(rand::random::<[u8; 32]>())).unwrap()
    }

    /// Three attempts lock for 30 s, the next for 60; a cleared key is free, and a
    /// forgiven attempt no longer counts.
    async fn locks_after_the_limit_and_grows(t: &Throttle) {
        let keys = [("account:a", 3), ("ip:192.0.2.1", 20)];
        for _ in 0..3 {
            assert_eq!(t.attempt(&keys, 100).await, Ok(()));
        }
        assert_eq!(t.attempt(&keys, 100).await, Err(30), "the third locked");
        assert_eq!(t.attempt(&keys, 110).await, Err(20), "refused, not counted");
        assert_eq!(t.attempt(&keys, 130).await, Ok(()), "the lock ends");
        assert_eq!(
            t.attempt(&keys, 130).await,
            Err(60),
            "the next lock is longer"
        );
        t.clear("account:a").await;
        assert_eq!(t.attempt(&keys, 130).await, Ok(()));
        let ip = [("ip:192.0.2.2", 2)];
        assert_eq!(t.attempt(&ip, 200).await, Ok(()));
        assert_eq!(t.attempt(&ip, 200).await, Ok(()));
        assert!(t.attempt(&ip, 200).await.is_err());
        t.forgive(ip[0]).await;
        assert_eq!(t.attempt(&ip, 200).await, Ok(()), "under the limit again");
        assert!(t.attempt(&ip, 200).await.is_err());
    }

    #[tokio::test]
    async fn local_counters() {
        locks_after_the_limit_and_grows(&Throttle::default()).await;
        counts_uses_per_window(&Throttle::default()).await;
    }

    /// Three uses a minute: the fourth waits for the window's end.
    async fn counts_uses_per_window(t: &Throttle) {
        for _ in 0..3 {
            assert_eq!(t.count("card:7", 3, 60, 1000).await, Ok(()));
        }
        assert!(matches!(t.count("card:7", 3, 60, 1000).await, Err(1..=60)));
        assert_eq!(t.count("card:8", 3, 60, 1000).await, Ok(()), "another key");
        // Keys of any length, told apart by their last character.
        let long = "reset:".to_string() + &"a".repeat(1 << 20);
        assert_eq!(t.count(&(long.clone() + "1"), 1, 60, 1000).await, Ok(()));
        assert!(t.count(&(long.clone() + "1"), 1, 60, 1000).await.is_err());
        assert_eq!(t.count(&(long + "2"), 1, 60, 1000).await, Ok(()));
    }

    /// Pruning many minute counters keeps a day's counter whose day goes on.
    #[tokio::test]
    async fn pruning_keeps_each_key_for_its_own_window() {
        let t = Throttle::default();
        assert_eq!(t.count("sms:day:1", 1, 86_400, 1000).await, Ok(()));
        for i in 0..100_001 {
            assert_eq!(t.count(&format!("sms:min:{i}"), 1, 60, 1000).await, Ok(()));
        }
        // Two minutes on: the next count prunes the minute counters, not the day's.
        assert_eq!(t.count("sms:min:x", 1, 60, 1120).await, Ok(()));
        assert!(t.windows.lock().unwrap().len() < 10);
        assert!(matches!(
            t.count("sms:day:1", 1, 86_400, 1120).await,
            Err(86_000..)
        ));
    }

    #[tokio::test]
    async fn counters_in_redis_are_seen_by_every_instance_with_the_key() {
        let Some(url) = redis_url() else {
            eprintln!("USERCENTER_TEST_REDIS_URL is not set: not run against Redis");
            return;
        };
        let key = fresh_key();
        let one = Throttle::with_redis(&url, key.clone()).unwrap();
        one.ping().await.unwrap();
        locks_after_the_limit_and_grows(&one).await;
        counts_uses_per_window(&one).await;
        assert!(one.windows.lock().unwrap().is_empty(), "counted in Redis");
        assert!(one.local.lock().unwrap().is_empty(), "counted in Redis");

        let keys = [("account:b", 2)];
        assert_eq!(one.attempt(&keys, 200).await, Ok(()));
        assert_eq!(one.attempt(&keys, 200).await, Ok(()));
        let other = Throttle::with_redis(&url, key).unwrap();
        assert_eq!(other.attempt(&keys, 200).await, Err(30), "another instance");
        let elsewhere = Throttle::with_redis(&url, fresh_key()).unwrap();
        assert!(
            elsewhere.attempt(&keys, 200).await.is_ok(),
            "another deployment on the same Redis"
        );
    }

    #[tokio::test]
    async fn without_an_answer_from_redis_the_local_counters_stand_in() {
        let t = Throttle::with_redis("redis://127.0.0.1:1", fresh_key()).unwrap();
        assert!(t.ping().await.is_err());
        locks_after_the_limit_and_grows(&t).await;
        counts_uses_per_window(&t).await;
    }
}
