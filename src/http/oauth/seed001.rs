//! `POST /oauth2/token`: seed 001's token endpoint, answering in that seed's envelope
//! (SPEC §5): `success: true` beside the token fields, and on error
//! `{"success": false, "error": {"msg", "code", "message"}}` with the seed's code,
//! its name and its Chinese text. The body is a form or JSON; any other Content-Type
//! is code 9. The grants are [`grants::seed001`]'s.

use super::no_store;
use super::token::{FormPost, authorization};
use crate::error::Error;
use crate::http::SharedState;
use crate::service::oauth::Issued;
use crate::service::oauth::grants;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Serialize)]
struct Success<'a> {
    success: bool,
    #[serde(flatten)]
    issued: &'a Issued,
}

#[derive(Serialize)]
struct Failure {
    success: bool,
    error: Detail,
}

#[derive(Serialize)]
struct Detail {
    msg: &'static str,
    code: u8,
    message: &'static str,
}

pub async fn token(State(state): State<SharedState>, post: FormPost) -> Response {
    match answer(&state, &post).await {
        Ok(issued) => no_store(Json(Success {
            success: true,
            issued: &issued.as_seeds_spell_it(),
        })),
        Err(e) => failure(&e),
    }
}

async fn answer(state: &SharedState, post: &FormPost) -> Result<Issued, Error> {
    let params = with_query(post)?;
    let settings = state.app.settings().await?;
    grants::seed001::dispatch(&state.app, authorization(&post.headers), &params, &settings).await
}

/// The parameters of the body and of the query (Oltu's servlet read both; a name in
/// both is refused as repeated). With an empty body the query alone counts.
fn with_query(post: &FormPost) -> Result<HashMap<String, String>, Error> {
    let query = post.query.as_deref().filter(|q| !q.is_empty());
    let mut params = match query {
        Some(_) if post.body.is_empty() => HashMap::new(),
        _ => params(&post.headers, &post.body)?,
    };
    for (k, v) in super::form_pairs(query.unwrap_or_default().as_bytes()) {
        if params.contains_key(&k) {
            return Err(Error::invalid_request(format!(
                "the {k} parameter is repeated"
            )));
        }
        params.insert(k, v);
    }
    Ok(params)
}

/// The parameters of a form or of a JSON object (strings, numbers and booleans).
fn params(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Error> {
    let kind = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match kind.as_str() {
        "application/x-www-form-urlencoded" => super::single_valued(super::form_pairs(body)),
        "application/json" => {
            let object: serde_json::Map<String, Value> =
                serde_json::from_slice(body).map_err(|e| {
                    Error::invalid_request(format!("the body is not a JSON object: {e}"))
                })?;
            let mut params = HashMap::with_capacity(object.len());
            for (key, value) in object {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    Value::Array(_) | Value::Object(_) => {
                        return Err(Error::invalid_request(format!(
                            "the {key} parameter must be a string"
                        )));
                    }
                };
                params.insert(key, text);
            }
            Ok(params)
        }
        _ => Err(Error::InvalidRequest(
            9,
            "Content-Type must be application/x-www-form-urlencoded or application/json".into(),
        )),
    }
}

/// The seed's envelope of an error, with the status `/oauth/token` would answer.
fn failure(e: &Error) -> Response {
    let (status, _, code) = e.parts();
    if status.is_server_error() {
        tracing::error!(error = %e, "request failed");
    }
    let (msg, message) = match e {
        Error::QuotaExceeded => ("QUOTA_EXCEEDED", "今日获取 access_token 的次数已达上限。"),
        _ => seed_text(code),
    };
    let mut r = no_store((
        status,
        Json(Failure {
            success: false,
            error: Detail { msg, code, message },
        }),
    ));
    if let Some(challenge) = e.challenge() {
        r.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    r
}

/// Seed 001's name and text of an error code.
fn seed_text(code: u8) -> (&'static str, &'static str) {
    match code {
        2 => ("SERVER_ERROR", "服务器错误"),
        3 => ("USER_NOT_FOUND", "用户未找到"),
        4 => ("WRONG_PASSWORD", "密码错误"),
        5 => (
            "INVALID_CLIENT_ID",
            "客户端验证失败,如错误的client_id/client_secret。",
        ),
        6 => ("INVALID_ACCESS_TOKEN", "access_token无效或已过期。"),
        7 => ("MISSING_REDIRECT_URI", "缺少授权成功后的回调地址。"),
        8 => ("INVALID_AUTH_CODE", "错误的授权码"),
        9 => ("INVALID_CONTENT_TYPE", "Content-Type 错误"),
        10 => ("INVALID_USERNAME_PASSWORD", "错误的用户名/密码"),
        11 => ("UNSUPPORTED_GRANT_TYPE", "授权类型错误"),
        12 => ("ACCESS_TOKEN_CREATE_FAILED", "access_token创建失败"),
        13 => ("AUTH_CODE_CREATE_FAILED", "授权码创建失败"),
        14 => ("INSUFFICIENT_SCOPE", "权限不足,范围错误"),
        15 => ("INVALID_REFRESH_TOKEN", "refresh_token失效"),
        16 => ("REFRESH_TOKEN_CREATE_FAILED", "refresh_token创建失败"),
        _ => ("ERROR", "错误"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_seed_has_its_name() {
        let names: Vec<&str> = (1..=16).map(|c| seed_text(c).0).collect();
        assert_eq!(
            names,
            [
                "ERROR",
                "SERVER_ERROR",
                "USER_NOT_FOUND",
                "WRONG_PASSWORD",
                "INVALID_CLIENT_ID",
                "INVALID_ACCESS_TOKEN",
                "MISSING_REDIRECT_URI",
                "INVALID_AUTH_CODE",
                "INVALID_CONTENT_TYPE",
                "INVALID_USERNAME_PASSWORD",
                "UNSUPPORTED_GRANT_TYPE",
                "ACCESS_TOKEN_CREATE_FAILED",
                "AUTH_CODE_CREATE_FAILED",
                "INSUFFICIENT_SCOPE",
                "INVALID_REFRESH_TOKEN",
                "REFRESH_TOKEN_CREATE_FAILED",
            ]
        );
    }
}
