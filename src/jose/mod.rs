//! JOSE: the keys the server signs tokens with, the JWKS that publishes them, and
//! compact JWS signing and verification (RFC 7515, RFC 7519).
//!
//! - One active key per algorithm signs: RS256 (RSA 2048; the algorithm every OpenID
//!   Provider supports, OpenID Connect Core §15.1), ES256 (P-256) and EdDSA
//!   (Ed25519, RFC 8037). Private keys are stored as PKCS#8 DER, encrypted under the
//!   server key.
//! - [`rotate`] retires the active keys and makes new ones. A retired key no longer
//!   signs but stays in the JWKS and keeps verifying until [`KeySet::load`] deletes
//!   it, once every token it signed has expired.
//! - Every token is explicitly typed (RFC 8725 §3.11): `JWT` for ID tokens, `at+jwt`
//!   for access tokens (RFC 9068 §2.1), and [`KeySet::verify`] insists on the type
//!   it expects, so that one kind of token cannot be used as the other.
//! - Verification follows RFC 8725 §3.1: the algorithm comes from our key, never from
//!   the token; `none` and the HMAC algorithms are refused outright.

mod keys;
#[cfg(test)]
mod tests;
mod token;

use crate::crypto::{SecretKey, random_token};
use crate::error::{Error, Result};
use crate::store::{Db, unique_violation};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use token::{TokenHeader, check_times, invalid, media_type};

/// How often at most [`KeySet::verify`] re-reads the keys for a `kid` it does not
/// know, so that tokens with made-up kids cannot hammer the database.
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// A JWS algorithm the server signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    /// Every algorithm, RS256 first.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The `alg` value; case-sensitive (RFC 7515 §4.1.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `alg` the server does not sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWS algorithm {0:?} (expected RS256, ES256 or EdDSA)")]
pub struct UnknownAlg(pub String);

impl FromStr for Alg {
    type Err = UnknownAlg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| UnknownAlg(s.to_string()))
    }
}

