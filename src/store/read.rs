//! Reading rows: one decoder per type for both drivers, and SQLite point reads on
//! the request's own thread.
//!
//! sqlx runs every SQLite statement on a thread of its own per connection and hands
//! the rows back over channels: two thread switches per query, which on the hot
//! paths (client authentication, token lookups) cost more than the query itself
//! (`docs/performance.md`). Reads there go through [`Db::one`] instead, which on
//! SQLite asks a small set of read-only connections synchronously: in WAL mode a
//! reader never waits for the writer, and a lookup by a unique index takes
//! microseconds. PostgreSQL keeps sqlx's driver, which already runs on the request's
//! task, on connections of its own ([`super::pg`]). Every read sees every commit made
//! before it began, whichever driver wrote.

use super::{Db, Reads, split_list};
use crate::error::{Error, Result};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OpenFlags};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A query parameter, typed even when null (PostgreSQL refuses a null of the wrong
/// type); owned, so that a statement can wait in the writer's queue.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_string()))
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_string))
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Self::Int(v) => v.to_sql(),
            Self::Text(v) => v.to_sql(),
        }
    }
}

/// Binds `args` to a SQLite statement's `$1`, `$2`… by name: SQLite numbers `$N`
/// parameters in their order of first appearance, whatever N says.
pub(crate) fn bind_sqlite(
    stmt: &mut rusqlite::Statement<'_>,
    args: &[Value],
) -> rusqlite::Result<()> {
    for index in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let arg = n
            .checked_sub(1)
            .and_then(|i| args.get(i))
            .ok_or(rusqlite::Error::InvalidParameterCount(n, args.len()))?;
        stmt.raw_bind_parameter(index, arg)?;
    }
    Ok(())
}

