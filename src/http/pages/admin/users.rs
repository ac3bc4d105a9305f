//! `/admin/users`: search by username, e-mail or phone; one user's page to
//! disable or enable the account, grant or remove the admin role, set a new
//! password, and put the user in or take them out of groups.

use super::{
    Notice, Pager, Shell, actor, admin_for_form, admin_of, format_time, page_number, parse_id,
    shown_on_page, status_of,
};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::{Path, Query};
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::store::{Group, User};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created: String,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone().unwrap_or_default(),
            phone: u.phone.clone().unwrap_or_default(),
            is_admin: u.is_admin,
            disabled: u.disabled,
            created: format_time(u.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    pub lang: Lang,
    pub s: Shell,
    pub q: String,
    pub users: Vec<UserRow>,
    pub pager: Pager,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct UserPage {
    pub lang: Lang,
    pub s: Shell,
    pub u: UserRow,
    pub is_me: bool,
    pub sessions: usize,
    pub groups: Vec<Group>,
    /// Groups the user is not in, for the "add" list.
    pub other_groups: Vec<Group>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsersQuery {
    q: String,
    page: Option<i64>,
    notice: Option<String>,
}

pub async fn users_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<UsersQuery>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/users") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let result: Result<Response> = async {
        let page = page_number(q.page);
        let (limit, offset) = Pager::window(page);
        let mut users = state.app.db.admin_search_users(&q.q, limit, offset).await?;
        let pager = Pager::new("/admin/users", &[("q", q.q.trim())], page, &mut users);
        let page = UsersPage {
            lang: ctx.lang,
            s: Shell::new(&ctx, &admin, "users", "admin.nav.users")
                .notice(&ctx, q.notice.as_deref()),
            q: q.q.trim().to_string(),
            users: users.iter().map(UserRow::from).collect(),
            pager,
        };
        Ok(render(&ctx, status_of(None), &page))
    }
    .await;
    result.unwrap_or_else(|e| error_page(&ctx, &e))
}

async fn show_user(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    id: i64,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Result<Response> {
    let user = state.app.db.user_by_id(id).await?.ok_or(Error::NotFound)?;
    let groups = state.app.db.groups_of(user.id).await?;
    let other_groups = state
        .app
        .db
        .admin_groups()
        .await?
        .into_iter()
        .filter(|g| !groups.iter().any(|m| m.id == g.id))
        .map(|g| Group {
            id: g.id,
            name: g.name,
            description: g.description,
            created_at: g.created_at,
        })
        .collect();
    let sessions = state
        .app
        .db
        .sessions_of(user.id, crate::time::now())
        .await?
        .len();
    let mut s = Shell::new(ctx, admin, "users", "admin.nav.users")
        .notice(ctx, notice)
        .failed(ctx, err);
    s.title = user.username.clone();
    let page = UserPage {
        lang: ctx.lang,
        s,
        u: UserRow::from(&user),
        is_me: user.id == admin.id,
        sessions,
        groups,
        other_groups,
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn user_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/users") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match parse_id(&ctx, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    show_user(&state, &ctx, &admin, id, q.notice.as_deref(), None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    csrf_token: String,
    /// `disable`, `enable`, `make_admin`, `remove_admin`, `reset_password`,
    /// `add_group`, `remove_group`.
    action: String,
    password: String,
    group_id: Option<i64>,
}

pub async fn user_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<UserForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/users", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match parse_id(&ctx, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let by = actor(&ctx, &admin);
    let app = &state.app;
    let group = || {
        f.group_id
            .ok_or_else(|| Error::field("group", "is required"))
    };
    let result = match f.action.as_str() {
        "disable" => app.admin_set_user_disabled(by, id, true).await.map(|_| ()),
        "enable" => app.admin_set_user_disabled(by, id, false).await.map(|_| ()),
        "make_admin" => app.admin_set_user_admin(by, id, true).await.map(|_| ()),
        "remove_admin" => app.admin_set_user_admin(by, id, false).await.map(|_| ()),
        "reset_password" => {
            let keep = ctx.session.as_ref().map(|s| s.id_hash.as_str());
            app.admin_reset_password(by, id, &f.password, keep)
                .await
                .map(|_| ())
        }
        "add_group" => match (group(), app.db.user_by_id(id).await) {
            (Ok(g), Ok(Some(user))) => app.admin_add_to_group(by, g, &user).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
            (_, Ok(None)) => Err(Error::NotFound),
        },
        "remove_group" => match group() {
            Ok(g) => app.admin_remove_from_group(by, g, id).await,
            Err(e) => Err(e),
        },
        _ => Err(Error::field("action", "is not known")),
    };
    match result {
        // An admin who gave up their own role can no longer see this page.
        Ok(()) if f.action == "remove_admin" && id == admin.id => redirect(&ctx, "/account"),
        Ok(()) => redirect(&ctx, &format!("/admin/users/{id}?notice={}", f.action)),
        Err(e) if shown_on_page(&e) => show_user(&state, &ctx, &admin, id, None, Some(&e))
            .await
            .unwrap_or_else(|e| error_page(&ctx, &e)),
        Err(e) => error_page(&ctx, &e),
    }
}
