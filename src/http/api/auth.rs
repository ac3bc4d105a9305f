//! `/api/auth/*`: register, log in, session, log out, password forgot and reset.

use super::JsonBody;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    phone: Option<String>,
}

pub async fn register(
    State(state): State<SharedState>,
    ctx: Ctx,
    JsonBody(b): JsonBody<RegisterBody>,
) -> Result<Response> {
    let phone = b.phone.filter(|p| !p.trim().is_empty());
    let user = state
        .app
        .register(
            b.username.trim().to_string(),
            b.email,
            b.password,
            phone,
            &ctx.who,
        )
        .await?;
    let body = json!({"id": user.id, "username": user.username, "email": user.email});
    Ok(ctx.finish((StatusCode::CREATED, Json(body))))
}

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    login: String,
    password: String,
}

pub async fn login(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    JsonBody(b): JsonBody<LoginBody>,
) -> Result<Response> {
    let login = state.app.login(&b.login, &b.password, &ctx.who).await?;
    ctx.set_session_cookie(&login.cookie);
    let body = json!({"id": login.user.id, "username": login.user.username, "csrf_token": login.csrf_token});
    Ok(ctx.finish(Json(body)))
}

pub async fn session(ctx: Ctx) -> Result<Response> {
    let (Some(session), Some(user)) = (&ctx.session, &ctx.user) else {
        return Err(Error::Unauthorized("login_required", "no session".into()));
    };
    Ok(ctx.finish(Json(
        json!({"id": user.id, "username": user.username, "csrf_token": session.csrf_token}),
    )))
}

pub async fn logout(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    headers: HeaderMap,
) -> Result<Response> {
    if let Some(session) = ctx.session.clone() {
        ctx.check_csrf_header(&headers)?;
        state.app.logout(&session, &ctx.who).await?;
    }
    ctx.clear_session_cookie();
    Ok(ctx.finish(StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
pub struct ForgotBody {
    email: String,
}

/// Always 202: the answer never tells whether the address is registered.
pub async fn forgot(
    State(state): State<SharedState>,
    ctx: Ctx,
    JsonBody(b): JsonBody<ForgotBody>,
) -> Result<Response> {
    state.app.forgot_password(&b.email, &ctx.who).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "accepted"}))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ResetBody {
    token: String,
    password: String,
}

pub async fn reset(
    State(state): State<SharedState>,
    ctx: Ctx,
    JsonBody(b): JsonBody<ResetBody>,
) -> Result<Response> {
    state
        .app
        .reset_password(&b.token, &b.password, &ctx.who)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
