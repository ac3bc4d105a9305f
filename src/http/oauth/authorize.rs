//! `GET/POST /oauth/authorize`: sign in, consent, then the redirect with a code or
//! tokens (RFC 6749 §4.1/§4.2, OpenID Connect Core §3).

use super::{form_pairs, require_form, single_valued};
use crate::crypto::constant_time_eq;
use crate::error::Error;
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::i18n::Lang;
use crate::http::pages::auth::show_login;
use crate::http::pages::{MessagePage, render};
use crate::oauth::scope;
use crate::service::oauth::authorize::{AuthorizeRequest, Refusal};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One scope line of the consent page.
pub struct ScopeLine {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Default scopes are always granted, so they cannot be unticked.
    pub fixed: bool,
    /// An image URL, or a glyph standing for a Font Awesome name (seed 002's icons;
    /// no icon font is fetched from elsewhere).
    pub icon_url: String,
    pub glyph: &'static str,
}

/// A glyph for the Font Awesome names seed 002 uses; a neutral dot otherwise.
fn glyph(icon: &str) -> &'static str {
    match icon
        .trim_start_matches("fa ")
        .trim_start_matches("fas ")
        .trim()
    {
        "fa-id-badge" | "fa-id-card" => "\u{25c9}",
        "fa-user" | "fa-user-circle" => "\u{263a}",
        "fa-envelope" => "\u{2709}",
        "fa-phone" | "fa-mobile" => "\u{260e}",
        "fa-check" => "\u{2714}",
        "fa-code" => "\u{2318}",
        "fa-crown" => "\u{265b}",
        "fa-users" | "fa-group" => "\u{2637}",
        "fa-lock" | "fa-key" => "\u{26bf}",
        _ => "•",
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub lang: Lang,
    pub action: &'static str,
    pub client_name: String,
    pub initial: String,
    pub icon: String,
    pub homepage: String,
    pub username: String,
    pub redirect_host: String,
    pub hidden: Vec<(String, String)>,
    pub csrf: String,
    pub scopes: Vec<ScopeLine>,
}

pub async fn get(
    State(state): State<SharedState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    handle(state, ctx, pairs).await
}

pub async fn post(
    State(state): State<SharedState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = require_form(&headers) {
        return error_page(&ctx, &e);
    }
    handle(state, ctx, form_pairs(&body)).await
}

fn error_page(ctx: &Ctx, e: &Error) -> Response {
    let page = MessagePage {
        lang: ctx.lang,
        title: ctx.t("authorize_error").to_string(),
        message: ctx.message(&e.description()),
        link: None,
    };
    render(ctx, e.parts().0, &page)
}

/// A redirect to the client: no caching, no referrer (it carries a code or token).
fn send_back(ctx: &Ctx, to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    ctx.finish(r)
}

