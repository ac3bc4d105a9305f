//! Seed 004's SMS codes (migration 10) and the phone numbers they prove.

use super::Db;
use crate::error::Result;

/// A code waiting for its redemption.
#[derive(Debug, Clone)]
pub struct SmsCode {
    pub id: i64,
    /// The user the phone is to be bound to; `None` for a login by phone.
    pub user_id: Option<i64>,
    /// Move the phone from another account to `user_id`.
    pub replace_phone: bool,
    pub code_hash: String,
    /// A binding's scopes: those of the person's token that asked.
    pub scope: Option<String>,
}

/// What a new code is for.
pub struct NewSmsCode<'a> {
    pub phone: &'a str,
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub replace_phone: bool,
    pub code_hash: &'a str,
    pub scope: Option<&'a str>,
    pub expires_at: i64,
}

/// `id, user_id, replace_phone, code_hash, scope`.
type SmsCodeRow = (i64, Option<i64>, i64, String, Option<String>);

impl Db {
    /// Stores a new code; the phone's earlier codes for the client stop counting.
    pub async fn create_sms_code(&self, c: &NewSmsCode<'_>, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sms_codes SET used_at = $1 WHERE phone = $2 AND client_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(c.phone)
        .bind(c.client_id)
        .execute(self.wpool())
        .await?;
        sqlx::query(
            "INSERT INTO sms_codes (phone, client_id, user_id, replace_phone, code_hash, scope, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.phone)
        .bind(c.client_id)
        .bind(c.user_id)
        .bind(i64::from(c.replace_phone))
        .bind(c.code_hash)
        .bind(c.scope)
        .bind(c.expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// The phone's live code for the client: unused, unexpired, under five tries.
    pub async fn live_sms_code(
        &self,
        phone: &str,
        client_id: i64,
        now: i64,
    ) -> Result<Option<SmsCode>> {
        let row: Option<SmsCodeRow> = sqlx::query_as(
            "SELECT id, user_id, replace_phone, code_hash, scope FROM sms_codes \
             WHERE phone = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > $3 AND tries < 5 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(client_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(id, user_id, replace, code_hash, scope)| SmsCode {
            id,
            user_id,
            replace_phone: replace != 0,
            code_hash,
            scope,
        }))
    }

    /// Counts a try against a code before it is compared, in one statement, so that
    /// tries made at once are each counted: false when its five are spent.
    pub async fn count_sms_try(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sms_codes SET tries = tries + 1 WHERE id = $1 AND tries < 5 AND used_at IS NULL",
        )
        .bind(id)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a code once: false when another redemption took it first.
    pub async fn consume_sms_code(&self, id: i64, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sms_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.wpool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
