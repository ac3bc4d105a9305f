//! `GET`/`PATCH /api/account`: the signed-in person's profile (seed 003 fields).

use super::JsonBody;
use super::format::{Format, respond};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Query;
use crate::service::profile::{ProfileInput, mask_id_card, mask_name, mask_phone};
use crate::store::User;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

fn view(state: &SharedState, user: &User, groups: Vec<String>) -> Value {
    let (real_name, id_card) = state.app.identity(user);
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "phone": user.phone,
        "phone_masked": user.phone.as_deref().map(mask_phone),
        "phone_verified": user.phone_verified,
        "nickname": user.nickname,
        "avatar": user.avatar,
        "gender": user.gender,
        "province": user.province,
        "city": user.city,
        "area": user.area,
        "birthdate": user.birthdate,
        "real_name": real_name.as_deref().map(mask_name),
        "id_card": id_card.as_deref().map(mask_id_card),
        "certificate_type": user.certificate_type,
        "verify_tag": user.verify_tag,
        "is_admin": user.is_admin,
        "groups": groups,
        "created_at": user.created_at,
    })
}

#[utoipa::path(get, path = "/api/account", tag = "account", summary = "My profile", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "the profile of seed 003, identity masked"), (status = 401, description = "not signed in")))]
pub async fn get(
    State(state): State<SharedState>,
    ctx: Ctx,
    uri: Uri,
    Query(f): Query<Format>,
) -> Result<Response> {
    let user = ctx.require_user()?;
    profile(&state, &ctx, &f, &uri, user).await
}

/// The profile of `user` with their groups, in the format asked for.
async fn profile(
    state: &SharedState,
    ctx: &Ctx,
    f: &Format,
    uri: &Uri,
    user: &User,
) -> Result<Response> {
    let groups = state.app.db.group_names_of(user.id).await?;
    let body = view(state, user, groups);
    Ok(respond(
        ctx,
        f,
        StatusCode::OK,
        ctx.t("profile"),
        uri.path(),
        body,
    ))
}

/// Changes only the fields present in the body; `null` clears one.
#[utoipa::path(patch, path = "/api/account", tag = "account", summary = "Change my profile (fields present only; null clears)", params(("format" = Option<String>, Query, description = "json (default) or html")), request_body = Object, responses((status = 200, description = "the new profile"), (status = 400, description = "field errors")))]
pub async fn patch(
    State(state): State<SharedState>,
    ctx: Ctx,
    uri: Uri,
    Query(f): Query<Format>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<serde_json::Map<String, Value>>,
) -> Result<Response> {
    let user = ctx.require_user()?.clone();
    ctx.check_csrf_header(&headers)?;
    let current = state.app.profile_input(&user);
    let mut merged = serde_json::to_value(current).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(obj) = merged.as_object_mut() {
        for (key, value) in patch {
            if !obj.contains_key(&key) {
                return Err(Error::field(&key, "is not a profile field"));
            }
            obj.insert(key, value);
        }
    }
    let input: ProfileInput = serde_json::from_value(merged)
        .map_err(|e| Error::invalid_request(format!("the JSON body is not valid: {e}")))?;
    state.app.update_profile(&user, input).await?;
    let fresh = state
        .app
        .db
        .user_by_id(user.id)
        .await?
        .ok_or(Error::NotFound)?;
    profile(&state, &ctx, &f, &uri, &fresh).await
}
