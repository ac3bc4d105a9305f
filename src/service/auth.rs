//! Accounts: register, log in, sessions, password reset and change (seed 000).

use super::{App, CreateUser};
use crate::crypto::random_token;
use crate::error::{Error, Result};
use crate::service::mail::Mail;
use crate::store::{NewSession, Session, User};
use crate::time::now;

/// A session ends after this long without use…
pub const SESSION_IDLE: i64 = 7 * 86_400;
/// …and after this long whatever happens.
pub const SESSION_MAX: i64 = 30 * 86_400;
/// Password reset links work this long (issue 3).
pub const RESET_TTL: i64 = 30 * 60;
/// Reset requests for one address per hour: enough for a person who mistyped or
/// lost a mail, few enough that the address cannot be flooded.
const RESETS_PER_ADDRESS: u32 = 5;
/// Reset requests from one caller per hour, whatever the addresses: a caller cannot
/// have reset mails sent to every address it knows (an office behind one address
/// still has room for its forgetful).
const RESETS_PER_CALLER: u32 = 30;

/// Failures before a lock: per account, and per IP (which may be a whole office).
const ACCOUNT_LIMIT: u32 = 5;
const IP_LIMIT: u32 = 20;
/// The most of a failed login's text the audit log keeps: longer than any username,
/// address or phone number.
const MAX_LOGIN_AUDITED: usize = 256;

/// Passwords too common to accept, whatever their length.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyui",
    "qwerty123",
    "qwertyuiop",
    "11111111",
    "00000000",
    "88888888",
    "66666666",
    "iloveyou",
    "abc12345",
    "abcd1234",
    "a1234567",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "admin123",
    "administrator",
    "welcome1",
    "letmein1",
    "sunshine",
    "football",
    "baseball",
    "princess",
    "starwars",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "woaini1314",
    "5201314520",
    "asdfghjk",
    "asdf1234",
    "zxcvbnm1",
    "superman",
    "trustno1",
    "changeme",
    "12341234",
    "87654321",
    "11223344",
    "123123123",
    "qq123456",
    "aa123456",
    "a12345678",
    "123qweasd",
];

/// A new browser session: the cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub cookie: String,
    pub csrf_token: String,
    pub user: User,
}

/// Who is asking, for throttling and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub ip: String,
    pub user_agent: String,
}

