//! `GET/POST /oauth/userinfo` (OpenID Connect Core §5.3): claims by scope.

use super::no_store;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::service::App;
use crate::service::profile::{mask_id_card, mask_name, mask_phone};
use crate::store::User;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};

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
    let token = bearer(headers, None)
        .ok_or_else(|| Error::InvalidToken("a Bearer token is required".into()))?;
    let active = state.app.require_access_token(&token).await?;
    if active.scopes.is_empty() {
        return Err(Error::InsufficientScope("this token grants nothing".into()));
    }
    Ok(active)
}

/// The user claims a token's scopes allow (SPEC §3): `openid`/`basic`/`user.read` →
/// id, username, nickname, avatar; `profile` → seed 003's fields, masked; `email`;
/// `phone` (masked).
/// `groups`: the user's group names when they were read already (with the token).
pub async fn claims<'a>(
    app: &App,
    user: &'a User,
    scopes: &[String],
    groups: Option<&[String]>,
) -> Result<Claims<'a>> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let basic = ["openid", "basic", "user.read"].iter().any(|s| has(s));
    let profile = has("profile");
    let email = has("email");
    let phone = has("phone");
    if !(basic || profile || email || phone) {
        return Err(Error::InsufficientScope(
            "the token's scopes allow no user information".into(),
        ));
    }
    let groups = if profile || has("user.read") {
        Some(match groups {
            Some(known) => known.to_vec(),
            None => app.db.group_names_of(user.id).await?,
        })
    } else {
        None
    };
    let masked_phone = || user.phone.as_deref().map(mask_phone);
    Ok(Claims {
        sub: user.id.to_string(),
        id: user.id,
        basic: (basic || profile).then_some(BasicClaims {
            username: &user.username,
            preferred_username: &user.username,
            nickname: user.nickname.as_deref(),
            avatar: user.avatar.as_deref(),
            picture: user.avatar.as_deref(),
        }),
        profile: profile.then(|| {
            let (real_name, id_card) = app.identity(user);
            ProfileClaims {
                gender: user.gender,
                province: user.province.as_deref(),
                city: user.city.as_deref(),
                area: user.area.as_deref(),
                birthdate: user.birthdate.as_deref(),
                real_name: real_name.as_deref().map(mask_name),
                id_card: id_card.as_deref().map(mask_id_card),
                certificate_type: user.certificate_type,
                verify_tag: user.verify_tag,
                updated_at: user.updated_at,
            }
        }),
        groups,
        email: email.then_some(EmailClaims {
            email: user.email.as_deref(),
            email_verified: user.email_verified,
        }),
        phone: phone.then(|| PhoneClaims {
            phone: masked_phone(),
            phone_number: masked_phone(),
            phone_verified: user.phone_verified,
            phone_number_verified: user.phone_verified,
        }),
    })
}

/// A user's claims as [`claims`] picks them: a struct rather than a JSON map, since
/// `/api/user` answers with it on every call. A claim with no value is `null`.
#[derive(Debug, Serialize)]
pub struct Claims<'a> {
    sub: String,
    id: i64,
    #[serde(flatten)]
    basic: Option<BasicClaims<'a>>,
    #[serde(flatten)]
    profile: Option<ProfileClaims<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(flatten)]
    email: Option<EmailClaims<'a>>,
    #[serde(flatten)]
    phone: Option<PhoneClaims>,
}

#[derive(Debug, Serialize)]
struct BasicClaims<'a> {
    username: &'a str,
    preferred_username: &'a str,
    nickname: Option<&'a str>,
    avatar: Option<&'a str>,
    picture: Option<&'a str>,
}

/// Seed 003's profile fields, the real name and ID card number masked.
#[derive(Debug, Serialize)]
struct ProfileClaims<'a> {
    gender: Option<i64>,
    province: Option<&'a str>,
    city: Option<&'a str>,
    area: Option<&'a str>,
    birthdate: Option<&'a str>,
    real_name: Option<String>,
    id_card: Option<String>,
    certificate_type: Option<i64>,
    verify_tag: i64,
    updated_at: i64,
}

#[derive(Debug, Serialize)]
struct EmailClaims<'a> {
    email: Option<&'a str>,
    email_verified: bool,
}

/// The phone number masked, under seed 003's names and OpenID Connect's.
#[derive(Debug, Serialize)]
struct PhoneClaims {
    phone: Option<String>,
    phone_number: Option<String>,
    phone_verified: bool,
    phone_number_verified: bool,
}

pub async fn userinfo(State(state): State<SharedState>, headers: HeaderMap) -> Result<Response> {
    let token = bearer(&headers, None)
        .ok_or_else(|| Error::InvalidToken("a Bearer token is required".into()))?;
    let active = state.app.require_access_token(&token).await?;
    if !active.has_scope("openid") {
        return Err(Error::InsufficientScope(
            "userinfo needs the openid scope".into(),
        ));
    }
    let user = active.user.as_ref().ok_or_else(|| {
        Error::InsufficientScope("this token stands for a client, not a user".into())
    })?;
    let claims = claims(&state.app, user, &active.scopes, active.groups.as_deref()).await?;
    let mut claims = serde_json::to_value(claims).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(map) = claims.as_object_mut() {
        // OpenID Connect Core §5.3.2: a claim without a value is left out, and
        // `gender` is a word there, not seed 003's number.
        map.retain(|_, v| !v.is_null());
        match map.get("gender").and_then(Value::as_i64) {
            Some(1) => map.insert("gender".into(), json!("male")),
            Some(2) => map.insert("gender".into(), json!("female")),
            _ => map.remove("gender"),
        };
    }
    Ok(no_store(Json(claims)))
}
