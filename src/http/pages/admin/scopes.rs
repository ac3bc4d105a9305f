//! `/admin/scopes`: scopes as data (seed 002) — identifier, the resource path and
//! method a scope guards, the "default" flag, display name, description with
//! `{user}` and `{client_name}`, icon. Built-in scopes are shown, never changed.

use super::{Notice, Shell, actor, admin_for_form, admin_of, checked, shown_on_page, status_of};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::{Path, Query};
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::store::{Scope, User};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "*"];

#[derive(Template)]
#[template(path = "admin_scopes.html")]
pub struct ScopesPage {
    pub lang: Lang,
    pub s: Shell,
    pub scopes: Vec<Scope>,
    pub form: Scope,
    pub methods: [&'static str; 6],
}

#[derive(Template)]
#[template(path = "admin_scope.html")]
pub struct ScopePage {
    pub lang: Lang,
    pub s: Shell,
    pub form: Scope,
    pub methods: [&'static str; 6],
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScopeForm {
    csrf_token: String,
    action: String,
    name: String,
    path: String,
    method: String,
    is_default: Option<String>,
    display_name: String,
    description: String,
    icon: String,
}

impl ScopeForm {
    fn scope(&self, name: &str) -> Scope {
        Scope {
            name: name.trim().to_string(),
            path: self.path.clone(),
            method: if self.method.is_empty() {
                "GET".into()
            } else {
                self.method.clone()
            },
            is_default: checked(&self.is_default),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            icon: self.icon.clone(),
            builtin: false,
        }
    }
}

fn blank() -> Scope {
    Scope {
        name: String::new(),
        path: String::new(),
        method: "GET".into(),
        is_default: false,
        display_name: String::new(),
        description: String::new(),
        icon: String::new(),
        builtin: false,
    }
}

async fn show_list(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    form: Option<Scope>,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Result<Response> {
    let page = ScopesPage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "scopes", "admin.nav.scopes")
            .notice(ctx, notice)
            .failed(ctx, err),
        scopes: state.app.db.scopes().await?,
        form: form.unwrap_or_else(blank),
        methods: METHODS,
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn scopes_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/scopes") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    show_list(&state, &ctx, &admin, None, q.notice.as_deref(), None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

/// Creates a scope.
pub async fn scopes_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<ScopeForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/scopes", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let scope = f.scope(&f.name);
    match state
        .app
        .admin_create_scope(actor(&ctx, &admin), scope.clone())
        .await
    {
        Ok(_) => redirect(&ctx, "/admin/scopes?notice=scope_created"),
        Err(e) => show_list(&state, &ctx, &admin, Some(scope), None, Some(&e))
            .await
            .unwrap_or_else(|e| error_page(&ctx, &e)),
    }
}

async fn show_one(
    ctx: &Ctx,
    admin: &User,
    form: Scope,
    notice: Option<&str>,
    err: Option<&Error>,
) -> Response {
    let page = ScopePage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "scopes", "admin.scope.edit")
            .notice(ctx, notice)
            .failed(ctx, err),
        form,
        methods: METHODS,
    };
    render(ctx, status_of(err), &page)
}

pub async fn scope_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/scopes") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match state.app.db.admin_scope(&name).await {
        Ok(Some(scope)) => show_one(&ctx, &admin, scope, q.notice.as_deref(), None).await,
        Ok(None) => error_page(&ctx, &Error::NotFound),
        Err(e) => error_page(&ctx, &e),
    }
}

/// Saves (`action=save`) or deletes (`action=delete`) a scope that is not built in.
pub async fn scope_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Form(f): Form<ScopeForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/scopes", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let by = actor(&ctx, &admin);
    let (result, done) = if f.action == "delete" {
        (
            state.app.admin_delete_scope(by, &name).await,
            "/admin/scopes?notice=scope_deleted".to_string(),
        )
    } else {
        (
            state.app.admin_update_scope(by, f.scope(&name)).await,
            format!(
                "/admin/scopes/{}?notice=scope_saved",
                url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
            ),
        )
    };
    match result {
        Ok(()) => redirect(&ctx, &done),
        Err(e) if shown_on_page(&e) => {
            let mut form = f.scope(&name);
            if let Ok(Some(stored)) = state.app.db.admin_scope(&name).await {
                form.builtin = stored.builtin;
            }
            show_one(&ctx, &admin, form, None, Some(&e)).await
        }
        Err(e) => error_page(&ctx, &e),
    }
}
