//! `POST /oauth/register`: dynamic client registration (RFC 7591), when the admin
//! switched it on. The same rules as every other app apply (redirect URIs, scopes,
//! grant types); `develop` and `root` are never granted this way.

use super::no_store;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::api::JsonBody;
use crate::service::CreateClient;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    scope: Option<String>,
    token_endpoint_auth_method: Option<String>,
    logo_uri: Option<String>,
    client_uri: Option<String>,
}

/// RFC 7591 §3.2.2 error names.
fn metadata_error(e: Error) -> Response {
    let error = match &e {
        Error::Validation { fields, .. } if fields.contains_key("redirect_uris") => {
            "invalid_redirect_uri"
        }
        Error::Validation { .. } | Error::InvalidRequest(..) | Error::InvalidScope(_) => {
            "invalid_client_metadata"
        }
        _ => return e.into_response(),
    };
    // Its text, as every error's, repeats at most so much of what was sent.
    let description = e.description();
    no_store((
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description, "error_code": 1})),
    ))
}

pub async fn register(
    State(state): State<SharedState>,
    JsonBody(m): JsonBody<Metadata>,
) -> Result<Response> {
    if !state.app.settings().await?.dynamic_registration {
        return Err(Error::Forbidden(
            "access_denied",
            "dynamic client registration is switched off".into(),
        ));
    }
    let is_public = match m.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") | Some("client_secret_post") => false,
        Some("none") => true,
        Some(other) => {
            return Ok(metadata_error(Error::invalid_request(format!(
                "unsupported token_endpoint_auth_method {other:?}"
            ))));
        }
    };
    // Grant types the response types need, when none are named (RFC 7591 §2.1):
    // `code` → authorization_code (with refresh_token, as for every new app), `token`
    // and `id_token` → implicit.
    let mut grant_types = m.grant_types.clone();
    if grant_types.is_empty() {
        for word in m.response_types.iter().flat_map(|r| r.split_whitespace()) {
            let needs: &[&str] = match word {
                "code" => &["authorization_code", "refresh_token"],
                _ => &["implicit"],
            };
            for g in needs {
                if !grant_types.iter().any(|x| x == g) {
                    grant_types.push((*g).into());
                }
            }
        }
    }
    let scopes: Vec<String> = m
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes
        .iter()
        .any(|s| crate::oauth::scope::PRIVILEGED.contains(&s.as_str()))
    {
        return Ok(metadata_error(Error::InvalidScope(
            "develop and root need an admin's approval".into(),
        )));
    }
    let created = match state
        .app
        .create_client(CreateClient {
            name: m
                .client_name
                .clone()
                .unwrap_or_else(|| "Unnamed app".into()),
            icon: m.logo_uri.clone().unwrap_or_default(),
            homepage: m.client_uri.clone().unwrap_or_default(),
            redirect_uris: m.redirect_uris.clone(),
            grant_types,
            scopes,
            is_public,
            ..Default::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return Ok(metadata_error(e)),
    };
    let c = &created.client;
    let _ = state
        .app
        .db
        .audit(
            None,
            "client_registered",
            &c.client_id,
            "",
            "dynamic",
            crate::time::now(),
        )
        .await;
    let mut body = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "scope": c.scopes.join(" "),
        "token_endpoint_auth_method": match (c.is_public, m.token_endpoint_auth_method.as_deref()) {
            (true, _) => "none",
            (false, Some("client_secret_post")) => "client_secret_post",
            (false, _) => "client_secret_basic",
        },
    });
    if let (Some(secret), Some(map)) = (&created.client_secret, body.as_object_mut()) {
        map.insert("client_secret".into(), json!(secret));
        map.insert("client_secret_expires_at".into(), json!(0));
    }
    Ok(no_store((StatusCode::CREATED, Json(body))))
}
