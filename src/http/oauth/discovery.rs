//! OpenID Connect Discovery 1.0 and RFC 8414 metadata, and the JWKS (RFC 7517).
//! Only what the code does is advertised.

use crate::http::SharedState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn metadata(State(state): State<SharedState>) -> Json<Value> {
    let iss = state.app.issuer();
    let settings = state.app.settings().await.unwrap_or_default();
    let scopes: Vec<String> = state
        .app
        .db
        .scopes()
        .await
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let mut response_types = vec!["code"];
    let mut grants = vec![
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "offline_cert",
    ];
    if settings.allow_implicit {
        response_types.extend([
            "token",
            "id_token",
            "code id_token",
            "code token",
            "id_token token",
            "code id_token token",
        ]);
        grants.push("implicit");
    }
    if settings.allow_password_grant {
        grants.push("password");
    }
    let mut doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
        "jwks_uri": format!("{iss}/oauth/jwks"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "device_authorization_endpoint": format!("{iss}/oauth/device_authorization"),
        "scopes_supported": scopes,
        "response_types_supported": response_types,
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "preferred_username", "nickname", "picture", "email", "email_verified", "phone_number", "phone_number_verified"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if settings.dynamic_registration
        && let Some(map) = doc.as_object_mut()
    {
        map.insert(
            "registration_endpoint".into(),
            json!(format!("{iss}/oauth/register")),
        );
    }
    Json(doc)
}

pub async fn jwks(State(state): State<SharedState>) -> Json<Value> {
    // Another instance may have rotated the keys: publish what the table holds.
    if let Err(e) = state.app.keys.refresh().await {
        tracing::warn!(error = %e, "could not re-read the signing keys");
    }
    Json(state.app.keys.jwks())
}
