//! Group commit for access tokens.
//!
//! Every issued token is stored before its response leaves (a token kept only in
//! memory could not be revoked on another instance). One INSERT per request makes
//! SQLite's single writer the bottleneck and has connections wait on its lock, so
//! requests hand their row to one writer task instead: it takes every row waiting
//! and writes them in one multi-row INSERT — one transaction, one commit — then
//! answers each request. Under light load a batch is one row and nothing waits; under
//! heavy load batches grow by themselves while the previous one is being written.
//!
//! On SQLite the writer is a thread of its own with its own connection: it inserts
//! the batch's rows with one prepared statement inside one transaction, so a batch
//! costs no SQL parsing and no hand-over to sqlx's connection thread. A row that
//! fails (its client deleted meanwhile, say) fails alone; the others commit. On
//! PostgreSQL the writer is a task that sends one multi-row INSERT, retried row by
//! row when it fails.

use super::NewAccessToken;
use crate::error::{Error, Result};
use sqlx::AnyPool;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Rows per statement: 9 columns each, well under both engines' parameter limits.
const MAX_BATCH: usize = 256;

#[derive(Debug)]
pub(super) struct Row {
    token_hash: String,
    client_id: i64,
    user_id: Option<i64>,
    scope: String,
    family_id: Option<String>,
    code_hash: Option<String>,
    extra: Option<String>,
    expires_at: i64,
    created_at: i64,
}

impl Row {
    pub(super) fn new(t: &NewAccessToken<'_>, now: i64) -> Self {
        Self {
            token_hash: t.token_hash.to_string(),
            client_id: t.client_id,
            user_id: t.user_id,
            scope: t.scope.to_string(),
            family_id: t.family_id.map(str::to_string),
            code_hash: t.code_hash.map(str::to_string),
            extra: t.extra.map(str::to_string),
            expires_at: t.expires_at,
            created_at: now,
        }
    }
}

pub(super) type Reply = oneshot::Sender<Result<i64>>;

/// The writer's mailbox.
#[derive(Debug, Clone)]
pub(super) struct TokenWriter {
    tx: mpsc::Sender<(Row, Reply)>,
}

impl TokenWriter {
    /// The writer task for PostgreSQL.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (tx, mut rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(job) = rx.recv().await {
                take_waiting(job, &mut rx, &mut batch);
                write_batch(&pool, &mut batch).await;
            }
        });
        Self { tx }
    }

    /// The writer thread for the SQLite database at `path`.
    pub(super) fn start_sqlite(path: &Path) -> rusqlite::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Checkpoints are not this thread's work (checkpoint.rs).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        let (tx, mut rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("token-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while let Some(job) = rx.blocking_recv() {
                    take_waiting(job, &mut rx, &mut batch);
                    write_batch_sqlite(&conn, &mut batch);
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self { tx })
    }

    /// Stores a row through the writer; the answer is its id.
    pub(super) async fn write(&self, row: Row) -> Result<i64> {
        let closed = || Error::Internal("the token writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send((row, reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// `first` and whatever else is waiting, up to a batch.
fn take_waiting(
    first: (Row, Reply),
    rx: &mut mpsc::Receiver<(Row, Reply)>,
    batch: &mut Vec<(Row, Reply)>,
) {
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// One transaction for the batch; each row answered with its id or its own error.
fn write_batch_sqlite(conn: &rusqlite::Connection, batch: &mut Vec<(Row, Reply)>) {
    let begun = conn.execute_batch("BEGIN IMMEDIATE");
    let mut results: Vec<Result<i64>> = Vec::with_capacity(batch.len());
    let written = begun.and_then(|()| {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, family_id, \
             code_hash, extra, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )?;
        for (r, _) in batch.iter() {
            // A failed INSERT undoes only itself; the transaction goes on.
            results.push(
                stmt.execute(rusqlite::params![
                    r.token_hash,
                    r.client_id,
                    r.user_id,
                    r.scope,
                    r.family_id,
                    r.code_hash,
                    r.extra,
                    r.expires_at,
                    r.created_at
                ])
                .map(|_| conn.last_insert_rowid())
                .map_err(Error::from),
            );
        }
        conn.execute_batch("COMMIT")
    });
    if let Err(e) = written {
        let _ = conn.execute_batch("ROLLBACK");
        let message = e.to_string();
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Err(Error::Internal(format!(
                "storing an access token failed: {message}"
            ))));
        }
        return;
    }
    for ((_, reply), result) in batch.drain(..).zip(results) {
        let _ = reply.send(result);
    }
}

const INSERT: &str = "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, family_id, code_hash, \
    extra, expires_at, created_at) VALUES ";

async fn write_batch(pool: &AnyPool, batch: &mut Vec<(Row, Reply)>) {
    if batch.len() > 1 {
        let mut sql = String::from(INSERT);
        for i in 0..batch.len() {
            let b = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        sql.push_str(" RETURNING id, token_hash");
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for (row, _) in batch.iter() {
            query = bind(query, row);
        }
        if let Ok(ids) = query.fetch_all(pool).await {
            // RETURNING's order is not promised; the hash names each row.
            for (row, reply) in batch.drain(..) {
                let id = ids
                    .iter()
                    .find(|(_, h)| *h == row.token_hash)
                    .map(|(id, _)| *id);
                let _ = reply.send(id.ok_or(Error::Database(sqlx::Error::RowNotFound)));
            }
            return;
        }
    }
    for (row, reply) in batch.drain(..) {
        let sql = format!("{INSERT}($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, token_hash");
        let result = bind(sqlx::query_as::<_, (i64, String)>(&sql), &row)
            .fetch_one(pool)
            .await
            .map(|(id, _)| id)
            .map_err(Error::from);
        let _ = reply.send(result);
    }
}

type Query<'q> = sqlx::query::QueryAs<'q, sqlx::Any, (i64, String), sqlx::any::AnyArguments<'q>>;

fn bind<'q>(q: Query<'q>, row: &'q Row) -> Query<'q> {
    q.bind(&row.token_hash)
        .bind(row.client_id)
        .bind(row.user_id)
        .bind(&row.scope)
        .bind(&row.family_id)
        .bind(&row.code_hash)
        .bind(&row.extra)
        .bind(row.expires_at)
        .bind(row.created_at)
}
