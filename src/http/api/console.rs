//! The JSON API of seed 000 (`pk` = the app's id; `?format=json|html`): my apps, my
//! authorizations, my tokens, user and group details.

use super::JsonBody;
use super::caller::Caller;
use super::format::{Format, respond};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::extract::{Path, Query};
use crate::service::CreateClient;
use crate::service::claims::{Claims, claims};
use crate::service::console::Authorization;
use crate::store::{Client, HeldToken};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// An app as registered or changed (SPEC §3); only `name` and `redirect_uris` are
/// required. A field left out is the default at registration and, on a change, what
/// the app has (as seed 000's platform changed only the fields sent).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AppBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    icon: Option<String>,
    #[serde(default)]
    homepage: Option<String>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    token_format: Option<String>,
    #[serde(default)]
    token_policy: Option<String>,
    /// Only at registration: a public client (no secret, PKCE).
    #[serde(default)]
    public: bool,
}

impl AppBody {
    fn into_input(self, owner: i64) -> CreateClient {
        CreateClient {
            name: self.name,
            description: self.description.unwrap_or_default(),
            icon: self.icon.unwrap_or_default(),
            homepage: self.homepage.unwrap_or_default(),
            redirect_uris: self.redirect_uris,
            grant_types: self.grant_types.unwrap_or_default(),
            scopes: self.scopes.unwrap_or_default(),
            is_public: self.public,
            owner_id: Some(owner),
            token_format: self.token_format,
            token_policy: self.token_policy,
            ..Default::default()
        }
    }

    /// A change of `app`: what the body leaves out stays as it is.
    fn into_change(self, app: &Client) -> CreateClient {
        CreateClient {
            name: self.name,
            description: self.description.unwrap_or_else(|| app.description.clone()),
            icon: self.icon.unwrap_or_else(|| app.icon.clone()),
            homepage: self.homepage.unwrap_or_else(|| app.homepage.clone()),
            redirect_uris: self.redirect_uris,
            grant_types: self.grant_types.unwrap_or_else(|| app.grant_types.clone()),
            scopes: self.scopes.unwrap_or_else(|| app.scopes.clone()),
            is_public: app.is_public,
            owner_id: app.owner_id,
            token_format: self.token_format.or_else(|| Some(app.token_format.clone())),
            token_policy: self.token_policy.or_else(|| Some(app.token_policy.clone())),
            ..Default::default()
        }
    }
}

fn token_json(t: &HeldToken, app_name: &str) -> Value {
    json!({
        "id": t.listed_id(),
        "kind": t.kind.as_str(),
        "app": {"id": t.client_id, "pk": t.client_id, "name": app_name},
        "scope": t.scope,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
    })
}

pub fn authorization_json(a: &Authorization) -> Value {
    json!({
        "app": {
            "id": a.client.id,
            "pk": a.client.id,
            "client_id": a.client.client_id,
            "name": a.client.name,
            "description": a.client.description,
            "icon": a.client.icon,
            "homepage": a.client.homepage,
        },
        "scope": a.consent.scope,
        "granted_at": a.consent.created_at,
        "updated_at": a.consent.updated_at,
        "tokens": a.tokens.iter().map(|t| token_json(t, &a.client.name)).collect::<Vec<_>>(),
    })
}

#[utoipa::path(get, path = "/api/apps/", tag = "apps", summary = "My apps", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "a list of apps")))]
pub async fn list_apps(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let apps = state.app.db.clients_owned_by(c.user.id).await?;
    let body = Value::Array(apps.iter().map(|a| a.view(None)).collect());
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        c.ctx.t("my_apps"),
        uri.path(),
        body,
    ))
}

#[utoipa::path(post, path = "/api/apps/", tag = "apps", summary = "Register an app; the secret is in this answer only", params(("format" = Option<String>, Query, description = "json (default) or html")), request_body = AppBody, responses((status = 201, description = "the app with client_id and client_secret"), (status = 400, description = "field errors")))]
pub async fn create_app(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
    JsonBody(b): JsonBody<AppBody>,
) -> Result<Response> {
    let created = state.app.create_client(b.into_input(c.user.id)).await?;
    state
        .app
        .db
        .audit(
            Some(c.user.id),
            "app_created",
            &created.client.client_id,
            &c.ctx.who.ip,
            "",
            crate::time::now(),
        )
        .await?;
    let body = created.client.view(created.client_secret.as_deref());
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::CREATED,
        c.ctx.t("my_apps"),
        uri.path(),
        body,
    ))
}

