//! Authorization codes, access tokens, refresh tokens and consents. Every secret is
//! stored as its keyed hash; a row is found by the hash of what the client presents.

use super::batched::{BatchRead, Batched, InOneRead, PointRead, Unanswered, ordinal};
use super::pg::PgConns;
use super::read::{Cursor, Decode, Readers, Value, from_any_row, sql_once, sql_once_per_backend};
use super::users::{kept_user, kept_user_columns};
use super::{Backend, ClientRef, Db, User, UserRef};
use crate::error::Result;
use std::future::Future;
use std::sync::{Arc, LazyLock};

/// Access tokens remembered as read before with their user; past this many the list
/// starts over (a token not remembered is read with its user again, as before).
pub(super) const SEEN_TOKENS: usize = 8192;

/// Expired rows deleted per statement by [`Db::purge_expired`].
pub const PURGE_CHUNK: u64 = 250;

#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: i64,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    pub used_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
}

impl Decode for AuthorizationCode {
    const COLUMNS: &'static str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, \
        code_challenge, code_challenge_method, auth_time, used_at, expires_at, created_at";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            code_hash: r.text()?,
            client_id: r.int()?,
            user_id: r.int()?,
            redirect_uri: r.text()?,
            scope: r.text()?,
            nonce: r.opt_text()?,
            code_challenge: r.opt_text()?,
            code_challenge_method: r.opt_text()?,
            auth_time: r.int()?,
            used_at: r.opt_int()?,
            expires_at: r.int()?,
            created_at: r.int()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub id: i64,
    pub token_hash: String,
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub scope: String,
    pub family_id: Option<String>,
    pub code_hash: Option<String>,
    pub extra: Option<String>,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
}

impl Decode for AccessToken {
    const COLUMNS: &'static str = "id, token_hash, client_id, user_id, scope, family_id, code_hash, \
        extra, revoked_at, expires_at, created_at";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            token_hash: r.text()?,
            client_id: r.int()?,
            user_id: r.opt_int()?,
            scope: r.text()?,
            family_id: r.opt_text()?,
            code_hash: r.opt_text()?,
            extra: r.opt_text()?,
            revoked_at: r.opt_int()?,
            expires_at: r.int()?,
            created_at: r.int()?,
        })
    }
}

from_any_row!(AccessToken);

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: i64,
    pub token_hash: String,
    pub family_id: String,
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub scope: String,
    pub code_hash: Option<String>,
    pub auth_time: Option<i64>,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
}

impl Decode for RefreshToken {
    const COLUMNS: &'static str = "id, token_hash, family_id, client_id, user_id, scope, code_hash, \
        auth_time, rotated_at, revoked_at, expires_at, created_at";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            token_hash: r.text()?,
            family_id: r.text()?,
            client_id: r.int()?,
            user_id: r.opt_int()?,
            scope: r.text()?,
            code_hash: r.opt_text()?,
            auth_time: r.opt_int()?,
            rotated_at: r.opt_int()?,
            revoked_at: r.opt_int()?,
            expires_at: r.int()?,
            created_at: r.int()?,
        })
    }
}

/// An access token with its client and, unless it was issued to the client itself,
/// its user (the whole row for a bearer token, whose API answers with it, shared with
/// the kept users; a [`UserRef`] for introspection): what validating a token needs,
/// read in one query.
#[derive(Debug, Clone)]
pub struct TokenWithOwners<U = Arc<User>> {
    pub token: AccessToken,
    pub client: ClientRef,
    pub user: Option<U>,
    /// The names of the user's groups, sorted, when they were read with the token.
    pub groups: Option<Vec<String>>,
}

/// The keys an access or refresh token presented by a client may be stored under:
/// [`SecretKey::hash_token`](crate::crypto::SecretKey::hash_token), and the bare
/// keyed hash under which tokens issued before ordered keys were stored (accepted
/// until the last of them expires).
#[derive(Debug, Clone)]
pub struct TokenKeys {
    pub key: String,
    pub legacy: String,
}

