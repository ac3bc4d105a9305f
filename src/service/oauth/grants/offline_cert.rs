//! `grant_type=offline_cert` (seed 004): a terminal (a confidential client) reads a
//! physical card and asks for the token of the card's user with
//! `code=card/<number>`.
//!
//! - The answer adds `roles` (with `card`), `card` and `sub`; a card reported lost
//!   adds `st: "lost"`, and its access token carries no scope at all, so it grants
//!   nothing (and comes without a refresh token).
//! - Each card may be presented 30 times in 60 s (429 beyond), counted where every
//!   instance sees it ([`crate::service::throttle`]).

use super::Request;
use crate::error::{Error, Result};
use crate::service::oauth::client_auth::Method;
use crate::service::oauth::{Issue, Issued};
use serde_json::json;

/// Presentations of one card per [`WINDOW`] seconds (seed 004: 30 per 60 s).
const PER_WINDOW: u32 = 30;
const WINDOW: i64 = 60;

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    if req.method == Method::None || req.client.is_public {
        return Err(Error::UnauthorizedClient(
            "a public client cannot use offline_cert".into(),
        ));
    }
    // A card terminal acts for every card holder: an admin approves it first.
    if !req
        .client
        .approved_scopes
        .iter()
        .any(|s| s == crate::oauth::scope::APPROVED_GRANT)
    {
        return Err(Error::UnauthorizedClient(
            "offline_cert waits for an admin's approval \
             (usercenter client approve-scope CLIENT_ID offline_cert)"
                .into(),
        ));
    }
    let bad = |why: &str| Error::InvalidGrant(8, why.to_string());
    let number = req
        .required("code")?
        .strip_prefix("card/")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("the code of a card is card/<number>"))?;
    let now = crate::time::now();
    if let Err(wait) = req
        .app
        .throttle
        .count(&format!("card:{number}"), PER_WINDOW, WINDOW, now)
        .await
    {
        return Err(Error::TooManyRequests(format!(
            "this card was presented too often; try again in {wait} seconds"
        )));
    }
    let (user_id, lost) = req
        .app
        .db
        .card(number)
        .await?
        .ok_or_else(|| bad("no account holds this card"))?;
    let user = req
        .app
        .db
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| bad("the card's account is disabled"))?;
    let (scope, extra) = if lost {
        (Vec::new(), json!({"card": number, "st": "lost"}))
    } else {
        (
            req.person_scopes(req.param("scope")).await?,
            json!({"card": number}),
        )
    };
    let issue = Issue {
        client: Some(req.client),
        user: Some(&user),
        scope,
        refresh: !lost && req.refresh_allowed(),
        auth_time: Some(now),
        extra: Some(extra),
        ..Issue::default()
    };
    req.app.issue(issue, req.settings).await
}
