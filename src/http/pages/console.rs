//! `/account/apps` (the developer console) and `/account/authorizations` (the apps I
//! authorized), the pages over [`crate::service::console`].

use super::account::format_time;
use super::{error_page, login_first, redirect, render};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::extract::Form;
use crate::http::extract::{Path, Query};
use crate::http::i18n::Lang;
use crate::oauth::GrantType;
use crate::service::CreateClient;
use crate::store::{Client, User};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The app form's values.
pub struct AppForm {
    pub action: String,
    pub creating: bool,
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub icon: String,
    pub redirect_uris: String,
    pub scopes: Vec<(String, bool)>,
    pub grants: Vec<(String, bool)>,
    /// `(value, selected)`.
    pub formats: Vec<(&'static str, bool)>,
    pub policies: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub lang: Lang,
    pub csrf: String,
    pub is_admin: bool,
    pub apps: Vec<Client>,
    pub form: AppForm,
    pub shown_secret: Option<(String, String)>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "app_edit.html")]
pub struct AppEditPage {
    pub lang: Lang,
    pub csrf: String,
    pub is_admin: bool,
    pub id: i64,
    pub name: String,
    pub client_id: String,
    pub public: bool,
    pub form: AppForm,
    pub shown_secret: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// The fields of a submitted app form; checkboxes repeat their name.
#[derive(Debug, Default)]
pub struct Submitted {
    csrf_token: String,
    input: CreateClient,
    token_format: String,
    token_policy: String,
}

fn parse(pairs: Vec<(String, String)>, owner: i64) -> Submitted {
    let mut s = Submitted {
        input: CreateClient {
            owner_id: Some(owner),
            ..Default::default()
        },
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "csrf_token" => s.csrf_token = v,
            "name" => s.input.name = v,
            "description" => s.input.description = v,
            "homepage" => s.input.homepage = v,
            "icon" => s.input.icon = v,
            "redirect_uris" => {
                s.input.redirect_uris = v.split_whitespace().map(str::to_string).collect()
            }
            "scopes" => s.input.scopes.push(v),
            "grant_types" => s.input.grant_types.push(v),
            "token_format" => s.token_format = v,
            "token_policy" => s.token_policy = v,
            "public" => s.input.is_public = true,
            _ => {}
        }
    }
    s.input.token_format = Some(s.token_format.clone()).filter(|f| !f.is_empty());
    s.input.token_policy = Some(s.token_policy.clone()).filter(|f| !f.is_empty());
    s
}

async fn form_for(
    state: &SharedState,
    action: String,
    creating: bool,
    input: &CreateClient,
    format: &str,
    policy: &str,
) -> Result<AppForm> {
    let defined = state.app.db.scope_names().await?;
    let default_scopes = ["openid", "profile", "email", "basic"];
    let scopes = defined
        .into_iter()
        .map(|s| {
            let on = if input.scopes.is_empty() && creating {
                default_scopes.contains(&s.as_str())
            } else {
                input.scopes.contains(&s)
            };
            (s, on)
        })
        .collect();
    let grants = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::Implicit,
        GrantType::Password,
    ]
    .into_iter()
    .map(|g| {
        let name = g.as_str().to_string();
        let on = if input.grant_types.is_empty() && creating {
            GrantType::DEFAULT.contains(&g)
        } else {
            input.grant_types.contains(&name)
        };
        (name, on)
    })
    .collect();
    Ok(AppForm {
        action,
        creating,
        name: input.name.clone(),
        description: input.description.clone(),
        homepage: input.homepage.clone(),
        icon: input.icon.clone(),
        redirect_uris: input.redirect_uris.join(" "),
        scopes,
        grants,
        formats: ["opaque", "jwt"]
            .map(|f| (f, f == format || (format.is_empty() && f == "opaque")))
            .to_vec(),
        policies: ["independent", "reuse", "replace"]
            .map(|p| (p, p == policy || (policy.is_empty() && p == "independent")))
            .to_vec(),
    })
}

fn message(ctx: &Ctx, e: &Error) -> String {
    match e {
        // Each field under the label the form shows it with.
        Error::Validation { fields, .. } => fields
            .iter()
            .map(|(k, v)| {
                let label = match k.as_str() {
                    "name" => "app_name",
                    "redirect_uris" => "app_redirects",
                    "grant_types" => "app_grants",
                    "scopes" | "scope" => "app_scopes",
                    other => other,
                };
                format!("{}: {}", ctx.t(label), ctx.message(v))
            })
            .collect::<Vec<_>>()
            .join(" "),
        Error::Forbidden("csrf_failed", _) => ctx.t("csrf_failed").into(),
        other => ctx.message(&other.description()),
    }
}

