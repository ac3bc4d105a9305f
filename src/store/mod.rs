//! Storage: one query layer over SQLite and PostgreSQL.
//!
//! Queries are written once, with `$1`-style placeholders that both backends accept,
//! and run through sqlx's `Any` driver. Migrations are written once too; the runner
//! replaces `{{id}}` with each backend's auto-increment primary key and nothing else.
//! CI runs every storage test on both backends, so neither copy can rot.

mod admin;
mod audit;
mod batched;
mod checkpoint;
mod clients;
mod console;
mod device;
mod groups;
mod kept;
mod migrate;
mod password_resets;
mod pg;
mod qr;
mod read;
mod scopes;
mod sessions;
mod settings;
mod signing_keys;
mod sms;
mod tokens;
mod users;
mod writer;

pub use audit::AuditEntry;
pub use clients::{Client, ClientRef, ClientSnapshot, NewClient};
pub use console::{Consent, HeldToken, TokenKind};
pub use device::DeviceCode;
pub use groups::Group;
pub use qr::LoginQr;
pub use scopes::Scope;
pub use sessions::{NewSession, Session};
pub use signing_keys::key_states;
pub use sms::{NewSmsCode, SmsCode};
pub use tokens::{
    AccessToken, AuthorizationCode, NewAccessToken, NewRefreshToken, PURGE_CHUNK, RefreshToken,
    TokenKeys, TokenWithOwners,
};
pub use users::{NewUser, Profile, User, UserRef};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Where the hot paths read: SQLite's read-only connections on the request's
/// thread ([`read`]), PostgreSQL's connections kept without sqlx's pool ([`pg`]).
#[derive(Debug, Clone)]
enum Reads {
    Sqlite(Arc<read::Readers>),
    Postgres(Arc<pg::PgConns>),
}

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "USERCENTER_DATABASE_URL is not valid: {0} (expected sqlite://PATH or postgres://USER@HOST/DB)"
    )]
    InvalidUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
}

/// A parsed `USERCENTER_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (relative to the working directory, or absolute).
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path.contains(":memory:") {
                return Err(StoreError::InvalidUrl(
                    "a SQLite URL needs a file path, e.g. sqlite://data/usercenter.db".into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(StoreError::InvalidUrl(
                    "the PostgreSQL URL has no host".into(),
                ));
            }
            return Ok(Self::Postgres(url.to_string()));
        }
        Err(StoreError::InvalidUrl(format!(
            "unknown scheme in {:?}",
            redact(url)
        )))
    }

    /// Where the generated secret key lives: beside a SQLite database.
    pub fn key_file(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite(path) => {
                let mut name = path.file_name()?.to_os_string();
                name.push(".key");
                Some(path.with_file_name(name))
            }
            Self::Postgres(_) => None,
        }
    }
}

/// A URL with its password replaced, fit for an error message or a log.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The database: a pool and the backend behind it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Group commit of the hot paths' writes ([`writer`]).
    writer: writer::Writer,
    /// Where the hot paths read.
    reads: Reads,
    /// SQLite's WAL checkpoints ([`checkpoint`]), while any copy of the Db lives.
    _checkpointer: Option<checkpoint::Checkpointer>,
    /// Client rows kept for client credentials ([`Db::cached_client`]).
    clients: Arc<clients::ClientCache>,
    /// Users with their groups, kept for the resource API ([`Db::access_token_with_owners`]).
    users: Arc<users::UserCache>,
    /// The keys of access tokens read with their user before (a token seen again is
    /// read without its user: [`Db::access_token_with_owners`]).
    seen_tokens: Arc<kept::Kept<String, ()>>,
    /// Token reads asked together ([`batched`]).
    batches: tokens::Batches,
}

