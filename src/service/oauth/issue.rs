//! The one function that issues tokens, shared by every grant (RFC 6749 §5.1).
//!
//! Every token is stored (hashed) before the response leaves, so a revocation on
//! any instance is honoured by every other (SPEC §6).

use crate::crypto::{ordered_token, random_token};
use crate::error::{Credential, Error, Result};
use crate::jose::Alg;
use crate::service::{App, Settings};
use crate::store::{Client, NewAccessToken, NewRefreshToken, User};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

/// What a grant asks the issuer for.
#[derive(Debug, Clone, Default)]
pub struct Issue<'a> {
    pub client: Option<&'a Client>,
    pub user: Option<&'a User>,
    pub scope: Vec<String>,
    /// Issue a refresh token too.
    pub refresh: bool,
    /// The scope of the refresh token issued, when it is not `scope`: a refresh
    /// that narrows the access token keeps the presented token's (RFC 6749 §6).
    pub refresh_scope: Option<String>,
    /// The refresh token family to continue (rotation), if any.
    pub family_id: Option<String>,
    /// The authorization code the tokens come from (revoked together on replay).
    pub code_hash: Option<String>,
    pub auth_time: Option<i64>,
    pub nonce: Option<String>,
    /// Extension data of seed 004 (card number and state), kept with the token.
    pub extra: Option<Value>,
    /// Set when `client` is a kept row ([`crate::store::Db::cached_client`]): its
    /// generation, which must still be current when the token is stored.
    pub client_generation: Option<i64>,
    /// The refresh token this request rotates: marked rotated together with the
    /// storing of the family's next member, after the access token is stored.
    pub rotates: Option<i64>,
}

/// The token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Seed 004: who the token stands for and their roles, answered by a card grant
    /// and on `/oauth/v2/token` ([`Issued::with_subject`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<&'static str>,
    /// Seed 004's card grant: the card's number, and `st: "lost"` for a lost card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub st: Option<&'static str>,
    #[serde(skip)]
    subject: Subject,
}

/// Who a token stands for, in seed 004's words: `sub` is the user's id or, for a
/// client's own token, its client id; `roles` are `root` for an admin, `card` for a
/// token of a card, and `client` for a client's own token.
#[derive(Debug, Clone, Default)]
struct Subject {
    sub: String,
    roles: &'static str,
}

impl Issued {
    /// `token_type` as the seeds' examples spell it, `bearer`, for their clients on
    /// their paths (the value is case-insensitive, RFC 6749 §5.1).
    pub fn as_seeds_spell_it(mut self) -> Self {
        self.token_type = "bearer";
        self
    }

    /// The answer with `sub` and `roles` (seed 004's token endpoint).
    pub fn with_subject(mut self) -> Self {
        self.sub = Some(self.subject.sub.clone());
        self.roles = Some(self.subject.roles);
        self
    }
}

/// The algorithm a client's tokens are signed with.
pub fn client_alg(client: &Client) -> Alg {
    client.id_token_alg.parse().unwrap_or(Alg::RS256)
}