#[allow(clippy::too_many_arguments)] // the page's parts, each optional
async fn apps_page(
    state: &SharedState,
    ctx: &Ctx,
    user: &User,
    input: &CreateClient,
    fmt: &str,
    policy: &str,
    secret: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let result = async {
        let apps = state.app.db.clients_owned_by(user.id).await?;
        let form = form_for(state, "/account/apps".into(), true, input, fmt, policy).await?;
        Ok::<_, Error>((apps, form))
    }
    .await;
    match result {
        Ok((apps, form)) => {
            let status = if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let page = AppsPage {
                lang: ctx.lang,
                csrf: ctx.csrf.clone(),
                is_admin: user.is_admin,
                apps,
                form,
                shown_secret: secret,
                error,
            };
            render(ctx, status, &page)
        }
        Err(e) => error_page(ctx, &e),
    }
}

pub async fn apps(State(state): State<SharedState>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/apps");
    };
    apps_page(
        &state,
        &ctx,
        &user,
        &CreateClient::default(),
        "",
        "",
        None,
        None,
    )
    .await
}

pub async fn create_app(
    State(state): State<SharedState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/apps");
    };
    let sub = parse(pairs, user.id);
    if let Err(e) = ctx.check_csrf(&sub.csrf_token) {
        return error_page(&ctx, &e);
    }
    match state.app.create_client(sub.input.clone()).await {
        Ok(created) => {
            let _ = state
                .app
                .db
                .audit(
                    Some(user.id),
                    "app_created",
                    &created.client.client_id,
                    &ctx.who.ip,
                    "",
                    crate::time::now(),
                )
                .await;
            let shown = created
                .client_secret
                .map(|s| (created.client.client_id.clone(), s))
                .or_else(|| Some((created.client.client_id.clone(), "—".into())));
            apps_page(
                &state,
                &ctx,
                &user,
                &CreateClient::default(),
                "",
                "",
                shown,
                None,
            )
            .await
        }
        Err(e) => {
            let m = message(&ctx, &e);
            apps_page(
                &state,
                &ctx,
                &user,
                &sub.input,
                &sub.token_format,
                &sub.token_policy,
                None,
                Some(m),
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)] // the page's parts, each optional
async fn edit_page(
    state: &SharedState,
    ctx: &Ctx,
    user: &User,
    app: &Client,
    input: Option<(&CreateClient, &str, &str)>,
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let from_app = CreateClient {
        name: app.name.clone(),
        description: app.description.clone(),
        homepage: app.homepage.clone(),
        icon: app.icon.clone(),
        redirect_uris: app.redirect_uris.clone(),
        grant_types: app.grant_types.clone(),
        scopes: app.scopes.clone(),
        ..Default::default()
    };
    let (input, fmt, policy) = input.unwrap_or((&from_app, &app.token_format, &app.token_policy));
    let form = match form_for(
        state,
        format!("/account/apps/{}", app.id),
        false,
        input,
        fmt,
        policy,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => return error_page(ctx, &e),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AppEditPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        is_admin: user.is_admin,
        id: app.id,
        name: app.name.clone(),
        client_id: app.client_id.clone(),
        public: app.is_public,
        form,
        shown_secret: secret,
        notice,
        error,
    };
    render(ctx, status, &page)
}

pub async fn app(State(state): State<SharedState>, ctx: Ctx, Path(pk): Path<i64>) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, &format!("/account/apps/{pk}"));
    };
    match state.app.my_app(&user, pk).await {
        Ok(app) => edit_page(&state, &ctx, &user, &app, None, None, None, None).await,
        Err(e) => error_page(&ctx, &e),
    }
}

