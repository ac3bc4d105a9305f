//! PKCE (RFC 7636).
//!
//! §4.1: a verifier is 43–128 characters of `[A-Za-z0-9-._~]`. §4.6: with `S256`
//! the server checks `BASE64URL(SHA256(verifier)) == challenge`. `plain` sends the
//! secret through the browser and is refused (RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Checks a `code_challenge` and its method at the authorization endpoint.
pub fn validate_challenge(challenge: &str, method: Option<&str>) -> Result<(), &'static str> {
    match method.unwrap_or("plain") {
        "S256" => {}
        "plain" => return Err("code_challenge_method plain is not allowed; use S256"),
        _ => return Err("unsupported code_challenge_method"),
    }
    // A S256 challenge is the base64url of 32 bytes: 43 characters.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("code_challenge is not a base64url SHA-256 value");
    }
    Ok(())
}

/// Whether `verifier` matches the stored S256 `challenge`.
pub fn verify(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    crate::crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_example() {
        assert!(validate_challenge(CHALLENGE, Some("S256")).is_ok());
        assert!(verify(CHALLENGE, VERIFIER));
        assert!(!verify(
            CHALLENGE,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        assert!(!verify(CHALLENGE, "short"));
    }

    #[test]
    fn plain_and_unknown_methods_are_refused() {
        assert!(validate_challenge(CHALLENGE, None).is_err());
        assert!(validate_challenge(CHALLENGE, Some("plain")).is_err());
        assert!(validate_challenge(CHALLENGE, Some("S512")).is_err());
        assert!(validate_challenge("abc", Some("S256")).is_err());
    }
}
