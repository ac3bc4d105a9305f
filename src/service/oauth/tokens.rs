//! Using tokens: validating a bearer token, introspection (RFC 7662) and
//! revocation (RFC 7009).

use crate::error::{Error, Result};
use crate::service::App;
use crate::store::{AccessToken, ClientRef, TokenKeys, TokenWithOwners, User, UserRef};
use serde_json::{Value, json};

/// An access token that is active right now, with its client and user.
#[derive(Debug, Clone)]
pub struct Active {
    pub token: AccessToken,
    pub client: ClientRef,
    pub user: Option<User>,
    pub scopes: Vec<String>,
    /// The user's group names, when they were read with the token.
    pub groups: Option<Vec<String>>,
}

impl Active {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// An access token read together with the client that presents it (introspection):
/// its keys, and the row under its ordered key if there is one.
pub struct Prefetched {
    pub keys: TokenKeys,
    pub row: Option<TokenWithOwners<UserRef>>,
}

/// Whether `token` could be a token at all (longer ones are not looked up).
pub(super) fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 4096
}

/// Whether a stored access token works right now: not revoked, not expired, its
/// client not disabled and, when it stands for a user, that user there and not
/// disabled (a disabled user's tokens stop working at once). `user_disabled`: the
/// user's flag, `None` when the user row is missing.
fn usable(token: &AccessToken, client: &ClientRef, user_disabled: Option<bool>) -> bool {
    token.revoked_at.is_none()
        && token.expires_at > crate::time::now()
        && !client.disabled
        && (token.user_id.is_none() || user_disabled == Some(false))
}

/// The token row as an [`Active`] token, if it is ([`usable`]).
fn active(found: TokenWithOwners) -> Option<Active> {
    let TokenWithOwners {
        token: row,
        client,
        user,
        groups,
    } = found;
    if !usable(&row, &client, user.as_ref().map(|u| u.disabled)) {
        return None;
    }
    let scopes = crate::oauth::scope::parse(&row.scope);
    Some(Active {
        token: row,
        client,
        user,
        scopes,
        groups,
    })
}

impl App {
    /// The active access token behind `token`: stored, not revoked, not expired, its
    /// client not deleted or disabled and its user not disabled (a disabled user's
    /// tokens stop working at once).
    pub async fn active_access_token(&self, token: &str) -> Result<Option<Active>> {
        if !plausible(token) {
            return Ok(None);
        }
        let found = self
            .db
            .access_token_with_owners(&TokenKeys::of(&self.key, token))
            .await?;
        Ok(found.and_then(active))
    }

    /// Like [`App::active_access_token`], as an `invalid_token` error (code 6).
    pub async fn require_access_token(&self, token: &str) -> Result<Active> {
        self.active_access_token(token).await?.ok_or_else(|| {
            Error::InvalidToken("the access token is invalid, expired or revoked".into())
        })
    }

