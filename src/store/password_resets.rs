//! Single-use password reset tokens, stored hashed.

use super::Db;
use crate::error::Result;

/// A link works while the account has the address it was mailed to (links from before
/// addresses were kept have none).
const SAME_ADDRESS: &str = "(password_resets.email IS NULL OR password_resets.email = \
     (SELECT users.email FROM users WHERE users.id = password_resets.user_id))";

impl Db {
    /// Stores a reset link of `user_id`, mailed to `email`.
    pub async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: i64,
        email: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, email, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(email)
        .bind(expires_at)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// The user of a reset link still open (unused, unexpired, and mailed to the
    /// address the account still has); the link stays open.
    pub async fn open_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2 AND {SAME_ADDRESS}"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Spends every reset link of a user still open: one was used, or the password or
    /// the e-mail address changed, so the others must not set it again.
    pub async fn spend_password_resets_of(&self, user_id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// Marks the token used and returns its user, in one statement, so that two
    /// concurrent uses cannot both succeed.
    pub async fn consume_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(&format!(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 AND {SAME_ADDRESS} RETURNING user_id"
        ))
        .bind(now)
        .bind(token_hash)
        .fetch_optional(self.wpool())
        .await?)
    }
}
