use super::*;
use crate::store::DatabaseUrl;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::path::PathBuf;

/// A fresh SQLite database in its own folder, removed on drop.
struct TestDb {
    dir: PathBuf,
    db: Db,
}

impl TestDb {
    async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("usercenter-jose-{}", random_token(9)));
        let db = Db::open(&DatabaseUrl::Sqlite(dir.join("usercenter.db")))
            .await
            .unwrap();
        Self { dir, db }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn new_secret() -> SecretKey {
    SecretKey::from_hex(&SecretKey::generate_hex()).unwrap()
}

const DAY: i64 = 86_400;

async fn key_set(t: &TestDb, secret: &SecretKey) -> KeySet {
    KeySet::load(&t.db, secret, DAY, crate::time::now())
        .await
        .unwrap()
}

fn claims(now: i64) -> Value {
    json!({ "iss": "https://id.example", "sub": "42", "aud": "app", "iat": now, "exp": now + 300 })
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn header_of(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

/// `token` with its header replaced; payload and signature kept.
fn with_header(token: &str, header: &Value) -> String {
    let mut parts = token.splitn(2, '.');
    parts.next();
    format!("{}.{}", part(header), parts.next().unwrap())
}

fn refused(result: Result<Value>) -> String {
    match result {
        Err(Error::InvalidToken(why)) => why,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[test]
fn alg_names_round_trip_and_are_case_sensitive() {
    for alg in Alg::ALL {
        assert_eq!(alg.as_str().parse::<Alg>().unwrap(), alg);
        assert_eq!(alg.to_string(), alg.as_str());
    }
    for bad in ["none", "HS256", "rs256", "PS256", ""] {
        assert!(bad.parse::<Alg>().is_err(), "{bad}");
    }
}

#[test]
fn media_types_compare_as_rfc_7515_says() {
    assert_eq!(media_type("application/AT+JWT"), media_type("at+jwt"));
    assert_eq!(media_type("JWT"), media_type("application/jwt"));
    assert_ne!(media_type("JWT"), media_type("at+jwt"));
}

#[tokio::test]
async fn signs_and_verifies_with_each_alg() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    for alg in Alg::ALL {
        let token = keys.sign(alg, "at+jwt", &claims(now)).unwrap();
        let header = header_of(&token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], keys.active_kid(alg).unwrap().as_str());
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
            assert_eq!(keys.verify(&token, typ, now).await.unwrap(), claims(now));
        }
    }
}

#[tokio::test]
async fn jwks_publishes_every_public_key_and_no_private_one() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let jwks = keys.jwks();
    let published = jwks["keys"].as_array().unwrap();
    assert_eq!(published.len(), 3);
    for alg in Alg::ALL {
        let kid = keys.active_kid(alg).unwrap();
        let jwk = published.iter().find(|k| k["kid"] == kid.as_str()).unwrap();
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        let (kty, members): (&str, &[&str]) = match alg {
            Alg::RS256 => ("RSA", &["n", "e"]),
            Alg::ES256 => ("EC", &["crv", "x", "y"]),
            Alg::EdDSA => ("OKP", &["crv", "x"]),
        };
        assert_eq!(jwk["kty"], kty);
        for member in members {
            assert!(jwk[member].is_string(), "{alg} {member}");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{alg} publishes {private}");
        }
    }
}

