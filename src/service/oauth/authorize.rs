//! The authorization endpoint's rules (RFC 6749 §3.1, §4.1.1, §4.2.1; OpenID Connect
//! Core §3; RFC 7636; RFC 9207), without HTTP.
//!
//! Errors come in two kinds (RFC 6749 §4.1.2.1): before the client and redirect URI
//! are known to be good, nothing is redirected — the person sees a page; after,
//! errors go back to the client's redirect URI with `state` and `iss`.

use crate::crypto::ordered_token;
use crate::error::{Credential, Error, Result};
use crate::oauth::{GrantType, pkce, redirect_uri, scope};
use crate::service::{App, Settings};
use crate::store::{AuthorizationCode, Client, User};
use std::collections::HashMap;

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: Client,
    /// The redirect URI the response goes to.
    pub redirect_uri: String,
    /// The `redirect_uri` parameter as sent (empty when left out); the token request
    /// must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_param: String,
    pub response_type: Vec<String>,
    pub fragment: bool,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// Why a request was refused, and how to tell.
#[derive(Debug)]
pub enum Refusal {
    /// Shown on a page: the client or redirect URI cannot be trusted.
    Page(Error),
    /// Sent back to the client.
    Redirect { to: String },
}

impl AuthorizeRequest {
    pub fn has(&self, response_type: &str) -> bool {
        self.response_type.iter().any(|r| r == response_type)
    }

    pub fn prompts(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }

    /// The redirect carrying an error (RFC 6749 §4.1.2.1, RFC 9207).
    pub fn error(&self, issuer: &str, error: &str, description: &str) -> Refusal {
        let mut params = vec![
            ("error", error.to_string()),
            ("error_description", description.to_string()),
        ];
        if let Some(s) = &self.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", issuer.to_string()));
        Refusal::Redirect {
            to: build_redirect(&self.redirect_uri, self.fragment, &params),
        }
    }
}

/// `redirect_uri` with `params` added in the query or the fragment.
pub fn build_redirect(base: &str, fragment: bool, params: &[(&str, String)]) -> String {
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    if fragment {
        format!("{base}#{encoded}")
    } else if base.contains('?') {
        format!("{base}&{encoded}")
    } else {
        format!("{base}?{encoded}")
    }
}

fn page(code: u8, description: &str) -> Refusal {
    Refusal::Page(Error::InvalidRequest(code, description.into()))
}

