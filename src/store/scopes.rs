//! Scopes as data (seed 002).

use super::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Scope {
    pub name: String,
    pub path: String,
    pub method: String,
    pub is_default: bool,
    pub display_name: String,
    pub description: String,
    pub icon: String,
    pub builtin: bool,
}

#[derive(sqlx::FromRow)]
struct ScopeRow {
    name: String,
    path: String,
    method: String,
    is_default: i64,
    display_name: String,
    description: String,
    icon: String,
    builtin: i64,
}

impl From<ScopeRow> for Scope {
    fn from(r: ScopeRow) -> Self {
        Self {
            name: r.name,
            path: r.path,
            method: r.method,
            is_default: r.is_default != 0,
            display_name: r.display_name,
            description: r.description,
            icon: r.icon,
            builtin: r.builtin != 0,
        }
    }
}

impl Db {
    pub async fn scopes(&self) -> Result<Vec<Scope>> {
        let rows: Vec<ScopeRow> = sqlx::query_as(
            "SELECT name, path, method, is_default, display_name, description, icon, builtin FROM scopes ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn create_scope(&self, s: &Scope, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO scopes (name, path, method, is_default, display_name, description, icon, builtin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
        )
        .bind(&s.name)
        .bind(&s.path)
        .bind(&s.method)
        .bind(i64::from(s.is_default))
        .bind(&s.display_name)
        .bind(&s.description)
        .bind(&s.icon)
        .bind(now)
        .execute(self.wpool())
        .await
        .map_err(|e| match super::unique_violation(&e) {
            Some(_) => Error::Conflict("scope_exists", format!("a scope named {:?} exists", s.name)),
            None => e.into(),
        })?;
        Ok(())
    }
}