#[tokio::test]
async fn loading_again_keeps_the_keys_and_they_are_encrypted() {
    let t = TestDb::new().await;
    let secret = new_secret();
    let first = key_set(&t, &secret).await;
    let second = key_set(&t, &secret).await;
    for alg in Alg::ALL {
        assert_eq!(first.active_kid(alg), second.active_kid(alg));
    }
    for row in t.db.signing_keys().await.unwrap() {
        let der = secret.decrypt(&row.private_enc).unwrap();
        assert!(!row.private_enc.is_empty() && !der.is_empty());
        assert!(new_secret().decrypt(&row.private_enc).is_none());
    }
    // Another server key cannot open the active keys: loading says so.
    match KeySet::load(&t.db, &new_secret(), DAY, crate::time::now()).await {
        Err(Error::Internal(why)) => assert!(why.contains("USERCENTER_SECRET_KEY"), "{why}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn instances_starting_at_once_agree_on_one_key_per_alg() {
    let t = TestDb::new().await;
    let secret = new_secret();
    let now = crate::time::now();
    let (a, b) = tokio::join!(
        KeySet::load(&t.db, &secret, DAY, now),
        KeySet::load(&t.db, &secret, DAY, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let rows = t.db.signing_keys().await.unwrap();
    assert_eq!(rows.len(), 3, "one key per algorithm");
    for alg in Alg::ALL {
        assert_eq!(a.active_kid(alg), b.active_kid(alg));
    }
}

#[tokio::test]
async fn refuses_alg_none() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    let kid = keys.active_kid(Alg::RS256).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": kid });
        let token = format!("{}.{}.", part(&header), part(&claims(now)));
        refused(keys.verify(&token, "at+jwt", now).await);
    }
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_rsa_public_key() {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};

    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    let kid = keys.active_kid(Alg::RS256).unwrap();
    let jwks = keys.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let number = |name: &str| {
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let public = rsa::RsaPublicKey::new(number("n"), number("e")).unwrap();
    // Every form in which an attacker may hold our public key.
    let secrets: Vec<Vec<u8>> = vec![
        public
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
            .into_bytes(),
        public.to_pkcs1_pem(LineEnding::LF).unwrap().into_bytes(),
        public.to_public_key_der().unwrap().as_bytes().to_vec(),
        public.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
    ];
    for hmac_key in secrets {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims(now), &EncodingKey::from_secret(&hmac_key))
                .unwrap();
        let why = refused(keys.verify(&token, "at+jwt", now).await);
        assert!(why.contains("HS256"), "{why}");
    }
}

#[tokio::test]
async fn refuses_a_kid_it_does_not_know() {
    let t = TestDb::new().await;
    let other = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let strangers = key_set(&other, &new_secret()).await;
    let now = crate::time::now();
    let token = strangers.sign(Alg::ES256, "at+jwt", &claims(now)).unwrap();
    let why = refused(keys.verify(&token, "at+jwt", now).await);
    assert!(why.contains("unknown key"), "{why}");
    // A kid that belongs to no key, and one missing altogether.
    let mine = keys.sign(Alg::ES256, "at+jwt", &claims(now)).unwrap();
    let mut header = header_of(&mine);
    header["kid"] = json!("made-up");
    refused(
        keys.verify(&with_header(&mine, &header), "at+jwt", now)
            .await,
    );
    header.as_object_mut().unwrap().remove("kid");
    refused(
        keys.verify(&with_header(&mine, &header), "at+jwt", now)
            .await,
    );
}

#[tokio::test]
async fn refuses_an_alg_other_than_the_keys() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    let token = keys.sign(Alg::ES256, "at+jwt", &claims(now)).unwrap();
    let mut header = header_of(&token);
    header["alg"] = json!("RS256");
    let why = refused(
        keys.verify(&with_header(&token, &header), "at+jwt", now)
            .await,
    );
    assert!(why.contains("its key is ES256"), "{why}");
}

#[tokio::test]
async fn refuses_the_wrong_typ() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    let id_token = keys.sign(Alg::RS256, "JWT", &claims(now)).unwrap();
    assert!(keys.verify(&id_token, "JWT", now).await.is_ok());
    let why = refused(keys.verify(&id_token, "at+jwt", now).await);
    assert!(why.contains("type"), "{why}");
    let access_token = keys.sign(Alg::RS256, "at+jwt", &claims(now)).unwrap();
    refused(keys.verify(&access_token, "JWT", now).await);
    // A token with no typ at all.
    let mut header = header_of(&access_token);
    header.as_object_mut().unwrap().remove("typ");
    refused(
        keys.verify(&with_header(&access_token, &header), "at+jwt", now)
            .await,
    );
}

#[tokio::test]
async fn refuses_an_expired_token() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    let token = keys.sign(Alg::EdDSA, "at+jwt", &claims(now)).unwrap();
    assert!(keys.verify(&token, "at+jwt", now + 299).await.is_ok());
    let why = refused(keys.verify(&token, "at+jwt", now + 300).await);
    assert!(why.contains("expired"), "{why}");
    let no_exp = keys
        .sign(Alg::EdDSA, "at+jwt", &json!({ "sub": "42" }))
        .unwrap();
    refused(keys.verify(&no_exp, "at+jwt", now).await);
    let early = keys
        .sign(
            Alg::EdDSA,
            "at+jwt",
            &json!({ "exp": now + 60, "nbf": now + 30 }),
        )
        .unwrap();
    refused(keys.verify(&early, "at+jwt", now).await);
    assert!(keys.verify(&early, "at+jwt", now + 30).await.is_ok());
}

