//! The OAuth 2.0 / OpenID Connect endpoints.

pub mod authorize;
pub mod discovery;
pub mod register;
pub mod token;
pub mod userinfo;

use crate::error::{Error, Result};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Parameters as a map. RFC 6749 §3.1/§3.2: a parameter sent twice is an error.
pub fn single_valued(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>> {
    let mut map = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(Error::invalid_request(format!(
                "the {k} parameter is repeated"
            )));
        }
    }
    Ok(map)
}

/// Whether the request body is a form (code 9 otherwise, seed 001).
pub fn require_form(headers: &HeaderMap) -> Result<()> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(
            9,
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ))
    }
}

/// Parses a form body.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// A JSON answer that must not be cached (RFC 6749 §5.1).
pub fn no_store(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
