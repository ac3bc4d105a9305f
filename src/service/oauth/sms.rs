//! Seed 004's SMS login: a client (with its own token) asks for a code sent to a
//! phone, to log the phone's holder in; a person (with their token) asks for one to
//! bind the phone to their account. The code is redeemed at the token endpoint as
//! `grant_type=authorization_code&code=<phone>.<code>` by the client that asked.
//!
//! - Codes: 6 digits, 5 minutes, single use, 5 tries (each counted before the
//!   comparison, so that tries made at once cannot get more); stored as the keyed
//!   hash of phone and code, compared in constant time.
//! - A login by phone proves only a phone its account holds as verified (a phone set
//!   at registration or in a profile is not, until its account binds it with a
//!   code): otherwise whoever owns a number typed into someone's profile could log
//!   in as them. A binding grants no more scopes than the person's token that asked.
//! - Apps an operator registered send codes (a code proves a phone, and a binding
//!   makes it a way in to an account); apps registered by their owners send none
//!   until an operator allows them (`usercenter client sms-rate`).
//! - Sends: 1 a minute and 10 a day per phone, 60 a minute per client unless an
//!   operator set the client's own rate (`--sms-per-minute`), counted where
//!   every instance sees them ([`crate::service::throttle`]); the client's count
//!   comes first, so `abort` cannot probe phones faster than codes are sent.
//! - `abort=if_exists` / `if_not_exists` refuse to send (409 `phone_exists` / 404
//!   `phone_not_found`); a person binding a phone another account holds gets 409
//!   `phone_conflict` unless `phone_conflict=replace`, which moves the phone when
//!   the code is redeemed.

use crate::crypto::constant_time_eq;
use crate::error::{Error, Result};
use crate::service::App;
use crate::service::oauth::tokens::Active;
use crate::service::sms::Sms;
use crate::service::users::canonical_phone;
use crate::store::{Client, NewSmsCode, NewUser, User};
use rand::Rng;

const CODE_TTL: i64 = 300;
const PER_PHONE_MINUTE: u32 = 1;
const PER_PHONE_DAY: u32 = 10;
/// Per client, unless the client has its own rate.
const PER_CLIENT_MINUTE: u32 = 60;

/// What `GET|POST /oauth/v2/code` asks for.
#[derive(Debug, Default)]
pub struct CodeRequest<'a> {
    pub phone: &'a str,
    pub title: Option<&'a str>,
    pub abort: Option<&'a str>,
    pub phone_conflict: Option<&'a str>,
}

