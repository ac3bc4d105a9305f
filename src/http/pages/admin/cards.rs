//! `/admin/cards`: physical cards (seed 004) — bind a card number to a user, mark
//! it lost (its tokens then carry no scope) or found, unbind it.

use super::{
    Pager, Shell, actor, admin_for_form, admin_of, format_time, page_number, shown_on_page,
    status_of,
};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::i18n::Lang;
use crate::http::pages::{error_page, redirect, render};
use crate::store::User;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub struct CardView {
    pub card_no: String,
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub lost: bool,
    pub bound: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "admin_cards.html")]
pub struct CardsPage {
    pub lang: Lang,
    pub s: Shell,
    pub q: String,
    pub cards: Vec<CardView>,
    pub pager: Pager,
    pub card_no: String,
    pub user: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CardsQuery {
    q: String,
    page: Option<i64>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CardForm {
    csrf_token: String,
    /// `bind` (with `user`), `lost`, `found`, `unbind`.
    action: String,
    card_no: String,
    /// The user's e-mail (or username, or phone).
    user: String,
}

async fn show(
    state: &SharedState,
    ctx: &Ctx,
    admin: &User,
    q: &CardsQuery,
    form: Option<&CardForm>,
    err: Option<&Error>,
) -> Result<Response> {
    let page = page_number(q.page);
    let (limit, offset) = Pager::window(page);
    let mut rows = state.app.db.admin_cards(&q.q, limit, offset).await?;
    let pager = Pager::new("/admin/cards", &[("q", q.q.trim())], page, &mut rows);
    let cards = rows
        .into_iter()
        .map(|c| CardView {
            card_no: c.card_no,
            user_id: c.user_id,
            username: c.username,
            email: c.email.unwrap_or_default(),
            lost: c.lost,
            bound: format_time(c.created_at),
            updated: format_time(c.updated_at),
        })
        .collect();
    let bind_form = form.filter(|f| f.action == "bind");
    let page = CardsPage {
        lang: ctx.lang,
        s: Shell::new(ctx, admin, "cards", "admin.nav.cards")
            .notice(ctx, q.notice.as_deref())
            .failed(ctx, err),
        q: q.q.trim().to_string(),
        cards,
        pager,
        card_no: bind_form.map(|f| f.card_no.clone()).unwrap_or_default(),
        user: bind_form.map(|f| f.user.clone()).unwrap_or_default(),
    };
    Ok(render(ctx, status_of(err), &page))
}

pub async fn cards_page(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<CardsQuery>,
) -> Response {
    let admin = match admin_of(&ctx, "/admin/cards") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    show(&state, &ctx, &admin, &q, None, None)
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e))
}

pub async fn cards_submit(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(f): Form<CardForm>,
) -> Response {
    let admin = match admin_for_form(&ctx, "/admin/cards", &f.csrf_token) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let by = actor(&ctx, &admin);
    let app = &state.app;
    let card_no = f.card_no.trim();
    let result = match f.action.as_str() {
        "bind" => app.admin_bind_card(by, card_no, &f.user).await,
        "lost" => app.admin_set_card_lost(by, card_no, true).await,
        "found" => app.admin_set_card_lost(by, card_no, false).await,
        "unbind" => app.admin_unbind_card(by, card_no).await,
        _ => Err(Error::field("action", "is not known")),
    };
    match result {
        Ok(()) => redirect(&ctx, &format!("/admin/cards?notice=card_{}", f.action)),
        Err(e) if shown_on_page(&e) => show(
            &state,
            &ctx,
            &admin,
            &CardsQuery::default(),
            Some(&f),
            Some(&e),
        )
        .await
        .unwrap_or_else(|e| error_page(&ctx, &e)),
        Err(e) => error_page(&ctx, &e),
    }
}
