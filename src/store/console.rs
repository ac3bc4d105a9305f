//! Queries of the self-service consoles: my apps, my authorizations, my tokens.

use super::{Client, Db};
use crate::error::Result;

/// What kind of token an app holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// As RFC 7009's `token_type_hint` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        }
    }
}

/// A live token of a person's app, as the consoles list it (never the token itself).
#[derive(Debug, Clone)]
pub struct HeldToken {
    pub kind: TokenKind,
    /// Its row id, within its kind ([`HeldToken::listed_id`] names it in lists).
    pub id: i64,
    pub client_id: i64,
    pub scope: String,
    /// The refresh family it belongs to (always, for a refresh token).
    pub family_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl HeldToken {
    /// The id the consoles list and delete it by: an access token's row id, a refresh
    /// token's negated, so that one number never names two tokens.
    pub fn listed_id(&self) -> i64 {
        match self.kind {
            TokenKind::Access => self.id,
            TokenKind::Refresh => -self.id,
        }
    }
}

/// A consent with when it was given.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Consent {
    pub client_id: i64,
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Db {
    pub async fn clients_owned_by(&self, user_id: i64) -> Result<Vec<Client>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM clients WHERE owner_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.client_by_id(id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Deletes an app; its codes, tokens and consents go with it (foreign keys).
    pub async fn delete_client(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    pub async fn consents_of(&self, user_id: i64) -> Result<Vec<Consent>> {
        Ok(sqlx::query_as(
            "SELECT client_id, scope, created_at, updated_at FROM consents WHERE user_id = $1 ORDER BY updated_at DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The live tokens' apps and scopes of a user (access tokens, and refresh tokens not
    /// yet rotated): `(client_id, scope, created_at)` per token, oldest first. Grants without the
    /// consent page (password, device, SMS, QR, card) leave tokens and no consent.
    pub async fn live_grants_of(&self, user_id: i64, now: i64) -> Result<Vec<(i64, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT client_id, scope, created_at FROM access_tokens \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             UNION ALL SELECT client_id, scope, created_at FROM refresh_tokens \
             WHERE user_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > $2 \
             ORDER BY created_at",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn delete_consent(&self, user_id: i64, client_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(self.wpool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The live tokens a user's apps hold (of one app, or of all with `None`), newest
    /// first: access tokens, and refresh tokens not yet rotated, each of which can
    /// still mint access tokens after the ones listed have expired.
    pub async fn valid_tokens_of(
        &self,
        user_id: i64,
        client_id: Option<i64>,
        now: i64,
    ) -> Result<Vec<HeldToken>> {
        type Row = (i64, i64, String, Option<String>, i64, i64);
        let of = async |kind: TokenKind, sql: &str| -> Result<Vec<HeldToken>> {
            let rows: Vec<Row> = sqlx::query_as(sql)
                .bind(user_id)
                .bind(client_id.unwrap_or(0))
                .bind(now)
                .fetch_all(self.pool())
                .await?;
            Ok(rows
                .into_iter()
                .map(|r| HeldToken {
                    kind,
                    id: r.0,
                    client_id: r.1,
                    scope: r.2,
                    family_id: r.3,
                    created_at: r.4,
                    expires_at: r.5,
                })
                .collect())
        };
        let mut held = of(
            TokenKind::Access,
            "SELECT id, client_id, scope, family_id, created_at, expires_at FROM access_tokens \
             WHERE user_id = $1 AND ($2 = 0 OR client_id = $2) AND revoked_at IS NULL AND expires_at > $3",
        )
        .await?;
        held.extend(
            of(
                TokenKind::Refresh,
                "SELECT id, client_id, scope, family_id, created_at, expires_at FROM refresh_tokens \
                 WHERE user_id = $1 AND ($2 = 0 OR client_id = $2) AND revoked_at IS NULL \
                 AND rotated_at IS NULL AND expires_at > $3",
            )
            .await?,
        );
        held.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.kind, t.id)));
        Ok(held)
    }

    /// Revokes every access and refresh token of a user, for every app (a password
    /// reset: whoever knew the old password may have taken tokens with it).
    pub async fn revoke_all_tokens_of(&self, user_id: i64, now: i64) -> Result<()> {
        self.revoke_tokens("user_id = $2", &[user_id], now).await
    }

    /// Spends what would still give tokens of a user to whoever holds it: unredeemed
    /// authorization codes, approved device codes, unused QR codes and confirmed
    /// QR logins (after a password reset, the holder may be the one locked out).
    pub async fn spend_grants_of(&self, user_id: i64, now: i64) -> Result<()> {
        // A code is also marked replayed (`expires_at` 0): a redemption that took it
        // just before sees the mark once its tokens are stored, and revokes them.
        sqlx::query(
            "UPDATE authorization_codes SET used_at = COALESCE(used_at, $1), expires_at = 0 \
             WHERE user_id = $2 AND expires_at > $1",
        )
        .bind(now)
        .bind(user_id)
        .execute(self.wpool())
        .await?;
        sqlx::query("UPDATE qr_sessions SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(self.wpool())
            .await?;
        for (table, given) in [("device_codes", "approved"), ("login_qr", "confirmed")] {
            sqlx::query(&format!(
                "UPDATE {table} SET state = 'denied' WHERE user_id = $1 AND state = $2"
            ))
            .bind(user_id)
            .bind(given)
            .execute(self.wpool())
            .await?;
        }
        Ok(())
    }

    /// Revokes every access and refresh token an app holds for people (not its own).
    pub async fn revoke_people_tokens_of_client(&self, client_id: i64, now: i64) -> Result<()> {
        self.revoke_tokens("client_id = $2 AND user_id IS NOT NULL", &[client_id], now)
            .await
    }

    /// Revokes every access and refresh token of a user for an app.
    pub async fn revoke_all_of(&self, user_id: i64, client_id: i64, now: i64) -> Result<()> {
        self.revoke_tokens(
            "user_id = $2 AND client_id = $3",
            &[user_id, client_id],
            now,
        )
        .await
    }

    /// Revokes the live access and refresh tokens `filter` picks (`$1` is `now`,
    /// `$2`… are `args`). Refresh tokens first: a rotation that stores its access token
    /// after that is refused (its family is revoked), and one that stored it before
    /// has it revoked by the second statement.
    async fn revoke_tokens(&self, filter: &str, args: &[i64], now: i64) -> Result<()> {
        for table in ["refresh_tokens", "access_tokens"] {
            let sql =
                format!("UPDATE {table} SET revoked_at = $1 WHERE {filter} AND revoked_at IS NULL");
            let mut query = sqlx::query(&sql).bind(now);
            for arg in args {
                query = query.bind(*arg);
            }
            query.execute(self.wpool()).await?;
        }
        Ok(())
    }
}
