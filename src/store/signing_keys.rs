//! Signing keys of the tokens the server issues (JWS, RFC 7515).
//!
//! Private keys are stored encrypted under the server key; public keys as their JWK
//! (RFC 7517). A key with `retired_at` no longer signs but keeps verifying, and is
//! published in the JWKS, until the tokens it signed have expired.
//!
//! At most one key per algorithm is active. Several instances may start, or rotate,
//! at once: the statements that add an active key run in a transaction that, on
//! PostgreSQL, first takes an advisory lock (SQLite has a single writer already).

use super::Db;
use crate::error::Result;
use sqlx::{Any, Transaction};

/// An arbitrary constant naming our lock on PostgreSQL ("ucsignky"); distinct from
/// the migration runner's.
const LOCK_ID: i64 = 0x7563_7369_676e_6b79;

#[derive(Debug, Clone, sqlx::FromRow)]
struct SigningKeyRow {
    kid: String,
    alg: String,
    private_enc: String,
    public_jwk: String,
    retired_at: Option<i64>,
    created_at: i64,
}

/// A stored signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The JWS `kid` (RFC 7515 §4.1.4).
    pub kid: String,
    /// The JWS `alg` (RFC 7518 §3.1, RFC 8037 §3.1).
    pub alg: String,
    /// The private key (PKCS#8 DER), sealed with [`crate::crypto::SecretKey::encrypt`].
    pub private_enc: String,
    /// The public key as a JWK object (JSON text).
    pub public_jwk: String,
    /// When it stopped signing; `None` while it is the active key of its `alg`.
    pub retired_at: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_enc", &"…")
            .field("public_jwk", &self.public_jwk)
            .field("retired_at", &self.retired_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl From<SigningKeyRow> for SigningKey {
    fn from(r: SigningKeyRow) -> Self {
        Self {
            kid: r.kid,
            alg: r.alg,
            private_enc: r.private_enc,
            public_jwk: r.public_jwk,
            retired_at: r.retired_at,
            created_at: r.created_at,
        }
    }
}

/// The one string [`Db::signing_key_states`] answers for keys `(kid, retired_at)`, in
/// the order of [`Db::signing_keys`].
pub fn key_states<'a>(keys: impl Iterator<Item = (&'a str, Option<i64>)>) -> String {
    keys.map(|(kid, retired)| format!("{kid}:{}", retired.unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(" ")
}

const COLUMNS: &str = "kid, alg, private_enc, public_jwk, retired_at, created_at";

impl Db {
    /// Every key, active and retired, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let sql = format!("SELECT {COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid");
        let rows: Vec<SigningKeyRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Which keys exist and which are retired, in one string: it changes when a key
    /// is added, retired or deleted, so an instance can tell that its keys are stale.
    pub async fn signing_key_states(&self) -> Result<String> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT kid, retired_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(key_states(
            rows.iter().map(|(kid, retired)| (kid.as_str(), *retired)),
        ))
    }

    /// Stores a new key as the active key of its `alg`, unless one is active already
    /// (another instance starting at the same time got there first): then nothing is
    /// stored and the answer is `false`. `private_enc` and `public_jwk` are as in
    /// [`SigningKey`].
    pub async fn insert_signing_key(
        &self,
        kid: &str,
        alg: &str,
        private_enc: &str,
        public_jwk: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_key_change().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_enc, public_jwk, retired_at, created_at) \
             SELECT $1, $2, $3, $4, NULL, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE alg = $2 AND retired_at IS NULL)",
        )
        .bind(kid)
        .bind(alg)
        .bind(private_enc)
        .bind(public_jwk)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted > 0)
    }

    /// Retires the active keys of `alg` and stores a new key as its active key, in one
    /// transaction (key rotation).
    pub async fn replace_signing_key(
        &self,
        kid: &str,
        alg: &str,
        private_enc: &str,
        public_jwk: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_key_change().await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(alg)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_enc, public_jwk, retired_at, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(kid)
        .bind(alg)
        .bind(private_enc)
        .bind(public_jwk)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires the active keys of `alg`: they stop signing but keep verifying.
    /// Answers how many were retired.
    pub async fn retire_signing_keys(&self, alg: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(alg)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes the keys retired before `cutoff`: every token they signed has expired.
    /// Answers how many were deleted.
    pub async fn delete_signing_keys_retired_before(&self, cutoff: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1",
        )
        .bind(cutoff)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A transaction in which the active keys may change: on PostgreSQL it holds an
    /// advisory lock until it ends, so that two instances cannot both see "no active
    /// key" and both add one. On SQLite the first write takes the one write lock.
    async fn begin_key_change(&self) -> Result<Transaction<'static, Any>> {
        self.begin_alone(LOCK_ID).await
    }
}
