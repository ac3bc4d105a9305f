//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`, and `none` for
//! public clients. It runs once, before any grant, so no grant can forget it.

use super::tokens::{Prefetched, plausible};
use crate::error::{Error, Result};
use crate::service::App;
use crate::store::{Client, ClientRef, ClientSnapshot, TokenKeys};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::Arc;

/// How the client presented itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    None,
}

fn bad(description: &str) -> Error {
    Error::InvalidClient(description.into())
}

/// RFC 6749 §2.3.1: the id and secret in Basic are form-urlencoded first.
fn form_decode(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned(); // nothing encoded
    }
    // form_urlencoded decodes pairs; `s` is the value of one.
    let mut pair = String::with_capacity(s.len() + 2);
    pair.push_str("x=");
    pair.push_str(s);
    url::form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `(client_id, secret, method)` from the Authorization header or the body.
pub fn credentials(
    authorization: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Option<(String, Option<String>, Method)>> {
    let body_id = params.get("client_id").filter(|v| !v.is_empty());
    let body_secret = params.get("client_secret").filter(|v| !v.is_empty());
    if let Some(header) = authorization {
        // The scheme's name is case-insensitive (RFC 7235 §2.1).
        let Some(encoded) = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, rest)| rest)
        else {
            return Err(bad(
                "only HTTP Basic client authentication is supported in the Authorization header",
            ));
        };
        if body_secret.is_some() {
            // RFC 6749 §2.3: a client MUST NOT use more than one method.
            return Err(Error::invalid_request(
                "use either HTTP Basic or client_secret in the body, not both",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad("malformed HTTP Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| bad("malformed HTTP Basic credentials"))?;
        let id = form_decode(id);
        if body_id.is_some_and(|b| *b != id) {
            return Err(bad("client_id in the body differs from HTTP Basic"));
        }
        return Ok(Some((id, Some(form_decode(secret)), Method::Basic)));
    }
    Ok(body_id.map(|id| {
        let method = if body_secret.is_some() {
            Method::Post
        } else {
            Method::None
        };
        (id.clone(), body_secret.cloned(), method)
    }))
}

impl App {
    /// The authenticated client, or `invalid_client` (seed 001 code 5). A public
    /// client authenticates with its id alone; a confidential one with its secret.
    pub async fn authenticate_client(
        &self,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Result<(Client, Method)> {
        let (client_id, secret, method) = required(authorization, params)?;
        let client = self.db.client_by_client_id(&client_id).await?;
        self.check_client(client, secret.as_deref(), method)
    }

    /// [`App::authenticate_client`] with the client's kept row
    /// ([`crate::store::Db::cached_client`]). `None` where the kept row does not
    /// accept the credentials, or nothing is kept: only a fresh row may refuse a
    /// client (its secret may be new), so the caller then authenticates the
    /// ordinary way; the kept row is forgotten.
    pub async fn authenticate_kept_client(
        &self,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Result<Option<(ClientSnapshot, Method)>> {
        let Ok((client_id, secret, method)) = required(authorization, params) else {
            return Ok(None);
        };
        let Some(kept) = self.db.cached_client(&client_id).await? else {
            return Ok(None);
        };
        match self.check_client(Some(kept.client.clone()), secret.as_deref(), method) {
            Ok((_, method)) => Ok(Some((kept, method))),
            Err(_) => {
                self.db.forget_client(&client_id);
                Ok(None)
            }
        }
    }

    /// [`App::authenticate_client`] for introspection, which reads the client and the
    /// access token `token` (by its ordered key) in one query.
    pub async fn authenticate_client_with_token(
        &self,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
        token: &str,
    ) -> Result<(ClientRef, Method, Option<Prefetched>)> {
        let (client_id, secret, method) = required(authorization, params)?;
        let (client, found) = if plausible(token) {
            let keys = TokenKeys::of(&self.key, token);
            match self
                .db
                .client_and_access_token(&client_id, &keys.key)
                .await?
            {
                Some((client, row)) => (Some(client), Some(Prefetched { keys, row })),
                None => (None, None),
            }
        } else {
            let client = self.db.client_by_client_id(&client_id).await?;
            (client.as_ref().map(ClientRef::from), None)
        };
        let (client, method) = self.check_client(client, secret.as_deref(), method)?;
        Ok((client, method, found))
    }

    /// Checks presented credentials against the client's row (`None`: no such client).
    fn check_client<C: Credentials>(
        &self,
        client: Option<C>,
        secret: Option<&str>,
        method: Method,
    ) -> Result<(C, Method)> {
        let client = client.filter(|c| !c.credentials().disabled);
        // Spend the hash either way, so an unknown id is not faster to learn.
        let ok = match (client.as_ref().map(C::credentials), secret) {
            (Some(c), Some(s)) => c.secret_hash.is_some_and(|h| self.key.verify_secret(s, h)),
            (Some(c), None) => c.is_public,
            (None, presented) => {
                let _ = self.key.hash_secret(presented.unwrap_or_default());
                false
            }
        };
        match client {
            Some(c) if ok => Ok((c, method)),
            _ => Err(bad(
                "client authentication failed (wrong client_id or client_secret)",
            )),
        }
    }
}

/// What checking a client's credentials reads of its row.
struct Checked<'a> {
    secret_hash: Option<&'a str>,
    is_public: bool,
    disabled: bool,
}

/// A client row, whole or narrow, that credentials are checked against.
trait Credentials {
    fn credentials(&self) -> Checked<'_>;
}

impl Credentials for Arc<Client> {
    fn credentials(&self) -> Checked<'_> {
        self.as_ref().credentials()
    }
}

impl Credentials for Client {
    fn credentials(&self) -> Checked<'_> {
        Checked {
            secret_hash: self.secret_hash.as_deref(),
            is_public: self.is_public,
            disabled: self.disabled,
        }
    }
}

impl Credentials for ClientRef {
    fn credentials(&self) -> Checked<'_> {
        Checked {
            secret_hash: self.secret_hash.as_deref(),
            is_public: self.is_public,
            disabled: self.disabled,
        }
    }
}

/// [`credentials`], which must be there.
fn required(
    authorization: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<(String, Option<String>, Method)> {
    credentials(authorization, params)?.ok_or_else(|| bad("client authentication is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_is_form_decoded_and_exclusive() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret"));
        let (id, secret, method) = credentials(Some(&header), &params(&[])).unwrap().unwrap();
        assert_eq!(
            (id.as_str(), secret.as_deref(), method),
            ("my app", Some("s:cret"), Method::Basic)
        );
        // '+' is a space in a form; a value with nothing encoded is taken as it is.
        let header = format!("Basic {}", STANDARD.encode("my+app:plain-Secret_1"));
        let (id, secret, _) = credentials(Some(&header), &params(&[])).unwrap().unwrap();
        assert_eq!(
            (id.as_str(), secret.as_deref()),
            ("my app", Some("plain-Secret_1"))
        );
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret"));
        assert!(credentials(Some(&header), &params(&[("client_secret", "x")])).is_err());
        assert!(credentials(Some(&header), &params(&[("client_id", "other")])).is_err());
        assert!(credentials(Some("Bearer x"), &params(&[])).is_err());
        // The scheme's name in any case (RFC 7235 §2.1).
        let header = format!("BASIC {}", STANDARD.encode("a:b"));
        let (id, _, _) = credentials(Some(&header), &params(&[])).unwrap().unwrap();
        assert_eq!(id, "a");
        let (_, _, m) = credentials(None, &params(&[("client_id", "a"), ("client_secret", "b")]))
            .unwrap()
            .unwrap();
        assert_eq!(m, Method::Post);
        let (_, _, m) = credentials(None, &params(&[("client_id", "a")]))
            .unwrap()
            .unwrap();
        assert_eq!(m, Method::None);
        assert!(credentials(None, &params(&[])).unwrap().is_none());
    }
}