impl TokenKeys {
    /// The legacy key alone, when it differs from the ordered one.
    pub fn legacy_only(&self) -> Option<TokenKeys> {
        (self.legacy != self.key).then(|| TokenKeys {
            key: self.legacy.clone(),
            legacy: self.legacy.clone(),
        })
    }

    pub fn of(secret: &crate::crypto::SecretKey, token: &str) -> Self {
        // One HMAC for both: the key is the legacy hash behind the time prefix.
        let legacy = secret.hash_secret(token);
        Self {
            key: crate::crypto::token_prefix(token) + &legacy,
            legacy,
        }
    }
}

/// A token read before, its client and the users tables' generation.
type SeenToken = (AccessToken, ClientRef, Option<i64>);

fn seen_token(r: &mut Cursor<'_>) -> Result<SeenToken> {
    Ok((AccessToken::decode(r)?, ClientRef::decode(r)?, r.opt_int()?))
}

/// Introspection's caller and the token it asks about, with its owners.
type Introspected = (ClientRef, Option<TokenWithOwners<UserRef>>);

fn introspected(r: &mut Cursor<'_>) -> Result<Introspected> {
    let caller = ClientRef::decode(r)?;
    let token = AccessToken::decode_opt(r)?;
    let client = ClientRef::decode_opt(r)?;
    let user = UserRef::decode_opt(r)?;
    Ok((
        caller,
        token.zip(client).map(|(token, client)| TokenWithOwners {
            token,
            client,
            user,
            groups: None,
        }),
    ))
}

/// The batched token reads ([`batched`]): on PostgreSQL in one query over arrays, on
/// SQLite in one read transaction.
#[derive(Debug, Clone)]
pub(super) enum Batches {
    Postgres {
        seen: Arc<Batched<SeenTokens>>,
        introspection: Arc<Batched<Introspections>>,
    },
    Sqlite {
        seen: Arc<Batched<InOneRead<SeenTokens>>>,
        introspection: Arc<Batched<InOneRead<Introspections>>>,
    },
}

impl Batches {
    pub fn postgres(conns: &Arc<PgConns>) -> Self {
        Self::Postgres {
            seen: Batched::new(Arc::clone(conns)),
            introspection: Batched::new(Arc::clone(conns)),
        }
    }

    pub fn sqlite(readers: &Arc<Readers>) -> Self {
        Self::Sqlite {
            seen: Batched::new(Arc::clone(readers)),
            introspection: Batched::new(Arc::clone(readers)),
        }
    }

    async fn seen(&self, key: String) -> std::result::Result<Option<SeenToken>, Unanswered> {
        match self {
            Self::Postgres { seen, .. } => seen.ask(key).await,
            Self::Sqlite { seen, .. } => seen.ask(key).await,
        }
    }

    async fn introspection(
        &self,
        ask: (String, String),
    ) -> std::result::Result<Option<Introspected>, Unanswered> {
        match self {
            Self::Postgres { introspection, .. } => introspection.ask(ask).await,
            Self::Sqlite { introspection, .. } => introspection.ask(ask).await,
        }
    }
}

/// [`Db::seen_token`]: a token read before, by its ordered key.
pub(super) struct SeenTokens;

impl PointRead for SeenTokens {
    type Ask = String;
    type Answer = SeenToken;

    fn sql() -> &'static str {
        sql_once!(
            "SELECT {}, {}, (SELECT n FROM user_generation WHERE id = 1) \
             FROM access_tokens t JOIN clients c ON c.id = t.client_id \
             WHERE t.token_hash = $1",
            AccessToken::columns_of("t"),
            ClientRef::columns_of("c"),
        )
    }

    fn args(key: &String) -> Vec<Value> {
        vec![key.as_str().into()]
    }

    fn decode(r: &mut Cursor<'_>) -> Result<SeenToken> {
        seen_token(r)
    }
}

impl BatchRead for SeenTokens {
    type Source = PgConns;
    type Ask = String;
    type Answer = SeenToken;

