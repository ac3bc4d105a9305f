//! Seed 004's QR login, the phone's side: `GET /oauth/v2/session/{session}/code` with
//! the signed-in person's Bearer token answers `{"code": …}`, a one-time code bound
//! to them and to the session id (5 minutes; 409 when the id is taken), which a
//! terminal redeems at the token endpoint (`grant_type=authorization_code`) for no
//! more scopes than the phone's token holds.
//! `GET /oauth/v2/session/{session}/state` tells the same person `{"code": "used"}`
//! or `{"code": "unused"}` (the seed's field name); anyone else gets 404.

use super::no_store;
use super::userinfo::granting_token;
use crate::crypto::random_token;
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::http::extract::Path;
use crate::service::oauth::tokens::Active;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

/// How long a QR code may be redeemed (seed 004: five minutes).
const QR_TTL: i64 = 300;

pub async fn code(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let (active, user_id) = person(&state, &headers).await?;
    check_session_id(&session)?;
    let code = random_token(16);
    let now = crate::time::now();
    let created = state
        .app
        .db
        .create_qr_session(
            &session,
            user_id,
            &state.app.key.hash_secret(&code),
            &active.scopes.join(" "),
            now,
            now + QR_TTL,
        )
        .await?;
    if !created {
        return Err(Error::Conflict(
            "session_taken",
            "this session id is taken; choose another".into(),
        ));
    }
    state
        .app
        .db
        .audit(
            Some(user_id),
            "qr_code_issued",
            &active.client.client_id,
            "",
            &session,
            now,
        )
        .await?;
    Ok(no_store(Json(json!({ "code": code }))))
}

pub async fn session_state(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let (_, user_id) = person(&state, &headers).await?;
    match state
        .app
        .db
        .qr_session(&session, crate::time::now())
        .await?
    {
        Some((owner, used)) if owner == user_id => Ok(no_store(Json(
            json!({ "code": if used { "used" } else { "unused" } }),
        ))),
        _ => Err(Error::NotFound),
    }
}

/// The person of the Bearer token, whose token grants something (a lost card's
/// token, with no scope, does not).
async fn person(state: &SharedState, headers: &HeaderMap) -> Result<(Active, i64)> {
    let active = granting_token(state, headers).await?;
    let user_id = active.user.as_ref().map(|u| u.id).ok_or_else(|| {
        Error::InsufficientScope("this token stands for a client, not a person".into())
    })?;
    Ok((active, user_id))
}

/// A session id is the generating side's: 1 to 128 visible ASCII characters.
fn check_session_id(session: &str) -> Result<()> {
    if (1..=128).contains(&session.len()) && session.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::field(
            "session",
            "must be 1 to 128 visible ASCII characters",
        ))
    }
}
