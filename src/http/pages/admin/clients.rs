//! `/admin/clients`: every app with its owner, grants and scopes; approve or refuse
//! a request for `develop`/`root` (seed 001); disable or enable an app (its tokens
//! and secret stop working while it is disabled).

use super::{
    Pager, Shell, actor, admin_for_form, admin_of, checked, format_time, page_number, parse_id,
    shown_on_page, status_of,
};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::{Path, Query};
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::oauth::scope::PRIVILEGED;
use crate::service::admin::pending_scopes;
use crate::store::User;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub struct ClientRow {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub owner: String,
    pub owner_id: Option<i64>,
    pub is_public: bool,
    pub grants: Vec<String>,
    /// `(scope, approved privileged scope)`.
    pub scopes: Vec<(String, bool)>,
    pub pending: Vec<String>,
    /// Approved grants (`offline_cert`), which an admin may withdraw.
    pub approved_grants: Vec<String>,
    pub disabled: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin_clients.html")]
pub struct ClientsPage {
    pub lang: Lang,
    pub s: Shell,
    pub q: String,
    pub pending: bool,
    pub clients: Vec<ClientRow>,
    pub pager: Pager,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClientsQuery {
    q: String,
    pending: Option<String>,
    page: Option<i64>,
    notice: Option<String>,
}

async fn show(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    q: &ClientsQuery,
    err: Option<&Error>,
) -> Result<Response> {
    let page = page_number(q.page);
    let pending = checked(&q.pending);
    let (limit, offset) = Pager::window(page);
    let mut rows = state
        .app
        .db
        .admin_clients(&q.q, pending, limit, offset)
        .await?;
    let pager = Pager::new(
        "/admin/clients",
        &[
            ("q", q.q.trim()),
            ("pending", if pending { "1" } else { "" }),
        ],
        page,
        &mut rows,
    );
    let clients = rows
        .into_iter()
        .map(|row| {
            let c = row.client;
            ClientRow {
                pending: pending_scopes(&c),
                approved_grants: c
                    .approved_scopes
                    .iter()
                    .filter(|s| s.as_str() == crate::oauth::scope::APPROVED_GRANT)
                    .cloned()
                    .collect(),
                scopes: c
                    .scopes
                    .iter()
                    .map(|s| {
                        let approved =
                            PRIVILEGED.contains(&s.as_str()) && c.approved_scopes.contains(s);
                        (s.clone(), approved)
                    })
                    .collect(),
                id: c.id,
                client_id: c.client_id,
                name: c.name,
                owner: row.owner.unwrap_or_default(),
                owner_id: c.owner_id,
                is_public: c.is_public,
                grants: c.grant_types,
                disabled: c.disabled,
                created: format_time(c.created_at),
            }
        })
        .collect();
    let page = ClientsPage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "clients", "admin.nav.clients")
            .notice(ctx, q.notice.as_deref())
            .failed(ctx, err),
        q: q.q.trim().to_string(),
        pending,
        clients,
        pager,
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn clients_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<ClientsQuery>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/clients") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    show(&state, &ctx, &admin, &q, None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClientForm {
    csrf_token: String,
    /// `approve`, `refuse` (with `scope`), `disable`, `enable`.
    action: String,
    scope: String,
}

pub async fn client_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ClientForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/clients", &f.csrf_token) {
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
        "approve" => app.admin_approve_client_scope(by, id, &f.scope).await,
        "refuse" => app.admin_refuse_client_scope(by, id, &f.scope).await,
        "disable" => app.admin_set_client_disabled(by, id, true).await,
        "enable" => app.admin_set_client_disabled(by, id, false).await,
        _ => Err(Error::field("action", "is not known")),
    };
    match result {
        Ok(_) => redirect(&ctx, &format!("/admin/clients?notice=client_{}", f.action)),
        Err(e) if shown_on_page(&e) => {
            show(&state, &ctx, &admin, &ClientsQuery::default(), Some(&e))
                .await
                .unwrap_or_else(|e| error_page(&ctx, &e))
        }
        Err(e) => error_page(&ctx, &e),
    }
}