    fn read(
        conns: &PgConns,
        asked: &[String],
    ) -> impl Future<Output = Result<Vec<(usize, SeenToken)>>> + Send {
        let sql = sql_once!(
            "SELECT q.i, {}, {}, (SELECT n FROM user_generation WHERE id = 1) \
             FROM unnest($1::text[]) WITH ORDINALITY AS q(key, i) \
             JOIN access_tokens t ON t.token_hash = q.key \
             JOIN clients c ON c.id = t.client_id",
            AccessToken::columns_of("t"),
            ClientRef::columns_of("c"),
        );
        conns.rows_bound(
            sql,
            move |q| q.bind(asked),
            usize::MAX,
            |r| Ok((ordinal(r)?, seen_token(r)?)),
        )
    }
}

/// [`Db::client_and_access_token`]: the caller's client id and the token's key.
pub(super) struct Introspections;

impl PointRead for Introspections {
    type Ask = (String, String);
    type Answer = Introspected;

    fn sql() -> &'static str {
        sql_once!(
            "SELECT {}, {}, {}, {} FROM clients k \
             LEFT JOIN access_tokens t ON t.token_hash = $2 \
             LEFT JOIN clients c ON c.id = t.client_id \
             LEFT JOIN users u ON u.id = t.user_id WHERE k.client_id = $1",
            ClientRef::columns_of("k"),
            AccessToken::columns_of("t"),
            ClientRef::columns_of("c"),
            UserRef::columns_of("u"),
        )
    }

    fn args((client_id, key): &(String, String)) -> Vec<Value> {
        vec![client_id.as_str().into(), key.as_str().into()]
    }

    fn decode(r: &mut Cursor<'_>) -> Result<Introspected> {
        introspected(r)
    }
}

impl BatchRead for Introspections {
    type Source = PgConns;
    type Ask = (String, String);
    type Answer = Introspected;

    fn read(
        conns: &PgConns,
        asked: &[(String, String)],
    ) -> impl Future<Output = Result<Vec<(usize, Introspected)>>> + Send {
        let sql = sql_once!(
            "SELECT q.i, {}, {}, {}, {} \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(client_id, key, i) \
             JOIN clients k ON k.client_id = q.client_id \
             LEFT JOIN access_tokens t ON t.token_hash = q.key \
             LEFT JOIN clients c ON c.id = t.client_id \
             LEFT JOIN users u ON u.id = t.user_id",
            ClientRef::columns_of("k"),
            AccessToken::columns_of("t"),
            ClientRef::columns_of("c"),
            UserRef::columns_of("u"),
        );
        async move {
            let (ids, keys): (Vec<&str>, Vec<&str>) =
                asked.iter().map(|(c, k)| (c.as_str(), k.as_str())).unzip();
            conns
                .rows_bound(
                    sql,
                    |q| q.bind(&ids).bind(&keys),
                    usize::MAX,
                    |r| Ok((ordinal(r)?, introspected(r)?)),
                )
                .await
        }
    }
}

/// A new access token row.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    pub token_hash: &'a str,
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub scope: &'a str,
    pub family_id: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub extra: Option<&'a str>,
    pub expires_at: i64,
    /// The generation of a kept client row the token was issued with: it is stored
    /// only if no client changed since ([`Db::cached_client`]).
    pub client_generation: Option<i64>,
}

/// A new refresh token row.
#[derive(Debug, Clone)]
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a str,
    pub family_id: &'a str,
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub scope: &'a str,
    pub code_hash: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub expires_at: i64,
}

/// The values of a new refresh token row, in the column order of the INSERTs below
/// (`created_at` last).
fn refresh_token_values(t: &NewRefreshToken<'_>, now: i64) -> Vec<Value> {
    vec![
        t.token_hash.into(),
        t.family_id.into(),
        t.client_id.into(),
        t.user_id.into(),
        t.scope.into(),
        t.code_hash.into(),
        t.auth_time.into(),
        t.expires_at.into(),
        now.into(),
    ]
}

