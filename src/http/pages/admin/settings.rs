//! `/admin`, `/admin/settings`: every key of [`Settings`](crate::service::Settings)
//! — seed 002's switches and lifetimes, registration, the password grant, dynamic
//! registration — in one form. Nothing is stored unless every value is valid.

use super::{Notice, Shell, actor, admin_for_form, admin_of, shown_on_page, status_of};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::service::admin::{setting_text, settings_values};
use crate::store::User;
use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;

/// The sections of the form, by key; a key of `Settings` not named here still
/// shows, under "Other".
const SECTIONS: [(&str, &[&str]); 3] = [
    (
        "admin.set.section.accounts",
        &[
            "allow_registration",
            "allow_password_grant",
            "dynamic_registration",
        ],
    ),
    (
        "admin.set.section.authorize",
        &["allow_implicit", "require_state", "exact_redirect_uri"],
    ),
    (
        "admin.set.section.lifetimes",
        &[
            "access_token_ttl",
            "refresh_token_ttl",
            "code_ttl",
            "refresh_grace_seconds",
        ],
    ),
];

pub struct Item {
    pub key: String,
    pub label: String,
    pub hint: String,
    pub is_bool: bool,
    pub on: bool,
    pub value: String,
    /// A number of seconds in words (`= 30 d`).
    pub human: String,
}

pub struct Section {
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
pub struct SettingsPage {
    pub lang: Lang,
    pub s: Shell,
    pub sections: Vec<Section>,
}

/// Seconds as the largest whole unit: `30 d`, `1 h`, `10 min`, `45 s`.
fn human(secs: i64) -> String {
    match secs {
        0 => "0 s".into(),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn translated(ctx: &Ctx, key: &str, fallback: &str) -> String {
    let text = ctx.t(key);
    if text == key {
        fallback.to_string()
    } else {
        text.to_string()
    }
}

/// The form; `submitted` overrides the stored values (to show a rejected form again).
async fn show(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    submitted: Option<&[(String, String)]>,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Result<Response> {
    let settings = state.app.settings().await?;
    let values = settings_values(&settings);
    let item = |key: &str, value: &serde_json::Value| {
        let is_bool = value.is_boolean();
        let mut text = setting_text(value);
        if let Some(form) = submitted {
            text = match form.iter().find(|(k, _)| k == key) {
                Some((_, v)) => v.clone(),
                None if is_bool => "false".into(),
                None => text,
            };
        }
        Item {
            key: key.to_string(),
            label: translated(ctx, &format!("admin.set.{key}"), key),
            hint: translated(ctx, &format!("admin.set.{key}.hint"), ""),
            is_bool,
            on: text == "true",
            human: text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| !is_bool && *n >= 60)
                .map(|n| format!("= {}", human(n)))
                .unwrap_or_default(),
            value: text,
        }
    };
    let mut sections: Vec<Section> = SECTIONS
        .iter()
        .map(|(title, keys)| Section {
            title: ctx.t(title).to_string(),
            items: keys
                .iter()
                .filter_map(|k| values.iter().find(|(key, _)| key == k))
                .map(|(k, v)| item(k, v))
                .collect(),
        })
        .collect();
    let others: Vec<Item> = values
        .iter()
        .filter(|(k, _)| !SECTIONS.iter().any(|(_, keys)| keys.contains(&k.as_str())))
        .map(|(k, v)| item(k, v))
        .collect();
    if !others.is_empty() {
        sections.push(Section {
            title: ctx.t("admin.set.section.other").to_string(),
            items: others,
        });
    }
    let page = SettingsPage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "settings", "admin.nav.settings")
            .notice(ctx, notice)
            .failed(ctx, err),
        sections,
    };
    Ok(render(ctx, status_of(err), &page))
}

/// `/admin` and `/admin/settings`.
pub async fn settings_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    uri: Uri,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, uri.path()) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    show(&state, &ctx, &admin, None, q.notice.as_deref(), None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

/// The form as pairs: a checkbox left unticked is absent, so every boolean key
/// missing from the form is off.
pub async fn settings_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let admin = match admin_for_form(&ctx, "/admin/settings", csrf) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let result = async {
        let current = settings_values(&state.app.settings().await?);
        let values: Vec<(String, String)> = current
            .iter()
            .filter_map(|(key, value)| {
                let sent = form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                match (value.is_boolean(), sent) {
                    (true, Some(v)) => Some((key.clone(), v)),
                    (true, None) => Some((key.clone(), "false".into())),
                    (false, Some(v)) => Some((key.clone(), v)),
                    (false, None) => None,
                }
            })
            .collect();
        state
            .app
            .admin_save_settings(actor(&ctx, &admin), &values)
            .await
    }
    .await;
    match result {
        Ok(_) => redirect(&ctx, "/admin/settings?notice=settings_saved"),
        Err(e) if shown_on_page(&e) => show(&state, &ctx, &admin, Some(&form), None, Some(&e))
            .await
            .unwrap_or_else(|e| error_page(&ctx, &e)),
        Err(e) => error_page(&ctx, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_in_words() {
        assert_eq!(human(2_592_000), "30 d");
        assert_eq!(human(3600), "1 h");
        assert_eq!(human(600), "10 min");
        assert_eq!(human(45), "45 s");
    }
}