/// Checks a new password against the policy (issue 3): 8–256 characters, not the
/// username or e-mail, not a well-known password.
pub fn check_password_policy(password: &str, username: &str, email: &str) -> Result<()> {
    let len = password.chars().count();
    if len < 8 {
        return Err(Error::field(
            "password",
            "must be at least 8 characters long",
        ));
    }
    if len > 256 {
        return Err(Error::field(
            "password",
            "must be at most 256 characters long",
        ));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if lower == username.to_lowercase()
        || lower == email.to_lowercase()
        || (!local.is_empty() && lower == local)
    {
        return Err(Error::field(
            "password",
            "must not be your username or e-mail address",
        ));
    }
    if COMMON_PASSWORDS.contains(&lower.as_str()) || lower.chars().all(|c| lower.starts_with(c)) {
        return Err(Error::field("password", "is too common; choose another"));
    }
    Ok(())
}

impl App {
    /// Registers a person (the register page and `POST /api/auth/register`).
    pub async fn register(
        &self,
        username: String,
        email: String,
        password: String,
        phone: Option<String>,
        who: &Requester,
    ) -> Result<User> {
        if !self.settings().await?.allow_registration {
            return Err(Error::Forbidden(
                "registration_closed",
                "registration is switched off".into(),
            ));
        }
        check_password_policy(&password, &username, &email)?;
        let user = self
            .create_user(CreateUser {
                email,
                password,
                username: Some(username),
                phone,
                is_admin: false,
            })
            .await?;
        self.db
            .audit(
                Some(user.id),
                "register",
                &user.username,
                &who.ip,
                "",
                now(),
            )
            .await?;
        Ok(user)
    }

    /// Checks `login` (username, e-mail or phone) and password, throttled per
    /// account and per IP, and opens a session. The answer is the same for an
    /// unknown account and a wrong password, and takes as long.
    pub async fn login(&self, login: &str, password: &str, who: &Requester) -> Result<NewLogin> {
        let user = self.check_credentials(login, password, who).await?;
        self.open_session(user, who).await
    }

    /// The user whose `login` and password these are, throttled and audited, without
    /// opening a session (the password grant uses it too).
    pub async fn check_credentials(
        &self,
        login: &str,
        password: &str,
        who: &Requester,
    ) -> Result<User> {
        let login = login.trim();
        // One counter per spelling typed (a phone's spellings are one), from the text
        // alone: whether and whose account it names must not change the answer.
        let account_key = format!(
            "account:{}",
            super::users::canonical_phone(login).unwrap_or_else(|| login.to_lowercase())
        );
        let ip_key = format!("ip:{}", who.ip);
        let rules = [
            (account_key.as_str(), ACCOUNT_LIMIT),
            (ip_key.as_str(), IP_LIMIT),
        ];
        // Counted before the password is checked, so that guesses sent at once are
        // each counted; a success takes its attempt back below.
        if let Err(wait) = self.throttle.attempt(&rules, now()).await {
            return Err(Error::TooManyRequests(format!(
                "too many failed attempts; try again in {wait} seconds"
            )));
        }
        let user = if login.is_empty() {
            None
        } else {
            self.user_by_login(login).await?
        };
        let ok = self
            .passwords
            .verify(
                password,
                user.as_ref().and_then(|u| u.password_hash.as_deref()),
            )
            .await;
        match user {
            Some(user) if ok && !user.disabled => {
                self.throttle.clear(&account_key).await;
                self.throttle.forgive(rules[1]).await;
                self.db
                    .audit(Some(user.id), "login", &user.username, &who.ip, "", now())
                    .await?;
                Ok(user)
            }
            other => {
                let detail = if other.is_some() {
                    "wrong password or disabled"
                } else {
                    "unknown account"
                };
                // What was typed, as far as any login can be long.
                let typed: String = login.chars().take(MAX_LOGIN_AUDITED).collect();
                self.db
                    .audit(
                        other.map(|u| u.id),
                        "login_failed",
                        &typed,
                        &who.ip,
                        detail,
                        now(),
                    )
                    .await?;
                Err(Error::Unauthorized(
                    "invalid_credentials",
                    "wrong account or password".into(),
                ))
            }
        }
    }

    /// Opens a session for a user who has proven who they are.
    pub async fn open_session(&self, user: User, who: &Requester) -> Result<NewLogin> {
        let cookie = random_token(32);
        let csrf_token = random_token(24);
        let at = now();
        let ua: String = who.user_agent.chars().take(200).collect();
        let id_hash = self.key.hash_secret(&cookie);
        self.db
            .create_session(
                &NewSession {
                    id_hash: &id_hash,
                    user_id: user.id,
                    csrf_token: &csrf_token,
                    expires_at: at + SESSION_MAX,
                    user_agent: &ua,
                    ip: &who.ip,
                },
                at,
            )
            .await?;
        // A password reset (or a disable) that ended the user's sessions while this
        // login was checking the old password did not see this one: written first,
        // checked after, so that one of the two always sees the other.
        if !self.still_the_same(&user).await? {
            self.db.delete_session(&id_hash).await?;
            return Err(Error::Unauthorized(
                "invalid_credentials",
                "wrong account or password".into(),
            ));
        }
        Ok(NewLogin {
            cookie,
            csrf_token,
            user,
        })
    }

    /// Whether `user`, read before a login proved it, still has that password and is
    /// not disabled.
    pub async fn still_the_same(&self, user: &User) -> Result<bool> {
        Ok(self
            .db
            .user_by_id(user.id)
            .await?
            .is_some_and(|fresh| !fresh.disabled && fresh.password_hash == user.password_hash))
    }

    /// The session and user behind a cookie value, if both are valid.
    pub async fn session_user(&self, cookie: &str) -> Result<Option<(Session, User)>> {
        let at = now();
        let hash = self.key.hash_secret(cookie);
        let Some((session, user)) = self
            .db
            .session_with_user(&hash, at, SESSION_IDLE)
            .await?
            .filter(|(_, u)| !u.disabled)
        else {
            return Ok(None);
        };
        // Touch at most once a minute: the idle limit is days, not seconds.
        if at - session.last_seen_at > 60 {
            self.db.touch_session(&hash, at).await?;
        }
        Ok(Some((session, user)))
    }

    pub async fn logout(&self, session: &Session, who: &Requester) -> Result<()> {
        self.db.delete_session(&session.id_hash).await?;
        self.db
            .audit(Some(session.user_id), "logout", "", &who.ip, "", now())
            .await
    }

    /// Sends a reset link when the address belongs to an account; does nothing
    /// visible otherwise. At most [`RESETS_PER_CALLER`] requests an hour count for one
    /// caller, and [`RESETS_PER_ADDRESS`] for one address, whoever sends them; beyond,
    /// nothing is sent and the answer is the same. The link is stored and mailed in
    /// the background, so the answer takes as long either way.
    pub async fn forgot_password(&self, email: &str, who: &Requester) -> Result<()> {
        let email = email.trim().to_lowercase();
        // No account has such an address: nothing to count or send.
        if !super::users::valid_email(&email) {
            return Ok(());
        }
        let at = now();
        if self
            .throttle
            .count(
                &format!("reset-from:{}", who.ip),
                RESETS_PER_CALLER,
                3600,
                at,
            )
            .await
            .is_err()
        {
            tracing::warn!(ip = %who.ip, "password reset requests from one caller over their limit; nothing sent");
            return Ok(());
        }
        if self
            .throttle
            .count(&format!("reset:{email}"), RESETS_PER_ADDRESS, 3600, at)
            .await
            .is_err()
        {
            tracing::warn!(ip = %who.ip, "password reset mails for one address over their limit; nothing sent");
            return Ok(());
        }
        let Some(user) = self.db.user_by_email(&email).await?.filter(|u| !u.disabled) else {
            return Ok(());
        };
        let Some(address) = user.email.clone() else {
            return Ok(());
        };
        let app = self.clone();
        let ip = who.ip.clone();
        tokio::spawn(async move {
            if let Err(e) = app.send_reset_link(&user, address, &ip, at).await {
                tracing::error!(error = %e, "password reset link was not sent");
            }
        });
        Ok(())
    }

    /// Stores a reset link for `user` and mails it to `address`.
    async fn send_reset_link(&self, user: &User, address: String, ip: &str, at: i64) -> Result<()> {
        let token = random_token(32);
        self.db
            .create_password_reset(
                &self.key.hash_secret(&token),
                user.id,
                &address,
                at + RESET_TTL,
                at,
            )
            .await?;
        self.db
            .audit(
                Some(user.id),
                "password_reset_requested",
                &user.username,
                ip,
                "",
                at,
            )
            .await?;
        let link = format!("{}/password/reset?token={token}", self.issuer());
        let mail = Mail {
            to: address,
            subject: "Reset your password / 重置密码".into(),
            text: format!(
                "Hello {name},\n\nTo choose a new password, open this link within 30 minutes:\n{link}\n\n\
                 如需重置密码,请在 30 分钟内打开上面的链接。\n\nIf you did not ask for this, ignore this mail.\n",
                name = user.username
            ),
            html: format!(
                "<p>Hello {name},</p><p>To choose a new password, open this link within 30 minutes:</p>\
                 <p><a href=\"{link}\">{link}</a></p><p>如需重置密码,请在 30 分钟内打开上面的链接。</p>\
                 <p>If you did not ask for this, ignore this mail.</p>",
                name = html_escape(&user.username)
            ),
        };
        self.mailer.send(&mail).await
    }

    /// Sets a new password with a reset token; the token works once, and every
    /// session, token and other reset link of the account ends.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        who: &Requester,
    ) -> Result<User> {
        let invalid = || {
            Error::Rejected(
                "invalid_token",
                "the reset link is invalid, used or expired".into(),
            )
        };
        let at = now();
        // Check the policy before spending the token, so a weak password can be retried.
        let hash = self.key.hash_secret(token);
        let user = self.reset_link_user(token).await?.ok_or_else(invalid)?;
        check_password_policy(
            password,
            &user.username,
            user.email.as_deref().unwrap_or_default(),
        )?;
        if self.db.consume_password_reset(&hash, at).await? != Some(user.id) {
            return Err(invalid());
        }
        let new_hash = self
            .passwords
            .hash(password)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        // Whoever knew the old password may hold a session, codes, tokens or another
        // link. Codes and QR confirmations are spent before the new password is set
        // (a login that reads the account after that finds nothing left to take) and
        // again once the sessions that could make new ones are gone.
        self.db.spend_grants_of(user.id, at).await?;
        self.db.set_password_hash(user.id, &new_hash, at).await?;
        self.db.delete_other_sessions(user.id, None).await?;
        self.db.spend_grants_of(user.id, at).await?;
        self.db.revoke_all_tokens_of(user.id, at).await?;
        self.db.spend_password_resets_of(user.id, at).await?;
        self.db
            .audit(
                Some(user.id),
                "password_reset",
                &user.username,
                &who.ip,
                "",
                at,
            )
            .await?;
        Ok(user)
    }

    /// The account an open reset link is for; the link stays open.
    pub async fn reset_link_user(&self, token: &str) -> Result<Option<User>> {
        let hash = self.key.hash_secret(token);
        match self.db.open_password_reset(&hash, now()).await? {
            Some(id) => self.db.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// Changes the password of a logged-in user, who proves the old one; every
    /// other session and every reset link ends (the apps' tokens stay: the person
    /// knew the password).
    pub async fn change_password(
        &self,
        user: &User,
        session: Option<&Session>,
        current: &str,
        new: &str,
        who: &Requester,
    ) -> Result<()> {
        if !self
            .passwords
            .verify(current, user.password_hash.as_deref())
            .await
        {
            return Err(Error::field(
                "current_password",
                "is not your current password",
            ));
        }
        check_password_policy(
            new,
            &user.username,
            user.email.as_deref().unwrap_or_default(),
        )?;
        let hash = self
            .passwords
            .hash(new)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let at = now();
        self.db.set_password_hash(user.id, &hash, at).await?;
        self.db
            .delete_other_sessions(user.id, session.map(|s| s.id_hash.as_str()))
            .await?;
        self.db.spend_password_resets_of(user.id, at).await?;
        self.db
            .audit(
                Some(user.id),
                "password_changed",
                &user.username,
                &who.ip,
                "",
                at,
            )
            .await
    }

    /// Changes the e-mail address of a logged-in user, who proves their password.
    pub async fn change_email(
        &self,
        user: &User,
        password: &str,
        email: &str,
        who: &Requester,
    ) -> Result<()> {
        if !self
            .passwords
            .verify(password, user.password_hash.as_deref())
            .await
        {
            return Err(Error::field(
                "current_password",
                "is not your current password",
            ));
        }
        let email = email.trim().to_lowercase();
        if !super::users::valid_email(&email) {
            return Err(Error::field("email", "is not a valid e-mail address"));
        }
        let at = now();
        self.db.set_email(user.id, &email, at).await?;
        // A link mailed to the old address must not reset the password any more: whoever
        // reads that mailbox is no longer the account's.
        if user.email.as_deref() != Some(email.as_str()) {
            self.db.spend_password_resets_of(user.id, at).await?;
        }
        self.db
            .audit(
                Some(user.id),
                "email_changed",
                &user.username,
                &who.ip,
                "",
                at,
            )
            .await
    }
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert!(check_password_policy("correct horse", "lilei", "li@example.com").is_ok());
        assert!(check_password_policy("short", "lilei", "li@example.com").is_err());
        assert!(check_password_policy("LiLei12345", "lilei12345", "x@example.com").is_err());
        assert!(
            check_password_policy("li.lei@example.com", "lilei", "li.lei@example.com").is_err()
        );
        assert!(check_password_policy("Password123", "lilei", "li@example.com").is_err());
        assert!(check_password_policy("aaaaaaaaaa", "lilei", "li@example.com").is_err());
    }
}