async fn handle(state: SharedState, ctx: Ctx, pairs: Vec<(String, String)>) -> Response {
    // The consent form's own fields; the rest are the authorization request. The page
    // carries the request's scope as `requested_scope` and posts the ticked scopes as
    // `scope`, which narrow it. A post without `requested_scope` (a client that posts
    // the request's own parameters back) asks for the scopes it posts.
    let mut decision = None;
    let mut csrf = String::new();
    let mut scopes_ticked: Option<Vec<String>> = None;
    let mut requested_scope = None;
    let mut request_pairs = Vec::new();
    let is_decision = pairs.iter().any(|(k, _)| k == "decision");
    for (k, v) in pairs {
        match k.as_str() {
            "decision" => decision = Some(v),
            "csrf_token" => csrf = v,
            "scope" if is_decision => scopes_ticked
                .get_or_insert_with(Vec::new)
                .extend(scope::parse(&v)),
            "requested_scope" if is_decision => requested_scope = Some(v),
            _ => request_pairs.push((k, v)),
        }
    }
    let narrowing = match requested_scope {
        Some(requested) => {
            request_pairs.push(("scope".into(), requested));
            scopes_ticked
        }
        None => {
            if let Some(ticked) = &scopes_ticked {
                request_pairs.push(("scope".into(), ticked.join(" ")));
            }
            None
        }
    };
    let params = match single_valued(request_pairs) {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &e),
    };
    let settings = match state.app.settings().await {
        Ok(s) => s,
        Err(e) => return error_page(&ctx, &e),
    };
    let mut req = match state.app.check_authorize(&params, &settings).await {
        Ok(r) => r,
        Err(Refusal::Page(e)) => return error_page(&ctx, &e),
        Err(Refusal::Redirect { to }) => return send_back(&ctx, &to),
    };
    let iss = state.app.issuer();
    let now = crate::time::now();

    // Sign in first: no session, prompt=login, prompt=select_account (the login page
    // is where another account is chosen), or a session older than max_age.
    let too_old = match (&ctx.session, req.max_age) {
        (Some(s), Some(max)) => now - s.auth_time > max,
        _ => false,
    };
    let (Some(user), Some(session)) = (ctx.user.clone(), ctx.session.clone()) else {
        return login(&state, &ctx, &req, &params).await;
    };
    // A decision comes from the page this check let through, so it is not asked
    // again: a person slower than max_age on the consent page is not sent round.
    let again = req.prompts("login") || req.prompts("select_account") || too_old;
    if again && decision.is_none() {
        return login(&state, &ctx, &req, &params).await;
    }

    if let Some(decision) = decision {
        let expected = state.app.consent_token(&session.csrf_token, &req);
        if !constant_time_eq(expected.as_bytes(), csrf.as_bytes()) {
            return error_page(
                &ctx,
                &Error::Forbidden("csrf_failed", ctx.t("csrf_failed").into()),
            );
        }
        if decision != "approve" {
            return send_back(
                &ctx,
                &redirect_of(req.error(&iss, "access_denied", "the person denied the request")),
            );
        }
        // Unticked scopes are left out; `openid` and the default scopes cannot be, and
        // a scope the request did not ask for is not added.
        if let Some(ticked) = narrowing {
            let defined = match state.app.scopes().await {
                Ok(s) => s,
                Err(e) => return error_page(&ctx, &e),
            };
            req.scope
                .retain(|s| ticked.contains(s) || is_fixed(s, &defined));
        }
        // Remember what was granted, so that the next request within it skips the page.
        if let Err(e) = state
            .app
            .db
            .add_to_consent(user.id, req.client.id, &req.scope, now)
            .await
        {
            return error_page(&ctx, &e);
        }
        let _ = state
            .app
            .db
            .audit(
                Some(user.id),
                "consent_granted",
                &req.client.client_id,
                &ctx.who.ip,
                &req.scope.join(" "),
                now,
            )
            .await;
        return respond(&state, &ctx, &req, &user, session.auth_time, &settings).await;
    }

    let consented = match state.app.db.consent(user.id, req.client.id).await {
        Ok(c) => c
            .map(|c| scope::covers(&scope::parse(&c), &req.scope))
            .unwrap_or(false),
        Err(e) => return error_page(&ctx, &e),
    };
    if consented && !req.prompts("consent") {
        return respond(&state, &ctx, &req, &user, session.auth_time, &settings).await;
    }
    if req.prompts("none") {
        return send_back(
            &ctx,
            &redirect_of(req.error(
                &iss,
                "consent_required",
                "the person has not consented to this request",
            )),
        );
    }
    consent_page(
        &state,
        &ctx,
        &req,
        &params,
        &user.username,
        &session.csrf_token,
    )
    .await
}

fn redirect_of(r: Refusal) -> String {
    match r {
        Refusal::Redirect { to } => to,
        Refusal::Page(_) => "/".into(),
    }
}

async fn respond(
    state: &SharedState,
    ctx: &Ctx,
    req: &AuthorizeRequest,
    user: &crate::store::User,
    auth_time: i64,
    settings: &crate::service::Settings,
) -> Response {
    match state
        .app
        .authorize_response(req, user, auth_time, settings)
        .await
    {
        Ok(to) => send_back(ctx, &to),
        Err(e) => {
            let error = match e {
                Error::AccessDenied(_) => "access_denied",
                _ => "server_error",
            };
            send_back(
                ctx,
                &redirect_of(req.error(&state.app.issuer(), error, &e.description())),
            )
        }
    }
}