/// OpenID Connect Core §3.1.3.6: the left half of the hash of `value`, with the hash
/// of the signing algorithm (SHA-512 for Ed25519).
pub fn half_hash(alg: Alg, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        Alg::EdDSA => Sha512::digest(value.as_bytes()).to_vec(),
        _ => Sha256::digest(value.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

impl App {
    pub fn access_ttl(&self, client: &Client, settings: &Settings) -> i64 {
        client.access_ttl.unwrap_or(settings.access_token_ttl)
    }

    pub fn refresh_ttl(&self, client: &Client, settings: &Settings) -> i64 {
        client.refresh_ttl.unwrap_or(settings.refresh_token_ttl)
    }

    pub async fn issue(&self, req: Issue<'_>, settings: &Settings) -> Result<Issued> {
        let client = req
            .client
            .ok_or_else(|| Error::Internal("issue() without a client".into()))?;
        // A kept row is checked when the token is stored, and only a new, independent
        // token is stored then: reusing a token or revoking earlier ones would act on
        // the row before that check.
        if req.client_generation.is_some() && client.token_policy != "independent" {
            return Err(Error::ClientChanged);
        }
        let now = crate::time::now();
        let scope = req.scope.join(" ");
        let ttl = self.access_ttl(client, settings);
        let user_id = req.user.map(|u| u.id);
        let family_id = match (&req.family_id, req.refresh) {
            (Some(f), _) => Some(f.clone()),
            (None, true) => Some(random_token(16)),
            (None, false) => None,
        };

        // Seed 003's `reuse`: the still-valid token for the same client, user and scope.
        let reused = if client.token_policy == "reuse" {
            self.db
                .reusable_access_token(client.id, user_id, &scope, now)
                .await?
                .and_then(|(enc, exp)| self.key.decrypt_text(&enc).map(|t| (t, exp)))
        } else {
            None
        };
        let (access_token, expires_in) = match reused {
            Some((token, expires_at)) => (token, expires_at - now),
            None => {
                let counted = match client.daily_quota {
                    Some(quota) => {
                        let day = now.div_euclid(86_400);
                        if !self.db.count_daily_token(client.id, day, quota).await? {
                            return Err(Error::QuotaExceeded);
                        }
                        Some(day)
                    }
                    None => None,
                };
                let made = async {
                    if client.token_policy == "replace" {
                        // Seed 001: a new token replaces the earlier one.
                        self.db
                            .revoke_access_tokens_of(client.id, user_id, now)
                            .await?;
                    }
                    let token = if client.token_format == "jwt" {
                        self.jwt_access_token(client, req.user, &scope, now, ttl)?
                    } else {
                        ordered_token()
                    };
                    let extra = req.extra.as_ref().map(Value::to_string);
                    let id = self
                        .db
                        .create_access_token(
                            &NewAccessToken {
                                token_hash: &self.key.hash_token(&token),
                                client_id: client.id,
                                user_id,
                                scope: &scope,
                                family_id: family_id.as_deref(),
                                code_hash: req.code_hash.as_deref(),
                                extra: extra.as_deref(),
                                expires_at: now + ttl,
                                client_generation: req.client_generation,
                            },
                            now,
                        )
                        .await
                        .map_err(Credential::AccessToken.not_stored())?;
                    Ok::<_, Error>((token, id))
                }
                .await;
                let (token, id) = match made {
                    Ok(made) => made,
                    Err(e) => {
                        // Nothing was issued: the count is given back, so that the
                        // request served again from a fresh client row (a kept row
                        // that changed) counts once.
                        if let Some(day) = counted {
                            if let Err(undo) = self.db.uncount_daily_token(client.id, day).await {
                                tracing::warn!(error = %undo, "a daily token count not given back");
                            }
                        }
                        return Err(e);
                    }
                };
                if client.token_policy == "reuse" {
                    self.db
                        .set_access_token_enc(id, &self.key.encrypt(token.as_bytes()))
                        .await
                        .map_err(Credential::AccessToken.not_stored())?;
                }
                (token, ttl)
            }
        };

        let refresh_token = match (&family_id, req.refresh) {
            (Some(family), true) => {
                let token = ordered_token();
                let next = NewRefreshToken {
                    token_hash: &self.key.hash_token(&token),
                    family_id: family,
                    client_id: client.id,
                    user_id,
                    scope: req.refresh_scope.as_deref().unwrap_or(&scope),
                    code_hash: req.code_hash.as_deref(),
                    auth_time: req.auth_time,
                    expires_at: now + self.refresh_ttl(client, settings),
                };
                // Stored after the access token, so that a revocation of the family
                // that this misses (false) has seen the access token.
                let stored = match req.rotates {
                    Some(id) => self.db.rotate_refresh_token_into(id, &next, now).await,
                    None => self.db.create_refresh_token(&next, now).await,
                }
                .map_err(Credential::RefreshToken.not_stored())?;
                if !stored {
                    // A concurrent request presented the same refresh token again, or
                    // rotated it first: one of them is a replay.
                    if req.rotates.is_some() {
                        self.db.revoke_family(family, now).await?;
                    }
                    return Err(Error::InvalidGrant(
                        15,
                        "the refresh token was already used; its family is revoked".into(),
                    ));
                }
                Some(token)
            }
            _ => None,
        };

        let id_token = match req.user {
            Some(user) if req.scope.iter().any(|s| s == "openid") => Some(self.id_token(
                client,
                user,
                req.nonce.as_deref(),
                req.auth_time,
                Some(&access_token),
                None,
                None,
                settings,
            )?),
            _ => None,
        };
        let card = req
            .extra
            .as_ref()
            .and_then(|e| e.get("card"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let lost = req
            .extra
            .as_ref()
            .is_some_and(|e| e.get("st").and_then(Value::as_str) == Some("lost"));
        let subject = match req.user {
            Some(user) => Subject {
                sub: user.id.to_string(),
                roles: match (user.is_admin, card.is_some()) {
                    (true, true) => "root card",
                    (true, false) => "root",
                    (false, true) => "card",
                    (false, false) => "",
                },
            },
            None => Subject {
                sub: client.client_id.clone(),
                roles: "client",
            },
        };
        let issued = Issued {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope,
            refresh_token,
            id_token,
            sub: None,
            roles: None,
            st: lost.then_some("lost"),
            subject,
            card,
        };
        Ok(if issued.card.is_some() {
            issued.with_subject()
        } else {
            issued
        })
    }

    /// An RFC 9068 access token: `typ: at+jwt`, so it cannot pass for an ID token.
    fn jwt_access_token(
        &self,
        client: &Client,
        user: Option<&User>,
        scope: &str,
        now: i64,
        ttl: i64,
    ) -> Result<String> {
        let sub = user.map_or_else(|| client.client_id.clone(), |u| u.id.to_string());
        let claims = json!({
            "iss": self.issuer(),
            "sub": sub,
            "aud": self.issuer(),
            "client_id": client.client_id,
            "scope": scope,
            "iat": now,
            "exp": now + ttl,
            // Ordered, so that the token's stored key is (crypto::hash_token).
            "jti": ordered_token(),
        });
        self.keys.sign(client_alg(client), "at+jwt", &claims)
    }

    /// An OpenID Connect ID token (Core §2) for `client` about `user`, with
    /// `user_claims` added when the response carries no access token.
    #[allow(clippy::too_many_arguments)]
    pub fn id_token(
        &self,
        client: &Client,
        user: &User,
        nonce: Option<&str>,
        auth_time: Option<i64>,
        access_token: Option<&str>,
        code: Option<&str>,
        user_claims: Option<Value>,
        settings: &Settings,
    ) -> Result<String> {
        let now = crate::time::now();
        let alg = client_alg(client);
        let mut claims = json!({
            "iss": self.issuer(),
            "sub": user.id.to_string(),
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "exp": now + self.access_ttl(client, settings),
            "auth_time": auth_time.unwrap_or(now),
            "preferred_username": user.username,
        });
        if let Some(map) = claims.as_object_mut() {
            if let Some(n) = nonce {
                map.insert("nonce".into(), json!(n));
            }
            if let Some(at) = access_token {
                map.insert("at_hash".into(), json!(half_hash(alg, at)));
            }
            if let Some(c) = code {
                map.insert("c_hash".into(), json!(half_hash(alg, c)));
            }
            // The user's claims, when no access token can fetch them (Core §5.4);
            // never in place of the token's own.
            if let Some(Value::Object(extra)) = user_claims {
                for (k, v) in extra {
                    map.entry(k).or_insert(v);
                }
            }
        }
        self.keys.sign(alg, "JWT", &claims)
    }
}