impl App {
    /// Sends a code to `req.phone` for the caller of `active`.
    pub async fn send_sms_code(&self, active: &Active, req: &CodeRequest<'_>) -> Result<()> {
        let title = req.title.map(str::trim).unwrap_or_default();
        if title.chars().count() > 32 {
            return Err(Error::field("title", "must be at most 32 characters"));
        }
        let Some(phone) = canonical_phone(req.phone) else {
            return Err(Error::field(
                "phone",
                "must be 5 to 20 digits, with an optional leading + (spaces and - allowed)",
            ));
        };
        let phone = phone.as_str();
        // An app sends codes only when an operator allows it (docs/sms.md), and each
        // send counts against its rate before anything about the phone is told.
        let per_client = match self.db.client_by_id(active.client.id).await? {
            Some(c) => c
                .sms_per_minute
                .map_or(PER_CLIENT_MINUTE, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            None => return Err(Error::InvalidToken("the token's app is gone".into())),
        };
        if per_client == 0 {
            return Err(Error::Forbidden(
                "unauthorized_client",
                "this app may not send SMS codes until an operator allows it".into(),
            ));
        }
        let client_key = format!("sms:client:{}", active.client.id);
        if let Err(wait) = self
            .throttle
            .count(&client_key, per_client, 60, crate::time::now())
            .await
        {
            return Err(Error::TooManyRequests(format!(
                "too many codes from this app; try again in {wait} seconds"
            )));
        }
        let holder = self.db.user_by_phone(phone).await?;
        match req.abort.filter(|a| !a.is_empty()) {
            None => {}
            Some("if_exists") if holder.is_some() => {
                return Err(Error::Conflict(
                    "phone_exists",
                    "an account holds this phone".into(),
                ));
            }
            Some("if_not_exists") if holder.is_none() => {
                return Err(Error::Absent(
                    "phone_not_found",
                    "no account holds this phone".into(),
                ));
            }
            Some("if_exists" | "if_not_exists") => {}
            Some(_) => return Err(Error::field("abort", "must be if_exists or if_not_exists")),
        }
        let replace = match req.phone_conflict.filter(|c| !c.is_empty()) {
            None => false,
            Some("replace") => true,
            Some(_) => return Err(Error::field("phone_conflict", "must be replace")),
        };
        let user_id = active.user.as_ref().map(|u| u.id);
        if let (Some(me), Some(other)) = (user_id, &holder)
            && other.id != me
            && !replace
        {
            return Err(Error::Conflict(
                "phone_conflict",
                "another account holds this phone; send phone_conflict=replace to move it".into(),
            ));
        }
        let now = crate::time::now();
        let limits = [
            (format!("sms:minute:{phone}"), PER_PHONE_MINUTE, 60),
            (format!("sms:day:{phone}"), PER_PHONE_DAY, 86_400),
        ];
        for (key, limit, window) in &limits {
            if let Err(wait) = self.throttle.count(key, *limit, *window, now).await {
                return Err(Error::TooManyRequests(format!(
                    "too many codes for this phone or client; try again in {wait} seconds"
                )));
            }
        }
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
        self.db
            .create_sms_code(
                &NewSmsCode {
                    phone,
                    client_id: active.client.id,
                    user_id,
                    replace_phone: replace,
                    code_hash: &self.sms_code_hash(phone, &code),
                    scope: user_id.map(|_| active.scopes.join(" ")).as_deref(),
                    expires_at: now + CODE_TTL,
                },
                now,
            )
            .await?;
        let text = format!("{title}您的验证码是 {code}，5 分钟内有效。Your code is {code}.");
        self.sms
            .send(&Sms {
                phone: phone.to_string(),
                text,
                code,
            })
            .await?;
        self.db
            .audit(
                user_id,
                "sms_code_sent",
                &active.client.client_id,
                "",
                phone,
                now,
            )
            .await
    }

    fn sms_code_hash(&self, phone: &str, code: &str) -> String {
        self.key
            .hash_secret(&format!("sms\u{1f}{phone}\u{1f}{code}"))
    }

    /// The account a redeemed `<phone>.<code>` stands for: the binding user (now
    /// holding the phone), the phone's verified holder, or a new account for the
    /// phone when none holds it and registration is on; with a binding, the scopes
    /// of the token that asked. `None` when the code does not hold.
    pub async fn redeem_sms_code(
        &self,
        client: &Client,
        phone: &str,
        code: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let Some(phone) = canonical_phone(phone) else {
            return Ok(None);
        };
        let phone = phone.as_str();
        let now = crate::time::now();
        let Some(stored) = self.db.live_sms_code(phone, client.id, now).await? else {
            return Ok(None);
        };
        if !self.db.count_sms_try(stored.id).await? {
            return Ok(None);
        }
        let presented = self.sms_code_hash(phone, code);
        if !constant_time_eq(presented.as_bytes(), stored.code_hash.as_bytes()) {
            return Ok(None);
        }
        if !self.db.consume_sms_code(stored.id, now).await? {
            return Ok(None);
        }
        let user = match stored.user_id {
            Some(id) => {
                let holder = self.db.user_by_phone(phone).await?;
                if holder.as_ref().is_some_and(|h| h.id != id) && !stored.replace_phone {
                    return Err(Error::Conflict(
                        "phone_conflict",
                        "another account holds this phone now".into(),
                    ));
                }
                self.db.take_phone(id, phone, now).await?;
                self.db.user_by_id(id).await?
            }
            None => match self.db.user_by_phone(phone).await? {
                Some(holder) if holder.phone_verified => Some(holder),
                Some(_) => {
                    return Err(Error::InvalidGrant(
                        3,
                        "the account with this phone has not proven it; it binds the phone first"
                            .into(),
                    ));
                }
                None => Some(self.register_phone(phone, now).await?),
            },
        };
        Ok(user.filter(|u| !u.disabled).map(|u| (u, stored.scope)))
    }

    /// A new account known only by its phone (SPEC §4), when registration is on.
    async fn register_phone(&self, phone: &str, now: i64) -> Result<User> {
        if !self.settings().await?.allow_registration {
            return Err(Error::InvalidGrant(
                3,
                "no account holds this phone, and registration is switched off".into(),
            ));
        }
        let username = format!(
            "m_{}",
            crate::crypto::random_token(9)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        let user = self
            .db
            .create_user(
                &NewUser {
                    username,
                    phone: Some(phone.to_string()),
                    phone_verified: true,
                    ..NewUser::default()
                },
                now,
            )
            .await?;
        self.db
            .audit(
                Some(user.id),
                "register_by_phone",
                &user.username,
                "",
                "",
                now,
            )
            .await?;
        Ok(user)
    }
}