/// BEGIN, COMMIT and ROLLBACK, prepared once as the statements are (the writer's
/// batches, SQLite's batched reads).
pub(super) fn control(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

/// A row of any driver, read by position.
pub(crate) trait Cols {
    fn int_at(&self, i: usize) -> Result<Option<i64>>;
    fn text_at(&self, i: usize) -> Result<Option<String>>;
}

impl Cols for AnyRow {
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn text_at(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

impl Cols for rusqlite::Row<'_> {
    fn int_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn text_at(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
}

/// Reads a row's columns in order; a type's decoder reads exactly its `COLUMNS`.
pub(crate) struct Cursor<'r> {
    row: &'r dyn Cols,
    at: usize,
}

impl<'r> Cursor<'r> {
    pub fn new(row: &'r dyn Cols) -> Self {
        Self { row, at: 0 }
    }

    fn next(&mut self) -> usize {
        self.at += 1;
        self.at - 1
    }

    pub fn opt_int(&mut self) -> Result<Option<i64>> {
        let i = self.next();
        self.row.int_at(i)
    }

    pub fn int(&mut self) -> Result<i64> {
        let i = self.next();
        self.row
            .int_at(i)?
            .ok_or_else(|| Error::Internal(format!("column {i} is NULL")))
    }

    /// A 0/1 flag (flags are BIGINT on both backends).
    pub fn flag(&mut self) -> Result<bool> {
        Ok(self.int()? != 0)
    }

    pub fn opt_text(&mut self) -> Result<Option<String>> {
        let i = self.next();
        self.row.text_at(i)
    }

    pub fn text(&mut self) -> Result<String> {
        let i = self.next();
        self.row
            .text_at(i)?
            .ok_or_else(|| Error::Internal(format!("column {i} is NULL")))
    }

    /// A space-separated list.
    pub fn list(&mut self) -> Result<Vec<String>> {
        Ok(split_list(&self.text()?))
    }

    /// Whether the next column is NULL (the first column of an outer join's
    /// missing side), without moving.
    pub fn next_is_null(&self) -> Result<bool> {
        Ok(self.row.int_at(self.at)?.is_none())
    }

    pub fn skip(&mut self, columns: usize) {
        self.at += columns;
    }
}

/// A type read from a row: `COLUMNS` lists what [`Decode::decode`] reads, in order.
pub(crate) trait Decode: Sized {
    const COLUMNS: &'static str;
    fn decode(row: &mut Cursor<'_>) -> Result<Self>;

    /// How many columns `COLUMNS` names.
    fn width() -> usize {
        Self::COLUMNS.split(',').count()
    }

    /// `COLUMNS` with each name qualified by a table alias (`c.id, c.name…`).
    fn columns_of(alias: &str) -> String {
        Self::COLUMNS
            .split(',')
            .map(|c| format!("{alias}.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The row of an outer join's side that may be missing (its first column is NULL).
    fn decode_opt(row: &mut Cursor<'_>) -> Result<Option<Self>> {
        if row.next_is_null()? {
            row.skip(Self::width());
            return Ok(None);
        }
        Self::decode(row).map(Some)
    }
}

/// The SQL text of `format!`'s arguments, made once, on first use: column lists are
/// constants, which `concat!` cannot join, and a hot path should not build its query
/// text per request.
macro_rules! sql_once {
    ($($arg:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($arg)*));
        SQL.as_str()
    }};
}
pub(crate) use sql_once;

/// [`sql_once!`] for a text that differs by backend: `$make` (a function of the
/// [`Backend`](super::Backend)) runs once per backend, on first use.
macro_rules! sql_once_per_backend {
    ($backend:expr, $make:expr) => {{
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $make($crate::store::Backend::Sqlite));
        static POSTGRES: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $make($crate::store::Backend::Postgres));
        match $backend {
            $crate::store::Backend::Sqlite => SQLITE.as_str(),
            $crate::store::Backend::Postgres => POSTGRES.as_str(),
        }
    }};
}
pub(crate) use sql_once_per_backend;

/// `sqlx::FromRow` by way of [`Decode`], for `query_as` with the type's `COLUMNS`.
macro_rules! from_any_row {
    ($t:ty) => {
        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $t {
            fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                $crate::store::read::decode_any(row).map_err(|e| match e {
                    $crate::error::Error::Database(e) => e,
                    other => sqlx::Error::Decode(other.to_string().into()),
                })
            }
        }
    };
}
pub(crate) use from_any_row;

/// Decodes an sqlx row (from a write's `RETURNING`, or a read in a transaction).
pub(crate) fn decode_any<T: Decode>(row: &AnyRow) -> Result<T> {
    T::decode(&mut Cursor::new(row))
}

/// Read-only SQLite connections, used synchronously by whichever thread asks.
///
/// Each thread keeps using the connection it used before (its slot): a connection
/// handed between threads frees on one thread the memory malloc gave out on another,
/// and the two threads then wait on each other for malloc's arena locks (seen as
/// futex calls in `free` under introspection load, `docs/performance.md`).
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    /// One connection per thread slot ([`thread_slot`]).
    slots: [Mutex<Option<Connection>>; SLOTS],
    /// Connections of threads whose slot was in use.
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

/// Thread slots: threads beyond this many (or two sharing a slot) use `idle`.
const SLOTS: usize = 16;

/// More connections than threads that read at once are never needed; a burst
/// beyond this many opens connections that are then closed.
const IDLE_READERS: usize = 8;

/// This thread's number, in the order threads first asked for one (a read, or a
/// batched read's queue in `batched.rs`).
pub(super) fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

/// This thread's slot.
fn thread_slot() -> usize {
    thread_number() % SLOTS
}

impl Readers {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            slots: std::array::from_fn(|_| Mutex::new(None)),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Closes every connection; reads after this fail.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for slot in &self.slots {
            slot.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
        }
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn take(&self) -> Result<Connection> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Database(sqlx::Error::PoolClosed));
        }
        // Only this thread uses its slot, unless threads beyond SLOTS share it.
        if let Ok(mut slot) = self.slots[thread_slot()].try_lock()
            && let Some(c) = slot.take()
        {
            return Ok(c);
        }
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) => Ok(c),
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(Duration::from_secs(5))?;
                c.set_prepared_statement_cache_capacity(64);
                Ok(c)
            }
        }
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut slot) = self.slots[thread_slot()].try_lock()
            && slot.is_none()
        {
            // Checked under the slot's lock: `close` sets it before emptying the slots.
            if !self.closed.load(Ordering::SeqCst) {
                *slot = Some(c);
            }
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_READERS && !self.closed.load(Ordering::SeqCst) {
            idle.push(c);
        }
    }

    /// The rows of `sql` (at most `limit`), decoded.
    fn query<T>(
        &self,
        sql: &str,
        args: &[Value],
        limit: usize,
        mut decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.take()?;
        let result = (|| {
            let mut stmt = conn.prepare_cached(sql)?;
            bind_sqlite(&mut stmt, args)?;
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while out.len() < limit {
                let Some(row) = rows.next()? else { break };
                out.push(decode(&mut Cursor::new(row))?);
            }
            Ok(out)
        })();
        self.give_back(conn);
        result
    }

    /// The first row of `sql` for each ask's arguments, decoded, with the index of
    /// its ask; all read in one transaction, so in one snapshot, begun here
    /// ([`super::batched::InOneRead`]).
    pub(crate) fn each_in_one_read<A, T>(
        &self,
        sql: &str,
        asked: &[A],
        args: impl Fn(&A) -> Vec<Value>,
        mut decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<(usize, T)>> {
        let conn = self.take()?;
        let result = control(&conn, "BEGIN").map_err(Error::from).and_then(|_| {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut out = Vec::with_capacity(asked.len());
            for (i, ask) in asked.iter().enumerate() {
                bind_sqlite(&mut stmt, &args(ask))?;
                let mut rows = stmt.raw_query();
                if let Some(row) = rows.next()? {
                    out.push((i, decode(&mut Cursor::new(row))?));
                }
            }
            Ok(out)
        });
        // A read-only transaction: ending it writes nothing. A connection still in it
        // (its end failed) is closed rather than kept holding its snapshot.
        if !conn.is_autocommit()
            && control(&conn, "COMMIT").is_err()
            && control(&conn, "ROLLBACK").is_err()
        {
            return result;
        }
        self.give_back(conn);
        result
    }
}

