//! Secrets at rest.
//!
//! - Passwords are people's secrets, low in entropy: argon2id, computed on a bounded
//!   pool of blocking threads so that a burst of logins cannot starve the async
//!   workers that serve tokens.
//! - Client secrets, tokens, codes and session ids are machine-made, high in entropy:
//!   a keyed fast hash (HMAC-SHA-256 under a key derived from the server key) is
//!   enough, and argon2 there would cap the token endpoint at a few hundred
//!   requests per second. Hashes are compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The server's 32-byte secret key (`USERCENTER_SECRET_KEY`).
#[derive(Clone)]
pub struct SecretKey {
    /// HMAC-SHA-256 keyed with the derived hash key, its key blocks already hashed:
    /// each hash clones it instead of keying anew (two SHA-256 blocks fewer).
    hasher: HmacSha256,
    encryption_key: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "must be 64 hex characters (openssl rand -hex 32)".to_string())?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 64 hex characters (32 bytes)".to_string())?;
        Ok(Self::from_bytes(&raw))
    }

    fn from_bytes(raw: &[u8; 32]) -> Self {
        // Separate keys per purpose, so that a hash can never be replayed as a
        // ciphertext key or the reverse.
        Self {
            hasher: keyed(&derive(raw, b"usercenter/secret-hash/v1")),
            encryption_key: derive(raw, b"usercenter/encryption/v1"),
        }
    }

    /// A fresh random key, as hex.
    pub fn generate_hex() -> String {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        hex::encode(raw)
    }

    /// Reads the key file beside a SQLite database, creating it (mode 0600) the
    /// first time.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = Self::generate_hex();
                write_private(path, &text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Self::from_hex(&text)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The keyed hash of a high-entropy secret, as stored in the database.
    pub fn hash_secret(&self, secret: &str) -> String {
        let mut mac = self.hasher.clone();
        mac.update(secret.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }

    /// The stored key of an access or refresh token: the hex of the token's first six
    /// bytes (its time of issue, see [`ordered_token`]) followed by its keyed hash.
    /// Rows keyed so are appended at the end of the token index, where keys of bare
    /// hashes land on a random page each: with a page written per token, the WAL and
    /// the index's working set grew with the number of tokens stored. The prefix tells
    /// only when the token was made; the hash alone still finds it.
    ///
    /// A JWT access token takes the prefix of its `jti` claim, itself an ordered
    /// token; the claim only places the key, the hash of the whole token still has to
    /// match.
    pub fn hash_token(&self, token: &str) -> String {
        token_prefix(token) + &self.hash_secret(token)
    }

    /// Whether `secret` hashes to `stored`, in constant time.
    pub fn verify_secret(&self, secret: &str, stored: &str) -> bool {
        constant_time_eq(self.hash_secret(secret).as_bytes(), stored.as_bytes())
    }

    /// Encrypts data at rest (signing keys, ID-card numbers) with
    /// XChaCha20-Poly1305 under a random nonce; base64url of `nonce || ciphertext`.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        use chacha20poly1305::XChaCha20Poly1305;
        use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
        let cipher = XChaCha20Poly1305::new(&self.encryption_key.into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption in memory with a valid key and nonce does not fail.
        let sealed = cipher.encrypt(&nonce, plaintext).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The inverse of [`SecretKey::encrypt`]; `None` when the text was not sealed
    /// under this key or was altered.
    pub fn decrypt(&self, sealed: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, body) = raw.split_at(24);
        XChaCha20Poly1305::new(&self.encryption_key.into())
            .decrypt(XNonce::from_slice(nonce), body)
            .ok()
    }

    /// [`SecretKey::decrypt`] for text.
    pub fn decrypt_text(&self, sealed: &str) -> Option<String> {
        self.decrypt(sealed).and_then(|b| String::from_utf8(b).ok())
    }
}

fn derive(raw: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = keyed(raw);
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA-256 under a 32-byte key.
fn keyed(key: &[u8; 32]) -> HmacSha256 {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The time prefix of a token's stored key ([`SecretKey::hash_token`]), in hex; empty
/// for what does not start with one.
pub fn token_prefix(token: &str) -> String {
    let jti;
    let ordered = if token.contains('.') {
        jti = jwt_id(token);
        jti.as_deref().unwrap_or_default()
    } else {
        token
    };
    ordered
        .get(..8)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .map(|p| to_hex(&p))
        .unwrap_or_default()
}

/// Lowercase hex, as `hex::encode` gives it, written into one buffer: `hex::encode`
/// collects the digits a char at a time (~1 % of introspection's CPU, which hashes
/// twice per request).
fn to_hex(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    // The buffer is twice the input's length, so this cannot fail; hex digits are ASCII.
    let _ = hex::encode_to_slice(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The `jti` claim of a JWT, unverified (it only places the token's key).
fn jwt_id(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        jti: String,
    }
    let payload = token.split('.').nth(1).filter(|p| p.len() <= 4096)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some(claims.jti)
}

/// A 32-byte token, base64url: six bytes of the time in milliseconds (big-endian),
/// then 26 random bytes (208 bits). Stored under [`SecretKey::hash_token`].
pub fn ordered_token() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut buf = [0u8; 32];
    buf[..6].copy_from_slice(&millis.to_be_bytes()[10..]);
    rand::rngs::OsRng.fill_bytes(&mut buf[6..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// argon2id on a fixed pool of worker threads.
///
/// A fixed pool, not `spawn_blocking`: each argon2id hash takes 19 MiB, and the
/// allocator keeps that memory per thread, so a few long-lived workers hold a few
/// blocks, where hashing on whichever blocking thread is free spreads the blocks over
/// dozens of threads (measured: 440 MB of RSS under a login burst).
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: std::sync::mpsc::Sender<Job>,
    /// A hash no password matches, verified when an account does not exist, so
    /// that the answer takes as long as for a real account.
    dummy_hash: Arc<str>,
}

type Job = Box<dyn FnOnce() + Send>;

impl PasswordHasher {
    /// `workers` hashes may run at once; more wait their turn in order.
    pub fn new(workers: usize) -> Result<Self, HashError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender is gone
                        }
                    }
                })
                .map_err(|e| HashError(e.to_string()))?;
        }
        let dummy_hash = unmatchable_hash()?;
        Ok(Self {
            jobs,
            dummy_hash: dummy_hash.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| HashError("the hashing pool has stopped".into()))?;
        rx.await
            .map_err(|_| HashError("the hashing pool has stopped".into()))
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `stored`; with `None`, spends the same time and
    /// answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let exists = stored.is_some();
        let stored = stored
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.to_string());
        let password = password.to_owned();
        let ok = self
            .run(move || verify_blocking(&password, &stored))
            .await
            .unwrap_or(false);
        ok && exists
    }
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A PHC string with the algorithm and parameters of every hash made here, a random
/// salt and a random output: verifying a password against it costs what verifying
/// against a real hash costs, and no password matches it. Made without hashing: a
/// hash at start took 19 MiB that the allocator then kept.
fn unmatchable_hash() -> Result<String, HashError> {
    use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
    let failed = |e: argon2::password_hash::Error| HashError(e.to_string());
    let argon2 = argon2::Argon2::default();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut output);
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::default().ident(),
        version: Some(argon2::Version::default().into()),
        params: ParamsString::try_from(argon2.params()).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(failed)?),
    };
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_is_keyed_and_verifies() {
        let a = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let b = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let h = a.hash_secret("s3cret");
        assert!(a.verify_secret("s3cret", &h));
        assert!(!a.verify_secret("s3creT", &h));
        assert_ne!(h, b.hash_secret("s3cret"), "the hash depends on the key");
    }

    #[test]
    fn stored_hashes_stay_what_they_were() {
        // Every stored secret and token is found by this value: a change to how it is
        // computed would lock out every client and revoke every token.
        let k = SecretKey::from_hex(&"2a".repeat(32)).unwrap();
        // HMAC-SHA-256 under HMAC-SHA-256(key, "usercenter/secret-hash/v1"), as Python's
        // hmac module computes it.
        assert_eq!(
            k.hash_secret("s3cret"),
            "ab9cebc3ac2a23616a2fb87cebe960aaba59fa4cf0cf397b974ff81c89dfab24"
        );
        // A token's key: the hex of its first six bytes (base64url), then its hash.
        assert_eq!(
            k.hash_token("AaJLe8rnRXmIXkg4YHykAT3jFksxgSD5far0c51YoPY"),
            "01a24b7bcae7\
             6ea9ab07f5cd0f7a1c1879206bee77d598556b523a971e4654fae0c634748b30"
        );
    }

    #[test]
    fn ordered_tokens_are_stored_in_issue_order() {
        let k = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let first = ordered_token();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = ordered_token();
        assert_eq!(first.len(), 43, "32 bytes, base64url");
        let (a, b) = (k.hash_token(&first), k.hash_token(&second));
        assert!(a < b, "a later token's key sorts after an earlier one's");
        assert!(
            a.ends_with(&k.hash_secret(&first)),
            "the keyed hash is all of it but the prefix"
        );
        assert_eq!(a, k.hash_token(&first));
        assert_ne!(first[8..], second[8..], "the rest is random");
        // What is not base64url at its start is stored under its bare hash.
        assert_eq!(k.hash_token("a.b.c"), k.hash_secret("a.b.c"));
        // A JWT is placed by its jti.
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"jti":"{second}","sub":"x"}}"#));
        let jwt = format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln");
        let key = k.hash_token(&jwt);
        assert_eq!(key[..12], k.hash_token(&second)[..12]);
        assert!(key.ends_with(&k.hash_secret(&jwt)));
    }

    #[test]
    fn encryption_round_trips_and_detects_tampering() {
        let a = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let b = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let sealed = a.encrypt(b"440923199001011234");
        assert_ne!(
            sealed,
            a.encrypt(b"440923199001011234"),
            "a fresh nonce each time"
        );
        assert_eq!(a.decrypt_text(&sealed).unwrap(), "440923199001011234");
        assert!(b.decrypt(&sealed).is_none(), "another key cannot open it");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(a.decrypt(&String::from_utf8(altered).unwrap()).is_none());
    }

    #[test]
    fn key_must_be_32_bytes_of_hex() {
        assert!(SecretKey::from_hex("zz").is_err());
        assert!(SecretKey::from_hex(&"ab".repeat(31)).is_err());
        assert!(SecretKey::from_hex(&"ab".repeat(32)).is_ok());
    }

    #[tokio::test]
    async fn argon2id_hash_and_verify() {
        let hasher = PasswordHasher::new(2).unwrap();
        let h = hasher.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&h)).await);
        assert!(!hasher.verify("wrong horse", Some(&h)).await);
        assert!(!hasher.verify("correct horse", None).await);
    }

    #[test]
    fn the_hash_of_missing_accounts_costs_what_a_real_one_costs() {
        use argon2::password_hash::PasswordHash;
        let real = hash_blocking("correct horse").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let (a, b) = (unmatchable_hash().unwrap(), unmatchable_hash().unwrap());
        let dummy = PasswordHash::new(&a).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params, "the same memory, time and lanes");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_ne!(a, b, "random salt and output");
        assert!(!verify_blocking("", &a));
    }
}
