//! Seed 004's QR login sessions (migration 9), and the login page's "scan to log
//! in" (migration 12).

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
        scope: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM qr_sessions WHERE session = $1 AND expires_at <= $2")
            .bind(session)
            .bind(now)
            .execute(self.wpool())
            .await?;
        let done = sqlx::query(
            "INSERT INTO qr_sessions (session, user_id, code_hash, scope, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session) DO NOTHING",
        )
        .bind(session)
        .bind(user_id)
        .bind(code_hash)
        .bind(scope)
        .bind(expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user of an unused, unexpired code, without taking it.
    pub async fn qr_code_user(&self, code_hash: &str, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM qr_sessions WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Takes an unused, unexpired code of `user_id`: the scopes it may grant, once.
    pub async fn consume_qr_code(
        &self,
        code_hash: &str,
        user_id: i64,
        now: i64,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE qr_sessions SET used_at = $2 \
             WHERE code_hash = $1 AND user_id = $3 AND used_at IS NULL AND expires_at > $2 \
             RETURNING scope",
        )
        .bind(code_hash)
        .bind(now)
        .bind(user_id)
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

    pub async fn create_login_qr(&self, q: &LoginQr, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_qr (id_hash, browser_hash, return_to, ip, user_agent, state, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
        )
        .bind(&q.id_hash)
        .bind(&q.browser_hash)
        .bind(&q.return_to)
        .bind(&q.ip)
        .bind(&q.user_agent)
        .bind(q.expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// An unexpired "scan to log in" request.
    pub async fn login_qr(&self, id_hash: &str, now: i64) -> Result<Option<LoginQr>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<i64>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT id_hash, browser_hash, return_to, ip, user_agent, state, expires_at, user_id \
             FROM login_qr WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| LoginQr {
            id_hash: r.0,
            browser_hash: r.1,
            return_to: r.2,
            ip: r.3,
            user_agent: r.4,
            state: r.5,
            expires_at: r.6,
            user_id: r.7,
        }))
    }

    /// The signed-in person's answer; false when the request is no longer pending.
    pub async fn decide_login_qr(
        &self,
        id_hash: &str,
        user_id: i64,
        confirm: bool,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE login_qr SET state = $1, user_id = $2 \
             WHERE id_hash = $3 AND state = 'pending' AND expires_at > $4",
        )
        .bind(if confirm { "confirmed" } else { "denied" })
        .bind(user_id)
        .bind(id_hash)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a confirmed request once, for the browser that made it: its person.
    pub async fn take_login_qr(
        &self,
        id_hash: &str,
        browser_hash: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE login_qr SET state = 'used' WHERE id_hash = $1 AND browser_hash = $2 \
             AND state = 'confirmed' AND expires_at > $3 RETURNING user_id",
        )
        .bind(id_hash)
        .bind(browser_hash)
        .bind(now)
        .fetch_optional(self.wpool())
        .await?
        .flatten())
    }
}

/// A "scan to log in" request of the login page.
#[derive(Debug, Clone)]
pub struct LoginQr {
    pub id_hash: String,
    pub browser_hash: String,
    pub return_to: String,
    /// Where the browser that asked is: shown on the phone before it confirms.
    pub ip: String,
    pub user_agent: String,
    /// `pending`, `confirmed`, `denied` or `used`.
    pub state: String,
    pub expires_at: i64,
    /// Who confirmed it (none while pending).
    pub user_id: Option<i64>,
}
