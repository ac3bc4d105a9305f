//! `grant_type=client_credentials` (RFC 6749 §4.4; seed 001 spells it
//! `client_credential`). The token stands for the client itself: no user, no
//! refresh token (§4.4.3) except on seed 001's surface, no `openid`.

use super::Request;
use crate::error::{Error, Result};
use crate::service::oauth::client_auth::Method;
use crate::service::oauth::{Issue, Issued};

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    issue(req, false).await
}

/// The client's token, with a refresh token when `refresh` (seed 001's surface).
pub async fn issue(req: &Request<'_>, refresh: bool) -> Result<Issued> {
    if req.method == Method::None || req.client.is_public {
        return Err(Error::UnauthorizedClient(
            "a public client cannot use client_credentials".into(),
        ));
    }
    let mut scope = req.scopes(req.param("scope")).await?;
    if scope.iter().any(|s| s == "openid") && req.param("scope").is_some() {
        return Err(Error::InvalidScope(
            "openid needs a user; client_credentials has none".into(),
        ));
    }
    scope.retain(|s| s != "openid");
    let issue = Issue {
        client: Some(req.client),
        scope,
        refresh,
        client_generation: req.client_generation,
        ..Issue::default()
    };
    req.app.issue(issue, req.settings).await
}
