//! `POST /oauth/token` (RFC 6749 §3.2), `/oauth/introspect` (RFC 7662) and
//! `/oauth/revoke` (RFC 7009).

use super::{form_pairs, no_store, require_form, single_valued};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::service::oauth::Issued;
use crate::service::oauth::grants::{self, Request};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Where seed 003's clients find the OAuth endpoints (SPEC §5).
pub const SEED_003_PREFIX: &str = "/api/tcc-user-center";

/// A form post's headers and body. Axum's `HeaderMap` extractor copies every header;
/// this takes them from the request, which the body's extraction does not need.
pub struct FormPost {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The query, read only by the compatibility paths ([`compat_params`]).
    pub query: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for FormPost {
    type Rejection = Response;

    async fn from_request(
        mut request: axum::extract::Request,
        state: &S,
    ) -> std::result::Result<Self, Response> {
        let headers = std::mem::take(request.headers_mut());
        let query = request.uri().query().map(str::to_owned);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            headers,
            body,
            query,
        })
    }
}

pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// The `token` parameter of introspection and revocation.
fn required_token(params: &HashMap<String, String>) -> Result<&str> {
    params
        .get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid_request("the token parameter is required"))
}

/// The parameters of a form POST, each once.
fn params(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>> {
    require_form(headers)?;
    single_valued(form_pairs(body))
}

/// The parameters of a token request on a compatibility path: the seeds' platforms
/// (Spring Security OAuth, Apache Oltu) read the query as well as the body, and their
/// clients send either. A name in both is refused as repeated; with an empty body the
/// query alone counts, whatever the Content-Type.
pub fn compat_params(post: &FormPost) -> Result<HashMap<String, String>> {
    let Some(query) = post.query.as_deref().filter(|q| !q.is_empty()) else {
        return params(&post.headers, &post.body);
    };
    let mut pairs = form_pairs(query.as_bytes());
    if !post.body.is_empty() {
        require_form(&post.headers)?;
        pairs.extend(form_pairs(&post.body));
    }
    single_valued(pairs)
}

pub async fn token(State(state): State<SharedState>, post: FormPost) -> Result<Response> {
    let params = params(&post.headers, &post.body)?;
    Ok(no_store(Json(issue(&state, &post.headers, &params).await?)))
}

/// The same under seed 003's prefix, with the query read and the token type as the
/// seed spells it.
pub async fn token_seed003(State(state): State<SharedState>, post: FormPost) -> Result<Response> {
    let params = compat_params(&post)?;
    let issued = issue(&state, &post.headers, &params).await?;
    Ok(no_store(Json(issued.as_seeds_spell_it())))
}

/// Seed 004's `/oauth/v2/token`: the same, adding `sub` and `roles`.
pub async fn token_v2(State(state): State<SharedState>, post: FormPost) -> Result<Response> {
    let params = compat_params(&post)?;
    let issued = issue(&state, &post.headers, &params).await?;
    Ok(no_store(Json(issued.with_subject().as_seeds_spell_it())))
}

/// authenticate the client → grant allowed? → the grant → issue (client credentials
/// first with the client's kept row, [`grants::dispatch_with_kept_client`]).
async fn issue(
    state: &SharedState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Issued> {
    let settings = state.app.settings().await?;
    let authorization = authorization(headers);
    if let Some(issued) =
        grants::dispatch_with_kept_client(&state.app, authorization, params, &settings).await?
    {
        return Ok(issued);
    }
    let (client, method) = state.app.authenticate_client(authorization, params).await?;
    grants::dispatch(Request {
        app: &state.app,
        client: &client,
        method,
        params,
        settings: &settings,
        client_generation: None,
    })
    .await
}

pub async fn introspect(State(state): State<SharedState>, post: FormPost) -> Result<Response> {
    let params = params(&post.headers, &post.body)?;
    introspect_with(&state, &post.headers, &params).await
}

/// Seed 004's `/oauth/v2/check_token`: the same, also by GET and with the query read,
/// as the Spring endpoint it replaces answered.
pub async fn check_token_v2(State(state): State<SharedState>, post: FormPost) -> Result<Response> {
    let params = compat_params(&post)?;
    introspect_with(&state, &post.headers, &params).await
}

async fn introspect_with(
    state: &SharedState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response> {
    let presented = params.get("token").map(String::as_str).unwrap_or_default();
    let (_, method, found) = state
        .app
        .authenticate_client_with_token(authorization(headers), params, presented)
        .await?;
    if method == crate::service::oauth::client_auth::Method::None {
        return Err(Error::InvalidClient(
            "introspection needs a confidential client".into(),
        ));
    }
    let token = required_token(params)?;
    let hint = params.get("token_type_hint").map(String::as_str);
    let answer = state.app.introspect(token, hint, found).await?;
    Ok(no_store(Json(answer)))
}

/// A form post's parameters and the client they authenticate.
async fn authenticated(
    state: &SharedState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(crate::store::Client, HashMap<String, String>)> {
    let params = params(headers, body)?;
    let (client, _) = state
        .app
        .authenticate_client(authorization(headers), &params)
        .await?;
    Ok((client, params))
}

pub async fn revoke(
    State(state): State<SharedState>,
    FormPost { headers, body, .. }: FormPost,
) -> Result<Response> {
    let (client, params) = authenticated(&state, &headers, &body).await?;
    let token = required_token(&params)?;
    state
        .app
        .revoke(
            &client,
            token,
            params.get("token_type_hint").map(String::as_str),
        )
        .await?;
    Ok(no_store(axum::http::StatusCode::OK))
}

/// `POST /oauth/device_authorization` (RFC 8628 §3.1–3.2): any client registered for
/// the device grant, public ones by their `client_id`.
pub async fn device_authorization(
    State(state): State<SharedState>,
    FormPost { headers, body, .. }: FormPost,
) -> Result<Response> {
    let (client, params) = authenticated(&state, &headers, &body).await?;
    crate::service::oauth::require_grant(&client, crate::oauth::GrantType::DeviceCode)?;
    let scope = state
        .app
        .resolve_scopes(
            &client,
            params.get("scope").map(String::as_str).unwrap_or_default(),
        )
        .await?;
    let started = state.app.start_device_flow(&client, &scope).await?;
    Ok(no_store(Json(started)))
}
