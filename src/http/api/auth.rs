//! `/api/auth/*`: register, log in, session, log out, password forgot and reset.

use super::JsonBody;
use super::format::{Format, respond};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Query;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    phone: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth", summary = "Register an account", params(("format" = Option<String>, Query, description = "json (default) or html")), request_body = RegisterBody, responses((status = 201, description = "created: {id, username, email}"), (status = 409, description = "email_taken or username_taken"), (status = 403, description = "registration is off")))]
pub async fn register(
    State(state): State<SharedState>,
    ctx: Ctx,
    uri: Uri,
    Query(f): Query<Format>,
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
    Ok(respond(
        &ctx,
        &f,
        StatusCode::CREATED,
        ctx.t("register"),
        uri.path(),
        body,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    login: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", summary = "Log in with username, e-mail or phone", params(("format" = Option<String>, Query, description = "json (default) or html")), request_body = LoginBody, responses((status = 200, description = "{id, username, csrf_token} and the session cookie"), (status = 401, description = "invalid_credentials"), (status = 429, description = "throttled")))]
pub async fn login(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    uri: Uri,
    Query(f): Query<Format>,
    JsonBody(b): JsonBody<LoginBody>,
) -> Result<Response> {
    let login = state.app.login(&b.login, &b.password, &ctx.who).await?;
    ctx.set_session_cookie(&login.cookie);
    let body = json!({"id": login.user.id, "username": login.user.username, "csrf_token": login.csrf_token});
    Ok(respond(
        &ctx,
        &f,
        StatusCode::OK,
        ctx.t("sign_in"),
        uri.path(),
        body,
    ))
}

#[utoipa::path(get, path = "/api/auth/session", tag = "auth", summary = "The current session", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "{id, username, csrf_token}"), (status = 401, description = "no session")))]
pub async fn session(ctx: Ctx, uri: Uri, Query(f): Query<Format>) -> Result<Response> {
    let (Some(session), Some(user)) = (&ctx.session, &ctx.user) else {
        return Err(Error::Unauthorized("login_required", "no session".into()));
    };
    let body = json!({"id": user.id, "username": user.username, "csrf_token": session.csrf_token});
    Ok(respond(
        &ctx,
        &f,
        StatusCode::OK,
        ctx.t("account"),
        uri.path(),
        body,
    ))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", summary = "Log out (X-CSRF-Token)", responses((status = 204, description = "logged out")))]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ForgotBody {
    email: String,
}

/// Always 202: the answer never tells whether the address is registered.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "auth", summary = "Send a password reset link", params(("format" = Option<String>, Query, description = "json (default) or html")), request_body = ForgotBody, responses((status = 202, description = "always, whether or not the address is registered")))]
pub async fn forgot(
    State(state): State<SharedState>,
    ctx: Ctx,
    uri: Uri,
    Query(f): Query<Format>,
    JsonBody(b): JsonBody<ForgotBody>,
) -> Result<Response> {
    state.app.forgot_password(&b.email, &ctx.who).await?;
    let body = json!({"status": "accepted"});
    Ok(respond(
        &ctx,
        &f,
        StatusCode::ACCEPTED,
        ctx.t("forgot"),
        uri.path(),
        body,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetBody {
    token: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/password/reset", tag = "auth", summary = "Set a new password with a reset token", request_body = ResetBody, responses((status = 204, description = "changed"), (status = 400, description = "invalid_token")))]
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
