//! Who calls the JSON API: a person by the session cookie (with `X-CSRF-Token` on
//! unsafe methods), or an app by a Bearer token whose scopes guard the path and
//! method (seed 002, [`crate::oauth::guard`]).

use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::oauth::userinfo::bearer;
use crate::oauth::guard;
use crate::service::oauth::tokens::Active;
use crate::store::User;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;

pub struct Caller {
    pub ctx: Ctx,
    /// Shared with the kept users when the caller is an app ([`Active::user`]).
    pub user: Arc<User>,
    /// Set when the caller is an app with a token.
    pub token: Option<Active>,
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let query = parts.uri.query();
        // Seed 002 sends the token as `access_token` in the query of `/api/user`.
        let allow_query = parts.uri.path() == "/api/user";
        if let Some(token) = bearer(&parts.headers, if allow_query { query } else { None }) {
            let active = state.app.require_access_token(&token).await?;
            require_guard(state, &active, parts.uri.path(), parts.method.as_str()).await?;
            let user = active.user.clone().ok_or_else(|| {
                Error::InsufficientScope("this token stands for a client, not a user".into())
            })?;
            return Ok(Self {
                ctx,
                user,
                token: Some(active),
            });
        }
        let user = Arc::new(ctx.require_user()?.clone());
        ctx.check_csrf_header(&parts.headers)?;
        Ok(Self {
            ctx,
            user,
            token: None,
        })
    }
}

/// A token passes only when one of its scopes guards `path` for `method`
/// (403 `insufficient_scope` otherwise).
pub async fn require_guard(
    state: &SharedState,
    active: &Active,
    path: &str,
    method: &str,
) -> Result<()> {
    let scopes = state.app.scopes().await?;
    let guards: Vec<guard::Guard> = scopes
        .iter()
        .map(|s| (s.name.as_str(), s.path.as_str(), s.method.as_str()))
        .collect();
    if guard::allows(&guards, &active.scopes, path, method) {
        Ok(())
    } else {
        Err(Error::InsufficientScope(format!(
            "the token has no scope that guards {method} {path}"
        )))
    }
}
