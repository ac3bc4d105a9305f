//! Using tokens: validating a bearer token, introspection (RFC 7662) and
//! revocation (RFC 7009).

use crate::error::{Error, Result};
use crate::service::App;
use crate::store::{AccessToken, ClientRef, TokenKeys, TokenWithOwners, User, UserRef};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// An access token that is active right now, with its client and user.
#[derive(Debug, Clone)]
pub struct Active {
    pub token: AccessToken,
    pub client: ClientRef,
    pub user: Option<Arc<User>>,
    pub scopes: Vec<String>,
    /// The user's group names, when they were read with the token.
    pub groups: Option<Vec<String>>,
}

impl Active {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// An introspection answer (RFC 7662, section 2.2): `{"active": false}`, or
/// `"active": true` with what the token is. A struct rather than a JSON map:
/// introspection is a hot path.
#[derive(Debug)]
pub struct Introspection(Option<Described>);

impl Introspection {
    const INACTIVE: Self = Self(None);
}

impl Serialize for Introspection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Answer<'a> {
            active: bool,
            #[serde(flatten)]
            token: Option<&'a Described>,
        }
        Answer {
            active: self.0.is_some(),
            token: self.0.as_ref(),
        }
        .serialize(s)
    }
}

/// The fields of an active token's introspection.
#[derive(Debug, Serialize)]
struct Described {
    scope: String,
    client_id: String,
    /// `Bearer` for an access token; a refresh token has no token type in RFC 6749
    /// §7.1's sense, so none is given (RFC 7662 §2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    iat: i64,
    exp: i64,
    iss: String,
    sub: String,
    aud: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The token's extension data (seed 004's card fields), under names of its own.
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
}

impl Described {
    /// Adds the fields of the token's extension data (a JSON object), except those
    /// this answer already has: the extension data never replaces a standard field.
    fn add_extra(&mut self, extra: Option<&str>) {
        let Some(Value::Object(fields)) = extra.and_then(|e| serde_json::from_str(e).ok()) else {
            return;
        };
        let has_username = self.username.is_some();
        self.extra = fields
            .into_iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "active"
                        | "scope"
                        | "client_id"
                        | "token_type"
                        | "iat"
                        | "exp"
                        | "iss"
                        | "sub"
                        | "aud"
                ) && (name != "username" || !has_username)
            })
            .collect();
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
    ) -> Result<Introspection> {
        let (keys, mut read_row) = match prefetched {
            Some(p) => (p.keys, Some(p.row)),
            None => (TokenKeys::of(&self.key, token), None),
        };
        let inactive = Introspection::INACTIVE;
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
                user: t.user.as_deref().map(UserRef::from),
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
    ) -> Introspection {
        let mut described = Described {
            scope: scope.to_owned(),
            client_id: client_id.to_owned(),
            token_type: (kind == "access_token").then_some("Bearer"),
            iat,
            exp,
            iss: self.issuer(),
            sub: user.map_or_else(|| client_id.to_owned(), |u| u.id.to_string()),
            aud: client_id.to_owned(),
            username: user.map(|u| u.username.clone()),
            extra: serde_json::Map::new(),
        };
        described.add_extra(extra);
        Introspection(Some(described))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn described(username: Option<&str>) -> Described {
        Described {
            scope: "card".into(),
            client_id: "canteen".into(),
            token_type: Some("Bearer"),
            iat: 1,
            exp: 2,
            iss: "https://id.example".into(),
            sub: "7".into(),
            aud: "canteen".into(),
            username: username.map(str::to_owned),
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn introspection_answers_are_the_rfc_7662_fields() {
        assert_eq!(
            serde_json::to_value(Introspection::INACTIVE).unwrap(),
            json!({"active": false})
        );
        let answer = Introspection(Some(described(Some("zhang"))));
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            json!({"active": true, "scope": "card", "client_id": "canteen", "token_type": "Bearer",
                   "iat": 1, "exp": 2, "iss": "https://id.example", "sub": "7", "aud": "canteen",
                   "username": "zhang"})
        );
    }

    #[test]
    fn extension_data_adds_fields_but_never_replaces_one() {
        let mut d = described(None);
        d.add_extra(Some(
            r#"{"card_no": "C-1", "active": false, "sub": "x", "username": "u"}"#,
        ));
        let v = serde_json::to_value(Introspection(Some(d))).unwrap();
        assert_eq!(v["active"], true);
        assert_eq!(v["sub"], "7");
        assert_eq!(v["card_no"], "C-1");
        // No username of its own: the extension data's stands.
        assert_eq!(v["username"], "u");

        let mut d = described(Some("zhang"));
        d.add_extra(Some(r#"{"username": "u"}"#));
        assert_eq!(serde_json::to_value(&d).unwrap()["username"], "zhang");
        // Anything but a JSON object adds nothing.
        for junk in ["[1]", "\"card\"", "not json"] {
            let mut d = described(None);
            d.add_extra(Some(junk));
            assert_eq!(
                serde_json::to_value(&d).unwrap(),
                serde_json::to_value(described(None)).unwrap()
            );
        }
    }
}