impl Db {
    pub async fn create_code(&self, c: &AuthorizationCode) -> Result<()> {
        let args = vec![
            c.code_hash.as_str().into(),
            c.client_id.into(),
            c.user_id.into(),
            c.redirect_uri.as_str().into(),
            c.scope.as_str().into(),
            c.nonce.as_deref().into(),
            c.code_challenge.as_deref().into(),
            c.code_challenge_method.as_deref().into(),
            c.auth_time.into(),
            c.expires_at.into(),
            c.created_at.into(),
        ];
        self.write(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, \
                 nonce, code_challenge, code_challenge_method, auth_time, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            args,
        )
        .await?;
        Ok(())
    }

    /// Marks a code used and returns it: of two concurrent redemptions exactly one
    /// marks the row, and only that one gets it.
    pub async fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationCode>> {
        if self.backend == Backend::Postgres {
            // One round trip: the row comes back from the UPDATE itself.
            let sql = sql_once!(
                "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
                 RETURNING {}",
                AuthorizationCode::COLUMNS
            );
            return self.one(sql, &[now.into(), code_hash.into()]).await;
        }
        // SQLite: the UPDATE goes through the writer; the marked row is then read
        // back (the writer answers only after its commit).
        let marked = self.write(
                "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
                vec![now.into(), code_hash.into()],
            )
            .await?;
        if marked != 1 {
            return Ok(None);
        }
        let sql = sql_once!(
            "SELECT {} FROM authorization_codes WHERE code_hash = $1",
            AuthorizationCode::COLUMNS
        );
        self.one(sql, &[code_hash.into()]).await
    }

    /// Whether a code exists at all (used or not), to tell a replay from garbage.
    pub async fn code_exists(&self, code_hash: &str) -> Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT code_hash FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Marks a code presented again (its `expires_at` becomes 0), before the tokens
    /// issued from it are revoked: a redemption still storing its tokens sees the mark
    /// afterwards ([`Db::code_replayed`]) and revokes them itself.
    pub async fn mark_code_replayed(&self, code_hash: &str) -> Result<()> {
        sqlx::query("UPDATE authorization_codes SET expires_at = 0 WHERE code_hash = $1")
            .bind(code_hash)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    pub async fn code_replayed(&self, code_hash: &str) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT expires_at FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(self.pool())
                .await?;
        // A row gone was purged as expired: no redemption may count on it either.
        Ok(found.is_none_or(|expires_at| expires_at == 0))
    }

    /// Revokes every token issued from a code (RFC 6749 §4.1.2: a code used twice),
    /// refresh tokens first, so that none rotates into an access token this misses.
    pub async fn revoke_by_code(&self, code_hash: &str, now: i64) -> Result<()> {
        for table in ["refresh_tokens", "access_tokens"] {
            sqlx::query(&format!(
                "UPDATE {table} SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL"
            ))
            .bind(now)
            .bind(code_hash)
            .execute(self.wpool())
            .await?;
        }
        Ok(())
    }

    /// Stores an access token (through the group-commit writer) and returns its id;
    /// [`crate::error::Error::ClientChanged`] when issued with a kept client row that
    /// has changed since.
    pub async fn create_access_token(&self, t: &NewAccessToken<'_>, now: i64) -> Result<i64> {
        self.writer
            .access_token(
                super::writer::access_token_values(t, now),
                t.client_generation,
            )
            .await
    }

    /// Stores a new member of a refresh token family, unless the family has been
    /// revoked (false then). A reuse detected by a concurrent request may revoke the
    /// family between this request's rotation and this insert; the new member must
    /// not outlive that revocation.
    pub async fn create_refresh_token(&self, t: &NewRefreshToken<'_>, now: i64) -> Result<bool> {
        let args = refresh_token_values(t, now);
        let stored = self.write(
                "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, code_hash, \
                 auth_time, expires_at, created_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $2 AND revoked_at IS NOT NULL)",
                args,
            )
            .await?;
        Ok(stored == 1)
    }

    /// Keeps the raw token encrypted, for the `reuse` policy.
    pub async fn set_access_token_enc(&self, id: i64, token_enc: &str) -> Result<()> {
        self.write(
            "UPDATE access_tokens SET token_enc = $1 WHERE id = $2",
            vec![token_enc.into(), id.into()],
        )
        .await?;
        Ok(())
    }

