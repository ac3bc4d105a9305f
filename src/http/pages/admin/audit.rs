//! `/admin/audit`: the audit log, newest first, filtered by action and by actor.

use super::{Pager, Shell, admin_of, error_text, format_time, page_number, status_of};
use crate::error::Result;
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, render};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub struct EntryView {
    pub at: String,
    pub actor: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub lang: Lang,
    pub s: Shell,
    pub action: String,
    pub actor: String,
    pub actions: Vec<String>,
    pub entries: Vec<EntryView>,
    pub pager: Pager,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    action: String,
    /// A username (or e-mail, or phone).
    actor: String,
    page: Option<i64>,
}

pub async fn audit_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/audit") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let result: Result<Response> = async {
        let action = q.action.trim();
        let actor = q.actor.trim();
        let page = page_number(q.page);
        let (limit, offset) = Pager::window(page);
        let mut s = Shell::new(&ctx, &admin, "audit", "admin.nav.audit");
        let mut rows = if actor.is_empty() {
            state
                .app
                .db
                .admin_audit(action, None, limit, offset)
                .await?
        } else {
            match state.app.admin_find_user(actor).await {
                Ok(user) => {
                    state
                        .app
                        .db
                        .admin_audit(action, Some(user.id), limit, offset)
                        .await?
                }
                Err(e) => {
                    s.error = Some(error_text(&ctx, &e));
                    Vec::new()
                }
            }
        };
        let pager = Pager::new(
            "/admin/audit",
            &[("action", action), ("actor", actor)],
            page,
            &mut rows,
        );
        let entries = rows
            .into_iter()
            .map(|e| EntryView {
                at: format_time(e.at),
                actor: e.actor.unwrap_or_default(),
                actor_id: e.actor_user_id,
                action: e.action,
                target: e.target,
                ip: e.ip,
                detail: e.detail,
            })
            .collect();
        let page = AuditPage {
            lang: ctx.lang,
            s,
            action: action.to_string(),
            actor: actor.to_string(),
            actions: state.app.db.admin_audit_actions().await?,
            entries,
            pager,
        };
        Ok(render(&ctx, status_of(None), &page))
    }
    .await;
    result.unwrap_or_else(|e| error_page(&ctx, &e))
}