pub async fn update_app(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(pk): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, &format!("/account/apps/{pk}"));
    };
    let sub = parse(pairs, user.id);
    if let Err(e) = ctx.check_csrf(&sub.csrf_token) {
        return error_page(&ctx, &e);
    }
    let current = match state.app.my_app(&user, pk).await {
        Ok(a) => a,
        Err(e) => return error_page(&ctx, &e),
    };
    match state.app.update_app(&user, pk, sub.input.clone()).await {
        Ok(app) => {
            edit_page(
                &state,
                &ctx,
                &user,
                &app,
                None,
                None,
                Some(ctx.t("app_saved").into()),
                None,
            )
            .await
        }
        Err(e) => {
            let m = message(&ctx, &e);
            edit_page(
                &state,
                &ctx,
                &user,
                &current,
                Some((&sub.input, &sub.token_format, &sub.token_policy)),
                None,
                None,
                Some(m),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    csrf_token: String,
}

pub async fn reset_secret(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(pk): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, &format!("/account/apps/{pk}"));
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    let result = async {
        let secret = state.app.reset_my_app_secret(&user, pk).await?;
        let app = state.app.my_app(&user, pk).await?;
        Ok::<_, Error>((secret, app))
    }
    .await;
    match result {
        Ok((secret, app)) => {
            edit_page(&state, &ctx, &user, &app, None, Some(secret), None, None).await
        }
        Err(e) => error_page(&ctx, &e),
    }
}

pub async fn delete_app(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(pk): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/apps");
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    match state.app.delete_app(&user, pk).await {
        Ok(()) => redirect(&ctx, "/account/apps"),
        Err(e) => error_page(&ctx, &e),
    }
}

pub struct TokenRow {
    /// Its row id, within its kind (what the page shows).
    pub id: i64,
    /// The id it is deleted by ([`crate::store::HeldToken::listed_id`]).
    pub listed_id: i64,
    /// `access_token` or `refresh_token`.
    pub kind: &'static str,
    pub scope: String,
    pub created: String,
    pub expires: String,
}

pub struct AuthorizationRow {
    pub id: i64,
    pub name: String,
    pub homepage: String,
    pub scopes: Vec<String>,
    pub tokens: Vec<TokenRow>,
}

#[derive(Template)]
#[template(path = "authorizations.html")]
pub struct AuthorizationsPage {
    pub lang: Lang,
    pub csrf: String,
    pub is_admin: bool,
    pub items: Vec<AuthorizationRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn authorizations(
    State(state): State<SharedState>,
    ctx: Ctx,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/authorizations");
    };
    let list = match state.app.my_authorizations(&user).await {
        Ok(l) => l,
        Err(e) => return error_page(&ctx, &e),
    };
    let items = list
        .into_iter()
        .map(|a| AuthorizationRow {
            id: a.client.id,
            name: a.client.name,
            homepage: a.client.homepage,
            scopes: crate::oauth::scope::parse(&a.consent.scope),
            tokens: a
                .tokens
                .iter()
                .map(|t| TokenRow {
                    id: t.id,
                    listed_id: t.listed_id(),
                    kind: t.kind.as_str(),
                    scope: t.scope.clone(),
                    created: format_time(t.created_at),
                    expires: format_time(t.expires_at),
                })
                .collect(),
        })
        .collect();
    let notice = q
        .notice
        .as_deref()
        .filter(|n| {
            matches!(
                *n,
                "authorization_changed" | "authorization_revoked" | "token_deleted"
            )
        })
        .map(|n| ctx.t(n).to_string());
    let page = AuthorizationsPage {
        lang: ctx.lang,
        csrf: ctx.csrf.clone(),
        is_admin: user.is_admin,
        items,
        notice,
        error: None,
    };
    render(&ctx, StatusCode::OK, &page)
}

pub async fn change_scope(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(pk): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/authorizations");
    };
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if let Err(e) = ctx.check_csrf(&csrf) {
        return error_page(&ctx, &e);
    }
    let scope: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v)
        .collect();
    let result = if scope.is_empty() {
        state
            .app
            .revoke_authorization(&user, pk)
            .await
            .map(|_| "authorization_revoked")
    } else {
        state
            .app
            .change_authorization(&user, pk, &scope.join(" "))
            .await
            .map(|_| "authorization_changed")
    };
    match result {
        Ok(notice) => redirect(&ctx, &format!("/account/authorizations?notice={notice}")),
        Err(e) => error_page(&ctx, &e),
    }
}

pub async fn revoke(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path(pk): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/authorizations");
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    match state.app.revoke_authorization(&user, pk).await {
        Ok(()) => redirect(&ctx, "/account/authorizations?notice=authorization_revoked"),
        Err(e) => error_page(&ctx, &e),
    }
}

pub async fn delete_token(
    State(state): State<SharedState>,
    ctx: Ctx,
    Path((pk, id)): Path<(i64, i64)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let Some(user) = ctx.user.clone() else {
        return login_first(&ctx, "/account/authorizations");
    };
    if let Err(e) = ctx.check_csrf(&f.csrf_token) {
        return error_page(&ctx, &e);
    }
    match state.app.delete_my_token(&user, pk, id).await {
        Ok(()) => redirect(&ctx, "/account/authorizations?notice=token_deleted"),
        Err(e) => error_page(&ctx, &e),
    }
}
