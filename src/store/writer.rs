//! Group commit for the writes of the hot paths.
//!
//! Every issued token is stored before its response leaves (a token kept only in
//! memory could not be revoked on another instance). One transaction per request
//! makes SQLite's single writer the bottleneck: connections queue on its lock, and
//! SQLite's busy handler has them sleep in steps of up to 100 ms, which showed as
//! p99s above 100 ms for refresh rotation and the code flow. Requests hand their
//! statement to one writer instead: it takes every statement waiting and runs them in
//! one transaction — one commit — then answers each request. Under light load a batch
//! is one statement and nothing waits; under heavy load batches grow by themselves
//! while the previous one is being written.
//!
//! On SQLite there is one writing connection and no thread of its own: the request
//! that finds nobody writing writes the batch, on the thread it runs on (under load
//! after one yield, so that the requests ready beside it join the batch: [`Lead`]),
//! and then hands the next batch to the oldest request still waiting, which wakes on
//! the same runtime. A writer thread cost two thread switches per batch, and every
//! answer woke a worker from outside the runtime. Each statement is prepared once,
//! so a batch costs no SQL parsing. A statement that fails (its client deleted
//! meanwhile, say) fails alone; the others commit. Answers leave only after the
//! commit.
//!
//! On PostgreSQL, whose writers do not queue on one lock, statements run on the
//! request's task (on the hot paths' connections, [`super::pg`]); only access tokens
//! are batched, by a task that sends one multi-row INSERT (one per generation for the
//! tokens of kept client rows), retried row by row when it fails.

use super::NewAccessToken;
use super::pg::PgConns;
use super::read::{Value, control, sql_once};
use crate::error::{Error, Result};
use rusqlite::OptionalExtension;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a batch waits for the write lock held by another connection.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Statements per transaction (and access-token rows per INSERT on PostgreSQL: 9
/// columns each, well under its parameter limit).
const MAX_BATCH: usize = 256;

/// What a statement answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The number of rows it changed.
    Changes,
    /// The id of the one row it inserted, SQLite's last insert rowid. Not by
    /// `RETURNING id`: SQLite gathers a statement's returned rows in a temporary
    /// table, opened and closed per statement (`docs/performance.md`).
    RowId,
    /// [`Answer::RowId`] of an insert run only while the clients' generation is the
    /// one given, checked in the batch's transaction, which no other writer
    /// interleaves; [`Error::ClientChanged`] when it is not. (A guard inside the
    /// statement, `INSERT … SELECT … WHERE`, would make SQLite keep a statement
    /// journal: a copy of each page the insert touches.)
    RowIdIfCurrent(i64),
}

const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (token_hash, client_id, user_id, \
    scope, family_id, code_hash, extra, expires_at, created_at) VALUES ";

/// The clients' generation (migration 5), read inside a batch's transaction.
const CLIENT_GENERATION: &str = "SELECT n FROM client_generation WHERE id = 1";

/// The values of a new access token row, in `INSERT_ACCESS_TOKEN`'s column order.
pub(super) fn access_token_values(t: &NewAccessToken<'_>, now: i64) -> Vec<Value> {
    vec![
        t.token_hash.into(),
        t.client_id.into(),
        t.user_id.into(),
        t.scope.into(),
        t.family_id.into(),
        t.code_hash.into(),
        t.extra.into(),
        t.expires_at.into(),
        now.into(),
    ]
}

type Reply = oneshot::Sender<Result<i64>>;

/// An access token waiting for the PostgreSQL batcher, with the generation of the
/// kept client row it was issued with, if any.
#[derive(Debug)]
pub(super) struct PgToken {
    values: Vec<Value>,
    generation: Option<i64>,
    reply: Reply,
}

/// A statement waiting for the SQLite writer.
#[derive(Debug)]
struct Statement {
    sql: &'static str,
    args: Vec<Value>,
    answer: Answer,
}

#[derive(Debug)]
struct Job {
    statement: Statement,
    reply: oneshot::Sender<Turn>,
}

/// What a request waiting for the SQLite writer is told.
#[derive(Debug)]
enum Turn {
    /// Its statement was committed (or failed).
    Done(Result<i64>),
    /// Its statement was not written yet, and it is its turn to write the next batch.
    Lead(Statement),
}

