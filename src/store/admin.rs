//! The queries of the admin console: listings with search and pages, and the
//! changes only an admin makes (flags on users and clients, scopes, groups, cards).
//! Every method is prefixed `admin_` so it cannot clash with the per-user queries.

use super::read::{Cursor, Decode};
use super::{Client, Db, Scope, User, flag, unique_violation};
use crate::error::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Whether a search text is longer than any value the admin's searches look in (a
/// username, an e-mail address, a phone or card number, an app's name or id): it
/// then matches nothing, and is not sent as a pattern, which SQLite refuses past
/// 50,000 bytes.
fn beyond_any_match(q: &str) -> bool {
    q.chars().count() > 256
}

/// A `LIKE` pattern that matches `text` anywhere, with `%`, `_` and `\` taken
/// literally (the queries say `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A client with the username of its owner.
#[derive(Debug, Clone)]
pub struct ClientWithOwner {
    pub client: Client,
    pub owner: Option<String>,
}

/// A client's `COLUMNS` (alias `c`) and then `owner_name`.
fn client_with_owner(row: &AnyRow) -> Result<ClientWithOwner> {
    let mut r = Cursor::new(row);
    Ok(ClientWithOwner {
        client: Client::decode(&mut r)?,
        owner: r.opt_text()?,
    })
}

/// A group with how many members it has.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupWithCount {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub members: i64,
}

/// A physical card (seed 004) with its user.
#[derive(Debug, Clone)]
pub struct CardRow {
    pub card_no: String,
    pub user_id: i64,
    pub username: String,
    pub email: Option<String>,
    pub lost: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An audit entry with the username of its actor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

impl Db {
    // ---- users ----

