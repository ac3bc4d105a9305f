//! "Scan to log in" (SPEC §4, beyond seed 004): the login page shows a QR code of
//! `/qr/{id}`; the person opens it on a phone where they are signed in, sees which
//! app asks and from where, and confirms; the login page, polling, is then signed in.
//!
//! - `POST /login/qr` (the login page's CSRF field; 30 a minute per address) makes a
//!   request for two minutes and answers the QR code as SVG; the browser gets a
//!   cookie (`uc_qr`) whose keyed hash the request keeps, so that only that browser
//!   can be signed in by it.
//! - `GET /login/qr/{id}` (the login page's poll) answers `pending`, `denied` or
//!   `expired`, or, once confirmed, signs that browser in and answers where to go:
//!   once. `GET/POST /qr/{id}` is the phone's page (signed in, CSRF-protected).
//! - The id (in the QR code) and the browser's secret are 128 and 192 random bits,
//!   stored only as keyed hashes.

use super::account::device;
use super::auth::app_name_of;
use super::{MessagePage, error_page, login_first, render};
use crate::crypto::random_token;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::{Ctx, safe_return_to};
use crate::http::extract::Form;
use crate::http::extract::Path;
use crate::http::i18n::Lang;
use crate::http::oauth::no_store;
use crate::store::LoginQr;
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use serde_json::json;

const QR_TTL: i64 = 120;
const BROWSER_COOKIE: &str = "uc_qr";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    csrf_token: String,
    return_to: String,
}

pub async fn start(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    Form(f): Form<StartForm>,
) -> Result<Response> {
    ctx.check_csrf(&f.csrf_token)?;
    let now = crate::time::now();
    let per_ip = format!("login_qr:{}", ctx.who.ip);
    if let Err(wait) = state.app.throttle.count(&per_ip, 30, 60, now).await {
        return Err(Error::TooManyRequests(format!(
            "too many codes asked for; try again in {wait} seconds"
        )));
    }
    let id = random_token(16);
    let browser = random_token(24);
    let key = &state.app.key;
    state
        .app
        .db
        .create_login_qr(
            &LoginQr {
                id_hash: key.hash_secret(&id),
                browser_hash: key.hash_secret(&browser),
                return_to: safe_return_to(Some(&f.return_to)),
                ip: ctx.who.ip.clone(),
                user_agent: ctx.who.user_agent.clone(),
                state: "pending".into(),
                expires_at: now + QR_TTL,
                user_id: None,
            },
            now,
        )
        .await?;
    let url = format!("{}/qr/{id}", state.app.issuer());
    let svg = QrCode::new(url.as_bytes())
        .map_err(|e| Error::Internal(format!("QR code: {e}")))?
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    ctx.set_cookie(BROWSER_COOKIE, &browser, QR_TTL);
    Ok(ctx.finish(no_store(Json(
        json!({ "id": id, "url": url, "svg": svg, "expires_in": QR_TTL }),
    ))))
}

pub async fn poll(
    State(state): State<SharedState>,
    mut ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let key = &state.app.key;
    let id_hash = key.hash_secret(&id);
    let browser_hash = ctx
        .cookie(&headers, BROWSER_COOKIE)
        .map(|b| key.hash_secret(&b))
        .unwrap_or_default();
    let now = crate::time::now();
    let answer = |s: &str| Ok(no_store(Json(json!({ "state": s }))));
    let Some(request) = state.app.db.login_qr(&id_hash, now).await? else {
        return answer("expired");
    };
    if request.browser_hash != browser_hash {
        return answer("expired");
    }
    match request.state.as_str() {
        "confirmed" => {}
        "pending" => return answer("pending"),
        "denied" => return answer("denied"),
        _ => return answer("expired"),
    }
    // The account is read before the confirmation is taken, so that a password reset
    // between the two makes `open_session` refuse (it compares with this copy).
    let Some(user) = (match request.user_id {
        Some(id) => state.app.db.user_by_id(id).await?,
        None => None,
    }) else {
        return answer("expired");
    };
    if user.disabled {
        return Err(Error::Forbidden(
            "account_disabled",
            "this account is disabled".into(),
        ));
    }
    let taken = state
        .app
        .db
        .take_login_qr(&id_hash, &browser_hash, now)
        .await?;
    if taken != Some(user.id) {
        return answer("expired");
    }
    let login = state.app.open_session(user, &ctx.who).await?;
    ctx.set_session_cookie(&login.cookie);
    Ok(ctx.finish(no_store(Json(
        json!({ "state": "confirmed", "to": request.return_to }),
    ))))
}

#[derive(Template)]
#[template(path = "scan.html")]
pub struct ScanPage {
    pub lang: Lang,
    pub csrf: String,
    pub id: String,
    pub username: String,
    pub app_name: Option<String>,
    pub device: String,
    pub ip: String,
}

pub async fn phone_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, &format!("/qr/{id}"));
    };
    let now = crate::time::now();
    match state
        .app
        .db
        .login_qr(&state.app.key.hash_secret(&id), now)
        .await
    {
        Ok(Some(request)) if request.state == "pending" => {
            let page = ScanPage {
                lang: ctx.lang,
                csrf: ctx.csrf.clone(),
                app_name: app_name_of(&state, &request.return_to).await,
                device: device(&request.user_agent),
                ip: request.ip,
                username: user.username.clone(),
                id,
            };
            render(&ctx, StatusCode::OK, &page)
        }
        Ok(_) => done(&ctx, StatusCode::NOT_FOUND, "scan_expired"),
        Err(e) => error_page(&ctx, &e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    csrf_token: String,
    decision: String,
}

pub async fn phone_decision(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, &format!("/qr/{id}"));
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    let confirm = f.decision == "confirm";
    let now = crate::time::now();
    let id_hash = state.app.key.hash_secret(&id);
    match state
        .app
        .db
        .decide_login_qr(&id_hash, user.id, confirm, now)
        .await
    {
        Ok(true) => {
            let action = if confirm {
                "scan_confirmed"
            } else {
                "scan_denied"
            };
            let _ = state
                .app
                .db
                .audit(Some(user.id), action, "", &ctx.who.ip, "", now)
                .await;
            let message = if confirm {
                "scan_done"
            } else {
                "scan_cancelled"
            };
            done(&ctx, StatusCode::OK, message)
        }
        Ok(false) => done(&ctx, StatusCode::NOT_FOUND, "scan_expired"),
        Err(e) => error_page(&ctx, &e),
    }
}

fn done(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    let page = MessagePage {
        lang: ctx.lang,
        title: ctx.t("scan_title").to_string(),
        message: ctx.t(message).to_string(),
        link: None,
    };
    render(ctx, status, &page)
}