/// The SQLite writer: statements waiting, and the connection that writes them.
#[derive(Debug)]
pub(super) struct Sqlite {
    queue: Mutex<Queue>,
    conn: Mutex<rusqlite::Connection>,
    long_wal: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Whether a request is writing a batch, or has been told to write the next.
    leading: bool,
    /// Whether the last batch held more than one statement. Then the next leader
    /// yields first, so that others join its batch; a request alone writes at once.
    shared: bool,
}

/// The writer's mailbox.
#[derive(Debug, Clone)]
pub(super) enum Writer {
    Sqlite(Arc<Sqlite>),
    /// Only access tokens are batched there; other statements run on `conns`.
    Postgres {
        tokens: mpsc::Sender<PgToken>,
        conns: Arc<PgConns>,
    },
}

fn stopped() -> Error {
    Error::Internal("the database writer has stopped".into())
}

/// A lock whose holder panicked still guards consistent data here: a queue, or a
/// connection whose transaction SQLite rolled back.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// The writer for the SQLite database at `path`; it catches the WAL up between
    /// batches when `long_wal` says so (checkpoint.rs).
    pub(super) fn start_sqlite(path: &Path, long_wal: Arc<AtomicBool>) -> rusqlite::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        // Busy means another connection is writing: [`begin`] then waits off the
        // runtime's worker.
        conn.busy_timeout(Duration::ZERO)?;
        conn.set_prepared_statement_cache_capacity(64);
        // No automatic checkpoints inside its commits; it catches up only when asked.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        Ok(Self::Sqlite(Arc::new(Sqlite {
            queue: Mutex::new(Queue::default()),
            conn: Mutex::new(conn),
            long_wal,
        })))
    }

    /// The access-token batcher for PostgreSQL.
    pub(super) fn start_postgres(conns: Arc<PgConns>) -> Self {
        let (tx, mut rx) = mpsc::channel(4096);
        let batcher = conns.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(job) = rx.recv().await {
                take_waiting(job, &mut rx, &mut batch);
                write_tokens_postgres(&batcher, &mut batch).await;
            }
        });
        Self::Postgres { tokens: tx, conns }
    }

    /// Runs one statement, committed before this returns; answers the number of
    /// rows it changed.
    pub(super) async fn run(&self, sql: &'static str, args: Vec<Value>) -> Result<i64> {
        match self {
            Self::Sqlite(w) => {
                let answer = Answer::Changes;
                w.run(Statement { sql, args, answer }).await
            }
            Self::Postgres { conns, .. } => conns.execute(sql, &args).await,
        }
    }

    /// Stores an access token row; the answer is its id. With `generation` (a kept
    /// client row's), only if the clients' generation is still that one:
    /// [`Error::ClientChanged`] otherwise.
    pub(super) async fn access_token(
        &self,
        values: Vec<Value>,
        generation: Option<i64>,
    ) -> Result<i64> {
        match (self, generation) {
            (Self::Sqlite(w), generation) => {
                let statement = Statement {
                    sql: sql_once!("{INSERT_ACCESS_TOKEN}($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                    args: values,
                    answer: generation.map_or(Answer::RowId, Answer::RowIdIfCurrent),
                };
                w.run(statement).await
            }
            (Self::Postgres { tokens, .. }, generation) => {
                let (reply, answered) = oneshot::channel();
                let token = PgToken {
                    values,
                    generation,
                    reply,
                };
                tokens.send(token).await.map_err(|_| stopped())?;
                answered.await.map_err(|_| stopped())?
            }
        }
    }
}

