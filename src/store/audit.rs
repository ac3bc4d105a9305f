//! The audit log: who did what, when, from where.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

impl Db {
    pub async fn audit(
        &self,
        actor: Option<i64>,
        action: &str,
        target: &str,
        ip: &str,
        detail: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_user_id, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(ip)
        .bind(detail)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// The newest entries first, optionally of one action or one actor.
    pub async fn audit_entries(
        &self,
        action: Option<&str>,
        actor: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log \
             WHERE ($1 = '' OR action = $1) AND ($2 = 0 OR actor_user_id = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(action.unwrap_or(""))
        .bind(actor.unwrap_or(0))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
