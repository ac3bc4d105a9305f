//! Browser sessions. The cookie holds a random id; the table holds only its keyed
//! hash, so a copy of the database cannot be used to log in.

use super::read::{Cursor, Decode, from_any_row, sql_once};
use super::{Db, User};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub auth_time: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
}

/// What creating a session needs.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub expires_at: i64,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

impl Decode for Session {
    const COLUMNS: &'static str = "id_hash, user_id, csrf_token, auth_time, last_seen_at, expires_at, user_agent, ip, created_at";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id_hash: r.text()?,
            user_id: r.int()?,
            csrf_token: r.text()?,
            auth_time: r.int()?,
            last_seen_at: r.int()?,
            expires_at: r.int()?,
            user_agent: r.text()?,
            ip: r.text()?,
            created_at: r.int()?,
        })
    }
}

from_any_row!(Session);

const COLUMNS: &str = <Session as Decode>::COLUMNS;

impl Db {
    pub async fn create_session(&self, s: &NewSession<'_>, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_time, last_seen_at, expires_at, \
             user_agent, ip, created_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $4)",
        )
        .bind(s.id_hash)
        .bind(s.user_id)
        .bind(s.csrf_token)
        .bind(now)
        .bind(s.expires_at)
        .bind(s.user_agent)
        .bind(s.ip)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// The session with its user, in one read, if the session exists and has not
    /// passed its absolute expiry or its idle limit; the caller decides whether to
    /// [`Db::touch_session`].
    pub async fn session_with_user(
        &self,
        id_hash: &str,
        now: i64,
        idle: i64,
    ) -> Result<Option<(Session, User)>> {
        let sql = sql_once!(
            "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
            Session::columns_of("s"),
            User::columns_of("u"),
        );
        let args = [id_hash.into(), now.into(), (now - idle).into()];
        self.one_with(sql, &args, |r| Ok((Session::decode(r)?, User::decode(r)?)))
            .await
    }

    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<()> {
        self.write(
            "UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2",
            vec![now.into(), id_hash.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    /// Ends one session of a user (from their list of sessions).
    pub async fn delete_session_of(&self, user_id: i64, id_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2")
            .bind(id_hash)
            .bind(user_id)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user except `keep` (the one making the change).
    pub async fn delete_other_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<Session>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(now)
            .fetch_all(self.pool())
            .await?)
    }
}
