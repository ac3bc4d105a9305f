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
use serde_json::{Map, Value, json};

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

/// The user claims a token's scopes allow (SPEC §3): `openid`/`basic`/`user.read` →
/// id, username, nickname, avatar; `profile` → seed 003's fields, masked; `email`;
/// `phone` (masked).
/// `groups`: the user's group names when they were read already (with the token).
pub async fn claims(
    app: &App,
    user: &User,
    scopes: &[String],
    groups: Option<&[String]>,
) -> Result<Value> {
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
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id.to_string()));
    c.insert("id".into(), json!(user.id));
    if basic || profile {
        c.insert("username".into(), json!(user.username));
        c.insert("preferred_username".into(), json!(user.username));
        c.insert("nickname".into(), json!(user.nickname));
        c.insert("avatar".into(), json!(user.avatar));
        c.insert("picture".into(), json!(user.avatar));
    }
    if profile {
        let (real_name, id_card) = app.identity(user);
        c.insert("gender".into(), json!(user.gender));
        c.insert("province".into(), json!(user.province));
        c.insert("city".into(), json!(user.city));
        c.insert("area".into(), json!(user.area));
        c.insert("birthdate".into(), json!(user.birthdate));
        c.insert(
            "real_name".into(),
            json!(real_name.as_deref().map(mask_name)),
        );
        c.insert(
            "id_card".into(),
            json!(id_card.as_deref().map(mask_id_card)),
        );
        c.insert("certificate_type".into(), json!(user.certificate_type));
        c.insert("verify_tag".into(), json!(user.verify_tag));
        c.insert("updated_at".into(), json!(user.updated_at));
    }
    if profile || has("user.read") {
        let groups = match groups {
            Some(known) => known.to_vec(),
            None => app.db.group_names_of(user.id).await?,
        };
        c.insert("groups".into(), json!(groups));
    }
    if email {
        c.insert("email".into(), json!(user.email));
        c.insert("email_verified".into(), json!(user.email_verified));
    }
    if phone {
        c.insert("phone".into(), json!(user.phone.as_deref().map(mask_phone)));
        c.insert(
            "phone_number".into(),
            json!(user.phone.as_deref().map(mask_phone)),
        );
        c.insert("phone_verified".into(), json!(user.phone_verified));
        c.insert("phone_number_verified".into(), json!(user.phone_verified));
    }
    Ok(Value::Object(c))
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
    let mut claims = claims(&state.app, user, &active.scopes, active.groups.as_deref()).await?;
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
