//! Reading a compact JWS before and after its signature is checked: the protected
//! header (RFC 7515 §4.1) and the time claims (RFC 7519 §4.1.4-4.1.5).

use super::Alg;
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The protected header members that verification looks at (RFC 7515 §4.1).
pub(super) struct TokenHeader {
    pub alg: Alg,
    pub kid: String,
    pub typ: String,
}

impl TokenHeader {
    /// Reads the header of a compact JWS (RFC 7515 §7.1) without trusting it yet.
    pub fn parse(token: &str) -> Result<Self> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the token is not a compact JWS"));
        };
        let header: serde_json::Map<String, Value> = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| invalid("the token header is not valid"))?;
        let text = |name: &str| header.get(name).and_then(Value::as_str);
        let alg = text("alg").ok_or_else(|| invalid("the token header has no alg"))?;
        // RFC 8725 §3.1-3.2: unsecured JWS (RFC 7518 §3.6) and HMAC, whose key an
        // attacker may take from our public key, are never accepted.
        if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") {
            return Err(invalid(format!("the token algorithm {alg:?} is refused")));
        }
        let alg = alg.parse::<Alg>().map_err(|e| invalid(e.to_string()))?;
        // RFC 7515 §4.1.11: we understand no extension, so a "crit" header cannot be
        // honoured.
        if header.contains_key("crit") {
            return Err(invalid("the token header has critical extensions"));
        }
        let kid = text("kid").ok_or_else(|| invalid("the token header has no kid"))?;
        let typ = text("typ").ok_or_else(|| invalid("the token header has no typ"))?;
        Ok(Self {
            alg,
            kid: kid.to_string(),
            typ: typ.to_string(),
        })
    }
}

/// A media type compared as RFC 7515 §4.1.9 says: case-insensitively, with the
/// "application/" prefix optional.
pub(super) fn media_type(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// `exp` is required and must be after `now` (RFC 7519 §4.1.4; RFC 9068 §2.2 and
/// OpenID Connect Core §2 require it); `nbf`, when present, must not be after `now`
/// (RFC 7519 §4.1.5). No leeway: the tokens are verified by the servers that issue
/// them.
pub(super) fn check_times(claims: &Value, now: i64) -> Result<()> {
    let Some(claims) = claims.as_object() else {
        return Err(invalid("the token claims are not a JSON object"));
    };
    let number = |name: &str| -> Result<Option<f64>> {
        match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| invalid(format!("the token {name} is not a number"))),
        }
    };
    let now = now as f64;
    let exp = number("exp")?.ok_or_else(|| invalid("the token has no exp"))?;
    if now >= exp {
        return Err(invalid("the token has expired"));
    }
    if number("nbf")?.is_some_and(|nbf| now < nbf) {
        return Err(invalid("the token is not valid yet"));
    }
    Ok(())
}

pub(super) fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidToken(why.into())
}
