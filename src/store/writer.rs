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
//! On SQLite the writer is a thread of its own with its own connection; it runs each
//! statement prepared once, so a batch costs no SQL parsing and no hand-over to
//! sqlx's connection thread. A statement that fails (its client deleted meanwhile,
//! say) fails alone; the others commit. Answers leave only after the commit.
//!
//! On PostgreSQL, whose writers do not queue on one lock, statements run on the
//! request's task (on the hot paths' connections, [`super::pg`]); only access tokens
//! are batched, by a task that sends one multi-row INSERT, retried row by row when it
//! fails.

use super::NewAccessToken;
use super::pg::PgConns;
use super::read::Value;
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Statements per transaction (and access-token rows per INSERT on PostgreSQL: 9
/// columns each, well under its parameter limit).
const MAX_BATCH: usize = 256;

/// What a statement answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The number of rows it changed.
    Changes,
    /// The one integer it returns (`RETURNING id`).
    Id,
}

const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (token_hash, client_id, user_id, \
    scope, family_id, code_hash, extra, expires_at, created_at) VALUES ";

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

#[derive(Debug)]
pub(super) struct Job {
    sql: &'static str,
    args: Vec<Value>,
    answer: Answer,
    reply: Reply,
}

/// The writer's mailbox.
#[derive(Debug, Clone)]
pub(super) enum Writer {
    Sqlite(mpsc::Sender<Job>),
    /// Only access tokens are batched there; other statements run on `conns`.
    Postgres {
        tokens: mpsc::Sender<(Vec<Value>, Reply)>,
        conns: Arc<PgConns>,
    },
}

fn stopped() -> Error {
    Error::Internal("the database writer has stopped".into())
}

impl Writer {
    /// The writer thread for the SQLite database at `path`; it catches the WAL up
    /// between batches when `long_wal` says so (checkpoint.rs).
    pub(super) fn start_sqlite(path: &Path, long_wal: Arc<AtomicBool>) -> rusqlite::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        // No automatic checkpoints inside its commits; it catches up only when asked.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        let (tx, mut rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while let Some(job) = rx.blocking_recv() {
                    take_waiting(job, &mut rx, &mut batch);
                    write_batch_sqlite(&conn, &mut batch);
                    if let Err(e) = super::checkpoint::catch_up(&conn, &long_wal) {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self::Sqlite(tx))
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

    /// Runs one statement, committed before this returns.
    pub(super) async fn run(
        &self,
        sql: &'static str,
        args: Vec<Value>,
        answer: Answer,
    ) -> Result<i64> {
        match self {
            Self::Sqlite(tx) => send(tx, sql, args, answer).await,
            Self::Postgres { conns, .. } => conns.execute(sql, &args, answer == Answer::Id).await,
        }
    }

    /// Stores an access token row; the answer is its id.
    pub(super) async fn access_token(&self, values: Vec<Value>) -> Result<i64> {
        match self {
            Self::Sqlite(tx) => {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                    format!(
                        "{INSERT_ACCESS_TOKEN}($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
                    )
                });
                send(tx, SQL.as_str(), values, Answer::Id).await
            }
            Self::Postgres { tokens, .. } => {
                let (reply, answered) = oneshot::channel();
                tokens.send((values, reply)).await.map_err(|_| stopped())?;
                answered.await.map_err(|_| stopped())?
            }
        }
    }
}

/// Hands a statement to the SQLite writer thread and waits for its commit.
async fn send(
    tx: &mpsc::Sender<Job>,
    sql: &'static str,
    args: Vec<Value>,
    answer: Answer,
) -> Result<i64> {
    let (reply, answered) = oneshot::channel();
    let job = Job {
        sql,
        args,
        answer,
        reply,
    };
    tx.send(job).await.map_err(|_| stopped())?;
    answered.await.map_err(|_| stopped())?
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

/// One transaction for the batch; each statement answered with its own result.
fn write_batch_sqlite(conn: &rusqlite::Connection, batch: &mut Vec<Job>) {
    let mut results: Vec<Result<i64>> = Vec::with_capacity(batch.len());
    let written = conn.execute_batch("BEGIN IMMEDIATE").and_then(|()| {
        for job in batch.iter() {
            // A failed statement undoes only itself; the transaction goes on.
            results.push(run_sqlite(conn, job));
        }
        conn.execute_batch("COMMIT")
    });
    if let Err(e) = written {
        let _ = conn.execute_batch("ROLLBACK");
        let message = e.to_string();
        for job in batch.drain(..) {
            let _ = job.reply.send(Err(Error::Internal(format!(
                "a database write failed: {message}"
            ))));
        }
        return;
    }
    for (job, result) in batch.drain(..).zip(results) {
        let _ = job.reply.send(result);
    }
}

fn run_sqlite(conn: &rusqlite::Connection, job: &Job) -> Result<i64> {
    let mut stmt = conn.prepare_cached(job.sql)?;
    super::read::bind_sqlite(&mut stmt, &job.args)?;
    Ok(match job.answer {
        Answer::Changes => i64::try_from(stmt.raw_execute()?).unwrap_or(i64::MAX),
        Answer::Id => match stmt.raw_query().next()? {
            Some(row) => row.get(0)?,
            None => return Err(rusqlite::Error::QueryReturnedNoRows.into()),
        },
    })
}

async fn write_tokens_postgres(conns: &PgConns, batch: &mut Vec<(Vec<Value>, Reply)>) {
    if batch.len() > 1 {
        let mut sql = String::from(INSERT_ACCESS_TOKEN);
        for i in 0..batch.len() {
            let b = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 1..=9 {
                if c > 1 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", b + c));
            }
            sql.push(')');
        }
        sql.push_str(" RETURNING id, token_hash");
        let args: Vec<Value> = batch.iter().flat_map(|(v, _)| v.iter().cloned()).collect();
        if let Ok(ids) = conns.insert_returning_keys(&sql, &args, false).await {
            // RETURNING's order is not promised; the hash names each row.
            for (values, reply) in batch.drain(..) {
                let id = ids
                    .iter()
                    // values[0] is the row's token_hash (access_token_values).
                    .find(|(_, h)| matches!(&values[0], Value::Text(Some(t)) if t == h))
                    .map(|(id, _)| *id);
                let _ = reply.send(id.ok_or(Error::Database(sqlx::Error::RowNotFound)));
            }
            return;
        }
    }
    let sql = format!(
        "{INSERT_ACCESS_TOKEN}($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, token_hash"
    );
    for (values, reply) in batch.drain(..) {
        let result = conns
            .insert_returning_keys(&sql, &values, true)
            .await
            .and_then(|ids| {
                ids.first()
                    .map(|(id, _)| *id)
                    .ok_or(Error::Database(sqlx::Error::RowNotFound))
            });
        let _ = reply.send(result);
    }
}
