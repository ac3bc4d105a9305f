//! The grants of seed 001's token endpoint (`POST /oauth2/token`, SPEC §5), as that
//! seed's clients use them:
//!
//! - `client_credential` answers with a refresh token beside the access token, as
//!   the seed's example shows;
//! - `refresh_token` may come without client credentials (the seed's request has
//!   none): the refresh token then stands for its client. Credentials that are sent
//!   must be the token's client's.
//!
//! - a client's own refresh token is not rotated: the refresh answers the same token
//!   again, as the seed's example shows, and it stays valid until it expires.
//!
//! Nothing else differs: the same client authentication, scopes, rotation with reuse
//! detection for a person's refresh token, and issuer as `/oauth/token`
//! (`docs/seed-001.md`).

use super::{Request, client_credentials, refresh_token};
use crate::error::{Error, Result};
use crate::oauth::GrantType;
use crate::service::oauth::client_auth::Method;
use crate::service::oauth::{Issued, require_grant};
use crate::service::{App, Settings};
use crate::store::{Client, TokenKeys};
use std::collections::HashMap;

pub async fn dispatch(
    app: &App,
    authorization: Option<&str>,
    params: &HashMap<String, String>,
    settings: &Settings,
) -> Result<Issued> {
    let name = params
        .get("grant_type")
        .map(String::as_str)
        .filter(|g| !g.is_empty())
        .ok_or_else(|| Error::invalid_request("the grant_type parameter is required"))?;
    let grant: GrantType = name
        .parse()
        .map_err(|_| Error::UnsupportedGrantType(format!("unsupported grant_type {name:?}")))?;
    let request = |client, method| Request {
        app,
        client,
        method,
        params,
        settings,
        client_generation: None,
    };
    match grant {
        GrantType::ClientCredentials => {
            let (client, method) = app.authenticate_client(authorization, params).await?;
            require_grant(&client, GrantType::ClientCredentials)?;
            client_credentials::issue(&request(&client, method), true).await
        }
        GrantType::RefreshToken => {
            let sent_credentials = authorization.is_some() || params.contains_key("client_id");
            let (client, method) = if sent_credentials {
                app.authenticate_client(authorization, params).await?
            } else {
                (token_client(app, params).await?, Method::None)
            };
            // The seed's clients hold client_credential only, and refresh what it gave.
            let registered = |g: GrantType| client.grant_types.iter().any(|r| r == g.as_str());
            if !registered(GrantType::RefreshToken) && !registered(GrantType::ClientCredentials) {
                return Err(Error::UnauthorizedClient(
                    "this client may not use the refresh_token grant".into(),
                ));
            }
            refresh_token::handle_with(
                &request(&client, method),
                refresh_token::Rotation::NotForClientTokens,
            )
            .await
        }
        _ => Err(Error::UnsupportedGrantType(format!(
            "{name:?} is not served here: client_credential or refresh_token"
        ))),
    }
}

/// The client a refresh token of its own (client_credential, no person) was issued
/// to, when it is enabled.
async fn token_client(app: &App, params: &HashMap<String, String>) -> Result<Client> {
    let invalid = || Error::InvalidGrant(15, "the refresh token is invalid".into());
    let presented = params
        .get("refresh_token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid_request("the refresh_token parameter is required"))?;
    let stored = app
        .db
        .refresh_token(&TokenKeys::of(&app.key, presented))
        .await?
        .ok_or_else(invalid)?;
    // Only what client_credential gave (a client's own token, no person) is
    // refreshed without credentials: a person's refresh token stays bound to its
    // client, which proves itself (RFC 6749 §6).
    if stored.user_id.is_some() {
        return Err(Error::InvalidClient(
            "a person's refresh token is refreshed with its client's credentials".into(),
        ));
    }
    app.db
        .client_by_id(stored.client_id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(invalid)
}
