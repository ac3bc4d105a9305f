//! `/account`: the profile of seed 003, password and e-mail changes, sessions, groups.

use super::{error_page, login_first, redirect, render};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use crate::service::profile::{ProfileInput, mask_id_card, mask_name};
use crate::store::User;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The profile as the form shows it.
pub struct ProfileView {
    pub nickname: String,
    pub phone: String,
    pub gender: i64,
    pub birthdate: String,
    pub province: String,
    pub city: String,
    pub area: String,
    pub avatar: String,
    pub real_name_masked: String,
    pub id_card_masked: String,
    pub certificate_type: i64,
}

pub struct SessionView {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub current: bool,
}

/// A physical card of the person (seed 004), which they may report lost or found.
pub struct CardView {
    pub number: String,
    pub lost: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub lang: Lang,
    pub csrf: String,
    pub is_admin: bool,
    pub username: String,
    pub email: String,
    pub p: ProfileView,
    pub groups: Vec<String>,
    pub cards: Vec<CardView>,
    pub sessions: Vec<SessionView>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Notice {
    notice: Option<String>,
}

/// A short description of a browser from its User-Agent.
pub fn device(ua: &str) -> String {
    let browser = ["Edg/", "Chrome/", "Firefox/", "Safari/"]
        .into_iter()
        .find(|b| ua.contains(b))
        .map(|b| b.trim_end_matches('/').replace("Edg", "Edge"))
        .unwrap_or_else(|| "Browser".into());
    let os = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"]
        .into_iter()
        .find(|o| ua.contains(o))
        .unwrap_or("");
    if os.is_empty() {
        browser
    } else {
        format!("{browser} · {os}")
    }
}

pub fn format_time(t: i64) -> String {
    // UTC, minute precision: enough to recognise a session.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

async fn page(
    state: &SharedState,
    ctx: &Ctx,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response> {
    let (real_name, id_card) = state.app.identity(user);
    let groups = state.app.db.group_names_of(user.id).await?;
    let cards = state
        .app
        .db
        .cards_of(user.id)
        .await?
        .into_iter()
        .map(|(number, lost)| CardView { number, lost })
        .collect();
    let current = ctx
        .session
        .as_ref()
        .map(|s| s.id_hash.clone())
        .unwrap_or_default();
    let sessions = state
        .app
        .db
        .sessions_of(user.id, crate::time::now())
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id_hash == current,
            id: s.id_hash,
            device: device(&s.user_agent),
            ip: s.ip,
            last_seen: format_time(s.last_seen_at),
        })
        .collect();
    let p = ProfileView {
        nickname: user.nickname.clone().unwrap_or_default(),
        phone: user.phone.clone().unwrap_or_default(),
        gender: user.gender.unwrap_or(0),
        birthdate: user.birthdate.clone().unwrap_or_default(),
        province: user.province.clone().unwrap_or_default(),
        city: user.city.clone().unwrap_or_default(),
        area: user.area.clone().unwrap_or_default(),
        avatar: user.avatar.clone().unwrap_or_default(),
        real_name_masked: real_name.as_deref().map(mask_name).unwrap_or_default(),
        id_card_masked: id_card.as_deref().map(mask_id_card).unwrap_or_default(),
        certificate_type: user.certificate_type.unwrap_or(1),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AccountPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        is_admin: user.is_admin,
        username: user.username.clone(),
        email: user.email.clone().unwrap_or_default(),
        p,
        groups,
        cards,
        sessions,
        notice,
        error,
    };
    Ok(render(ctx, status, &page))
}

pub async fn account_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account");
    };
    let notice = q
        .notice
        .as_deref()
        .filter(|n| {
            matches!(
                *n,
                "saved" | "password_changed" | "email_changed" | "sessions_ended" | "card_updated"
            )
        })
        .map(|n| ctx.t(n).to_string());
    page(&state, &ctx, &user, notice, None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

/// Runs a form action of the account page: signed in, CSRF checked; on success back
/// to the page with a notice, on failure the page with the error.
async fn act<F, Fut>(state: SharedState, ctx: Ctx, csrf: &str, notice: &str, action: F) -> Response
where
    F: FnOnce(SharedState, User, Ctx) -> Fut,
    Fut: std::future::Future<Output = (Ctx, Result<()>)>,
{
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account");
    };
    if let Err(e) = ctx.check_csrf(csrf) {
        return error_page(&ctx, &e);
    }
    let (ctx, result) = action(state.clone(), user.clone(), ctx).await;
    match result {
        Ok(()) => redirect(&ctx, &format!("/account?notice={notice}")),
        Err(e) => {
            let message = ctx.error_text(&e);
            page(&state, &ctx, &user, None, Some(message))
                .await
                .unwrap_or_else(|e| error_page(&ctx, &e))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    csrf_token: String,
    nickname: String,
    phone: String,
    gender: Option<i64>,
    birthdate: String,
    province: String,
    city: String,
    area: String,
    avatar: String,
    real_name: String,
    id_card: String,
    certificate_type: Option<i64>,
    /// The phone the page showed: a phone sent back as shown was not edited, and the
    /// stored one stays (an SMS login may have bound another since the page opened).
    phone_shown: Option<String>,
}

fn some(s: String) -> Option<String> {
    Some(s).filter(|s| !s.trim().is_empty())
}

pub async fn profile_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<ProfileForm>,
) -> Response {
    let csrf = f.csrf_token.clone();
    act(state, ctx, &csrf, "saved", |state, user, ctx| async move {
        // The real name and ID number are shown masked; left empty, they stay.
        let (real_name, id_card) = state.app.identity(&user);
        let input = ProfileInput {
            nickname: some(f.nickname),
            avatar: some(f.avatar),
            gender: f.gender.filter(|g| *g != 0),
            province: some(f.province),
            city: some(f.city),
            area: some(f.area),
            birthdate: some(f.birthdate),
            real_name: some(f.real_name).or(real_name),
            id_card: some(f.id_card).or(id_card),
            certificate_type: f.certificate_type,
            phone: match f.phone_shown {
                Some(shown) if shown.trim() == f.phone.trim() => user.phone.clone(),
                _ => some(f.phone),
            },
        };
        let result = state.app.update_profile(&user, input).await;
        (ctx, result)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

pub async fn password_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<PasswordForm>,
) -> Response {
    let csrf = f.csrf_token.clone();
    act(
        state,
        ctx,
        &csrf,
        "password_changed",
        |state, user, ctx| async move {
            let result = state
                .app
                .change_password(
                    &user,
                    ctx.session.as_ref(),
                    &f.current_password,
                    &f.new_password,
                    &ctx.who,
                )
                .await;
            (ctx, result)
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailForm {
    csrf_token: String,
    email: String,
    current_password: String,
}

pub async fn email_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<EmailForm>,
) -> Response {
    let csrf = f.csrf_token.clone();
    act(
        state,
        ctx,
        &csrf,
        "email_changed",
        |state, user, ctx| async move {
            let result = state
                .app
                .change_email(&user, &f.current_password, &f.email, &ctx.who)
                .await;
            (ctx, result)
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndSessionForm {
    csrf_token: String,
    session: String,
}

pub async fn end_session_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<EndSessionForm>,
) -> Response {
    let csrf = f.csrf_token.clone();
    act(
        state,
        ctx,
        &csrf,
        "sessions_ended",
        |state, user, ctx| async move {
            let result = if f.session == "others" {
                let keep = ctx.session.as_ref().map(|s| s.id_hash.as_str());
                state
                    .app
                    .db
                    .delete_other_sessions(user.id, keep)
                    .await
                    .map(|_| ())
            } else {
                state
                    .app
                    .db
                    .delete_session_of(user.id, &f.session)
                    .await
                    .map(|_| ())
            };
            (ctx, result)
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CardForm {
    csrf_token: String,
    card: String,
    /// `lost` or `found`.
    action: String,
}

/// SPEC §4: a person reports their own card lost, or found again.
pub async fn card_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<CardForm>,
) -> Response {
    let csrf = f.csrf_token.clone();
    act(
        state,
        ctx,
        &csrf,
        "card_updated",
        |state, user, ctx| async move {
            let result = async {
                let lost = match f.action.as_str() {
                    "lost" => true,
                    "found" => false,
                    _ => return Err(Error::field("action", "must be lost or found")),
                };
                let now = crate::time::now();
                if !state
                    .app
                    .db
                    .set_own_card_lost(user.id, &f.card, lost, now)
                    .await?
                {
                    return Err(Error::NotFound);
                }
                let action = if lost { "card_lost" } else { "card_found" };
                state
                    .app
                    .db
                    .audit(Some(user.id), action, &f.card, &ctx.who.ip, "", now)
                    .await
            }
            .await;
            (ctx, result)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_devices() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_317_506), "2026-11-22 03:18 UTC");
        assert_eq!(
            device("Mozilla/5.0 (Linux; Android 14) Chrome/120 Safari/537"),
            "Chrome · Android"
        );
    }
}
