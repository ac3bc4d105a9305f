//! `GET/POST /oauth/userinfo` (OpenID Connect Core §5.3): claims by scope.

use super::no_store;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::service::claims::oidc_claims;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::Response;

/// The bearer token of a request (RFC 6750 §2.1), or from `access_token` in the query
/// (§2.3, seed 002) when `query` allows it.
pub fn bearer<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<String> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    })
}

/// The active access token of the request's `Authorization: Bearer`, when it grants
/// something (a lost card's token, with no scope, does not).
pub async fn granting_token(
    state: &crate::http::SharedState,
    headers: &HeaderMap,
) -> Result<crate::service::oauth::tokens::Active> {
    let token = bearer(headers, None).ok_or(Error::NoToken)?;
    let active = state.app.require_access_token(&token).await?;
    if active.scopes.is_empty() {
        return Err(Error::InsufficientScope("this token grants nothing".into()));
    }
    Ok(active)
}

pub async fn userinfo(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    // A POST may carry the token as a form field instead (RFC 6750 §2.2), never both.
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let in_body = if is_form {
        let mut found = url::form_urlencoded::parse(&body).filter(|(k, _)| k == "access_token");
        let first = found.next().map(|(_, v)| v.into_owned());
        if found.next().is_some() {
            return Err(Error::invalid_request("access_token is repeated"));
        }
        first
    } else {
        None
    };
    let token = match (bearer(&headers, None), in_body) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_request(
                "send the token in the Authorization header or the body, not both",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(Error::NoToken),
    };
    let active = state.app.require_access_token(&token).await?;
    if !active.has_scope("openid") {
        return Err(Error::InsufficientScope(
            "userinfo needs the openid scope".into(),
        ));
    }
    let user = active.user.as_ref().ok_or_else(|| {
        Error::InsufficientScope("this token stands for a client, not a user".into())
    })?;
    let claims = oidc_claims(&state.app, user, &active.scopes, active.groups.as_deref()).await?;
    Ok(no_store(Json(claims)))
}