    /// RFC 7662 §2.2: `{"active": false}` for anything not active, and nothing else.
    /// `prefetched`: the token as read with the caller's client
    /// ([`App::authenticate_client_with_token`]), when it was.
    pub async fn introspect(
        &self,
        token: &str,
        hint: Option<&str>,
        prefetched: Option<Prefetched>,
    ) -> Result<Value> {
        let (keys, mut read_row) = match prefetched {
            Some(p) => (p.keys, Some(p.row)),
            None => (TokenKeys::of(&self.key, token), None),
        };
        let inactive = json!({"active": false});
        let now = crate::time::now();
        let try_refresh_first = hint == Some("refresh_token");
        for kind in if try_refresh_first {
            ["refresh_token", "access_token"]
        } else {
            ["access_token", "refresh_token"]
        } {
            if kind == "access_token" {
                let row = match read_row.take() {
                    Some(Some(row)) => Some(row),
                    // Nothing under the ordered key: only the legacy key is left.
                    Some(None) => match keys.legacy_only() {
                        Some(legacy) => self.token_for_introspection(&legacy).await?,
                        None => None,
                    },
                    None if plausible(token) => self.token_for_introspection(&keys).await?,
                    None => None,
                };
                if let Some(a) =
                    row.filter(|a| usable(&a.token, &a.client, a.user.as_ref().map(|u| u.disabled)))
                {
                    return Ok(self.describe(
                        &a.client.client_id,
                        a.user.as_ref(),
                        &a.token.scope,
                        a.token.created_at,
                        a.token.expires_at,
                        "access_token",
                        a.token.extra.as_deref(),
                    ));
                }
            } else if let Some(r) = self.db.refresh_token(&keys).await? {
                let usable = r.revoked_at.is_none() && r.rotated_at.is_none() && r.expires_at > now;
                let client = self
                    .db
                    .client_by_id(r.client_id)
                    .await?
                    .filter(|c| !c.disabled);
                let user = match r.user_id {
                    Some(id) => self.db.user_by_id(id).await?.filter(|u| !u.disabled),
                    None => None,
                };
                if let (true, Some(client)) = (usable, client)
                    && (r.user_id.is_none() || user.is_some())
                {
                    return Ok(self.describe(
                        &client.client_id,
                        user.as_ref().map(UserRef::from).as_ref(),
                        &r.scope,
                        r.created_at,
                        r.expires_at,
                        "refresh_token",
                        None,
                    ));
                }
                return Ok(inactive);
            }
        }
        Ok(inactive)
    }

    /// An access token with its owners by `keys`, as introspection names them: for a
    /// token not read with the caller's client (one under its legacy key, or when the
    /// caller's read did not look for it).
    async fn token_for_introspection(
        &self,
        keys: &TokenKeys,
    ) -> Result<Option<TokenWithOwners<UserRef>>> {
        Ok(self
            .db
            .access_token_with_owners(keys)
            .await?
            .map(|t| TokenWithOwners {
                user: t.user.as_ref().map(UserRef::from),
                token: t.token,
                client: t.client,
                groups: None,
            }))
    }

    #[allow(clippy::too_many_arguments)]
    fn describe(
        &self,
        client_id: &str,
        user: Option<&UserRef>,
        scope: &str,
        iat: i64,
        exp: i64,
        kind: &str,
        extra: Option<&str>,
    ) -> Value {
        let mut v = json!({
            "active": true,
            "scope": scope,
            "client_id": client_id,
            "token_type": if kind == "access_token" { "Bearer" } else { "refresh_token" },
            "iat": iat,
            "exp": exp,
            "iss": self.issuer(),
            "sub": user.map_or_else(|| client_id.to_owned(), |u| u.id.to_string()),
            "aud": client_id,
        });
        if let (Some(u), Some(map)) = (user, v.as_object_mut()) {
            map.insert("username".into(), json!(u.username));
        }
        if let (Some(extra), Some(map)) = (
            extra.and_then(|e| serde_json::from_str::<Value>(e).ok()),
            v.as_object_mut(),
        ) && let Some(e) = extra.as_object()
        {
            for (k, val) in e {
                map.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// RFC 7009: revokes a token of `caller`. Unknown tokens and other clients' tokens
    /// are answered the same (200) and left alone. A refresh token takes its whole
    /// family and the access tokens issued from it.
    pub async fn revoke(
        &self,
        caller: &crate::store::Client,
        token: &str,
        _hint: Option<&str>,
    ) -> Result<()> {
        let now = crate::time::now();
        let keys = TokenKeys::of(&self.key, token);
        if let Some(r) = self.db.refresh_token(&keys).await? {
            if r.client_id == caller.id {
                self.db.revoke_family(&r.family_id, now).await?;
            }
            return Ok(());
        }
        if let Some(a) = self.db.access_token(&keys).await?
            && a.client_id == caller.id
        {
            self.db.revoke_access_token(a.id, now).await?;
        }
        Ok(())
    }
}