#[tokio::test]
async fn refuses_a_tampered_token() {
    let t = TestDb::new().await;
    let keys = key_set(&t, &new_secret()).await;
    let now = crate::time::now();
    for alg in Alg::ALL {
        let token = keys.sign(alg, "at+jwt", &claims(now)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(now);
        forged["sub"] = json!("1");
        let payload = format!("{}.{}.{}", parts[0], part(&forged), parts[2]);
        let why = refused(keys.verify(&payload, "at+jwt", now).await);
        assert!(why.contains("signature"), "{alg}: {why}");
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[0] ^= 1;
        let signature = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        );
        refused(keys.verify(&signature, "at+jwt", now).await);
        refused(keys.verify(&format!("{token}.x"), "at+jwt", now).await);
    }
    refused(keys.verify("not a token", "at+jwt", now).await);
}

#[tokio::test]
async fn rotation_keeps_old_tokens_verifying_until_the_keys_are_deleted() {
    let t = TestDb::new().await;
    let secret = new_secret();
    let now = crate::time::now();
    let keys = KeySet::load(&t.db, &secret, DAY, now).await.unwrap();
    let old_kid = keys.active_kid(Alg::RS256).unwrap();
    let old_token = keys.sign(Alg::RS256, "JWT", &claims(now)).unwrap();

    let new_kids = rotate(&t.db, &secret, now).await.unwrap();
    assert_eq!(new_kids.len(), 3);
    keys.reload().await.unwrap();
    for (alg, kid) in Alg::ALL.into_iter().zip(&new_kids) {
        assert_eq!(keys.active_kid(alg).as_ref(), Some(kid));
    }
    assert_ne!(new_kids[0], old_kid);
    let new_token = keys.sign(Alg::RS256, "JWT", &claims(now)).unwrap();
    assert_eq!(header_of(&new_token)["kid"], new_kids[0].as_str());
    assert!(keys.verify(&new_token, "JWT", now).await.is_ok());
    assert!(keys.verify(&old_token, "JWT", now).await.is_ok());
    let jwks = keys.jwks();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 6);
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kids[0].as_str()));

    // Once the longest lifetime has passed, loading deletes the retired keys.
    let later = KeySet::load(&t.db, &secret, DAY, now + DAY + 1)
        .await
        .unwrap();
    assert_eq!(later.jwks()["keys"].as_array().unwrap().len(), 3);
    assert_eq!(later.active_kid(Alg::RS256).as_ref(), Some(&new_kids[0]));
    refused(later.verify(&old_token, "JWT", now).await);
}

#[tokio::test]
async fn an_unknown_kid_reloads_the_keys_at_most_once_per_interval() {
    let t = TestDb::new().await;
    let secret = new_secret();
    let now = crate::time::now();
    let keys = KeySet::load(&t.db, &secret, DAY, now).await.unwrap();

    // Another instance rotates and signs with its new key: this one reloads.
    rotate(&t.db, &secret, now).await.unwrap();
    let other = KeySet::load(&t.db, &secret, DAY, now).await.unwrap();
    let token = other.sign(Alg::ES256, "at+jwt", &claims(now)).unwrap();
    assert!(keys.verify(&token, "at+jwt", now).await.is_ok());
    assert_eq!(keys.active_kid(Alg::ES256), other.active_kid(Alg::ES256));

    // Right after, another new kid is not looked for again...
    rotate(&t.db, &secret, now).await.unwrap();
    other.reload().await.unwrap();
    let token = other.sign(Alg::ES256, "at+jwt", &claims(now)).unwrap();
    refused(keys.verify(&token, "at+jwt", now).await);
    // ...until the interval has passed.
    *keys.inner.last_refresh.lock().await = Instant::now().checked_sub(REFRESH_INTERVAL);
    assert!(keys.verify(&token, "at+jwt", now).await.is_ok());
}
