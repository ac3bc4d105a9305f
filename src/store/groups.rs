//! Groups of users.

use super::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

impl Db {
    pub async fn create_group(&self, name: &str, description: &str, now: i64) -> Result<Group> {
        sqlx::query_as(
            "INSERT INTO user_groups (name, description, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, description, created_at",
        )
        .bind(name)
        .bind(description)
        .bind(now)
        .fetch_one(self.wpool())
        .await
        .map_err(|e| match super::unique_violation(&e) {
            Some(_) => Error::Conflict("group_exists", format!("a group named {name:?} exists")),
            None => e.into(),
        })
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, created_at FROM user_groups WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn group_by_id(&self, id: i64) -> Result<Option<Group>> {
        Ok(sqlx::query_as(
            "SELECT id, name, description, created_at FROM user_groups WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn add_to_group(&self, group_id: i64, user_id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(now)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<Group>> {
        Ok(sqlx::query_as(
            "SELECT g.id, g.name, g.description, g.created_at FROM user_groups g \
             JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The names of a user's groups.
    pub async fn group_names_of(&self, user_id: i64) -> Result<Vec<String>> {
        self.all_with(
            "SELECT g.name FROM user_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.name",
            &[user_id.into()],
            |r| r.text(),
        )
        .await
    }

    /// Usernames of a group's members.
    pub async fn group_members(&self, group_id: i64) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.username",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?)
    }
}
