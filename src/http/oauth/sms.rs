//! `GET|POST /oauth/v2/code?phone=…&title=…&abort=…&phone_conflict=…` (seed 004):
//! sends a code by SMS for the caller of the Bearer token, a client (to log the
//! phone's holder in) or a person (to bind the phone); 200 with an empty body when
//! sent ([`crate::service::oauth::sms`]).

use super::userinfo::granting_token;
use super::{form_pairs, single_valued};
use crate::error::{Error, Result};
use crate::http::SharedState;
use crate::service::oauth::sms::CodeRequest;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn code(
    State(state): State<SharedState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let active = granting_token(&state, &headers).await?;
    // The query's parameters, and a form body's (POST).
    let mut pairs = form_pairs(query.unwrap_or_default().as_bytes());
    pairs.extend(form_pairs(&body));
    let params = single_valued(pairs)?;
    let get = |k: &str| params.get(k).map(String::as_str);
    let request = CodeRequest {
        phone: get("phone")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::field("phone", "is required"))?,
        title: get("title"),
        abort: get("abort"),
        phone_conflict: get("phone_conflict"),
    };
    state.app.send_sms_code(&active, &request).await?;
    Ok(StatusCode::OK.into_response())
}
