//! Admin settings (seed 002 plus SPEC §1), stored as key/value text.

use super::Db;
use crate::error::Result;

impl Db {
    /// Every stored setting; keys never set are absent.
    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(self.pool())
                .await?,
        )
    }

    pub async fn set_setting(&self, key: &str, value: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(())
    }
}