    /// Users whose username, e-mail or phone contains `q` (all when empty), oldest
    /// first.
    pub async fn admin_search_users(&self, q: &str, limit: i64, offset: i64) -> Result<Vec<User>> {
        let q = q.trim();
        if beyond_any_match(q) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM users WHERE $1 = '' \
             OR LOWER(username) LIKE $2 ESCAPE '\\' OR LOWER(email) LIKE $2 ESCAPE '\\' \
             OR phone LIKE $2 ESCAPE '\\' ORDER BY id LIMIT $3 OFFSET $4",
            User::COLUMNS
        );
        Ok(sqlx::query_as(&sql)
            .bind(q)
            .bind(contains_pattern(&q.to_lowercase()))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// Disables or enables an account. Disabling fails (returns `false`) when it is
    /// the last enabled admin's.
    pub async fn admin_set_user_disabled(
        &self,
        user_id: i64,
        disabled: bool,
        now: i64,
    ) -> Result<bool> {
        let guard = disabled.then_some("(is_admin = 0 OR {})");
        self.set_user_flag("disabled", disabled, guard, user_id, now)
            .await
    }

    /// Grants or removes the admin flag. Removing it fails (returns `false`) when no
    /// other enabled admin would remain.
    pub async fn admin_set_user_admin(
        &self,
        user_id: i64,
        is_admin: bool,
        now: i64,
    ) -> Result<bool> {
        let guard = (!is_admin).then_some("{}");
        self.set_user_flag("is_admin", is_admin, guard, user_id, now)
            .await
    }

    /// Sets a user's flag; with a `guard` (a condition in which `{}` stands for
    /// "another enabled admin remains"), only when it holds, checked and changed alone
    /// among such changes: two admins removing each other at once cannot both succeed,
    /// on PostgreSQL either (one statement's snapshot would not see the other's change).
    async fn set_user_flag(
        &self,
        column: &str,
        on: bool,
        guard: Option<&str>,
        user_id: i64,
        now: i64,
    ) -> Result<bool> {
        const LOCK_ID: i64 = 0x7563_6164_6d69_6e73; // "ucadmins"
        const OTHERS: &str =
            "(SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0 AND id <> $2) > 0";
        let update = format!(
            "UPDATE users SET {column} = {}, updated_at = $1 WHERE id = $2",
            i64::from(on)
        );
        let Some(guard) = guard else {
            sqlx::query(&update)
                .bind(now)
                .bind(user_id)
                .execute(self.wpool())
                .await?;
            return Ok(true);
        };
        let mut tx = self.begin_alone(LOCK_ID).await?;
        let done = sqlx::query(&format!("{update} AND {}", guard.replace("{}", OTHERS)))
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- groups ----

    pub async fn admin_groups(&self) -> Result<Vec<GroupWithCount>> {
        Ok(sqlx::query_as(
            "SELECT g.id, g.name, g.description, g.created_at, COUNT(m.user_id) AS members \
             FROM user_groups g LEFT JOIN group_members m ON m.group_id = g.id \
             GROUP BY g.id, g.name, g.description, g.created_at ORDER BY g.name",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn admin_delete_group(&self, group_id: i64) -> Result<bool> {
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind(group_id)
            .execute(self.wpool())
            .await?;
        let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(group_id)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn admin_remove_from_group(&self, group_id: i64, user_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A group's members: id, username, e-mail.
    pub async fn admin_group_members(
        &self,
        group_id: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username, u.email FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.username",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?)
    }

    // ---- scopes ----

    pub async fn admin_scope(&self, name: &str) -> Result<Option<Scope>> {
        Ok(self.scopes().await?.into_iter().find(|s| s.name == name))
    }

    /// Rewrites a scope; `false` when there is none such.
    pub async fn admin_update_scope(&self, s: &Scope) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scopes SET path = $1, method = $2, is_default = $3, display_name = $4, \
             description = $5, icon = $6 WHERE name = $7",
        )
        .bind(&s.path)
        .bind(&s.method)
        .bind(i64::from(s.is_default))
        .bind(&s.display_name)
        .bind(&s.description)
        .bind(&s.icon)
        .bind(&s.name)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- clients ----

    /// Clients, newest first, whose name or client_id contains `q`; with `pending`,
    /// only those with a `develop`/`root` request waiting for an admin.
    pub async fn admin_clients(
        &self,
        q: &str,
        pending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ClientWithOwner>> {
        let q = q.trim();
        if beyond_any_match(q) {
            return Ok(Vec::new());
        }
        // A request is either recorded in requested_scopes, a privileged scope
        // registered without approval (seed 001), or offline_cert so (docs/cards.md).
        let waiting = |s: &str| {
            format!(
                "((' ' || c.scopes || ' ') LIKE '% {s} %' AND (' ' || c.approved_scopes || ' ') NOT LIKE '% {s} %')"
            )
        };
        let sql = format!(
            "SELECT {}, u.username AS owner_name FROM clients c \
             LEFT JOIN users u ON u.id = c.owner_id \
             WHERE ($1 = '' OR LOWER(c.name) LIKE $2 ESCAPE '\\' OR LOWER(c.client_id) LIKE $2 ESCAPE '\\') \
             AND ($3 = 0 OR c.requested_scopes <> '' OR {} OR {} OR \
                  ((' ' || c.grant_types || ' ') LIKE '% offline_cert %' AND (' ' || c.approved_scopes || ' ') NOT LIKE '% offline_cert %')) \
             ORDER BY c.id DESC LIMIT $4 OFFSET $5",
            Client::columns_of("c"),
            waiting("develop"),
            waiting("root")
        );
        let rows = sqlx::query(&sql)
            .bind(q)
            .bind(contains_pattern(&q.to_lowercase()))
            .bind(i64::from(pending))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(client_with_owner).collect()
    }

    pub async fn admin_set_client_disabled(&self, id: i64, disabled: bool, now: i64) -> Result<()> {
        sqlx::query("UPDATE clients SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(disabled))
            .bind(now)
            .bind(id)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    // ---- cards (seed 004) ----

    /// Cards, newest first, whose number, holder's username or e-mail contains `q`.
    pub async fn admin_cards(&self, q: &str, limit: i64, offset: i64) -> Result<Vec<CardRow>> {
        let q = q.trim();
        if beyond_any_match(q) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT k.card_no, k.user_id, u.username, u.email, k.lost, k.created_at, k.updated_at \
             FROM cards k JOIN users u ON u.id = k.user_id \
             WHERE $1 = '' OR LOWER(k.card_no) LIKE $2 ESCAPE '\\' \
             OR LOWER(u.username) LIKE $2 ESCAPE '\\' OR LOWER(u.email) LIKE $2 ESCAPE '\\' \
             ORDER BY k.created_at DESC, k.card_no LIMIT $3 OFFSET $4",
        )
        .bind(q)
        .bind(contains_pattern(&q.to_lowercase()))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CardRow {
                    card_no: r.try_get("card_no")?,
                    user_id: r.try_get("user_id")?,
                    username: r.try_get("username")?,
                    email: r.try_get("email")?,
                    lost: flag(r, "lost")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The user holding a card, and whether it is reported lost.
    pub async fn card(&self, card_no: &str) -> Result<Option<(i64, bool)>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT user_id, lost FROM cards WHERE card_no = $1")
                .bind(card_no)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(user, lost)| (user, lost != 0)))
    }

    /// A user's cards, with whether each is reported lost.
    pub async fn cards_of(&self, user_id: i64) -> Result<Vec<(String, bool)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT card_no, lost FROM cards WHERE user_id = $1 ORDER BY card_no")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(no, lost)| (no, lost != 0)).collect())
    }

    /// Reports a card of `user_id` lost or found; false when they hold no such card.
    pub async fn set_own_card_lost(
        &self,
        user_id: i64,
        card_no: &str,
        lost: bool,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cards SET lost = $1, updated_at = $2 WHERE card_no = $3 AND user_id = $4",
        )
        .bind(i64::from(lost))
        .bind(now)
        .bind(card_no)
        .bind(user_id)
        .execute(self.wpool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn admin_card_user(&self, card_no: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM cards WHERE card_no = $1")
                .bind(card_no)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn admin_bind_card(&self, card_no: &str, user_id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO cards (card_no, user_id, lost, created_at, updated_at) VALUES ($1, $2, 0, $3, $3)",
        )
        .bind(card_no)
        .bind(user_id)
        .bind(now)
        .execute(self.wpool())
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Conflict(
                "card_bound",
                format!("card {card_no} is already bound to a user"),
            ),
            None => e.into(),
        })?;
        Ok(())
    }

    pub async fn admin_set_card_lost(&self, card_no: &str, lost: bool, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE cards SET lost = $1, updated_at = $2 WHERE card_no = $3")
            .bind(i64::from(lost))
            .bind(now)
            .bind(card_no)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn admin_unbind_card(&self, card_no: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM cards WHERE card_no = $1")
            .bind(card_no)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- audit log ----

    /// Entries, newest first, of one action (all when empty) and one actor.
    pub async fn admin_audit(
        &self,
        action: &str,
        actor: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditRow>> {
        Ok(sqlx::query_as(
            "SELECT a.id, a.at, a.actor_user_id, u.username AS actor, a.action, a.target, a.ip, a.detail \
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id \
             WHERE ($1 = '' OR a.action = $1) AND ($2 = 0 OR a.actor_user_id = $2) \
             ORDER BY a.id DESC LIMIT $3 OFFSET $4",
        )
        .bind(action)
        .bind(actor.unwrap_or(0))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every action name in the log, for the filter.
    pub async fn admin_audit_actions(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT action FROM audit_log ORDER BY action")
                .fetch_all(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