/// Every signing key of the server, reloadable. Cloning is cheap and clones share
/// the keys.
#[derive(Clone)]
pub struct KeySet {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    secret: SecretKey,
    keys: RwLock<Arc<Keys>>,
    /// When [`KeySet::verify`] last re-read the keys for an unknown `kid`; held while
    /// it does, so that concurrent requests wait for that one reload.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

/// The keys as read from the table at one moment.
struct Keys {
    /// The active key of each algorithm.
    signing: HashMap<Alg, SignKey>,
    /// Every key, active and retired, by `kid`.
    verifying: HashMap<String, VerifyKey>,
    /// The published JWKs, newest first.
    jwks: Vec<Value>,
    /// [`Db::signing_key_states`] of the keys read.
    states: String,
}

struct SignKey {
    kid: String,
    signer: keys::Signer,
}

#[derive(Clone)]
struct VerifyKey {
    alg: Alg,
    decoding: DecodingKey,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys();
        let mut kids: Vec<&String> = keys.verifying.keys().collect();
        kids.sort();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Loads the keys. Deletes the keys retired more than `keep_seconds` ago (pass
    /// the longest token lifetime, plus a margin for instances that keep signing
    /// with a retired key until they reload), then makes a key for each algorithm
    /// that has no active one.
    ///
    /// Instances starting at once may both find no active key: the store adds a key
    /// only where none is active, and whichever instance loses reads the winner's.
    pub async fn load(db: &Db, secret: &SecretKey, keep_seconds: i64, now: i64) -> Result<Self> {
        let deleted = db
            .delete_signing_keys_retired_before(now.saturating_sub(keep_seconds))
            .await?;
        if deleted > 0 {
            tracing::info!(deleted, "deleted signing keys whose tokens have expired");
        }
        let mut loaded = read_keys(db, secret).await?;
        let missing: Vec<Alg> = Alg::ALL
            .into_iter()
            .filter(|alg| !loaded.signing.contains_key(alg))
            .collect();
        if !missing.is_empty() {
            for alg in missing {
                let new = NewKey::generate(secret, alg).await?;
                let stored = db
                    .insert_signing_key(&new.kid, alg.as_str(), &new.private_enc, &new.jwk, now)
                    .await;
                match stored {
                    Ok(true) => tracing::info!(kid = %new.kid, %alg, "generated a signing key"),
                    // Another instance stored one first; it is read below.
                    Ok(false) => {}
                    Err(Error::Database(e)) if unique_violation(&e).is_some() => {}
                    Err(e) => return Err(e),
                }
            }
            loaded = read_keys(db, secret).await?;
        }
        if let Some(alg) = Alg::ALL
            .into_iter()
            .find(|alg| !loaded.signing.contains_key(alg))
        {
            return Err(Error::Internal(format!("no active {alg} signing key")));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db: db.clone(),
                secret: secret.clone(),
                keys: RwLock::new(Arc::new(loaded)),
                last_refresh: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// Re-reads the keys, e.g. after another instance rotated them. Uses the
    /// database and server key it was loaded with.
    pub async fn reload(&self) -> Result<()> {
        let keys = read_keys(&self.inner.db, &self.inner.secret).await?;
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }

    fn keys(&self) -> Arc<Keys> {
        Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The `kid` of the key that signs with `alg`.
    pub fn active_kid(&self, alg: Alg) -> Option<String> {
        self.keys().signing.get(&alg).map(|k| k.kid.clone())
    }

    /// The JWK Set (RFC 7517 §5) of every key, active and retired: `{"keys": [...]}`.
    pub fn jwks(&self) -> Value {
        serde_json::json!({ "keys": self.keys().jwks })
    }

    /// Re-reads the keys when the table holds others than were read: another
    /// instance (or `usercenter keys rotate`) added, retired or deleted one. For the
    /// published set, which must be every instance's (SPEC §6), and the periodic check.
    pub async fn refresh(&self) -> Result<()> {
        if self.inner.db.signing_key_states().await? != self.keys().states {
            self.reload().await?;
        }
        Ok(())
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims`, signed with the active key of
    /// `alg`, with the header `{"alg", "typ", "kid"}`. `typ` is `JWT` for ID tokens
    /// and `at+jwt` for access tokens (RFC 9068 §2.1).
    pub fn sign(&self, alg: Alg, typ: &str, claims: &Value) -> Result<String> {
        if !claims.is_object() {
            // RFC 7519 §7.1: the claims set is a JSON object.
            return Err(Error::Internal("JWT claims must be a JSON object".into()));
        }
        let keys = self.keys();
        let key = keys
            .signing
            .get(&alg)
            .ok_or_else(|| Error::Internal(format!("no active {alg} signing key")))?;
        // RFC 7515 §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature).
        let header = serde_json::json!({"alg": alg.as_str(), "typ": typ, "kid": key.kid});
        let encode = |v: &Value| serde_json::to_vec(v).map(|bytes| URL_SAFE_NO_PAD.encode(bytes));
        let (header, payload) = match (encode(&header), encode(claims)) {
            (Ok(h), Ok(p)) => (h, p),
            _ => return Err(Error::Internal(format!("cannot encode a {alg} token"))),
        };
        let input = format!("{header}.{payload}");
        let signature = key.signer.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Verifies a compact JWS signed by one of our keys, of type `expected_typ`,
    /// unexpired at `now`, and answers its claims. Checks the signature, `typ`,
    /// `exp` and `nbf`, but not `iss` or `aud`: callers do.
    pub async fn verify(&self, token: &str, expected_typ: &str, now: i64) -> Result<Value> {
        let header = TokenHeader::parse(token)?;
        // RFC 7515 §4.1.9: media types compare case-insensitively, and the
        // "application/" prefix may be left out.
        if media_type(&header.typ) != media_type(expected_typ) {
            return Err(invalid(format!(
                "the token is of type {:?}, not {expected_typ:?}",
                header.typ
            )));
        }
        let key = match self.verify_key(&header.kid) {
            Some(key) => key,
            None => self
                .refresh_for(&header.kid)
                .await
                .ok_or_else(|| invalid("the token was signed by an unknown key"))?,
        };
        // RFC 8725 §3.1: the key decides the algorithm, not the token.
        if key.alg != header.alg {
            return Err(invalid(format!(
                "the token says {} but its key is {}",
                header.alg, key.alg
            )));
        }
        let mut validation = Validation::new(key.alg.jwt());
        // Time, audience and issuer are checked here and by the callers, not by
        // jsonwebtoken (which would read the clock itself).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .map_err(|_| invalid("the token signature is not valid"))?
            .claims;
        check_times(&claims, now)?;
        Ok(claims)
    }

    fn verify_key(&self, kid: &str) -> Option<VerifyKey> {
        self.keys().verifying.get(kid).cloned()
    }

    /// Re-reads the keys for an unknown `kid`, at most once per
    /// [`REFRESH_INTERVAL`], and looks it up again.
    async fn refresh_for(&self, kid: &str) -> Option<VerifyKey> {
        let mut last = self.inner.last_refresh.lock().await;
        // A concurrent request may have reloaded while this one waited.
        if let Some(key) = self.verify_key(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return None;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "cannot reload the signing keys");
            return None;
        }
        self.verify_key(kid)
    }
}

/// Retires every active key (`retired_at = now`) and makes a new one for each
/// algorithm; answers the new `kid`s, in the order of [`Alg::ALL`]. Running
/// instances sign with their old keys until they reload, and those tokens keep
/// verifying: a retired key stays in the JWKS.
pub async fn rotate(db: &Db, secret: &SecretKey, now: i64) -> Result<Vec<String>> {
    let mut kids = Vec::with_capacity(Alg::ALL.len());
    for alg in Alg::ALL {
        let new = NewKey::generate(secret, alg).await?;
        db.replace_signing_key(&new.kid, alg.as_str(), &new.private_enc, &new.jwk, now)
            .await?;
        tracing::info!(kid = %new.kid, %alg, "rotated the signing key");
        kids.push(new.kid);
    }
    Ok(kids)
}

/// A freshly generated key, ready to store.
struct NewKey {
    kid: String,
    private_enc: String,
    jwk: String,
}

impl NewKey {
    async fn generate(secret: &SecretKey, alg: Alg) -> Result<Self> {
        let der = tokio::task::spawn_blocking(move || keys::generate(alg))
            .await
            .map_err(|e| Error::Internal(format!("key generation stopped: {e}")))??;
        let (_, public) = keys::open(alg, &der)?;
        let kid = random_token(12);
        let jwk = Value::Object(keys::published(&kid, alg, &public)).to_string();
        Ok(Self {
            private_enc: secret.encrypt(&der),
            jwk,
            kid,
        })
    }
}

/// Reads every key from the table. Only the active keys are decrypted; a retired
/// key that cannot be read is left out with a warning, where an active one is an
/// error.
async fn read_keys(db: &Db, secret: &SecretKey) -> Result<Keys> {
    let mut set = Keys {
        signing: HashMap::new(),
        verifying: HashMap::new(),
        jwks: Vec::new(),
        states: String::new(),
    };
    let rows = db.signing_keys().await?;
    set.states =
        crate::store::key_states(rows.iter().map(|row| (row.kid.as_str(), row.retired_at)));
    // Newest first: should two keys of one algorithm be active, every instance
    // signs with the same, newest one.
    for row in rows {
        let Ok(alg) = row.alg.parse::<Alg>() else {
            tracing::warn!(kid = %row.kid, alg = %row.alg, "skipping a signing key of an unknown algorithm");
            continue;
        };
        let stored = match serde_json::from_str::<Value>(&row.public_jwk) {
            Ok(Value::Object(members)) => members,
            _ => keys::Members::new(),
        };
        let decoding = keys::decoding_key(alg, &stored);
        let signs = row.retired_at.is_none() && !set.signing.contains_key(&alg);
        let decoding = match decoding {
            Ok(decoding) => decoding,
            Err(e) if !signs => {
                tracing::warn!(kid = %row.kid, error = %e, "skipping an unreadable retired signing key");
                continue;
            }
            Err(e) => return Err(e),
        };
        if signs {
            let unreadable = || {
                Error::Internal(format!(
                    "cannot open the active {alg} signing key {}: was USERCENTER_SECRET_KEY \
                     changed? Rotating the keys replaces them",
                    row.kid
                ))
            };
            let der =
                zeroize::Zeroizing::new(secret.decrypt(&row.private_enc).ok_or_else(unreadable)?);
            let (signer, public) = keys::open(alg, &der)?;
            if !keys::same_public_key(&public, &stored) {
                return Err(unreadable());
            }
            set.signing.insert(
                alg,
                SignKey {
                    kid: row.kid.clone(),
                    signer,
                },
            );
        }
        set.jwks
            .push(Value::Object(keys::published(&row.kid, alg, &stored)));
        set.verifying.insert(row.kid, VerifyKey { alg, decoding });
    }
    Ok(set)
}
