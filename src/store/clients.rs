//! Clients (the apps of seed 002).

use super::Db;
use super::kept::Kept;
use super::read::{Cursor, Decode, decode_any, sql_once};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A registered app. Lists are split; the secret exists only as its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub is_public: bool,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub homepage: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
    pub owner_id: Option<i64>,
    pub token_format: String,
    pub token_policy: String,
    pub id_token_alg: String,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub daily_quota: Option<i64>,
    /// SMS codes the client may have sent per minute; `None` is the default.
    pub sms_per_minute: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Decode for Client {
    const COLUMNS: &'static str = "id, client_id, secret_hash, is_public, name, description, icon, \
        homepage, redirect_uris, grant_types, scopes, requested_scopes, approved_scopes, owner_id, \
        token_format, token_policy, id_token_alg, access_ttl, refresh_ttl, daily_quota, disabled, \
        created_at, updated_at, sms_per_minute";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            client_id: r.text()?,
            secret_hash: r.opt_text()?,
            is_public: r.flag()?,
            name: r.text()?,
            description: r.text()?,
            icon: r.text()?,
            homepage: r.text()?,
            redirect_uris: r.list()?,
            grant_types: r.list()?,
            scopes: r.list()?,
            requested_scopes: r.list()?,
            approved_scopes: r.list()?,
            owner_id: r.opt_int()?,
            token_format: r.text()?,
            token_policy: r.text()?,
            id_token_alg: r.text()?,
            access_ttl: r.opt_int()?,
            refresh_ttl: r.opt_int()?,
            daily_quota: r.opt_int()?,
            disabled: r.flag()?,
            created_at: r.int()?,
            updated_at: r.int()?,
            sms_per_minute: r.opt_int()?,
        })
    }
}

/// A client as a token refers to it and as authenticating it needs: what the hot
/// paths (introspection, bearer tokens) read instead of the whole row.
#[derive(Debug, Clone)]
pub struct ClientRef {
    pub id: i64,
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub is_public: bool,
    pub disabled: bool,
}

impl Decode for ClientRef {
    const COLUMNS: &'static str = "id, client_id, secret_hash, is_public, disabled";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            client_id: r.text()?,
            secret_hash: r.opt_text()?,
            is_public: r.flag()?,
            disabled: r.flag()?,
        })
    }
}

impl From<&Client> for ClientRef {
    fn from(c: &Client) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id.clone(),
            secret_hash: c.secret_hash.clone(),
            is_public: c.is_public,
            disabled: c.disabled,
        }
    }
}

impl Client {
    /// The app as its owner, an admin and the CLI see it (`id` is seed 000's `pk`);
    /// the secret only when it was just issued. Never the secret's hash.
    pub fn view(&self, secret: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "pk": self.id,
            "client_id": self.client_id,
            "name": self.name,
            "description": self.description,
            "icon": self.icon,
            "homepage": self.homepage,
            "public": self.is_public,
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types,
            "scopes": self.scopes,
            "requested_scopes": self.requested_scopes,
            "approved_scopes": self.approved_scopes,
            "token_format": self.token_format,
            "token_policy": self.token_policy,
            "id_token_alg": self.id_token_alg,
            "access_ttl": self.access_ttl,
            "refresh_ttl": self.refresh_ttl,
            "daily_quota": self.daily_quota,
            "sms_per_minute": self.sms_per_minute,
            "owner_id": self.owner_id,
            "disabled": self.disabled,
            "created_at": self.created_at,
        });
        if let (Some(secret), Some(map)) = (secret, v.as_object_mut()) {
            map.insert(
                "client_secret".into(),
                serde_json::Value::String(secret.into()),
            );
        }
        v
    }
}

const COLUMNS: &str = <Client as Decode>::COLUMNS;

/// Taken shared by the writes of a client's lists and alone by the deletion of a
/// scope ([`Db::begin_beside`], [`Db::begin_alone`]), so no client keeps a scope that
/// is no longer defined.
const SCOPES_LOCK: i64 = 0x7563_7363_6f70_6573; // "ucscopes"

/// Refuses, in the client's write transaction, a scope in `scopes` that is not
/// defined, unless the client held it already (in `kept`).
async fn undefined_scope(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    scopes: &[String],
    kept: &[String],
) -> Result<()> {
    let added: Vec<&String> = scopes.iter().filter(|s| !kept.contains(s)).collect();
    if added.is_empty() {
        return Ok(());
    }
    let defined: Vec<String> = sqlx::query_scalar("SELECT name FROM scopes")
        .fetch_all(&mut **tx)
        .await?;
    match added.into_iter().find(|s| !defined.contains(s)) {
        Some(unknown) => Err(Error::InvalidScope(format!("unknown scope {unknown:?}"))),
        None => Ok(()),
    }
}