#[utoipa::path(get, path = "/api/apps/{pk}/", tag = "apps", summary = "One of my apps", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "the app"), (status = 404, description = "not one of my apps")))]
pub async fn get_app(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let app = state.app.my_app(&c.user, pk).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &app.name,
        uri.path(),
        app.view(None),
    ))
}

#[utoipa::path(put, path = "/api/apps/{pk}/", tag = "apps", summary = "Change one of my apps", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), request_body = AppBody, responses((status = 200, description = "the app"), (status = 404, description = "not one of my apps")))]
pub async fn update_app(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
    JsonBody(b): JsonBody<AppBody>,
) -> Result<Response> {
    let current = state.app.my_app(&c.user, pk).await?;
    let app = state
        .app
        .update_app(&c.user, pk, b.into_change(&current))
        .await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &app.name,
        uri.path(),
        app.view(None),
    ))
}

#[utoipa::path(delete, path = "/api/apps/{pk}/", tag = "apps", summary = "Delete one of my apps; its tokens stop working", params(("pk" = i64, Path, description = "the id (seed 000 pk)")), responses((status = 204, description = "deleted"), (status = 404, description = "not one of my apps")))]
pub async fn delete_app(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
) -> Result<Response> {
    state.app.delete_app(&c.user, pk).await?;
    Ok(c.ctx.finish(StatusCode::NO_CONTENT))
}

#[utoipa::path(post, path = "/api/apps/{pk}/reset-secret/", tag = "apps", summary = "Issue a new client secret", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "the app with its new client_secret")))]
pub async fn reset_secret(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let secret = state.app.reset_my_app_secret(&c.user, pk).await?;
    let app = state.app.my_app(&c.user, pk).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &app.name,
        uri.path(),
        app.view(Some(&secret)),
    ))
}

#[utoipa::path(get, path = "/api/authorizations/", tag = "authorizations", summary = "Apps I authorized, with scopes and valid tokens", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "a list of authorizations")))]
pub async fn list_authorizations(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let list = state.app.my_authorizations(&c.user).await?;
    let body = Value::Array(list.iter().map(authorization_json).collect());
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        c.ctx.t("my_authorizations"),
        uri.path(),
        body,
    ))
}

#[utoipa::path(get, path = "/api/authorizations/{pk}/", tag = "authorizations", summary = "My authorization of app pk", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "the authorization"), (status = 404, description = "not authorized")))]
pub async fn get_authorization(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let a = state.app.my_authorization(&c.user, pk).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &a.client.name,
        uri.path(),
        authorization_json(&a),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ScopeBody {
    scope: String,
}

#[utoipa::path(put, path = "/api/authorizations/{pk}/", tag = "authorizations", summary = "Narrow the scopes granted to app pk", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), request_body = ScopeBody, responses((status = 200, description = "the authorization")))]
pub async fn update_authorization(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
    JsonBody(b): JsonBody<ScopeBody>,
) -> Result<Response> {
    let a = state
        .app
        .change_authorization(&c.user, pk, &b.scope)
        .await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &a.client.name,
        uri.path(),
        authorization_json(&a),
    ))
}

#[utoipa::path(delete, path = "/api/authorizations/{pk}/", tag = "authorizations", summary = "Revoke app pk: every token of it stops working", params(("pk" = i64, Path, description = "the id (seed 000 pk)")), responses((status = 204, description = "revoked")))]
pub async fn delete_authorization(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
) -> Result<Response> {
    state.app.revoke_authorization(&c.user, pk).await?;
    Ok(c.ctx.finish(StatusCode::NO_CONTENT))
}

#[utoipa::path(get, path = "/api/tokens/", tag = "tokens", summary = "My valid tokens, access and refresh (never the token itself)", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "a list of tokens")))]
pub async fn list_tokens(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let now = crate::time::now();
    let tokens = state.app.db.valid_tokens_of(c.user.id, None, now).await?;
    let mut out = Vec::with_capacity(tokens.len());
    for t in &tokens {
        let name = state
            .app
            .db
            .client_by_id(t.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        out.push(token_json(t, &name));
    }
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        "Tokens",
        uri.path(),
        Value::Array(out),
    ))
}

#[utoipa::path(delete, path = "/api/authorizations/{pk}/tokens/{id}/", tag = "authorizations", summary = "Delete one token of app pk, with the refresh family it belongs to", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("id" = i64, Path, description = "the token's id as the lists give it (a refresh token's is negative)")), responses((status = 204, description = "deleted"), (status = 404, description = "no such token of mine")))]
pub async fn delete_token(
    State(state): State<SharedState>,
    c: Caller,
    Path((pk, id)): Path<(i64, i64)>,
) -> Result<Response> {
    state.app.delete_my_token(&c.user, pk, id).await?;
    Ok(c.ctx.finish(StatusCode::NO_CONTENT))
}

