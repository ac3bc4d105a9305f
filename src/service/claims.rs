//! The user claims a token's scopes allow (SPEC §3), for userinfo, ID tokens, the
//! resource API and the console API.

use super::App;
use super::profile::{mask_id_card, mask_name, mask_phone};
use crate::error::{Error, Result};
use crate::store::User;
use serde::Serialize;
use serde_json::{Value, json};

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

/// [`claims`] as OpenID Connect shapes them (Core §5.3.2): a claim without a value is
/// left out, and `gender` is a word, not seed 003's number. For userinfo, and for
/// an ID token that comes without an access token (Core §5.4).
pub async fn oidc_claims(
    app: &App,
    user: &User,
    scopes: &[String],
    groups: Option<&[String]>,
) -> Result<Value> {
    let claims = claims(app, user, scopes, groups).await?;
    let mut claims = serde_json::to_value(claims).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(map) = claims.as_object_mut() {
        map.retain(|_, v| !v.is_null());
        match map.get("gender").and_then(Value::as_i64) {
            Some(1) => map.insert("gender".into(), json!("male")),
            Some(2) => map.insert("gender".into(), json!("female")),
            _ => map.remove("gender"),
        };
    }
    Ok(claims)
}
