//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2).
//!
//! ```text
//!   active ──refresh──▶ rotated (a new member of the family is issued)
//!   rotated ──presented again──▶ the whole family is revoked (theft is assumed),
//!                                unless within the admin's grace seconds
//! ```

use super::Request;
use crate::error::{Error, Result};
use crate::oauth::scope;
use crate::service::oauth::{Issue, Issued};
use crate::store::TokenKeys;

fn bad(why: &str) -> Error {
    Error::InvalidGrant(15, format!("the refresh token {why}"))
}

/// Whether a refresh issues the next member of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Always (`/oauth/token`, RFC 9700 §4.14.2).
    Always,
    /// Not for a client's own refresh token (client_credential, no person): the same
    /// token is answered again and stays valid until it expires, as seed 001's
    /// platform did (`docs/seed-001.md`). A person's still rotates.
    NotForClientTokens,
}

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    handle_with(req, Rotation::Always).await
}

pub async fn handle_with(req: &Request<'_>, rotation: Rotation) -> Result<Issued> {
    let app = req.app;
    let now = crate::time::now();
    let presented = req.required("refresh_token")?;
    let Some(stored) = app
        .db
        .refresh_token(&TokenKeys::of(&app.key, presented))
        .await?
    else {
        return Err(bad("is invalid"));
    };
    // A refresh token works only for the client it was issued to.
    if stored.client_id != req.client.id {
        return Err(bad("was issued to another client"));
    }
    if stored.revoked_at.is_some() {
        return Err(bad("was revoked"));
    }
    if stored.expires_at <= now {
        return Err(bad("has expired"));
    }
    // The access token's scope may narrow but never widen; the next refresh token
    // carries the presented one's (RFC 6749 §6).
    let granted = scope::parse(&stored.scope);
    let scope = match req.param("scope") {
        Some(asked) => {
            let asked = scope::parse(asked);
            if !scope::covers(&granted, &asked) {
                return Err(Error::InvalidScope(
                    "a refresh cannot widen the scope".into(),
                ));
            }
            asked
        }
        None => granted,
    };
    let user = match stored.user_id {
        Some(id) => Some(
            app.db
                .user_by_id(id)
                .await?
                .filter(|u| !u.disabled)
                .ok_or_else(|| bad("belongs to an account that is disabled"))?,
        ),
        None => None,
    };
    if rotation == Rotation::NotForClientTokens
        && stored.user_id.is_none()
        && stored.rotated_at.is_none()
    {
        // The new access token joins the family, so that revoking the refresh token
        // ends it too.
        let issue = Issue {
            client: Some(req.client),
            scope,
            family_id: Some(stored.family_id),
            ..Issue::default()
        };
        let mut issued = app.issue(issue, req.settings).await?;
        // Stored first, checked after: a revocation of the refresh token that ran
        // since it was read (RFC 7009, the console) revoked the family before this
        // member was stored; it is revoked here instead.
        let still_live = app
            .db
            .refresh_token(&TokenKeys::of(&app.key, presented))
            .await?
            .is_some_and(|t| t.revoked_at.is_none() && t.rotated_at.is_none());
        if !still_live {
            app.revoke(req.client, &issued.access_token, None).await?;
            return Err(bad("was revoked"));
        }
        issued.refresh_token = Some(presented.to_string());
        return Ok(issued);
    }
    // Rotate only once the request is known to be good, so a refused request
    // does not spend the token.
    let within_grace = |rotated_at: i64| {
        req.settings.refresh_grace_seconds > 0
            && now - rotated_at <= req.settings.refresh_grace_seconds
    };
    let rotates = match stored.rotated_at {
        Some(at) if within_grace(at) => None,
        Some(_) => {
            app.db.revoke_family(&stored.family_id, now).await?;
            return Err(bad("was already used; its family is revoked"));
        }
        // Rotated when the family's next member is stored (`issue`): a request that
        // rotates it at the same moment loses, and the family is revoked.
        None if !req.settings.refresh_grace_seconds.is_positive() => Some(stored.id),
        // Within a grace period a request that loses that race gets a member too.
        None => {
            app.db.rotate_refresh_token(stored.id, now).await?;
            None
        }
    };
    let issue = Issue {
        client: Some(req.client),
        user: user.as_ref(),
        scope,
        refresh: true,
        refresh_scope: Some(stored.scope),
        family_id: Some(stored.family_id),
        code_hash: stored.code_hash,
        auth_time: stored.auth_time,
        rotates,
        ..Issue::default()
    };
    app.issue(issue, req.settings).await
}