impl Sqlite {
    /// Queues `statement` and waits for its commit. The request that finds nobody
    /// writing writes the batch itself, on its own thread, and then hands the next
    /// batch to the oldest request still waiting (`docs/performance.md`).
    async fn run(&self, statement: Statement) -> Result<i64> {
        let (reply, answered) = oneshot::channel();
        let mut waiting = Waiting {
            writer: self,
            answered,
        };
        let (lead, shared) = {
            let mut queue = lock(&self.queue);
            queue.jobs.push_back(Job { statement, reply });
            (!std::mem::replace(&mut queue.leading, true), queue.shared)
        };
        if lead {
            Lead {
                writer: self,
                first: None,
            }
            .gather(shared)
            .await;
        }
        loop {
            match (&mut waiting.answered).await {
                Ok(Turn::Done(result)) => return result,
                Ok(Turn::Lead(statement)) => {
                    let (reply, next) = oneshot::channel();
                    waiting.answered = next;
                    let first = Some(Job { statement, reply });
                    let shared = lock(&self.queue).shared;
                    Lead {
                        writer: self,
                        first,
                    }
                    .gather(shared)
                    .await;
                }
                Err(_) => return Err(stopped()),
            }
        }
    }

    /// Leads with `job` first in the batch.
    fn lead_with(&self, job: Job) {
        lock(&self.queue).jobs.push_front(job);
        self.lead();
    }

    /// Writes what is queued as one transaction, answers each statement, then hands
    /// the lead on: to the oldest request still waiting, or to nobody when none is.
    fn lead(&self) {
        loop {
            let mut batch: Vec<Job> = {
                let mut queue = lock(&self.queue);
                let n = queue.jobs.len().min(MAX_BATCH);
                queue.shared = n > 1;
                queue.jobs.drain(..n).collect()
            };
            {
                let conn = lock(&self.conn);
                write_batch_sqlite(&conn, &mut batch);
                if let Err(e) = super::checkpoint::catch_up(&conn, &self.long_wal) {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            }
            if self.hand_on() {
                return;
            }
        }
    }

    /// Gives the lead to the oldest request waiting, or gives it up when none is;
    /// false when that request was gone: its statement is queued again, first, and
    /// the caller keeps the lead.
    fn hand_on(&self) -> bool {
        let next = {
            let mut queue = lock(&self.queue);
            match queue.jobs.pop_front() {
                Some(job) => job,
                None => {
                    queue.leading = false;
                    return true;
                }
            }
        };
        match next.reply.send(Turn::Lead(next.statement)) {
            Err(Turn::Lead(statement)) => {
                let (reply, _) = oneshot::channel();
                lock(&self.queue).jobs.push_front(Job { statement, reply });
                false
            }
            _ => true,
        }
    }
}

/// The lead of a request about to write a batch. Under load (the last batch was
/// shared) its request first lets the other requests ready on its worker queue their
/// statements, so that they share the batch's commit: under client credentials at 64
/// connections this took SQLite's `pwrite`s from 1.18 to 0.87 a token, its `fcntl`s
/// from 0.46 to 0.23, and the server's CPU per token down by ~5 %. A request alone
/// does not yield: at one connection the yield cost ~25 µs of latency and of server
/// CPU per token (`docs/performance.md`). The batch is written when the lead is dropped, so a
/// request cut off meanwhile writes it all the same.
struct Lead<'a> {
    writer: &'a Sqlite,
    /// The handed-on statement of the request that leads, written first.
    first: Option<Job>,
}

impl Lead<'_> {
    async fn gather(self, shared: bool) {
        if shared {
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        match self.first.take() {
            Some(job) => self.writer.lead_with(job),
            None => self.writer.lead(),
        }
    }
}

/// A request waiting for its statement's commit. Dropped (its request cut off)
/// after being handed the lead, it still writes the batch: nobody else would.
struct Waiting<'a> {
    writer: &'a Sqlite,
    answered: oneshot::Receiver<Turn>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // After close() nothing more can be sent: the lead is either here now or kept
        // by the writer, who finds this request gone. An answer already taken leaves
        // nothing here.
        self.answered.close();
        if let Ok(Turn::Lead(statement)) = self.answered.try_recv() {
            let (reply, _) = oneshot::channel();
            self.writer.lead_with(Job { statement, reply });
        }
    }
}