impl App {
    /// Checks an authorization request. `params` holds each parameter once.
    pub async fn check_authorize(
        &self,
        params: &HashMap<String, String>,
        settings: &Settings,
    ) -> Result<AuthorizeRequest, Refusal> {
        let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let Some(client_id) = get("client_id") else {
            return Err(page(1, "the client_id parameter is missing"));
        };
        let client = match self.db.client_by_client_id(client_id).await {
            Ok(Some(c)) if !c.disabled => c,
            Ok(_) => return Err(page(5, "this application is not registered")),
            Err(e) => return Err(Refusal::Page(e)),
        };
        let redirect_uri_param = get("redirect_uri").unwrap_or_default().to_string();
        let redirect = if redirect_uri_param.is_empty() {
            // RFC 6749 §3.1.2.3: optional only when exactly one is registered.
            match client.redirect_uris.as_slice() {
                [only] => only.clone(),
                _ => return Err(page(7, "the redirect_uri parameter is missing")),
            }
        } else {
            match redirect_uri::find_match(
                &client.redirect_uris,
                &redirect_uri_param,
                settings.exact_redirect_uri,
            ) {
                Some(_) => redirect_uri_param.clone(),
                None => {
                    return Err(page(
                        7,
                        "the redirect_uri is not registered for this application",
                    ));
                }
            }
        };
        let response_type: Vec<String> = {
            let mut v = scope::parse(get("response_type").unwrap_or_default());
            v.sort();
            v
        };
        let implicit = response_type
            .iter()
            .any(|r| r == "token" || r == "id_token");
        let mode = get("response_mode");
        let fragment = match mode {
            Some("fragment") => true,
            Some("query") => implicit, // tokens never go in a query (OAuth 2.0 Multiple Response Types §3.0)
            _ => implicit,
        };
        let mut req = AuthorizeRequest {
            client,
            redirect_uri: redirect,
            redirect_uri_param,
            response_type,
            fragment,
            scope: Vec::new(),
            state: get("state").map(str::to_string),
            nonce: get("nonce").map(str::to_string),
            prompt: scope::parse(get("prompt").unwrap_or_default()),
            max_age: None,
            code_challenge: get("code_challenge").map(str::to_string),
            code_challenge_method: get("code_challenge_method").map(str::to_string),
        };
        let iss = self.issuer();
        let fail = |req: &AuthorizeRequest, error: &str, description: &str| {
            Err(req.error(&iss, error, description))
        };

        if let Some(m) = mode
            && !matches!(m, "query" | "fragment")
        {
            return fail(&req, "invalid_request", "unsupported response_mode");
        }
        // Request objects and passed registration are not supported: refused rather
        // than ignored, so that nothing they carry is silently lost (OIDC Core §6, §7.2.1).
        for (param, error) in [
            ("request", "request_not_supported"),
            ("request_uri", "request_uri_not_supported"),
            ("registration", "registration_not_supported"),
        ] {
            if get(param).is_some() {
                return fail(
                    &req,
                    error,
                    &format!("the {param} parameter is not supported"),
                );
            }
        }
        let known = ["code", "token", "id_token"];
        if req.response_type.is_empty()
            || req
                .response_type
                .iter()
                .any(|r| !known.contains(&r.as_str()))
        {
            return fail(
                &req,
                "unsupported_response_type",
                "response_type must be code, token, id_token or a combination",
            );
        }
        if req.has("code")
            && !req
                .client
                .grant_types
                .iter()
                .any(|g| g == GrantType::AuthorizationCode.as_str())
        {
            return fail(
                &req,
                "unauthorized_client",
                "this application may not use the authorization code flow",
            );
        }
        if implicit {
            if !settings.allow_implicit {
                return fail(
                    &req,
                    "unsupported_response_type",
                    "the implicit grant is switched off",
                );
            }
            if !req
                .client
                .grant_types
                .iter()
                .any(|g| g == GrantType::Implicit.as_str())
            {
                return fail(
                    &req,
                    "unauthorized_client",
                    "this application may not use the implicit grant",
                );
            }
        }
        if settings.require_state && req.state.is_none() {
            return fail(&req, "invalid_request", "the state parameter is required");
        }
        if let Some(m) = get("max_age") {
            match m.parse::<i64>() {
                Ok(v) if v >= 0 => req.max_age = Some(v),
                _ => {
                    return fail(
                        &req,
                        "invalid_request",
                        "max_age must be a number of seconds",
                    );
                }
            }
        }
        if req.prompts("none") && req.prompt.len() > 1 {
            return fail(
                &req,
                "invalid_request",
                "prompt=none cannot be combined with other values",
            );
        }
        if let Some(p) = req
            .prompt
            .iter()
            .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
        {
            let p = p.clone();
            return fail(
                &req,
                "invalid_request",
                &format!("unsupported prompt value {p:?}"),
            );
        }
        req.scope = match self
            .resolve_scopes(&req.client, get("scope").unwrap_or_default())
            .await
        {
            Ok(s) => s,
            Err(Error::InvalidScope(d)) => return fail(&req, "invalid_scope", &d),
            Err(e) => return Err(Refusal::Page(e)),
        };
        let openid = req.scope.iter().any(|s| s == "openid");
        if req.has("id_token") && (!openid || req.nonce.is_none()) {
            return fail(
                &req,
                "invalid_request",
                "response_type id_token needs the openid scope and a nonce",
            );
        }
        match &req.code_challenge {
            Some(c) => {
                if let Err(why) = pkce::validate_challenge(c, req.code_challenge_method.as_deref())
                {
                    return fail(&req, "invalid_request", why);
                }
            }
            None if req.client.is_public && req.has("code") => {
                return fail(
                    &req,
                    "invalid_request",
                    "a public client must use PKCE (code_challenge with S256)",
                );
            }
            None => {}
        }
        Ok(req)
    }

