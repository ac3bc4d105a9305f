//! Seed 004's QR login sessions (migration 9).

use super::Db;
use crate::error::Result;

impl Db {
    /// Binds a new code (by its keyed hash) to `session` and `user_id` until
    /// `expires_at`; false when the session id is taken by one that has not expired.
    pub async fn create_qr_session(
        &self,
        session: &str,
        user_id: i64,
        code_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM qr_sessions WHERE session = $1 AND expires_at <= $2")
            .bind(session)
            .bind(now)
            .execute(self.wpool())
            .await?;
        let done = sqlx::query(
            "INSERT INTO qr_sessions (session, user_id, code_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session) DO NOTHING",
        )
        .bind(session)
        .bind(user_id)
        .bind(code_hash)
        .bind(expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes an unused, unexpired code: its user, once.
    pub async fn consume_qr_code(&self, code_hash: &str, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE qr_sessions SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.wpool())
        .await?)
    }

    /// A session's user and whether its code was used, while it has not expired.
    pub async fn qr_session(&self, session: &str, now: i64) -> Result<Option<(i64, bool)>> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT user_id, used_at FROM qr_sessions WHERE session = $1 AND expires_at > $2",
        )
        .bind(session)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(user, used)| (user, used.is_some())))
    }
}
