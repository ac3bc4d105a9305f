//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).

use super::Request;
use crate::error::{Error, Result};
use crate::oauth::pkce;
use crate::service::oauth::client_auth::Method;
use crate::service::oauth::{Issue, Issued};
use crate::store::{TokenKeys, User};

fn bad_code(why: &str) -> Error {
    Error::InvalidGrant(8, format!("the authorization code {why}"))
}

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    let app = req.app;
    let code = req.required("code")?;
    let now = crate::time::now();
    // Seed 004's SMS codes are `<phone>.<code>`; codes of /oauth/authorize have no `.`.
    if let Some((phone, digits)) = code.split_once('.') {
        return redeem_sms_code(req, phone, digits, now).await;
    }
    // A code is stored under its ordered key (`docs/token-keys.md`); one issued before
    // codes were ordered, under its bare keyed hash.
    let keys = TokenKeys::of(&app.key, code);
    let legacy = keys.legacy_only().map(|k| k.key);
    let mut redeemed = None;
    for hash in std::iter::once(keys.key).chain(legacy) {
        // Single use: the row is taken by exactly one redemption.
        if let Some(stored) = app.db.consume_code(&hash, now).await? {
            redeemed = Some((stored, hash));
            break;
        }
        if app.db.code_exists(&hash).await? {
            // RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for,
            // also what a redemption is storing right now (it checks the mark after).
            app.db.mark_code_replayed(&hash).await?;
            app.db.revoke_by_code(&hash, now).await?;
            return Err(bad_code(
                "was already used; the tokens issued from it are revoked",
            ));
        }
    }
    let Some((stored, hash)) = redeemed else {
        return redeem_qr_code(req, code, now).await;
    };
    if stored.expires_at <= now {
        return Err(bad_code("has expired"));
    }
    // The code is bound to the client it was issued to…
    if stored.client_id != req.client.id {
        return Err(bad_code("was issued to another client"));
    }
    // …to the redirect URI of the request (RFC 6749 §4.1.3)…
    if !stored.redirect_uri.is_empty()
        && req.param("redirect_uri") != Some(stored.redirect_uri.as_str())
    {
        return Err(bad_code("was issued for another redirect_uri"));
    }
    // …and to the PKCE challenge (RFC 7636 §4.6; RFC 9700 §2.1.1: a verifier with no
    // challenge is refused too, against PKCE downgrade).
    match (stored.code_challenge.as_deref(), req.param("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(Error::InvalidGrant(
                8,
                "the code_verifier does not match".into(),
            ));
        }
        (Some(_), None) => {
            return Err(Error::InvalidGrant(
                8,
                "the code_verifier is required".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error::InvalidGrant(
                8,
                "a code_verifier was sent for a code issued without PKCE".into(),
            ));
        }
        (None, None) if req.client.is_public => {
            return Err(Error::InvalidGrant(
                8,
                "a public client must use PKCE".into(),
            ));
        }
        (None, None) => {}
    }
    let user = app
        .db
        .user_by_id(stored.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| bad_code("belongs to an account that is disabled"))?;
    let issue = Issue {
        client: Some(req.client),
        user: Some(&user),
        scope: crate::oauth::scope::parse(&stored.scope),
        refresh: req.refresh_allowed(),
        code_hash: Some(hash.clone()),
        auth_time: Some(stored.auth_time),
        nonce: stored.nonce,
        ..Issue::default()
    };
    let issued = app.issue(issue, req.settings).await?;
    // Stored first, checked after: a replay that revoked before these were stored
    // left its mark.
    if app.db.code_replayed(&hash).await? {
        app.db.revoke_by_code(&hash, now).await?;
        return Err(bad_code(
            "was used twice; the tokens issued from it are revoked",
        ));
    }
    Ok(issued)
}

/// Seed 004's QR login: a code a signed-in person's phone got for a session
/// (`/oauth/v2/session/{session}/code`), redeemed once, within its 5 minutes, by a
/// confidential client for that person's token. It is bound to no redirect URI and
/// no PKCE challenge: the phone's token authenticated the person, and the terminal
/// authenticates itself.
async fn redeem_qr_code(req: &Request<'_>, code: &str, now: i64) -> Result<Issued> {
    let app = req.app;
    // Only a confidential client redeems one: for a public client it is no code.
    if req.method == Method::None || req.client.is_public {
        return Err(bad_code("is invalid"));
    }
    // The account is read before the code is taken, so that a password reset or a
    // disable in between is seen after issuing: if it came before the taking, it
    // spent the code; if after, the account read here is no longer the same.
    let code_hash = app.key.hash_secret(code);
    let Some(user_id) = app.db.qr_code_user(&code_hash, now).await? else {
        return Err(bad_code("is invalid"));
    };
    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| bad_code("belongs to an account that is disabled"))?;
    let Some(held) = app.db.consume_qr_code(&code_hash, user.id, now).await? else {
        return Err(bad_code("is invalid"));
    };
    let issued = issue_for(req, &user, Some(&held), now).await?;
    super::unless_changed(req, &user, issued, bad_code("is invalid")).await
}

/// Seed 004's SMS login: `<phone>.<code>` redeemed by the client that asked for the
/// code, for the account the phone proves ([`crate::service::App::redeem_sms_code`]).
async fn redeem_sms_code(req: &Request<'_>, phone: &str, digits: &str, now: i64) -> Result<Issued> {
    let (user, held) = req
        .app
        .redeem_sms_code(req.client, phone, digits)
        .await?
        .ok_or_else(|| bad_code("is invalid"))?;
    issue_for(req, &user, held.as_deref(), now).await
}

/// The tokens of a person who proved themselves just now (a QR or an SMS code): the
/// scopes asked for (or the client's), within `held` when the code was asked for with
/// a token of the person's (never more than that token could do), and a refresh token
/// when the client has them.
async fn issue_for(req: &Request<'_>, user: &User, held: Option<&str>, now: i64) -> Result<Issued> {
    let mut scope = req.person_scopes(req.param("scope")).await?;
    if let Some(held) = held {
        let held = crate::oauth::scope::parse(held);
        scope.retain(|s| held.contains(s));
    }
    let issue = Issue {
        client: Some(req.client),
        user: Some(user),
        scope,
        refresh: req.refresh_allowed(),
        auth_time: Some(now),
        ..Issue::default()
    };
    req.app.issue(issue, req.settings).await
}
