//! The grants of the token endpoint, one module each. Each checks what is its own
//! and hands the result to the shared issuer; client authentication has already
//! happened, once, before [`dispatch`].

mod authorization_code;
mod client_credentials;
mod device_code;
mod offline_cert;
mod password;
mod refresh_token;
pub mod seed001;

use super::client_auth::Method;
use super::{Issued, require_grant};
use crate::error::{Error, Result};
use crate::oauth::{GrantType, scope};
use crate::service::{App, Settings};
use crate::store::Client;
use std::collections::HashMap;

/// What every grant receives.
pub struct Request<'a> {
    pub app: &'a App,
    pub client: &'a Client,
    pub method: Method,
    pub params: &'a HashMap<String, String>,
    pub settings: &'a Settings,
    /// Set when `client` is a kept row: its generation ([`crate::store::ClientSnapshot`]).
    pub client_generation: Option<i64>,
}

impl Request<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.param(name)
            .ok_or_else(|| Error::invalid_request(format!("the {name} parameter is required")))
    }

    /// The scopes granted for the request's `scope` parameter (code 14 if refused).
    pub async fn scopes(&self, requested: Option<&str>) -> Result<Vec<String>> {
        self.app
            .resolve_scopes(self.client, requested.unwrap_or_default())
            .await
    }

    /// [`Request::scopes`] for seed 004's logins of a person (card, SMS and QR codes):
    /// with no scope asked for, `openid` stays among the client's registered scopes,
    /// as the seed's card answer shows (`"scope": "pass:payment openid"`).
    pub async fn person_scopes(&self, requested: Option<&str>) -> Result<Vec<String>> {
        let mut scopes = self.scopes(requested).await?;
        let asked = requested.is_some_and(|r| !r.trim().is_empty());
        let openid = "openid".to_string();
        if !asked && self.client.scopes.contains(&openid) && !scopes.contains(&openid) {
            scopes.push(openid);
        }
        Ok(scopes)
    }

    /// Whether the client is registered for refresh tokens.
    pub fn refresh_allowed(&self) -> bool {
        self.client
            .grant_types
            .iter()
            .any(|g| g == GrantType::RefreshToken.as_str())
    }
}

impl App {
    /// RFC 6749 §3.3 with the rules of [`crate::oauth::scope`].
    pub async fn resolve_scopes(&self, client: &Client, requested: &str) -> Result<Vec<String>> {
        let defaults: Vec<String> = self
            .scopes()
            .await?
            .iter()
            .filter(|s| s.is_default)
            .map(|s| s.name.clone())
            .collect();
        scope::resolve(
            &scope::parse(requested),
            &client.scopes,
            &client.approved_scopes,
            &defaults,
        )
        .map_err(|refused| {
            Error::InvalidScope(format!(
                "the scope {refused:?} is not allowed for this client"
            ))
        })
    }
}

/// Client credentials with the client's kept row, the grant machine clients
/// use on every call: no read of the client, and the token is stored only if no
/// client changed since the row was read (`docs/client-cache.md`). `None` means
/// "serve this request the ordinary way", which decides every refusal: another
/// grant; nothing kept; a token policy other than `independent`; the kept row
/// refusing (a new secret, a disabled client); or the grant failing with it (scopes
/// since granted; the row changed before the token was stored). In the last two
/// cases the kept row is forgotten, and read afresh by the next request.
pub async fn dispatch_with_kept_client(
    app: &App,
    authorization: Option<&str>,
    params: &HashMap<String, String>,
    settings: &Settings,
) -> Result<Option<Issued>> {
    let grant = params.get("grant_type").and_then(|g| g.parse().ok());
    if grant != Some(GrantType::ClientCredentials) {
        return Ok(None);
    }
    let Some((kept, method)) = app.authenticate_kept_client(authorization, params).await? else {
        return Ok(None);
    };
    // `reuse` and `replace` act before the token is stored (`App::issue` refuses a
    // kept row for them): the ordinary way at once, with the row kept, rather than
    // the grant run twice and the row read again.
    if kept.client.token_policy != "independent" {
        return Ok(None);
    }
    let issued = dispatch(Request {
        app,
        client: &kept.client,
        method,
        params,
        settings,
        client_generation: Some(kept.generation),
    })
    .await;
    match issued {
        Ok(issued) => Ok(Some(issued)),
        Err(_) => {
            app.db.forget_client(&kept.client.client_id);
            Ok(None)
        }
    }
}

/// Stored first, checked after: when a password reset or a disable ran while tokens
/// were being issued to `user` (read before the grant's proof was taken), it revoked
/// the account's tokens before these were stored; they are revoked here, and the
/// request gets `refusal`.
async fn unless_changed(
    req: &Request<'_>,
    user: &crate::store::User,
    issued: Issued,
    refusal: Error,
) -> Result<Issued> {
    if req.app.still_the_same(user).await? {
        return Ok(issued);
    }
    for token in std::iter::once(&issued.access_token).chain(&issued.refresh_token) {
        req.app.revoke(req.client, token, None).await?;
    }
    Err(refusal)
}

/// Runs the grant named by `grant_type` for an authenticated client.
pub async fn dispatch(req: Request<'_>) -> Result<Issued> {
    let name = req.required("grant_type")?;
    let grant: GrantType = name
        .parse()
        .map_err(|_| Error::UnsupportedGrantType(format!("unsupported grant_type {name:?}")))?;
    require_grant(req.client, grant)?;
    match grant {
        GrantType::AuthorizationCode => authorization_code::handle(&req).await,
        GrantType::RefreshToken => refresh_token::handle(&req).await,
        GrantType::Password => password::handle(&req).await,
        GrantType::ClientCredentials => client_credentials::handle(&req).await,
        GrantType::Implicit => Err(Error::UnsupportedGrantType(
            "the implicit grant is used at the authorization endpoint, not here".into(),
        )),
        GrantType::OfflineCert => offline_cert::handle(&req).await,
        GrantType::DeviceCode => device_code::handle(&req).await,
    }
}