    /// A still-valid reusable token of a client for a user and scope (seed 003).
    pub async fn reusable_access_token(
        &self,
        client_id: i64,
        user_id: Option<i64>,
        scope: &str,
        now: i64,
    ) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT token_enc, expires_at FROM access_tokens WHERE client_id = $1 AND \
             ((user_id IS NULL AND $2 = 0) OR user_id = $2) AND scope = $3 AND token_enc IS NOT NULL \
             AND revoked_at IS NULL AND expires_at > $4 + 60 ORDER BY expires_at DESC LIMIT 1",
        )
        .bind(client_id)
        .bind(user_id.unwrap_or(0))
        .bind(scope)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn access_token(&self, keys: &TokenKeys) -> Result<Option<AccessToken>> {
        let sql = sql_once!(
            "SELECT {} FROM access_tokens WHERE token_hash = $1",
            AccessToken::COLUMNS
        );
        self.one_by_token(sql, keys, AccessToken::decode).await
    }

    /// [`Db::access_token`] with its client, its user and the user's group names (the
    /// resource API and userinfo answer with the groups), as of one snapshot
    /// (`docs/user-cache.md`). A token read before is read with its client and the
    /// users tables' generation only, and its user is the one kept at that
    /// generation (or read next); a token not read before is read with its user too,
    /// in one query, and the user is kept.
    pub async fn access_token_with_owners(
        &self,
        keys: &TokenKeys,
    ) -> Result<Option<TokenWithOwners>> {
        let (token, client, owner) = if self.seen_tokens.get(keys.key.as_str()).is_some() {
            let mut found = self.seen_token(&keys.key).await?;
            if found.is_none() && keys.legacy != keys.key {
                found = self.seen_token(&keys.legacy).await?;
            }
            let Some((token, client, generation)) = found else {
                return Ok(None);
            };
            let owner = match token.user_id {
                Some(id) => self.user_with_groups(id, generation).await?,
                None => None,
            };
            (token, client, owner)
        } else {
            let sql = sql_once_per_backend!(self.backend(), |backend| format!(
                "SELECT {}, {}, {} FROM access_tokens t \
                 JOIN clients c ON c.id = t.client_id \
                 LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                AccessToken::columns_of("t"),
                ClientRef::columns_of("c"),
                kept_user_columns(backend),
            ));
            let found = self
                .one_by_token(sql, keys, |r| {
                    Ok((
                        AccessToken::decode(r)?,
                        ClientRef::decode(r)?,
                        kept_user(r)?,
                    ))
                })
                .await?;
            let Some((token, client, owner)) = found else {
                return Ok(None);
            };
            if let Some(kept) = &owner {
                self.keep_user(kept);
            }
            self.seen_tokens.keep(keys.key.clone(), ());
            (token, client, owner)
        };
        Ok(Some(TokenWithOwners {
            token,
            client,
            groups: Some(owner.as_ref().map_or_else(Vec::new, |o| o.groups.to_vec())),
            user: owner.map(|o| o.user),
        }))
    }

    /// The client `client_id` and, in the same query, the access token stored under
    /// `key` with its owners: introspection authenticates its caller and finds the
    /// token in one read, of the columns it needs (asked together with other
    /// requests', [`batched`]). `None` when there is no such client.
    pub async fn client_and_access_token(
        &self,
        client_id: &str,
        key: &str,
    ) -> Result<Option<(ClientRef, Option<TokenWithOwners<UserRef>>)>> {
        let ask = || (client_id.to_owned(), key.to_owned());
        match self.batches.introspection(ask()).await {
            Ok(found) => Ok(found),
            Err(Unanswered) => self.alone::<Introspections>(&ask()).await,
        }
    }

    /// An access token read before, by `key`, with its client and the users tables'
    /// generation ([`Db::access_token_with_owners`]), asked together with other
    /// requests' ([`batched`]).
    async fn seen_token(&self, key: &str) -> Result<Option<SeenToken>> {
        match self.batches.seen(key.to_owned()).await {
            Ok(found) => Ok(found),
            Err(Unanswered) => self.alone::<SeenTokens>(&key.to_owned()).await,
        }
    }

    /// A [`PointRead`] of one request, read alone (its batch failed).
    async fn alone<P: PointRead>(&self, ask: &P::Ask) -> Result<Option<P::Answer>> {
        self.one_with(P::sql(), &P::args(ask), P::decode).await
    }

    pub async fn refresh_token(&self, keys: &TokenKeys) -> Result<Option<RefreshToken>> {
        let sql = sql_once!(
            "SELECT {} FROM refresh_tokens WHERE token_hash = $1",
            RefreshToken::COLUMNS
        );
        self.one_by_token(sql, keys, RefreshToken::decode).await
    }

    /// The row `sql` finds by a token's key (`$1`); by its legacy key only when the
    /// ordered one finds nothing. Two lookups rather than `IN ($1, $2)`: PostgreSQL
    /// plans the `IN` form of the token join as a hash join over a scan of clients.
    async fn one_by_token<T>(
        &self,
        sql: &str,
        keys: &TokenKeys,
        mut decode: impl FnMut(&mut Cursor<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let found = self
            .one_with(sql, &[keys.key.as_str().into()], &mut decode)
            .await?;
        if found.is_some() || keys.legacy == keys.key {
            return Ok(found);
        }
        self.one_with(sql, &[keys.legacy.as_str().into()], decode)
            .await
    }

    /// Marks a refresh token rotated; false when another request rotated it first.
    pub async fn rotate_refresh_token(&self, id: i64, now: i64) -> Result<bool> {
        let changed = self
            .write(
                "UPDATE refresh_tokens SET rotated_at = $1 WHERE id = $2 AND rotated_at IS NULL \
                 AND revoked_at IS NULL",
                vec![now.into(), id.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Marks refresh token `id` rotated and stores `next`, the family's new member;
    /// false when another request rotated it first (then nothing changes) or the
    /// family has been revoked (then no member is stored). On PostgreSQL one
    /// statement, so one commit, does both: a rotation whose new member is lost
    /// cannot happen, and a concurrent request presenting the same token waits for
    /// the row's lock and finds it rotated, so its revocation of the family sees the
    /// new member. On SQLite, whose writes the one writer runs in order, the two
    /// statements follow each other.
    pub async fn rotate_refresh_token_into(
        &self,
        id: i64,
        next: &NewRefreshToken<'_>,
        now: i64,
    ) -> Result<bool> {
        if self.backend == Backend::Sqlite {
            return Ok(self.rotate_refresh_token(id, now).await?
                && self.create_refresh_token(next, now).await?);
        }
        let mut args = refresh_token_values(next, now);
        args.push(id.into());
        let stored = self
            .write(
                "WITH rotated AS (UPDATE refresh_tokens SET rotated_at = $9 WHERE id = $10 \
                 AND rotated_at IS NULL AND revoked_at IS NULL RETURNING id) \
                 INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, \
                 code_hash, auth_time, expires_at, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM rotated WHERE NOT EXISTS \
                 (SELECT 1 FROM refresh_tokens WHERE family_id = $2 AND revoked_at IS NOT NULL)",
                args,
            )
            .await?;
        Ok(stored == 1)
    }

    /// Revokes a whole refresh token family and the access tokens issued from it.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(self.wpool())
        .await?;
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    pub async fn revoke_access_token(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// Revokes the still-valid access tokens of a client for a user (policy `replace`).
    pub async fn revoke_access_tokens_of(
        &self,
        client_id: i64,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE client_id = $2 AND \
             ((user_id IS NULL AND $3 = 0) OR user_id = $3) AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(client_id)
        .bind(user_id.unwrap_or(0))
        .execute(self.wpool())
        .await?;
        Ok(())
    }

    /// The scopes a user granted to a client, if any.
    pub async fn consent(&self, user_id: i64, client_id: i64) -> Result<Option<String>> {
        self.one_with(
            "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2",
            &[user_id.into(), client_id.into()],
            |r| r.text(),
        )
        .await
    }

    /// Adds `scopes` to what a user granted a client, keeping what is there (the
    /// consent page), so two consents given at once in two tabs both count.
    pub async fn add_to_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scopes: &[String],
        now: i64,
    ) -> Result<()> {
        self.edit_consent(user_id, client_id, true, now, |granted| {
            for s in scopes {
                if !granted.contains(s) {
                    granted.push(s.clone());
                }
            }
        })
        .await
    }

    /// Takes `scopes` out of what a user granted a client, if a consent is remembered
    /// (narrowing an authorization): what another tab added meanwhile stays.
    pub async fn remove_from_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scopes: &[String],
        now: i64,
    ) -> Result<()> {
        self.edit_consent(user_id, client_id, false, now, |granted| {
            granted.retain(|s| !scopes.contains(s));
        })
        .await
    }

    /// Changes a remembered consent from what is stored, not from what was read
    /// earlier: the row is taken first (inserted empty when `create`; its lock on
    /// PostgreSQL, the write lock on SQLite), read, given to `edit` and written back
    /// in one transaction.
    async fn edit_consent(
        &self,
        user_id: i64,
        client_id: i64,
        create: bool,
        now: i64,
        edit: impl FnOnce(&mut Vec<String>),
    ) -> Result<()> {
        let take = if create {
            "INSERT INTO consents (user_id, client_id, scope, created_at, updated_at) VALUES ($1, $2, '', $3, $3) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET updated_at = excluded.updated_at"
        } else {
            "UPDATE consents SET updated_at = $3 WHERE user_id = $1 AND client_id = $2"
        };
        let mut tx = self.wpool().begin().await?;
        let taken = sqlx::query(take)
            .bind(user_id)
            .bind(client_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() == 0 {
            return Ok(());
        }
        let stored: String =
            sqlx::query_scalar("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .fetch_one(&mut *tx)
                .await?;
        let mut granted = crate::oauth::scope::parse(&stored);
        edit(&mut granted);
        sqlx::query("UPDATE consents SET scope = $1 WHERE user_id = $2 AND client_id = $3")
            .bind(granted.join(" "))
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes what has expired (the background purge). Returns the rows removed.
    ///
    /// In chunks of [`PURGE_CHUNK`] rows, each a statement of the group-commit writer
    /// like a token's: one DELETE of every expired token held SQLite's write lock for
    /// as long as it took (2 M rows: over 2 s, during which every token request
    /// waited), and chunks written beside the writer on another connection starved
    /// it (its busy handler kept missing the gaps: p99 1.2 s).
    ///
    /// Device codes stay a day past their expiry, so that a device still polling is
    /// told `expired_token` (RFC 8628 §3.5) rather than that its code is unknown.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        static PURGES: LazyLock<Vec<(String, i64)>> = LazyLock::new(|| {
            [
                ("authorization_codes", "code_hash", 0),
                ("access_tokens", "id", 0),
                ("refresh_tokens", "id", 0),
                ("sessions", "id_hash", 0),
                ("password_resets", "token_hash", 0),
                ("qr_sessions", "session", 0),
                ("sms_codes", "id", 0),
                ("device_codes", "device_code_hash", 86_400),
                ("login_qr", "id_hash", 0),
            ]
            .iter()
            .map(|(table, key, kept)| {
                let sql = format!(
                    "DELETE FROM {table} WHERE {key} IN \
                     (SELECT {key} FROM {table} WHERE expires_at < $1 LIMIT {PURGE_CHUNK})"
                );
                (sql, *kept)
            })
            .collect()
        });
        let mut removed = 0;
        for (sql, kept) in PURGES.iter() {
            loop {
                let n = self.write(sql, vec![(now - kept).into()]).await?;
                let n = u64::try_from(n).unwrap_or_default();
                removed += n;
                if n < PURGE_CHUNK {
                    break;
                }
            }
        }
        Ok(removed)
    }
}