/// `first` and whatever else is waiting, up to a batch.
fn take_waiting<J>(first: J, rx: &mut mpsc::Receiver<J>, batch: &mut Vec<J>) {
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Takes the write lock. When another connection holds it (an administrative write,
/// the command line), waits for it up to [`LOCK_WAIT`] in SQLite's busy handler —
/// which sleeps — with the runtime's other tasks moved to another thread meanwhile.
fn begin(conn: &rusqlite::Connection) -> rusqlite::Result<usize> {
    match control(conn, "BEGIN IMMEDIATE") {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            let wait = || {
                conn.busy_timeout(LOCK_WAIT)?;
                let begun = control(conn, "BEGIN IMMEDIATE");
                conn.busy_timeout(Duration::ZERO)?;
                begun
            };
            match tokio::runtime::Handle::try_current() {
                Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(wait)
                }
                _ => wait(),
            }
        }
        begun => begun,
    }
}

/// One transaction for the batch; each statement answered with its own result.
fn write_batch_sqlite(conn: &rusqlite::Connection, batch: &mut Vec<Job>) {
    let mut results: Vec<Result<i64>> = Vec::with_capacity(batch.len());
    let written = begin(conn).and_then(|_| {
        for job in batch.iter() {
            // A failed statement undoes only itself; the transaction goes on.
            results.push(run_sqlite(conn, &job.statement));
        }
        control(conn, "COMMIT")
    });
    if let Err(e) = written {
        let _ = control(conn, "ROLLBACK");
        let message = e.to_string();
        for job in batch.drain(..) {
            let _ = job.reply.send(Turn::Done(Err(Error::Internal(format!(
                "a database write failed: {message}"
            )))));
        }
        return;
    }
    for (job, result) in batch.drain(..).zip(results) {
        let _ = job.reply.send(Turn::Done(result));
    }
}

fn run_sqlite(conn: &rusqlite::Connection, job: &Statement) -> Result<i64> {
    if let Answer::RowIdIfCurrent(generation) = job.answer {
        let current: Option<i64> = conn
            .prepare_cached(CLIENT_GENERATION)?
            .query_row([], |r| r.get(0))
            .optional()?;
        if current != Some(generation) {
            return Err(Error::ClientChanged);
        }
    }
    let mut stmt = conn.prepare_cached(job.sql)?;
    super::read::bind_sqlite(&mut stmt, &job.args)?;
    Ok(match job.answer {
        Answer::Changes => i64::try_from(stmt.raw_execute()?).unwrap_or(i64::MAX),
        Answer::RowId | Answer::RowIdIfCurrent(_) => match stmt.raw_execute()? {
            1 => conn.last_insert_rowid(),
            _ => return Err(rusqlite::Error::QueryReturnedNoRows.into()),
        },
    })
}

/// The batch's tokens, those issued with kept client rows of one generation in a
/// statement of their own.
async fn write_tokens_postgres(conns: &PgConns, batch: &mut Vec<PgToken>) {
    while !batch.is_empty() {
        let generation = batch[0].generation;
        let (mut group, rest): (Vec<PgToken>, Vec<PgToken>) =
            batch.drain(..).partition(|t| t.generation == generation);
        *batch = rest;
        write_token_group(conns, generation, &mut group).await;
    }
}

/// An INSERT of `rows` access tokens answering each row's id and hash. With a
/// generation (the last parameter), the rows are inserted only while the clients'
/// generation is that one; the generation's row is locked for share meanwhile, so a
/// change to a client waits for the insert or the insert sees the change.
fn insert_tokens_postgres(rows: usize, generation: bool) -> String {
    let mut values = String::new();
    for i in 0..rows {
        values.push_str(if i > 0 { ", (" } else { "(" });
        for c in 1..=9 {
            if c > 1 {
                values.push_str(", ");
            }
            values.push_str(&format!("${}", i * 9 + c));
        }
        values.push(')');
    }
    if !generation {
        return format!("{INSERT_ACCESS_TOKEN}{values} RETURNING id, token_hash");
    }
    let head = INSERT_ACCESS_TOKEN.trim_end_matches("VALUES ");
    format!(
        "WITH g AS (SELECT n FROM client_generation WHERE id = 1 FOR SHARE) \
         {head}SELECT v.* FROM g, (VALUES {values}) AS v WHERE g.n = ${} \
         RETURNING id, token_hash",
        rows * 9 + 1
    )
}

/// The answer for a token whose row the INSERT did not return.
fn not_inserted(generation: Option<i64>) -> Error {
    match generation {
        Some(_) => Error::ClientChanged,
        None => Error::Database(sqlx::Error::RowNotFound),
    }
}