/// The caller's own details: the fields its token's scopes allow, or all of them
/// for the person themself.
async fn user_details<'a>(state: &SharedState, c: &'a Caller) -> Result<Claims<'a>> {
    match &c.token {
        Some(active) => {
            claims(
                &state.app,
                &c.user,
                &active.scopes,
                active.groups.as_deref(),
            )
            .await
        }
        None => {
            let everything = ["openid", "profile", "email", "phone"].map(String::from);
            claims(&state.app, &c.user, &everything, None).await
        }
    }
}

#[utoipa::path(get, path = "/api/users/me/", tag = "users", summary = "My user details", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "user details by scope")))]
pub async fn me(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let body = user_details(&state, &c).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &c.user.username,
        uri.path(),
        body,
    ))
}

/// `GET /api/users/{pk}/`: only the authorized user, named by their id, `me`, or (seed
/// 000) an app's id: with a token, its own app; with the session, an app the person
/// authorized. Anything else is 404.
#[utoipa::path(get, path = "/api/users/{pk}/", tag = "users", summary = "User details (only the authorized user)", params(("pk" = String, Path, description = "the user's id, me, or the id of an app the user authorized (seed 000)"), ("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "user details by scope"), (status = 404, description = "another user")))]
pub async fn user(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<String>,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    if pk != "me" && pk.parse::<i64>().ok() != Some(c.user.id) {
        // Seed 000 calls `pk` the app's id here: the answer is still only the
        // authorized user. A token names its own app (and learns nothing of the
        // person's other apps); the person's session, any app they authorized.
        let app = pk.parse::<i64>().map_err(|_| Error::NotFound)?;
        match &c.token {
            Some(t) if t.client.id != app => return Err(Error::NotFound),
            Some(_) => {}
            None => {
                state.app.my_authorization(&c.user, app).await?;
            }
        }
    }
    let body = user_details(&state, &c).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &c.user.username,
        uri.path(),
        body,
    ))
}

#[utoipa::path(get, path = "/api/groups/", tag = "groups", summary = "My groups", params(("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "a list of groups")))]
pub async fn groups(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let groups = state.app.db.groups_of(c.user.id).await?;
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        c.ctx.t("groups"),
        uri.path(),
        json!(groups),
    ))
}

/// `GET /api/groups/{pk}/`: only a group the user is in.
#[utoipa::path(get, path = "/api/groups/{pk}/", tag = "groups", summary = "A group I am in, with its members", params(("pk" = i64, Path, description = "the id (seed 000 pk)"), ("format" = Option<String>, Query, description = "json (default) or html")), responses((status = 200, description = "the group"), (status = 404, description = "not my group")))]
pub async fn group(
    State(state): State<SharedState>,
    c: Caller,
    Path(pk): Path<i64>,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let group = state
        .app
        .db
        .groups_of(c.user.id)
        .await?
        .into_iter()
        .find(|g| g.id == pk)
        .ok_or(Error::NotFound)?;
    let members: Vec<Value> = state
        .app
        .db
        .group_members(group.id)
        .await?
        .into_iter()
        .map(|(id, username)| json!({"id": id, "username": username}))
        .collect();
    let body = json!({"id": group.id, "name": group.name, "description": group.description, "created_at": group.created_at, "members": members});
    Ok(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &group.name,
        uri.path(),
        body,
    ))
}

/// `GET /api/user` (seed 002): the fields the token's scopes allow.
#[utoipa::path(get, path = "/api/user", tag = "resource", summary = "The user of a token: the fields its scopes allow (seed 002)", params(("format" = Option<String>, Query, description = "json (default) or html"), ("access_token" = Option<String>, Query, description = "the token, when not in Authorization")), responses((status = 200, description = "user fields by scope"), (status = 401, description = "invalid_token"), (status = 403, description = "insufficient_scope")))]
pub async fn resource_user(
    State(state): State<SharedState>,
    c: Caller,
    Query(f): Query<Format>,
    uri: Uri,
) -> Result<Response> {
    let body = user_details(&state, &c).await?;
    Ok(crate::http::oauth::no_store(respond(
        &c.ctx,
        &f,
        StatusCode::OK,
        &c.user.username,
        uri.path(),
        body,
    ))
    .into_response())
}
