//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the
//! device polls with its device code ([`crate::service::oauth::device`]).

use super::Request;
use crate::error::{Error, Result};
use crate::oauth::scope;
use crate::service::oauth::device::POLL_INTERVAL;
use crate::service::oauth::{Issue, Issued};

pub async fn handle(req: &Request<'_>) -> Result<Issued> {
    let app = req.app;
    let invalid = || Error::InvalidGrant(8, "the device code is invalid".into());
    let hash = app.key.hash_secret(req.required("device_code")?);
    let code = app.db.device_code(&hash).await?.ok_or_else(invalid)?;
    if code.client_id != req.client.id {
        return Err(invalid());
    }
    let now = crate::time::now();
    if code.expires_at <= now {
        return Err(Error::Polling(
            "expired_token",
            "the device code has expired; start again".into(),
        ));
    }
    match code.state.as_str() {
        "pending" => {
            let too_soon = code
                .polled_at
                .is_some_and(|at| now - at < code.poll_interval);
            let interval = code.poll_interval + if too_soon { POLL_INTERVAL } else { 0 };
            app.db.device_code_polled(&hash, now, interval).await?;
            Err(if too_soon {
                Error::Polling(
                    "slow_down",
                    format!("poll every {interval} seconds at most"),
                )
            } else {
                Error::Polling(
                    "authorization_pending",
                    "the person has not answered yet".into(),
                )
            })
        }
        "denied" => Err(Error::Polling(
            "access_denied",
            "the person denied the request".into(),
        )),
        "approved" => {
            // The account is read before the code is taken: a password reset that
            // spent the code after this read is seen by the check after issuing.
            let user = match code.user_id {
                Some(id) => app.db.user_by_id(id).await?.filter(|u| !u.disabled),
                None => None,
            }
            .ok_or_else(invalid)?;
            if !app.db.consume_device_code(&hash).await? {
                return Err(Error::InvalidGrant(
                    8,
                    "the device code was already used".into(),
                ));
            }
            let issue = Issue {
                client: Some(req.client),
                user: Some(&user),
                scope: scope::parse(&code.scope),
                refresh: req.refresh_allowed(),
                auth_time: code.auth_time,
                ..Issue::default()
            };
            let issued = app.issue(issue, req.settings).await?;
            super::unless_changed(req, &user, issued, invalid()).await
        }
        _ => Err(Error::InvalidGrant(
            8,
            "the device code was already used".into(),
        )),
    }
}