/// A client row with the generation of the clients table it was read at (migration
/// 5: every change to the table raises the generation, in the same transaction).
#[derive(Debug, Clone)]
pub struct ClientSnapshot {
    pub client: Arc<Client>,
    pub generation: i64,
}

/// Client rows kept for client credentials, where reading the row was a fifth of
/// each token request's server time on SQLite and a round trip on PostgreSQL
/// (`docs/client-cache.md`). A kept row is never trusted alone: a token issued with
/// it is stored only if the generation is still the row's, checked by the writer
/// where it stores the token.
pub(super) type ClientCache = Kept<String, ClientSnapshot>;

/// Rows kept at most; past this many the cache starts over.
pub(super) const CACHED_CLIENTS: usize = 1024;

/// A validated app, ready to store.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub is_public: bool,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub homepage: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub owner_id: Option<i64>,
    pub token_format: String,
    pub token_policy: String,
    pub id_token_alg: String,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub daily_quota: Option<i64>,
    pub sms_per_minute: Option<i64>,
}

impl Db {
    /// Stores a new client. Its scopes must be defined when it is written: the check
    /// runs in the insert's transaction, under [`SCOPES_LOCK`], so a scope deleted
    /// meanwhile is refused rather than left on the client ([`Error::InvalidScope`]).
    pub async fn create_client(&self, c: &NewClient, now: i64) -> Result<Client> {
        let mut tx = self.begin_beside(SCOPES_LOCK).await?;
        let sql = format!(
            "INSERT INTO clients (client_id, secret_hash, is_public, name, description, icon, homepage, \
             redirect_uris, grant_types, scopes, approved_scopes, owner_id, token_format, token_policy, \
             access_ttl, refresh_ttl, daily_quota, created_at, updated_at, id_token_alg, requested_scopes, \
             sms_per_minute) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, $20, $21) \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&c.client_id)
            .bind(&c.secret_hash)
            .bind(i64::from(c.is_public))
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.icon)
            .bind(&c.homepage)
            .bind(c.redirect_uris.join(" "))
            .bind(c.grant_types.join(" "))
            .bind(c.scopes.join(" "))
            .bind(c.approved_scopes.join(" "))
            .bind(c.owner_id)
            .bind(&c.token_format)
            .bind(&c.token_policy)
            .bind(c.access_ttl)
            .bind(c.refresh_ttl)
            .bind(c.daily_quota)
            .bind(now)
            .bind(&c.id_token_alg)
            .bind(c.requested_scopes.join(" "))
            .bind(c.sms_per_minute)
            .fetch_one(&mut *tx)
            .await?;
        let client: Client = decode_any(&row)?;
        undefined_scope(&mut tx, &client.scopes, &[]).await?;
        tx.commit().await?;
        Ok(client)
    }

