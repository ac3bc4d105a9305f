//! `GET /client-api/userCenter/info` (seed 003): the user of the token in header
//! `CLIENT-TOKEN`, in that seed's shape: `{"code": 200, "data": {nickName, …},
//! "desc": "操作成功"}`, the phone, real name and ID card number masked. The token
//! passes when one of its scopes guards the path, as on the JSON API
//! ([`crate::oauth::guard`]; the built-in `profile` and `user.read` do).

use super::caller::require_guard;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::oauth::no_store;
use crate::http::oauth::userinfo::bearer;
use crate::service::profile::{mask_id_card, mask_name, mask_phone};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};

/// Seed 003's profile, under its names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    nick_name: Option<String>,
    real_name: Option<String>,
    head_pic: Option<String>,
    gender: Option<i64>,
    province: Option<String>,
    city: Option<String>,
    area: Option<String>,
    verify_tag: i64,
    mobile_phone: Option<String>,
    encrypt_id_card: Option<String>,
    encrypt_real_name: Option<String>,
    certificate_type: Option<i64>,
    birthdate: Option<String>,
}

pub async fn info(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match answer(&state, &method, &uri, &headers).await {
        Ok(info) => no_store(Json(json!({"code": 200, "data": info, "desc": "操作成功"}))),
        Err(e) => {
            let status = e.parts().0;
            if status.is_server_error() {
                tracing::error!(error = %e, "request failed");
            }
            let body =
                json!({"code": status.as_u16(), "data": Value::Null, "desc": e.description()});
            let mut r = no_store((status, Json(body)));
            if let Some(challenge) = e.challenge() {
                r.headers_mut()
                    .insert(axum::http::header::WWW_AUTHENTICATE, challenge);
            }
            r
        }
    }
}

async fn answer(
    state: &SharedState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Info> {
    let token = client_token(headers)
        .ok_or_else(|| Error::InvalidToken("the CLIENT-TOKEN header is required".into()))?;
    let active = state.app.require_access_token(&token).await?;
    require_guard(state, &active, uri.path(), method.as_str()).await?;
    let user = active.user.as_ref().ok_or_else(|| {
        Error::InsufficientScope("this token stands for a client, not a user".into())
    })?;
    let (real_name, id_card) = state.app.identity(user);
    let phone = user.phone.as_deref().map(mask_phone);
    let name = real_name.as_deref().map(mask_name);
    Ok(Info {
        // The seed's accounts show the masked phone where no nickname was chosen.
        nick_name: user.nickname.clone().or_else(|| phone.clone()),
        real_name: name.clone(),
        head_pic: user.avatar.clone(),
        gender: user.gender,
        province: user.province.clone(),
        city: user.city.clone(),
        area: user.area.clone(),
        verify_tag: user.verify_tag,
        mobile_phone: phone,
        encrypt_id_card: id_card.as_deref().map(mask_id_card),
        encrypt_real_name: name,
        certificate_type: user.certificate_type,
        birthdate: user.birthdate.clone(),
    })
}

/// The token of header `CLIENT-TOKEN` (bare, or after `Bearer `), else a Bearer token.
fn client_token(headers: &HeaderMap) -> Option<String> {
    match headers.get("client-token").and_then(|v| v.to_str().ok()) {
        Some(v) => {
            let v = v.trim();
            let token = match v.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => v,
            };
            (!token.is_empty()).then(|| token.to_string())
        }
        None => bearer(headers, None),
    }
}
