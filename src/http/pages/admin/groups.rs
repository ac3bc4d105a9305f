//! `/admin/groups`: groups with their member counts; create, delete, and the
//! members of one group.

use super::{
    Notice, Shell, actor, admin_for_form, admin_of, format_time, parse_id, shown_on_page, status_of,
};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::{Path, Query};
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::store::User;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub members: i64,
    pub created: String,
}

pub struct MemberRow {
    pub id: i64,
    pub username: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
pub struct GroupsPage {
    pub lang: Lang,
    pub s: Shell,
    pub groups: Vec<GroupRow>,
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "admin_group.html")]
pub struct GroupPage {
    pub lang: Lang,
    pub s: Shell,
    pub id: i64,
    pub name: String,
    pub description: String,
    pub members: Vec<MemberRow>,
    pub user: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GroupForm {
    csrf_token: String,
    /// On a group's page: `add_member`, `remove_member`, `delete`.
    action: String,
    name: String,
    description: String,
    /// A username, e-mail or phone (`add_member`).
    user: String,
    user_id: Option<i64>,
}

async fn show_list(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    form: Option<&GroupForm>,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Result<Response> {
    let groups = state
        .app
        .db
        .admin_groups()
        .await?
        .into_iter()
        .map(|g| GroupRow {
            id: g.id,
            name: g.name,
            description: g.description,
            members: g.members,
            created: format_time(g.created_at),
        })
        .collect();
    let page = GroupsPage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "groups", "admin.nav.groups")
            .notice(ctx, notice)
            .failed(ctx, err),
        groups,
        name: form.map(|f| f.name.clone()).unwrap_or_default(),
        description: form.map(|f| f.description.clone()).unwrap_or_default(),
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn groups_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/groups") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    show_list(&state, &ctx, &admin, None, q.notice.as_deref(), None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

/// Creates a group.
pub async fn groups_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<GroupForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/groups", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match state
        .app
        .admin_create_group(actor(&ctx, &admin), &f.name, &f.description)
        .await
    {
        Ok(()) => redirect(&ctx, "/admin/groups?notice=group_created"),
        Err(e) => show_list(&state, &ctx, &admin, Some(&f), None, Some(&e))
            .await
            .unwrap_or_else(|e| error_page(&ctx, &e)),
    }
}

async fn show_group(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    id: i64,
    user: &str,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Result<Response> {
    let group = state.app.db.group_by_id(id).await?.ok_or(Error::NotFound)?;
    let members = state
        .app
        .db
        .admin_group_members(group.id)
        .await?
        .into_iter()
        .map(|(id, username, email)| MemberRow {
            id,
            username,
            email: email.unwrap_or_default(),
        })
        .collect();
    let mut s = Shell::new(ctx, admin, "groups", "admin.nav.groups")
        .notice(ctx, notice)
        .failed(ctx, err);
    s.title = group.name.clone();
    let page = GroupPage {
        lang: ctx.lang,
        s,
        id: group.id,
        name: group.name,
        description: group.description,
        members,
        user: user.to_string(),
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn group_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/groups") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match parse_id(&ctx, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    show_group(&state, &ctx, &admin, id, "", q.notice.as_deref(), None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

pub async fn group_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<GroupForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/groups", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match parse_id(&ctx, &id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let by = actor(&ctx, &admin);
    let app = &state.app;
    let result = match f.action.as_str() {
        "add_member" => match app.admin_find_user(&f.user).await {
            Ok(user) => app.admin_add_to_group(by, id, &user).await,
            Err(e) => Err(e),
        },
        "remove_member" => match f.user_id {
            Some(uid) => app.admin_remove_from_group(by, id, uid).await,
            None => Err(Error::field("user", "is required")),
        },
        "delete" => app.admin_delete_group(by, id).await,
        _ => Err(Error::field("action", "is not known")),
    };
    match result {
        Ok(()) if f.action == "delete" => redirect(&ctx, "/admin/groups?notice=group_deleted"),
        Ok(()) => redirect(&ctx, &format!("/admin/groups/{id}?notice={}", f.action)),
        Err(e) if shown_on_page(&e) => {
            show_group(&state, &ctx, &admin, id, &f.user, None, Some(&e))
                .await
                .unwrap_or_else(|e| error_page(&ctx, &e))
        }
        Err(e) => error_page(&ctx, &e),
    }
}