    pub async fn client_by_client_id(&self, client_id: &str) -> Result<Option<Client>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM clients WHERE client_id = $1");
        self.one(sql, &[client_id.into()]).await
    }

    /// The client `client_id` for client credentials: as kept, or read now with the
    /// generation and kept. `None` for no such client, and without a generation row.
    /// A caller that finds the row stale or refused by it calls [`Db::forget_client`]
    /// and reads the client afresh.
    pub async fn cached_client(&self, client_id: &str) -> Result<Option<ClientSnapshot>> {
        if let Some(kept) = self.clients.get(client_id) {
            return Ok(Some(kept));
        }
        let sql = sql_once!(
            "SELECT (SELECT n FROM client_generation WHERE id = 1), {COLUMNS} \
             FROM clients WHERE client_id = $1"
        );
        let read = self
            .one_with(sql, &[client_id.into()], |r| {
                let Some(generation) = r.opt_int()? else {
                    return Ok(None);
                };
                let client = Arc::new(Client::decode(r)?);
                Ok(Some(ClientSnapshot { client, generation }))
            })
            .await?
            .flatten();
        if let Some(snapshot) = &read {
            self.clients.keep(client_id.to_owned(), snapshot.clone());
        }
        Ok(read)
    }

    /// Drops the kept row of `client_id`, so that the next request reads it afresh.
    pub fn forget_client(&self, client_id: &str) {
        self.clients.forget(client_id);
    }

    /// Counts one more access token for `client_id` on `day` (days since the epoch,
    /// UTC) unless `quota` were counted already: false then. One statement, so that
    /// instances issuing at once never count past the quota.
    pub async fn count_daily_token(&self, client_id: i64, day: i64, quota: i64) -> Result<bool> {
        let counted = sqlx::query(
            "INSERT INTO client_daily_tokens (client_id, day, issued) VALUES ($1, $2, 1) \
             ON CONFLICT (client_id, day) DO UPDATE SET issued = client_daily_tokens.issued + 1 \
             WHERE client_daily_tokens.issued < $3 RETURNING issued",
        )
        .bind(client_id)
        .bind(day)
        .bind(quota)
        .fetch_optional(self.wpool())
        .await?;
        Ok(counted.is_some())
    }

    /// Gives back a count of [`Db::count_daily_token`] whose token was not issued.
    pub async fn uncount_daily_token(&self, client_id: i64, day: i64) -> Result<()> {
        sqlx::query(
            "UPDATE client_daily_tokens SET issued = issued - 1 \
             WHERE client_id = $1 AND day = $2 AND issued > 0",
        )
        .bind(client_id)
        .bind(day)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    pub async fn client_by_id(&self, id: i64) -> Result<Option<Client>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM clients WHERE id = $1");
        self.one(sql, &[id.into()]).await
    }

    /// Replaces the secret hash; the old secret stops working at once.
    pub async fn set_client_secret(&self, id: i64, secret_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(secret_hash)
            .bind(now)
            .bind(id)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    /// Changes a client from what is stored, not from what was read earlier: the row
    /// is taken first (on PostgreSQL its lock, on SQLite the write lock), read, given
    /// to `edit`, and written back in the same transaction. So an admin's approval and
    /// an owner's edit of the same app cannot undo each other. `edit` may refuse
    /// (nothing is written). `None`: no such client.
    ///
    /// Writes what an owner or an admin may change: the texts, the lists and the
    /// token settings. A scope the edit adds must be defined when it is written
    /// ([`Error::InvalidScope`] otherwise), as in [`Db::create_client`].
    pub async fn edit_client(
        &self,
        id: i64,
        now: i64,
        edit: impl FnOnce(&mut Client) -> Result<()>,
    ) -> Result<Option<Client>> {
        let mut tx = self.begin_beside(SCOPES_LOCK).await?;
        let taken = sqlx::query("UPDATE clients SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() == 0 {
            return Ok(None);
        }
        let sql = sql_once!("SELECT {COLUMNS} FROM clients WHERE id = $1");
        let row = sqlx::query(sql).bind(id).fetch_one(&mut *tx).await?;
        let mut client: Client = decode_any(&row)?;
        let before = client.scopes.clone();
        edit(&mut client)?;
        undefined_scope(&mut tx, &client.scopes, &before).await?;
        client.updated_at = now;
        let c = &client;
        sqlx::query(
            "UPDATE clients SET name = $1, description = $2, icon = $3, homepage = $4, \
             redirect_uris = $5, grant_types = $6, scopes = $7, requested_scopes = $8, \
             approved_scopes = $9, token_format = $10, token_policy = $11 WHERE id = $12",
        )
        .bind(&c.name)
        .bind(&c.description)
        .bind(&c.icon)
        .bind(&c.homepage)
        .bind(c.redirect_uris.join(" "))
        .bind(c.grant_types.join(" "))
        .bind(c.scopes.join(" "))
        .bind(c.requested_scopes.join(" "))
        .bind(c.approved_scopes.join(" "))
        .bind(&c.token_format)
        .bind(&c.token_policy)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(client))
    }

    /// How many SMS codes a client may have sent per minute (`None`: the default).
    pub async fn set_client_sms_rate(
        &self,
        id: i64,
        per_minute: Option<i64>,
        now: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE clients SET sms_per_minute = $1, updated_at = $2 WHERE id = $3")
            .bind(per_minute)
            .bind(now)
            .bind(id)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    /// Deletes a scope that is not built in and takes it off every client, in one
    /// transaction that runs alone among the clients' writes ([`SCOPES_LOCK`]): a
    /// client being created or edited with the scope either is written first, and is
    /// found here, or is written after, and is refused. `false`: no such scope.
    pub async fn delete_scope_everywhere(&self, name: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_alone(SCOPES_LOCK).await?;
        let deleted = sqlx::query("DELETE FROM scopes WHERE name = $1 AND builtin = 0")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        let holders: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, scopes, approved_scopes, requested_scopes FROM clients \
             WHERE (' ' || scopes || ' ' || approved_scopes || ' ' || requested_scopes || ' ') \
             LIKE $1 ESCAPE '\\'",
        )
        .bind(super::admin::contains_pattern(&format!(" {name} ")))
        .fetch_all(&mut *tx)
        .await?;
        let without = |list: &str| {
            list.split_whitespace()
                .filter(|s| *s != name)
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (id, scopes, approved, requested) in holders {
            sqlx::query(
                "UPDATE clients SET scopes = $1, approved_scopes = $2, requested_scopes = $3, \
                 updated_at = $4 WHERE id = $5",
            )
            .bind(without(&scopes))
            .bind(without(&approved))
            .bind(without(&requested))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The names of every scope defined.
    pub async fn scope_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM scopes ORDER BY name")
            .fetch_all(self.pool())
            .await?)
    }
}