impl Db {
    /// The first row of a read, decoded; on SQLite without leaving this thread.
    /// Not for reads that must see a transaction's own writes.
    pub(crate) async fn one<T: Decode>(&self, sql: &str, args: &[Value]) -> Result<Option<T>> {
        self.one_with(sql, args, T::decode).await
    }

    /// [`Db::one`] with a decoder of its own (for joins).
    pub(crate) async fn one_with<T>(
        &self,
        sql: &str,
        args: &[Value],
        decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.rows_with(sql, args, 1, decode).await?.pop())
    }

    /// Every row of a read, decoded, like [`Db::one`].
    pub(crate) async fn all_with<T>(
        &self,
        sql: &str,
        args: &[Value],
        decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.rows_with(sql, args, usize::MAX, decode).await
    }

    async fn rows_with<T>(
        &self,
        sql: &str,
        args: &[Value],
        limit: usize,
        decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match &self.reads {
            Reads::Sqlite(readers) => readers.query(sql, args, limit, decode),
            Reads::Postgres(conns) => conns.rows(sql, args, limit, decode).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database with one table, in a folder of its own.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER);")
            .unwrap();
        db
    }

    /// A mark that stays with one connection: its page cache size.
    fn mark(c: &Connection) -> i64 {
        c.query_row("PRAGMA cache_size", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_thread_reads_on_the_connection_it_used_before() {
        let readers = Readers::new(scratch("reader-slots"));
        let mine = readers.take().unwrap();
        mine.pragma_update(None, "cache_size", 1234).unwrap();
        readers.give_back(mine);
        // Another thread, reading meanwhile, is given a connection of its own.
        std::thread::scope(|s| {
            s.spawn(|| {
                let other = readers.take().unwrap();
                assert_ne!(mark(&other), 1234);
                readers.give_back(other);
            });
        });
        assert_eq!(mark(&readers.take().unwrap()), 1234);
    }

    /// `.cargo/config.toml` builds SQLite without its process-wide page-cache group
    /// and memory statistics (`docs/performance.md`).
    #[test]
    fn sqlite_is_built_without_its_process_wide_mutexes() {
        let c = Connection::open_in_memory().unwrap();
        let mut stmt = c.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[test]
    fn closed_readers_keep_no_connection_and_refuse_reads() {
        let readers = Readers::new(scratch("reader-close"));
        let c = readers.take().unwrap();
        readers.give_back(c);
        readers.close();
        assert!(readers.slots.iter().all(|s| s.lock().unwrap().is_none()));
        assert!(readers.take().is_err());
    }
}
