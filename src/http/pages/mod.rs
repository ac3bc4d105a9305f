//! Server-rendered pages (askama templates under `templates/`).

pub mod account;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod console;
pub mod device;
pub mod password;
pub mod scan;

use super::ctx::Ctx;
use super::i18n::Lang;
use crate::error::Error;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Renders a template with the headers every page carries: no caching, no framing,
/// no referrer (a page may carry a code or token in its URL), a strict CSP.
pub fn render(ctx: &Ctx, status: StatusCode, page: &impl Template) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(e) => return Error::Internal(format!("template: {e}")).into_response(),
    };
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No `form-action`: browsers check it on every redirect a form's answer makes, and
    // `*` does not match the custom schemes of native apps' redirect URIs, so the login
    // and consent forms could not send a person back to such an app; naming every app's
    // scheme is not worth it (docs/security-headers.md).
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: https:; style-src 'self'; \
             script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    ctx.finish(response)
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub lang: Lang,
    pub title: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

/// A page that says what went wrong, with the status of the error.
pub fn error_page(ctx: &Ctx, err: &Error) -> Response {
    let (status, name, _) = err.parts();
    let title = match status {
        StatusCode::NOT_FOUND => ctx.t("not_found"),
        _ => ctx.t("error"),
    };
    let message = match name {
        "csrf_failed" | "registration_closed" => ctx.t(name).to_string(),
        _ => ctx.message(&err.description()),
    };
    let page = MessagePage {
        lang: ctx.lang,
        title: title.into(),
        message,
        link: None,
    };
    render(ctx, status, &page)
}

/// A redirect that also sets the cookies decided on.
/// To the login page, and back to `back` (a path of this server) afterwards.
pub fn login_first(ctx: &Ctx, back: &str) -> Response {
    redirect(ctx, &format!("/login?return_to={}", urlencode(back)))
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn redirect(ctx: &Ctx, to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    ctx.finish(response)
}
