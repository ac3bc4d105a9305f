//! `grant_type=password` (RFC 6749 §4.3): only when the admin allows it and the
//! client is registered for it (both checked; RFC 9700 §2.4 advises against it).

use super::Request;
use crate::error::{Error, Result};
use crate::service::oauth::{Issue, Issued};

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    if !req.settings.allow_password_grant {
        return Err(Error::UnsupportedGrantType(
            "the password grant is switched off".into(),
        ));
    }
    let username = req.required("username")?;
    let password = req.required("password")?;
    let scope = req.scopes(req.param("scope")).await?;
    let who = crate::service::Requester {
        ip: format!("client:{}", req.client.client_id),
        user_agent: String::new(),
    };
    // One answer (code 10) for an unknown account and a wrong password.
    let user = req
        .app
        .check_credentials(username, password, &who)
        .await
        .map_err(|e| match e {
            Error::Unauthorized(..) => Error::InvalidGrant(10, "wrong username or password".into()),
            other => other,
        })?;
    let issue = Issue {
        client: Some(req.client),
        user: Some(&user),
        scope,
        refresh: req.refresh_allowed(),
        auth_time: Some(crate::time::now()),
        ..Issue::default()
    };
    let issued = req.app.issue(issue, req.settings).await?;
    let refusal = Error::InvalidGrant(10, "wrong username or password".into());
    super::unless_changed(req, &user, issued, refusal).await
}
