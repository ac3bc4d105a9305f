//! PostgreSQL connections for the hot paths' statements.
//!
//! sqlx's pool checks every connection given back to it with a round trip (a Sync
//! message, answered by ReadyForQuery) and, by default, every connection it hands
//! out: three round trips per query where one is needed, which on a machine whose
//! cores PostgreSQL shares cost more than the query (`docs/performance.md`). These
//! connections are kept in a plain list instead, by their native driver (no `Any`
//! row conversion):
//!
//! - a connection goes back to the list only after its statement completed, or
//!   failed with an error of its own (the protocol is then at a known point); one
//!   cut off midway (its request dropped), broken, or ended by the server (a FATAL
//!   error) is closed;
//! - one that sat idle for [`IDLE_BEFORE_PING`] is pinged before use, where a
//!   database restart would have left it dead;
//! - when a connection that served before turns out broken, the idle ones are
//!   closed too, and a read is run once more (a read changes nothing; a write is
//!   never retried: it may have committed before the connection broke);
//! - they plan joins as nested loops of index lookups only. The statements here are
//!   point lookups (a token with its client and user), for which that is always the
//!   right plan; left to itself, PostgreSQL's generic plan for the bearer-token join
//!   at 1 M users was a merge join that walks the users index from its start up to
//!   the token's user: 362 ms for user 999,000 against 0.09 ms (`docs/storage.md`).

use super::read::{Cursor, Value};
use crate::error::{Error, Result};
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgDatabaseError, PgRow, PgSeverity, Postgres,
};
use sqlx::{Connection, Row};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection idle this long is pinged before it is used.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Connections at most, as many as the pool's (which the other statements use).
const MAX_CONNECTIONS: usize = 16;

/// How long a statement waits for a connection (a free one, or a new one), as the
/// pool's acquire timeout.
const LEASE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds `args` to a query in order.
fn bind_values<'q>(mut q: Query<'q>, args: &'q [Value]) -> Query<'q> {
    for v in args {
        q = match v {
            Value::Int(v) => q.bind(*v),
            Value::Text(v) => q.bind(v.as_deref()),
        };
    }
    q
}

impl super::read::Cols for PgRow {
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn text_at(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

#[derive(Debug)]
pub(crate) struct PgConns {
    options: PgConnectOptions,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Semaphore,
}

/// A connection in use; closed on drop unless [`Lease::end`] puts it back.
struct Lease<'a> {
    conns: &'a PgConns,
    conn: PgConnection,
    /// Whether it served an earlier statement (it may have broken since).
    reused: bool,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// Puts the connection back when `done` left it usable; otherwise closes it and,
    /// when it had served before, every idle one too (a database restart breaks them
    /// all). True when the statement failed on a connection that broke while idle, so
    /// that a read may run once more on another.
    fn end<T>(self, done: &std::result::Result<T, sqlx::Error>) -> bool {
        let mut idle = self
            .conns
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if settled(done) {
            if !self.conns.permits.is_closed() {
                idle.push((self.conn, Instant::now()));
            }
            return false;
        }
        if self.reused {
            idle.clear();
        }
        self.reused
    }
}

/// Whether a statement that ended so left its connection at a known point of the
/// protocol.
fn settled<T>(done: &std::result::Result<T, sqlx::Error>) -> bool {
    done.as_ref().map_or_else(reusable, |_| true)
}

/// A statement's own error leaves the connection usable; a FATAL one (the server
/// ends the session: a restart, `pg_terminate_backend`) or a broken socket does not.
fn reusable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => !d
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|d| matches!(d.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        sqlx::Error::RowNotFound | sqlx::Error::ColumnDecode { .. } => true,
        _ => false,
    }
}

impl PgConns {
    pub fn new(options: PgConnectOptions) -> Self {
        Self {
            options: options.options([("enable_mergejoin", "off"), ("enable_hashjoin", "off")]),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(MAX_CONNECTIONS),
        }
    }

    /// Closes every connection; statements after this fail.
    pub fn close(&self) {
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    async fn lease(&self) -> Result<Lease<'_>> {
        tokio::time::timeout(LEASE_TIMEOUT, self.lease_now())
            .await
            .map_err(|_| Error::Database(sqlx::Error::PoolTimedOut))?
    }

    async fn lease_now(&self) -> Result<Lease<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Database(sqlx::Error::PoolClosed))?;
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let Some((mut conn, since)) = idle else { break };
            if since.elapsed() < IDLE_BEFORE_PING || conn.ping().await.is_ok() {
                return Ok(Lease {
                    conns: self,
                    conn,
                    reused: true,
                    _permit: permit,
                });
            }
        }
        let conn = PgConnection::connect_with(&self.options).await?;
        Ok(Lease {
            conns: self,
            conn,
            reused: false,
            _permit: permit,
        })
    }

    /// The rows of a read (at most `limit`), decoded.
    pub async fn rows<T>(
        &self,
        sql: &str,
        args: &[Value],
        limit: usize,
        decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.rows_bound(sql, |q| bind_values(q, args), limit, decode)
            .await
    }

    /// [`PgConns::rows`] with its arguments bound by `bind` (arrays, for
    /// [`super::batched`]).
    pub async fn rows_bound<'q, T>(
        &self,
        sql: &'q str,
        bind: impl Fn(Query<'q>) -> Query<'q>,
        limit: usize,
        mut decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        loop {
            let mut lease = self.lease().await?;
            let q = bind(sqlx::query(sql));
            let fetched = if limit == 1 {
                q.fetch_optional(&mut lease.conn)
                    .await
                    .map(|r| r.into_iter().collect())
            } else {
                q.fetch_all(&mut lease.conn).await
            };
            if lease.end(&fetched) {
                continue;
            }
            return fetched?
                .iter()
                .take(limit)
                .map(|row| decode(&mut Cursor::new(row)))
                .collect();
        }
    }

    /// Runs a write: the rows it changed.
    pub async fn execute(&self, sql: &str, args: &[Value]) -> Result<i64> {
        let mut lease = self.lease().await?;
        let done = bind_values(sqlx::query(sql), args)
            .execute(&mut lease.conn)
            .await
            .map(|r| i64::try_from(r.rows_affected()).unwrap_or(i64::MAX));
        lease.end(&done);
        Ok(done?)
    }

    /// Runs an `INSERT … RETURNING id, token_hash`; kept as a prepared statement
    /// when `persistent` (not for multi-row INSERTs, whose text varies with their size).
    pub async fn insert_returning_keys(
        &self,
        sql: &str,
        args: &[Value],
        persistent: bool,
    ) -> Result<Vec<(i64, String)>> {
        let mut lease = self.lease().await?;
        let q = bind_values(sqlx::query(sql).persistent(persistent), args);
        let rows = q.fetch_all(&mut lease.conn).await;
        lease.end(&rows);
        rows?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// The hot connections plan joins as index lookups (see the module's notes); runs
    /// when `USERCENTER_TEST_POSTGRES_URL` names a server.
    #[tokio::test]
    async fn hot_connections_plan_joins_as_nested_loops() {
        let Ok(url) = std::env::var("USERCENTER_TEST_POSTGRES_URL") else {
            return;
        };
        let conns = PgConns::new(PgConnectOptions::from_str(&url).unwrap());
        for setting in ["enable_mergejoin", "enable_hashjoin"] {
            let value = conns
                .rows(&format!("SHOW {setting}"), &[], 1, |r| r.text())
                .await
                .unwrap();
            assert_eq!(value, ["off"], "{setting}");
        }
        conns.close();
    }
}
