//! Key material: generation, the private key as PKCS#8 DER (RFC 5958), and the
//! public key as a JWK (RFC 7517; RSA and EC members of RFC 7518 §6, OKP members of
//! RFC 8037 §2).

use super::Alg;
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use rand::RngCore;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used" with RS256.
const RSA_BITS: usize = 2048;

/// A JWK's members, as a JSON object.
pub(super) type Members = Map<String, Value>;

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// A new private key for `alg`, as PKCS#8 DER. RSA key generation searches for
/// primes and takes a noticeable time: call this on a blocking thread.
pub(super) fn generate(alg: Alg) -> Result<Zeroizing<Vec<u8>>> {
    let mut rng = rand::rngs::OsRng;
    let fail = |e: &dyn std::fmt::Display| internal("cannot generate a signing key", e);
    let document = match alg {
        Alg::RS256 => rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| fail(&e))?
            .to_pkcs8_der(),
        Alg::ES256 => p256::ecdsa::SigningKey::random(&mut rng).to_pkcs8_der(),
        Alg::EdDSA => {
            // RFC 8032 §5.1.5: the private key is 32 random octets.
            let mut seed = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(seed.as_mut());
            ed25519_dalek::SigningKey::from_bytes(&seed).to_pkcs8_der()
        }
    };
    // The document zeroizes itself on drop; the copy is wrapped to do the same.
    let document = document.map_err(|e| fail(&e))?;
    Ok(Zeroizing::new(document.as_bytes().to_vec()))
}

/// A private key parsed once and kept ready: parsing and checking a key (an RSA key
/// above all) costs more than a signature, and jsonwebtoken would do it per token.
pub(super) enum Signer {
    Rsa(aws_lc_rs::signature::RsaKeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
    Ed(aws_lc_rs::signature::Ed25519KeyPair),
}

impl Signer {
    fn prepare(alg: Alg, der: &[u8]) -> Result<Self> {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair,
        };
        let fail = |e: &dyn std::fmt::Display| internal("cannot prepare a signing key", e);
        Ok(match alg {
            Alg::RS256 => Self::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| fail(&e))?),
            // RFC 7518 §3.4: ES256 signatures are R || S, 32 octets each ("fixed").
            Alg::ES256 => Self::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| fail(&e))?,
            ),
            Alg::EdDSA => Self::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|e| fail(&e))?),
        })
    }

    /// The JWS signature of `message` (RFC 7518 §3.3 RSASSA-PKCS1-v1_5 with SHA-256,
    /// §3.4 ECDSA P-256 SHA-256, RFC 8037 §3.1 Ed25519).
    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let fail = |e: &dyn std::fmt::Display| internal("signing failed", e);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Self::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .map_err(|e| fail(&e))?;
                Ok(signature)
            }
            Self::Ec(key) => Ok(key
                .sign(&rng, message)
                .map_err(|e| fail(&e))?
                .as_ref()
                .to_vec()),
            Self::Ed(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }
}

/// Opens a PKCS#8 DER private key of `alg`: the prepared signer, and the public
/// key's JWK members (`kty`, `crv`, `n`, `e`, `x`, `y`).
pub(super) fn open(alg: Alg, der: &[u8]) -> Result<(Signer, Members)> {
    let fail = |e: &dyn std::fmt::Display| internal("cannot read a signing key", e);
    let mut public = Members::new();
    match alg {
        Alg::RS256 => {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| fail(&e))?;
            // RFC 7518 §6.3.1: n and e as unsigned big-endian integers in the fewest
            // octets, base64url-encoded.
            public.insert("kty".into(), "RSA".into());
            public.insert("n".into(), b64(&key.n().to_bytes_be()));
            public.insert("e".into(), b64(&key.e().to_bytes_be()));
        }
        Alg::ES256 => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| fail(&e))?;
            // RFC 7518 §6.2.1: x and y are the full 32 octets of each coordinate.
            let point = key.verifying_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(fail(&"the P-256 public key is not an affine point"));
            };
            public.insert("kty".into(), "EC".into());
            public.insert("crv".into(), "P-256".into());
            public.insert("x".into(), b64(x));
            public.insert("y".into(), b64(y));
        }
        Alg::EdDSA => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| fail(&e))?;
            // RFC 8037 §2: kty "OKP", crv "Ed25519", x the 32-octet public key.
            public.insert("kty".into(), "OKP".into());
            public.insert("crv".into(), "Ed25519".into());
            public.insert("x".into(), b64(key.verifying_key().as_bytes()));
        }
    }
    Ok((Signer::prepare(alg, der)?, public))
}

/// The published JWK of a key: its public members plus `kid`, `alg` and
/// `use: "sig"` (RFC 7517 §4.2-4.5).
pub(super) fn published(kid: &str, alg: Alg, public: &Members) -> Members {
    let mut jwk = public.clone();
    jwk.insert("kid".into(), kid.into());
    jwk.insert("alg".into(), alg.as_str().into());
    jwk.insert("use".into(), "sig".into());
    jwk
}

/// The key that verifies signatures of `alg`, read from its public JWK members.
/// The key type and curve must be those of `alg` (RFC 7518 §3.1, RFC 8037 §3.1).
pub(super) fn decoding_key(alg: Alg, jwk: &Members) -> Result<DecodingKey> {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Internal(format!("the {alg} public key has no {name:?}")))
    };
    let expect = |name: &str, wanted: &str| -> Result<()> {
        if member(name)? == wanted {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "the {alg} public key's {name} is not {wanted}"
            )))
        }
    };

    let key = match alg {
        Alg::RS256 => {
            expect("kty", "RSA")?;
            DecodingKey::from_rsa_components(member("n")?, member("e")?)
        }
        Alg::ES256 => {
            expect("kty", "EC")?;
            expect("crv", "P-256")?;
            DecodingKey::from_ec_components(member("x")?, member("y")?)
        }
        Alg::EdDSA => {
            expect("kty", "OKP")?;
            expect("crv", "Ed25519")?;
            DecodingKey::from_ed_components(member("x")?)
        }
    };
    key.map_err(|e| internal("cannot read a public key", e))
}

/// Whether every member of `public` has the same value in `stored`: the stored
/// public key belongs to the private key.
pub(super) fn same_public_key(public: &Members, stored: &Members) -> bool {
    public
        .iter()
        .all(|(name, value)| stored.get(name) == Some(value))
}

/// base64url without padding (RFC 7515 §2).
pub(super) fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}
