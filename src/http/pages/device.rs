//! `GET/POST /device` (RFC 8628 §3.3): a signed-in person enters the user code their
//! device shows, sees which app asks and for what, and approves or denies.

use super::{MessagePage, error_page, login_first, render, urlencode};
use crate::error::Error;
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use crate::http::oauth::authorize::{initial_of, scope_title};
use crate::service::oauth::device::normalize_user_code;
use crate::store::{Client, DeviceCode};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

pub struct DeviceApp {
    pub name: String,
    pub initial: String,
    pub scopes: Vec<String>,
}

#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub lang: Lang,
    pub csrf: String,
    pub username: String,
    pub user_code: String,
    pub app: Option<DeviceApp>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    csrf_token: String,
    user_code: String,
    decision: Option<String>,
}

pub async fn get(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<DeviceForm>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        let back = match q.user_code.is_empty() {
            true => "/device".to_string(),
            false => format!("/device?user_code={}", urlencode(&q.user_code)),
        };
        return login_first(&ctx, &back);
    };
    if q.user_code.is_empty() {
        return page(&ctx, &user.username, String::new(), None, None);
    }
    confirm(&state, &ctx, user.id, &user.username, &q.user_code).await
}

pub async fn post(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<DeviceForm>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/device");
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    let Some(decision) = f.decision.as_deref() else {
        return confirm(&state, &ctx, user.id, &user.username, &f.user_code).await;
    };
    let approve = decision == "approve";
    let now = crate::time::now();
    let auth_time = ctx.session.as_ref().map_or(now, |s| s.auth_time);
    let code = normalize_user_code(&f.user_code);
    let decided = state
        .app
        .decide_device(user.id, &f.user_code, approve, auth_time)
        .await;
    match decided {
        Ok(true) => {
            let action = if approve {
                "device_approved"
            } else {
                "device_denied"
            };
            let _ = state
                .app
                .db
                .audit(Some(user.id), action, &code, &ctx.who.ip, "", now)
                .await;
            let message = ctx.t(if approve {
                "device_done"
            } else {
                "device_denied"
            });
            let done = MessagePage {
                lang: ctx.lang,
                title: ctx.t("device_title").to_string(),
                message: message.to_string(),
                link: None,
            };
            render(&ctx, StatusCode::OK, &done)
        }
        Ok(false) => unknown(&ctx, &user.username, &f.user_code),
        Err(e @ Error::TooManyRequests(_)) => too_many(&ctx, &user.username, &f.user_code, &e),
        Err(e) => error_page(&ctx, &e),
    }
}

fn too_many(ctx: &Ctx, username: &str, typed: &str, e: &Error) -> Response {
    let message = format!("{} ({})", ctx.t("too_many"), ctx.message(&e.description()));
    page(ctx, username, typed.to_string(), None, Some(message))
}

/// The confirmation for a typed code, or the form again when it holds nothing.
async fn confirm(
    state: &SharedState,
    ctx: &Ctx,
    user_id: i64,
    username: &str,
    typed: &str,
) -> Response {
    match state.app.device_request(user_id, typed).await {
        Ok(Some((code, client))) => {
            let app = describe(state, ctx, &code, &client).await;
            page(ctx, username, code.user_code, Some(app), None)
        }
        Ok(None) => unknown(ctx, username, typed),
        Err(e @ Error::TooManyRequests(_)) => too_many(ctx, username, typed, &e),
        Err(e) => error_page(ctx, &e),
    }
}

fn unknown(ctx: &Ctx, username: &str, typed: &str) -> Response {
    let message = ctx.t("device_unknown").to_string();
    page(ctx, username, typed.to_string(), None, Some(message))
}

/// The app and the scopes it asks for, in the page's language where they are built in.
async fn describe(state: &SharedState, ctx: &Ctx, code: &DeviceCode, client: &Client) -> DeviceApp {
    let defined = state.app.scopes().await.unwrap_or_default();
    let scopes = crate::oauth::scope::parse(&code.scope)
        .into_iter()
        .map(|name| match defined.iter().find(|d| d.name == name) {
            Some(d) => scope_title(ctx, d),
            None => name,
        })
        .collect();
    DeviceApp {
        name: client.name.clone(),
        initial: initial_of(&client.name),
        scopes,
    }
}

fn page(
    ctx: &Ctx,
    username: &str,
    user_code: String,
    app: Option<DeviceApp>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = DevicePage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        username: username.to_string(),
        user_code,
        app,
        error,
    };
    render(ctx, status, &page)
}
