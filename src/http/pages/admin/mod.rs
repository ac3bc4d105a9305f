//! `/admin`: the admin console (SPEC §3, issue 5) — settings, scopes, users, groups,
//! clients, cards and the audit log. Admins only: an anonymous person is sent to
//! the login page, anyone else gets 403. Every form carries the session's CSRF
//! token, and every change is written to the audit log by `service::admin`.

pub mod audit;
pub mod cards;
pub mod clients;
pub mod groups;
pub mod scopes;
pub mod settings;
pub mod users;

use super::{MessagePage, error_page, redirect, render};
use crate::error::Error;
use crate::http::ctx::Ctx;
use crate::service::admin::Actor;
use crate::store::User;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Rows on one page of a listing.
pub const PER_PAGE: i64 = 50;

/// What every admin page shows around its own content.
pub struct Shell {
    pub title: String,
    pub csrf: String,
    pub me: String,
    /// `(href, label, current)` of the navigation bar.
    pub nav: Vec<(&'static str, String, bool)>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

const SECTIONS: [(&str, &str, &str); 7] = [
    ("settings", "/admin/settings", "admin.nav.settings"),
    ("scopes", "/admin/scopes", "admin.nav.scopes"),
    ("users", "/admin/users", "admin.nav.users"),
    ("groups", "/admin/groups", "admin.nav.groups"),
    ("clients", "/admin/clients", "admin.nav.clients"),
    ("cards", "/admin/cards", "admin.nav.cards"),
    ("audit", "/admin/audit", "admin.nav.audit"),
];

impl Shell {
    /// The frame of section `section`, titled by the i18n key `title`.
    pub fn new(ctx: &Ctx, admin: &User, section: &str, title: &str) -> Self {
        Self {
            title: ctx.t(title).to_string(),
            csrf: ctx.csrf.clone(),
            me: admin.username.clone(),
            nav: SECTIONS
                .iter()
                .map(|(name, href, key)| (*href, ctx.t(key).to_string(), *name == section))
                .collect(),
            notice: None,
            error: None,
        }
    }

    /// Shows the notice named by `?notice=` when it is one of ours (never the raw
    /// parameter, which anyone can put in a link).
    pub fn notice(mut self, ctx: &Ctx, name: Option<&str>) -> Self {
        if let Some(name) = name {
            let key = format!("admin.done.{name}");
            let text = ctx.t(&key);
            if text != key {
                self.notice = Some(text.to_string());
            }
        }
        self
    }

    /// Shows why a change failed.
    pub fn failed(mut self, ctx: &Ctx, err: Option<&Error>) -> Self {
        self.error = err.map(|e| error_text(ctx, e));
        self
    }
}

/// The status of a page that shows `err`: the error's own (400, 409), else 200.
pub fn status_of(err: Option<&Error>) -> StatusCode {
    err.map_or(StatusCode::OK, |e| e.parts().0)
}

/// Whether a failed change is shown on its page (not for 404: there is no page).
pub fn shown_on_page(err: &Error) -> bool {
    !matches!(err, Error::NotFound)
}

/// `?notice=` after a change, `?page=` of a listing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Notice {
    pub notice: Option<String>,
}

/// The signed-in admin, or the answer for everyone else: the login page for an
/// anonymous person (then back to `back`), 403 for a user who is not an admin.
/// (The answer is boxed: a `Response` is large next to a `User`.)
pub fn admin_of(ctx: &Ctx, back: &str) -> Result<User, Box<Response>> {
    match &ctx.user {
        Some(user) if user.is_admin => Ok(user.clone()),
        Some(_) => {
            let page = MessagePage {
                lang: ctx.lang,
                title: ctx.t("admin.forbidden.title").into(),
                message: ctx.t("admin.forbidden.text").into(),
                link: Some(("/account".into(), ctx.t("account").into())),
            };
            Err(Box::new(render(ctx, StatusCode::FORBIDDEN, &page)))
        }
        None => {
            let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Err(Box::new(redirect(ctx, &format!("/login?return_to={back}"))))
        }
    }
}

/// For a form: the admin, and the form's CSRF token checked.
pub fn admin_for_form(ctx: &Ctx, back: &str, csrf: &str) -> Result<User, Box<Response>> {
    let admin = admin_of(ctx, back)?;
    ctx.check_csrf(csrf)
        .map_err(|e| Box::new(error_page(ctx, &e)))?;
    Ok(admin)
}

pub fn actor<'a>(ctx: &'a Ctx, admin: &'a User) -> Actor<'a> {
    Actor {
        admin,
        who: &ctx.who,
    }
}

/// An error as the page shows it, in the page's language where we have the words.
pub fn error_text(ctx: &Ctx, err: &Error) -> String {
    match err {
        Error::Validation { fields, .. } => fields
            .iter()
            .map(|(k, v)| format!("{}: {}", field_label(ctx, k), ctx.message(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => {
            let key = format!("admin.err.{}", other.parts().1);
            let text = ctx.t(&key);
            if text == key {
                ctx.message(&other.description())
            } else {
                text.to_string()
            }
        }
    }
}

fn field_label(ctx: &Ctx, field: &str) -> String {
    for key in [format!("admin.f.{field}"), format!("admin.set.{field}")] {
        let text = ctx.t(&key);
        if text != key {
            return text.to_string();
        }
    }
    ctx.t(field).to_string()
}

/// A path id, or 404.
pub fn parse_id(ctx: &Ctx, id: &str) -> Result<i64, Box<Response>> {
    id.parse::<i64>()
        .map_err(|_| Box::new(error_page(ctx, &Error::NotFound)))
}

/// Unix seconds as `YYYY-MM-DD HH:MM` UTC.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Links to the previous and next page of a listing, keeping its filters.
pub struct Pager {
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `rows` holds up to `PER_PAGE + 1` rows: one more than shown tells that a next
    /// page exists; it is removed here.
    pub fn new<T>(path: &str, filters: &[(&str, &str)], page: i64, rows: &mut Vec<T>) -> Self {
        let more = rows.len() as i64 > PER_PAGE;
        rows.truncate(PER_PAGE as usize);
        let link = |p: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in filters.iter().filter(|(_, v)| !v.is_empty()) {
                q.append_pair(k, v);
            }
            if p > 1 {
                q.append_pair("page", &p.to_string());
            }
            let q = q.finish();
            if q.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{q}")
            }
        };
        Self {
            page,
            prev: (page > 1).then(|| link(page - 1)),
            next: more.then(|| link(page + 1)),
        }
    }

    /// `LIMIT` and `OFFSET` of page `page` (from 1), one row more than shown.
    pub fn window(page: i64) -> (i64, i64) {
        (PER_PAGE + 1, (page.max(1) - 1).saturating_mul(PER_PAGE))
    }
}

/// A page number from the query: 1 and up.
pub fn page_number(page: Option<i64>) -> i64 {
    page.unwrap_or(1).clamp(1, 1_000_000)
}

/// A checkbox: present means on.
pub fn checked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_pages() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_795_317_506), "2026-11-22 03:18");
        let mut rows: Vec<i64> = (0..=PER_PAGE).collect();
        let p = Pager::new("/admin/users", &[("q", "li lei"), ("x", "")], 2, &mut rows);
        assert_eq!(rows.len() as i64, PER_PAGE);
        assert_eq!(p.prev.as_deref(), Some("/admin/users?q=li+lei"));
        assert_eq!(p.next.as_deref(), Some("/admin/users?q=li+lei&page=3"));
        let mut few = vec![1, 2];
        let p = Pager::new("/admin/audit", &[], 1, &mut few);
        assert!(p.prev.is_none() && p.next.is_none());
        assert_eq!(Pager::window(3), (PER_PAGE + 1, 2 * PER_PAGE));
    }
}
