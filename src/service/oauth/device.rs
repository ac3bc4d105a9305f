//! RFC 8628, the device authorization grant: a device without a browser (a TV, a
//! terminal) asks `/oauth/device_authorization` for a device code and a user code,
//! shows the person the user code and `/device`, and polls the token endpoint with
//! the device code until the person, signed in at `/device` on another device,
//! approves or denies.
//!
//! - The device code is 256 random bits, stored as its keyed hash; the user code is 8
//!   letters of an alphabet without vowels or look-alikes (RFC 8628 §6.1), shown as
//!   `XXXX-XXXX`, typed in any case, with or without the dash.
//! - Both live 10 minutes; the device polls every 5 s, and one that polls sooner gets
//!   `slow_down` and 5 s more (§3.5); an approved code gives its tokens once.
//! - Entering user codes, to see them or to answer them, is limited per person (20
//!   a minute), so that 20^8 codes cannot be tried.

use crate::crypto::random_token;
use crate::error::{Error, Result};
use crate::service::App;
use crate::store::{Client, DeviceCode};
use rand::Rng;
use serde::Serialize;

pub const DEVICE_CODE_TTL: i64 = 600;
pub const POLL_INTERVAL: i64 = 5;
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const ENTRIES_PER_MINUTE: u32 = 20;

/// RFC 8628 §3.2.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A user code as typed: upper case, without the dash or spaces, then `XXXX-XXXX`.
pub fn normalize_user_code(typed: &str) -> String {
    let letters: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if letters.len() == 8 {
        format!("{}-{}", &letters[..4], &letters[4..])
    } else {
        letters
    }
}

fn new_user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let letters: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    normalize_user_code(&letters)
}

impl App {
    /// A new device authorization for `client` and the `scope` it was granted.
    pub async fn start_device_flow(
        &self,
        client: &Client,
        scope: &[String],
    ) -> Result<DeviceAuthorization> {
        let now = crate::time::now();
        let device_code = random_token(32);
        for _ in 0..5 {
            let user_code = new_user_code();
            let row = DeviceCode {
                device_code_hash: self.key.hash_secret(&device_code),
                user_code: user_code.clone(),
                client_id: client.id,
                scope: scope.join(" "),
                state: "pending".into(),
                user_id: None,
                auth_time: None,
                poll_interval: POLL_INTERVAL,
                polled_at: None,
                expires_at: now + DEVICE_CODE_TTL,
            };
            if self.db.create_device_code(&row, now).await? {
                let verification_uri = format!("{}/device", self.issuer());
                return Ok(DeviceAuthorization {
                    verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
                    verification_uri,
                    device_code,
                    user_code,
                    expires_in: DEVICE_CODE_TTL,
                    interval: POLL_INTERVAL,
                });
            }
        }
        Err(Error::Internal("no free user code after five tries".into()))
    }

    /// The pending authorization a person typed the user code of, and its client;
    /// counted against the person's tries.
    pub async fn device_request(
        &self,
        user_id: i64,
        typed: &str,
    ) -> Result<Option<(DeviceCode, Client)>> {
        let now = crate::time::now();
        if let Err(wait) = self
            .throttle
            .count(&format!("device:{user_id}"), ENTRIES_PER_MINUTE, 60, now)
            .await
        {
            return Err(Error::TooManyRequests(format!(
                "too many codes entered; try again in {wait} seconds"
            )));
        }
        let Some(code) = self
            .db
            .pending_device_code(&normalize_user_code(typed), now)
            .await?
        else {
            return Ok(None);
        };
        let client = self
            .db
            .client_by_id(code.client_id)
            .await?
            .filter(|c| !c.disabled);
        Ok(client.map(|c| (code, c)))
    }
}

impl App {
    /// A person's answer to the authorization whose user code they typed, counted
    /// against their tries like a code entered to be shown: false when no pending
    /// authorization of an enabled client has that code.
    pub async fn decide_device(
        &self,
        user_id: i64,
        typed: &str,
        approve: bool,
        auth_time: i64,
    ) -> Result<bool> {
        let Some((code, _)) = self.device_request(user_id, typed).await? else {
            return Ok(false);
        };
        self.db
            .decide_device_code(
                &code.user_code,
                user_id,
                approve,
                auth_time,
                crate::time::now(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_read_alike_however_typed() {
        let code = new_user_code();
        assert_eq!(code.len(), 9);
        assert!(code.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        assert_eq!(normalize_user_code("bcdf ghjk"), "BCDF-GHJK");
        assert_eq!(normalize_user_code("BCDF-GHJK"), "BCDF-GHJK");
        assert_eq!(normalize_user_code("bcd"), "BCD");
    }
}