impl Db {
    /// Opens (creating a SQLite file when missing) and migrates the database.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (connect_url, backend, max) = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Backend::Sqlite,
                    8,
                )
            }
            DatabaseUrl::Postgres(u) => (u.clone(), Backend::Postgres, 16),
        };
        let shown = redact(&connect_url);
        let options = AnyConnectOptions::from_str(&connect_url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        // One direct connection first: a pool would only say that it timed out, where
        // this names the cause (refused, unknown database, authentication).
        match probe(&options).await {
            // SPEC §1: the database is created on start when it does not exist.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                create_postgres_database(&connect_url)
                    .await
                    .map_err(|source| StoreError::Connect {
                        url: shown.clone(),
                        source,
                    })?;
            }
            Err(source) => return Err(StoreError::Connect { url: shown, source }),
            Ok(()) => {}
        }
        let pool_with = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(5))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL lets readers run beside the one writer; NORMAL sync in
                            // WAL mode survives a process crash (kill -9) without an
                            // fsync per commit.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                                 PRAGMA wal_autocheckpoint = 0;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = pool_with(max)
            .connect_with(options.clone())
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.clone(),
                source,
            })?;
        let (writer, reads, checkpointer) = match url {
            DatabaseUrl::Sqlite(path) => {
                let failed = |e: rusqlite::Error| StoreError::Connect {
                    url: shown.clone(),
                    source: sqlx::Error::Configuration(e.into()),
                };
                let checkpointer = checkpoint::Checkpointer::start(path).map_err(failed)?;
                let writer =
                    writer::Writer::start_sqlite(path, checkpointer.long_wal()).map_err(failed)?;
                let readers = Arc::new(read::Readers::new(path.clone()));
                (writer, Reads::Sqlite(readers), Some(checkpointer))
            }
            DatabaseUrl::Postgres(u) => {
                let options = PgConnectOptions::from_str(u)
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
                let conns = Arc::new(pg::PgConns::new(options));
                let writer = writer::Writer::start_postgres(conns.clone());
                (writer, Reads::Postgres(conns), None)
            }
        };
        let batches = match &reads {
            Reads::Postgres(conns) => tokens::Batches::postgres(conns),
            Reads::Sqlite(readers) => tokens::Batches::sqlite(readers),
        };
        let db = Self {
            pool,
            backend,
            writer,
            reads,
            clients: Arc::new(kept::Kept::new(clients::CACHED_CLIENTS)),
            users: Arc::new(kept::Kept::new(users::CACHED_USERS)),
            seen_tokens: Arc::new(kept::Kept::new(tokens::SEEN_TOKENS)),
            batches,
            _checkpointer: checkpointer,
        };
        migrate::run(&db).await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction that runs alone among those taking the same `lock`: on
    /// PostgreSQL it holds that advisory lock until it ends, so a check and the change
    /// it allows cannot interleave with another's; on SQLite the first write takes the
    /// one write lock.
    pub(crate) async fn begin_alone(
        &self,
        lock: i64,
    ) -> crate::error::Result<sqlx::Transaction<'static, sqlx::Any>> {
        self.begin_under(lock, "SELECT pg_advisory_xact_lock($1)")
            .await
    }

    /// A write transaction that may run beside others taking `lock` this way, but
    /// not beside one that takes it with [`Db::begin_alone`]: on PostgreSQL it holds
    /// that advisory lock shared until it ends; on SQLite the first write takes the
    /// one write lock.
    pub(crate) async fn begin_beside(
        &self,
        lock: i64,
    ) -> crate::error::Result<sqlx::Transaction<'static, sqlx::Any>> {
        self.begin_under(lock, "SELECT pg_advisory_xact_lock_shared($1)")
            .await
    }

    async fn begin_under(
        &self,
        lock: i64,
        take: &'static str,
    ) -> crate::error::Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.wpool().begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query(take).bind(lock).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// The pool for reads (and for tests' direct SQL).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for the writes that are not on a hot path (administration, purges,
    /// migrations). Writes of the hot paths go through the group-commit writer
    /// ([`writer`]): one transaction per batch rather than one per request.
    pub fn wpool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs one write of a hot path through the group-commit writer ([`writer`]);
    /// answers the number of rows it changed.
    pub(crate) async fn write(
        &self,
        sql: &'static str,
        args: Vec<read::Value>,
    ) -> crate::error::Result<i64> {
        self.writer.run(sql, args).await
    }

    /// Whether the database answers.
    /// Whether the database answers (on the hot paths' connections).
    pub async fn ping(&self) -> bool {
        self.one_with("SELECT CAST(1 AS BIGINT)", &[], |r| r.int())
            .await
            .is_ok()
    }

    pub async fn close(&self) {
        match &self.reads {
            Reads::Sqlite(readers) => readers.close(),
            Reads::Postgres(conns) => conns.close(),
        }
        self.pool.close().await;
    }
}

async fn probe(options: &AnyConnectOptions) -> Result<(), sqlx::Error> {
    let conn = tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect_with(options))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    conn.close().await
}

/// `CREATE DATABASE` through the server's `postgres` maintenance database.
async fn create_postgres_database(url: &str) -> Result<(), sqlx::Error> {
    let mut parsed = url::Url::parse(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    let name = parsed.path().trim_start_matches('/').to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(sqlx::Error::Configuration(
            format!("will not create a database named {name:?}").into(),
        ));
    }
    parsed.set_path("/postgres");
    let options = AnyConnectOptions::from_str(parsed.as_str())?;
    let mut conn = AnyConnection::connect_with(&options).await?;
    let created = sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    match created {
        // Another instance created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Whether a database error is a unique-constraint violation, and on what: the
/// message names the column on SQLite and the constraint on PostgreSQL.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Some(
            db.constraint()
                .map(str::to_string)
                .unwrap_or_else(|| db.message().to_string()),
        ),
        _ => None,
    }
}

/// Splits a space-separated list, as OAuth writes scopes.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Reads a 0/1 flag column as a bool (flags are BIGINT on both backends).
pub(crate) fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(column)? != 0)
}