    /// The redirect that answers an approved request: a code and/or tokens.
    pub async fn authorize_response(
        &self,
        req: &AuthorizeRequest,
        user: &User,
        auth_time: i64,
        settings: &Settings,
    ) -> Result<String> {
        let now = crate::time::now();
        let mut params: Vec<(&str, String)> = Vec::new();
        let mut code_value = None;
        if req.has("code") {
            let code = ordered_token();
            self.db
                .create_code(&AuthorizationCode {
                    code_hash: self.key.hash_token(&code),
                    client_id: req.client.id,
                    user_id: user.id,
                    redirect_uri: req.redirect_uri_param.clone(),
                    scope: req.scope.join(" "),
                    nonce: req.nonce.clone(),
                    code_challenge: req.code_challenge.clone(),
                    code_challenge_method: req.code_challenge.as_ref().map(|_| "S256".to_string()),
                    auth_time,
                    used_at: None,
                    expires_at: now + settings.code_ttl,
                    created_at: now,
                })
                .await
                .map_err(Credential::Code.not_stored())?;
            params.push(("code", code.clone()));
            code_value = Some(code);
        }
        let mut access_token = None;
        if req.has("token") {
            // RFC 6749 §4.2.2: no refresh token from the implicit grant.
            let issued = self
                .issue(
                    super::Issue {
                        client: Some(&req.client),
                        user: Some(user),
                        scope: req.scope.clone(),
                        auth_time: Some(auth_time),
                        ..Default::default()
                    },
                    settings,
                )
                .await?;
            params.push(("access_token", issued.access_token.clone()));
            params.push(("token_type", "Bearer".into()));
            params.push(("expires_in", issued.expires_in.to_string()));
            params.push(("scope", issued.scope.clone()));
            access_token = Some(issued.access_token);
        }
        // Stored first, checked after: a password reset or a disable that ran since
        // the session and `user` were read spent the person's codes and revoked their
        // tokens, perhaps before these were stored; they are spent here instead, and
        // no ID token is signed for the account.
        if !self.still_the_same(user).await? {
            if let Some(code) = &code_value {
                self.db
                    .mark_code_replayed(&self.key.hash_token(code))
                    .await?;
            }
            if let Some(token) = &access_token {
                self.revoke(&req.client, token, None).await?;
            }
            return Err(Error::AccessDenied(
                "the account changed while signing in; sign in again".into(),
            ));
        }
        if req.has("id_token") {
            // Without an access token the ID token carries the claims the scopes
            // allow, which userinfo would otherwise give (OpenID Connect Core §5.4).
            let user_claims = match access_token {
                Some(_) => None,
                None => {
                    Some(crate::service::claims::oidc_claims(self, user, &req.scope, None).await?)
                }
            };
            let token = self.id_token(
                &req.client,
                user,
                req.nonce.as_deref(),
                Some(auth_time),
                access_token.as_deref(),
                code_value.as_deref(),
                user_claims,
                settings,
            )?;
            params.push(("id_token", token));
        }
        if let Some(s) = &req.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", self.issuer()));
        Ok(build_redirect(&req.redirect_uri, req.fragment, &params))
    }

    /// The consent form's CSRF token: bound to the session and to this request, so a
    /// form from one authorization cannot approve another.
    pub fn consent_token(&self, session_csrf: &str, req: &AuthorizeRequest) -> String {
        self.key.hash_secret(&format!(
            "consent\u{1f}{session_csrf}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            req.client.client_id,
            req.redirect_uri,
            req.response_type.join(" "),
            req.state.as_deref().unwrap_or_default(),
            req.nonce.as_deref().unwrap_or_default(),
            req.code_challenge.as_deref().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_registered_query() {
        assert_eq!(
            build_redirect("https://a.test/cb", false, &[("code", "x y".into())]),
            "https://a.test/cb?code=x+y"
        );
        assert_eq!(
            build_redirect("https://a.test/cb?k=1", false, &[("code", "x".into())]),
            "https://a.test/cb?k=1&code=x"
        );
        assert_eq!(
            build_redirect("https://a.test/cb", true, &[("access_token", "t".into())]),
            "https://a.test/cb#access_token=t"
        );
    }
}
