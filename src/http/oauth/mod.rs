//! The OAuth 2.0 / OpenID Connect endpoints.

pub mod authorize;
pub mod discovery;
pub mod qr;
pub mod register;
pub mod seed001;
pub mod sms;
pub mod token;
pub mod userinfo;

use crate::error::{Error, Result};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Parameters as a map. RFC 6749 §3.1/§3.2: a parameter sent twice is an error.
pub fn single_valued(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>> {
    use std::collections::hash_map::Entry;
    let mut map = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        match map.entry(k) {
            Entry::Occupied(seen) => {
                return Err(Error::invalid_request(format!(
                    "the {} parameter is repeated",
                    seen.key()
                )));
            }
            Entry::Vacant(slot) => {
                slot.insert(v);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_sent_twice_is_refused_by_name() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let map = single_valued(pairs(&[("grant_type", "x"), ("scope", "a b")])).unwrap();
        assert_eq!(map.get("scope").map(String::as_str), Some("a b"));
        assert_eq!(map.len(), 2);
        let e = single_valued(pairs(&[
            ("scope", "a"),
            ("grant_type", "x"),
            ("scope", "b"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string().contains("the scope parameter is repeated"),
            "{e}"
        );
    }
}
