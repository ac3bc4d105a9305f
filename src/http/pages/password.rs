//! `/password/forgot` and `/password/reset` (seed 000: 账号找回, by the registered e-mail).

use super::{MessagePage, error_page, redirect, render};
use crate::error::Error;
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub lang: Lang,
    pub csrf: String,
    pub sent: bool,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    csrf_token: String,
    email: String,
}

pub async fn forgot_page(ctx: Ctx) -> Response {
    let page = ForgotPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        sent: false,
        error: None,
    };
    render(&ctx, StatusCode::OK, &page)
}

pub async fn forgot_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(form): Form<ForgotForm>,
) -> Response {
    if let Err(e) = ctx.check_csrf(&form.csrf_token) {
        let page = ForgotPage {
            lang: ctx.lang,
            csrf: ctx.csrf.clone(),
            sent: false,
            error: Some(ctx.t("csrf_failed").into()),
        };
        return render(&ctx, e.parts().0, &page);
    }
    // The same answer whether or not the address is registered.
    if let Err(e) = state.app.forgot_password(&form.email, &ctx.who).await {
        return error_page(&ctx, &e);
    }
    render(
        &ctx,
        StatusCode::OK,
        &ForgotPage {
            lang: ctx.lang,
            csrf: ctx.csrf.clone(),
            sent: true,
            error: None,
        },
    )
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub lang: Lang,
    pub csrf: String,
    pub token: String,
    /// The account's name, for password managers to save the new password under.
    pub username: String,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetQuery {
    token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    csrf_token: String,
    token: String,
    password: String,
}

/// The form for a new password, or, for a link that is used, expired or unknown, the
/// news at once (before a new password is typed), with the way to a new link.
pub async fn reset_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<ResetQuery>,
) -> Response {
    let user = match state.app.reset_link_user(&q.token).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let page = MessagePage {
                lang: ctx.lang,
                title: ctx.t("reset_title").into(),
                message: ctx.t("reset_invalid").into(),
                link: Some(("/password/forgot".into(), ctx.t("reset_again").into())),
            };
            return render(&ctx, StatusCode::BAD_REQUEST, &page);
        }
        Err(e) => return error_page(&ctx, &e),
    };
    let page = ResetPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        token: q.token,
        username: user.username,
        error: None,
    };
    render(&ctx, StatusCode::OK, &page)
}

pub async fn reset_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(form): Form<ResetForm>,
) -> Response {
    let result = match ctx.check_csrf(&form.csrf_token) {
        Ok(()) => {
            state
                .app
                .reset_password(&form.token, &form.password, &ctx.who)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect(&ctx, "/login?notice=password_reset"),
        Err(e) => {
            let message = match &e {
                Error::Validation { fields, .. } => fields
                    .values()
                    .map(|v| ctx.message(v))
                    .collect::<Vec<_>>()
                    .join(" "),
                Error::Rejected("invalid_token", _) => ctx.t("reset_invalid").to_string(),
                Error::Forbidden("csrf_failed", _) => ctx.t("csrf_failed").to_string(),
                other => ctx.message(&other.description()),
            };
            let page = ResetPage {
                lang: ctx.lang,
                csrf: ctx.csrf.clone(),
                token: form.token,
                username: String::new(),
                error: Some(message),
            };
            render(&ctx, e.parts().0, &page)
        }
    }
}
