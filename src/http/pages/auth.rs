//! `/login`, `/register`, `/logout` (seed 000: 注册、登录).

use super::{error_page, redirect, render};
use crate::error::Error;
use crate::http::SharedState;
use crate::http::ctx::{Ctx, safe_return_to};
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub lang: Lang,
    pub csrf: String,
    pub return_to: String,
    pub login: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub app_name: Option<String>,
    pub allow_registration: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReturnTo {
    return_to: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    csrf_token: String,
    return_to: Option<String>,
    login: String,
    password: String,
}

pub async fn login_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<ReturnTo>,
) -> Response {
    let return_to = safe_return_to(q.return_to.as_deref());
    if ctx.user.is_some() {
        return redirect(&ctx, &return_to);
    }
    let notice = match q.notice.as_deref() {
        Some("signed_out") => Some(ctx.t("signed_out").to_string()),
        Some("password_reset") => Some(ctx.t("reset_done").to_string()),
        _ => None,
    };
    show_login(
        &state,
        &ctx,
        return_to,
        String::new(),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

/// The login page, also shown by `/oauth/authorize` when no one is signed in.
pub async fn show_login(
    state: &SharedState,
    ctx: &Ctx,
    return_to: String,
    login: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let allow_registration = state
        .app
        .settings()
        .await
        .map(|s| s.allow_registration)
        .unwrap_or(true);
    let app_name = app_name_of(state, &return_to).await;
    let page = LoginPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        return_to,
        login,
        error,
        notice,
        app_name,
        allow_registration,
    };
    render(ctx, status, &page)
}

/// When the person is signing in on the way to an app, the app's name.
pub async fn app_name_of(state: &SharedState, return_to: &str) -> Option<String> {
    let query = return_to.split_once('?')?.1;
    let client_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.to_string())?;
    state
        .app
        .db
        .client_by_client_id(&client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.name)
}

pub async fn login_submit(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> Response {
    let return_to = safe_return_to(form.return_to.as_deref());
    if let Err(e) = ctx.check_csrf(&form.csrf_token) {
        return show_login(
            &state,
            &ctx,
            return_to,
            form.login,
            Some(ctx.t("csrf_failed").into()),
            None,
            e.parts().0,
        )
        .await;
    }
    match state.app.login(&form.login, &form.password, &ctx.who).await {
        Ok(login) => {
            ctx.set_session_cookie(&login.cookie);
            redirect(&ctx, &return_to)
        }
        Err(e) => {
            let message = match &e {
                Error::Unauthorized(..) => ctx.t("invalid_credentials").to_string(),
                Error::TooManyRequests(m) => format!("{} ({})", ctx.t("too_many"), ctx.message(m)),
                other => ctx.message(&other.description()),
            };
            show_login(
                &state,
                &ctx,
                return_to,
                form.login,
                Some(message),
                None,
                e.parts().0,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub lang: Lang,
    pub csrf: String,
    pub return_to: String,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub error: Option<String>,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    csrf_token: String,
    return_to: Option<String>,
    username: String,
    email: String,
    phone: String,
    password: String,
}

pub async fn register_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<ReturnTo>,
) -> Response {
    match state.app.settings().await {
        Ok(s) if !s.allow_registration => {
            return error_page(
                &ctx,
                &Error::Forbidden("registration_closed", String::new()),
            );
        }
        Err(e) => return error_page(&ctx, &e),
        Ok(_) => {}
    }
    let page = RegisterPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        return_to: safe_return_to(q.return_to.as_deref()),
        username: String::new(),
        email: String::new(),
        phone: String::new(),
        error: None,
        fields: BTreeMap::new(),
    };
    render(&ctx, StatusCode::OK, &page)
}

pub async fn register_submit(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    Form(form): Form<RegisterForm>,
) -> Response {
    let return_to = safe_return_to(form.return_to.as_deref());
    let result = match ctx.check_csrf(&form.csrf_token) {
        Ok(()) => {
            let phone = Some(form.phone.trim().to_string()).filter(|p| !p.is_empty());
            state
                .app
                .register(
                    form.username.trim().to_string(),
                    form.email.clone(),
                    form.password.clone(),
                    phone,
                    &ctx.who,
                )
                .await
        }
        Err(e) => Err(e),
    };
    let user = match result {
        Ok(user) => user,
        Err(e @ Error::Forbidden("registration_closed", _)) => return error_page(&ctx, &e),
        Err(e) => {
            let (error, fields) = match &e {
                Error::Validation { fields, .. } => (
                    ctx.t("check_fields").to_string(),
                    fields
                        .iter()
                        .map(|(k, v)| (k.clone(), ctx.message(v)))
                        .collect(),
                ),
                Error::Conflict(name, message) => {
                    let field = name.trim_end_matches("_taken").to_string();
                    (
                        ctx.t("check_fields").to_string(),
                        BTreeMap::from([(field, ctx.message(message))]),
                    )
                }
                Error::Forbidden("csrf_failed", _) => {
                    (ctx.t("csrf_failed").to_string(), BTreeMap::new())
                }
                other => (ctx.message(&other.description()), BTreeMap::new()),
            };
            let page = RegisterPage {
                lang: ctx.lang,
                csrf: ctx.csrf.clone(),
                return_to,
                username: form.username,
                email: form.email,
                phone: form.phone,
                error: Some(error),
                fields,
            };
            return render(&ctx, e.parts().0, &page);
        }
    };
    // A new account is signed in straight away.
    match state.app.open_session(user, &ctx.who).await {
        Ok(login) => {
            ctx.set_session_cookie(&login.cookie);
            redirect(&ctx, &return_to)
        }
        Err(e) => error_page(&ctx, &e),
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub lang: Lang,
    pub csrf: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf_token: String,
}

/// Asks before signing out: a GET must not change state (a link or an image could
/// sign a person out).
pub async fn logout_page(ctx: Ctx) -> Response {
    if ctx.user.is_none() {
        return redirect(&ctx, "/login?notice=signed_out");
    }
    render(
        &ctx,
        StatusCode::OK,
        &LogoutPage {
            lang: ctx.lang,
            csrf: ctx.csrf.clone(),
        },
    )
}

pub async fn logout_submit(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return redirect(&ctx, "/login?notice=signed_out");
    };
    if let Err(e) = ctx.check_csrf(&form.csrf_token) {
        return error_page(&ctx, &e);
    }
    if let Err(e) = state.app.logout(&session, &ctx.who).await {
        return error_page(&ctx, &e);
    }
    ctx.clear_session_cookie();
    redirect(&ctx, "/login?notice=signed_out")
}