async fn write_token_group(conns: &PgConns, generation: Option<i64>, group: &mut Vec<PgToken>) {
    let with_generation = |mut args: Vec<Value>| {
        if let Some(g) = generation {
            args.push(g.into());
        }
        args
    };
    if group.len() > 1 {
        let sql = insert_tokens_postgres(group.len(), generation.is_some());
        let args = with_generation(
            group
                .iter()
                .flat_map(|t| t.values.iter().cloned())
                .collect(),
        );
        if let Ok(ids) = conns.insert_returning_keys(&sql, &args, false).await {
            // RETURNING's order is not promised; the hash names each row.
            for t in group.drain(..) {
                let id = ids
                    .iter()
                    // values[0] is the row's token_hash (access_token_values).
                    .find(|(_, h)| matches!(&t.values[0], Value::Text(Some(v)) if v == h))
                    .map(|(id, _)| *id);
                let _ = t.reply.send(id.ok_or_else(|| not_inserted(generation)));
            }
            return;
        }
    }
    // One at a time: a single token, or a batch whose statement failed (a row whose
    // client was deleted meanwhile fails alone).
    let sql = insert_tokens_postgres(1, generation.is_some());
    for t in group.drain(..) {
        let result = conns
            .insert_returning_keys(&sql, &with_generation(t.values), true)
            .await
            .and_then(|ids| {
                ids.first()
                    .map(|(id, _)| *id)
                    .ok_or_else(|| not_inserted(generation))
            });
        let _ = t.reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::path::PathBuf;
    use std::pin::pin;
    use std::task::{Context, Waker};

    const INSERT: &str = "INSERT INTO t (v) VALUES ($1)";

    /// A writer on a WAL database of its own with one table.
    struct Scratch {
        dir: PathBuf,
        writer: Arc<Sqlite>,
    }

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("uc-writer-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let db = dir.join("t.db");
            rusqlite::Connection::open(&db)
                .unwrap()
                .execute_batch(
                    "PRAGMA journal_mode = WAL; \
                     CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
                )
                .unwrap();
            let Writer::Sqlite(writer) =
                Writer::start_sqlite(&db, Arc::new(AtomicBool::new(false))).unwrap()
            else {
                unreachable!()
            };
            Self { dir, writer }
        }

        fn rows(&self) -> Vec<(i64, String)> {
            let conn = lock(&self.writer.conn);
            let mut stmt = conn.prepare("SELECT id, v FROM t ORDER BY id").unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        }

        fn values(&self) -> Vec<String> {
            self.rows().into_iter().map(|(_, v)| v).collect()
        }
    }

    impl Scratch {
        /// Queues a statement while another request is writing a batch, runs
        /// `meanwhile`, then cuts the request off (drops it).
        fn queued_then_cut_off(&self, v: &str, meanwhile: impl FnOnce()) {
            lock(&self.writer.queue).leading = true;
            let mut cx = Context::from_waker(Waker::noop());
            let mut waiting = pin!(self.writer.run(insert(v)));
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            meanwhile();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn insert(v: &str) -> Statement {
        Statement {
            sql: INSERT,
            args: vec![Value::from(v)],
            answer: Answer::RowId,
        }
    }

    #[tokio::test]
    async fn an_insert_of_no_row_answers_no_id() {
        let s = Scratch::new("no-row");
        assert_eq!(s.writer.run(insert("first")).await.unwrap(), 1);
        let nothing = Statement {
            sql: "INSERT INTO t (v) SELECT $1 WHERE 0",
            args: vec![Value::from("never")],
            answer: Answer::RowId,
        };
        assert!(
            s.writer.run(nothing).await.is_err(),
            "not the previous row's id"
        );
        assert_eq!(s.values(), ["first"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_statements_are_all_committed_and_answered() {
        let s = Scratch::new("concurrent");
        let tasks: Vec<_> = (0..300)
            .map(|i| {
                let w = s.writer.clone();
                tokio::spawn(async move { w.run(insert(&format!("v{i}"))).await })
            })
            .collect();
        let mut answered = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            answered.push((t.await.unwrap().unwrap(), format!("v{i}")));
        }
        answered.sort_unstable();
        assert_eq!(
            s.rows(),
            answered,
            "each statement answered with its own row's id"
        );
        assert!(
            !lock(&s.writer.queue).leading,
            "the lead is given up when idle"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn waiting_for_another_connections_write_lock_leaves_the_runtime_running() {
        let s = Scratch::new("busy");
        let other = rusqlite::Connection::open(s.dir.join("t.db")).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('other');")
            .unwrap();
        let w = s.writer.clone();
        let write = tokio::spawn(async move { w.run(insert("mine")).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The runtime's one worker is not asleep in SQLite's busy handler.
        let other_task = tokio::spawn(async { 7 });
        let seven = tokio::time::timeout(Duration::from_secs(2), other_task)
            .await
            .expect("another task runs while the write waits for the lock");
        assert_eq!(seven.unwrap(), 7);
        assert!(!write.is_finished(), "the write waits for the lock");
        other.execute_batch("COMMIT").unwrap();
        assert!(write.await.unwrap().is_ok());
        assert_eq!(s.values(), ["other", "mine"]);
    }

    #[tokio::test]
    async fn a_request_dropped_after_being_handed_the_lead_still_writes() {
        let s = Scratch::new("dropped");
        // The other request's batch is written; the lead goes to the request waiting,
        // which is cut off before it runs again.
        s.queued_then_cut_off("queued", || assert!(s.writer.hand_on()));
        assert_eq!(s.values(), ["queued"]);
        // The lead was not lost with it: the next statement is written.
        let next = tokio::time::timeout(Duration::from_secs(5), s.writer.run(insert("next")))
            .await
            .expect("a later statement is written");
        assert!(next.is_ok());
        assert_eq!(s.values(), ["queued", "next"]);
    }

    #[tokio::test]
    async fn a_request_alone_writes_at_once_and_a_shared_batch_makes_the_next_leader_yield() {
        let s = Scratch::new("alone");
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            pin!(s.writer.run(insert("alone"))).poll(&mut cx).is_ready(),
            "written without a yield"
        );
        lock(&s.writer.queue).leading = true;
        let (first, second) = (s.writer.run(insert("a")), s.writer.run(insert("b")));
        let (mut first, mut second) = (pin!(first), pin!(second));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        lock(&s.writer.queue).leading = false;
        s.writer.lead();
        assert_eq!(s.values(), ["alone", "a", "b"]);
        assert!(
            pin!(s.writer.run(insert("next")))
                .poll(&mut cx)
                .is_pending(),
            "after a batch of two the leader yields"
        );
    }

    /// Cut off in its yield before writing, a request writes the batch all the same,
    /// whether it found nobody writing or was handed the lead.
    #[tokio::test]
    async fn a_request_cut_off_while_it_gathers_its_batch_still_writes_it() {
        for handed in [false, true] {
            let s = Scratch::new(&format!("gathering-{handed}"));
            lock(&s.writer.queue).shared = true;
            lock(&s.writer.queue).leading = handed;
            {
                let mut cx = Context::from_waker(Waker::noop());
                let mut request = pin!(s.writer.run(insert("mine")));
                assert!(request.as_mut().poll(&mut cx).is_pending());
                if handed {
                    assert!(s.writer.hand_on(), "the lead is handed to the request");
                    assert!(request.as_mut().poll(&mut cx).is_pending());
                }
                assert!(lock(&s.writer.queue).leading);
                assert!(s.values().is_empty(), "nothing is written before the yield");
            }
            assert_eq!(s.values(), ["mine"], "handed the lead: {handed}");
            assert!(!lock(&s.writer.queue).leading, "the lead is given up");
        }
    }

    #[tokio::test]
    async fn a_statement_whose_request_is_gone_is_still_written() {
        let s = Scratch::new("gone");
        s.queued_then_cut_off("orphan", || {});
        // The writing request finishes its batch: the lead finds the request gone and
        // stays with it, which writes the orphan's statement.
        assert!(!s.writer.hand_on());
        s.writer.lead();
        assert_eq!(s.values(), ["orphan"]);
        assert!(!lock(&s.writer.queue).leading);
    }
}