/// The login page, coming back to this request afterwards. `prompt=login` is taken
/// out of the way back, or the person would be asked again and again.
async fn login(
    state: &SharedState,
    ctx: &Ctx,
    req: &AuthorizeRequest,
    params: &std::collections::HashMap<String, String>,
) -> Response {
    if req.prompts("none") {
        return send_back(
            ctx,
            &redirect_of(req.error(
                &state.app.issuer(),
                "login_required",
                "the person is not signed in",
            )),
        );
    }
    let query = {
        // The serializer is not Send, so it lives only in this block.
        let mut back = url::form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<&String> = params.keys().collect();
        keys.sort();
        for k in keys {
            let v = &params[k];
            // The person signs in now: prompt=login, select_account and max_age are
            // not asked again.
            if k == "max_age" {
                continue;
            }
            if k == "prompt" {
                let rest: Vec<&str> = v
                    .split_whitespace()
                    .filter(|p| !matches!(*p, "login" | "select_account"))
                    .collect();
                if !rest.is_empty() {
                    back.append_pair(k, &rest.join(" "));
                }
            } else {
                back.append_pair(k, v);
            }
        }
        back.finish()
    };
    let return_to = format!("/oauth/authorize?{query}");
    show_login(
        state,
        ctx,
        return_to,
        String::new(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// A scope's name for people: a built-in one's in the page's language, an admin's
/// own as the admin wrote it, the identifier when there is none.
pub fn scope_title(ctx: &Ctx, d: &crate::store::Scope) -> String {
    let title = if d.builtin {
        ctx.t(&format!("scope.{}", d.name)).to_string()
    } else {
        d.display_name.clone()
    };
    if title.is_empty() {
        d.name.clone()
    } else {
        title
    }
}

/// The first letter of an app's name, upper case: its icon when it has none.
pub fn initial_of(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default()
}

/// Whether a scope stays granted however the consent form is posted: `openid`, and
/// the scopes flagged default (seed 002: always granted).
fn is_fixed(name: &str, defined: &[crate::store::Scope]) -> bool {
    name == "openid" || defined.iter().any(|d| d.name == name && d.is_default)
}

async fn consent_page(
    state: &SharedState,
    ctx: &Ctx,
    req: &AuthorizeRequest,
    params: &std::collections::HashMap<String, String>,
    username: &str,
    session_csrf: &str,
) -> Response {
    let defined = match state.app.scopes().await {
        Ok(s) => s,
        Err(e) => return error_page(ctx, &e),
    };
    let fill = |t: &str| {
        t.replace("{user}", username)
            .replace("{client_name}", &req.client.name)
    };
    let scopes = req
        .scope
        .iter()
        .filter_map(|name| defined.iter().find(|d| &d.name == name))
        .map(|d| {
            // Built-in scopes speak the page's language; an admin's own scopes show
            // what the admin wrote.
            let description = if d.builtin {
                ctx.t(&format!("scope.{}.desc", d.name)).to_string()
            } else {
                d.description.clone()
            };
            ScopeLine {
                name: d.name.clone(),
                title: scope_title(ctx, d),
                description: fill(&description),
                fixed: is_fixed(&d.name, &defined),
                icon_url: if d.icon.starts_with("https://") {
                    d.icon.clone()
                } else {
                    String::new()
                },
                glyph: glyph(&d.icon),
            }
        })
        .collect();
    let mut hidden: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| match k.as_str() {
            "scope" => ("requested_scope".to_string(), v.clone()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    if !params.contains_key("scope") {
        hidden.push(("requested_scope".into(), String::new()));
    }
    hidden.sort();
    let redirect_host = url::Url::parse(&req.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| req.redirect_uri.clone());
    let page = ConsentPage {
        lang: ctx.lang,
        action: "/oauth/authorize",
        client_name: req.client.name.clone(),
        initial: initial_of(&req.client.name),
        icon: if req.client.icon.starts_with("https://") {
            req.client.icon.clone()
        } else {
            String::new()
        },
        homepage: req.client.homepage.clone(),
        username: username.to_string(),
        redirect_host,
        hidden,
        csrf: state.app.consent_token(session_csrf, req),
        scopes,
    };
    render(ctx, StatusCode::OK, &page)
}
