//! Creating users.

use super::App;
use crate::error::{Error, Result};
use crate::store::{NewUser, User};

/// Input to [`App::create_user`].
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub email: String,
    pub password: String,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub is_admin: bool,
}

/// A plausible e-mail address: one `@`, something on each side, a dot in the domain.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && email.len() <= 254
}

/// Usernames: 2–64 letters, digits, `.`, `_` or `-`, never a spelling of a phone
/// number (so a username can never be mistaken for a phone number at login).
pub fn valid_username(name: &str) -> bool {
    (2..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.chars().all(|c| c.is_ascii_digit())
        && canonical_phone(name).is_none()
}

/// The one spelling of a phone number, so that the accounts, the logins and the
/// limits on SMS sends see one phone however it is typed (docs/phones.md):
/// spaces, `-` and parentheses are dropped, a leading `00` is read as `+`, and a
/// Chinese mobile number given with its country code (`+86`, `0086`, or `86`
/// before the 11 digits) keeps only its national form, as the seeds' clients send
/// and show it. `None` unless what is left is 5–20 digits with an optional
/// leading `+`.
pub fn canonical_phone(input: &str) -> Option<String> {
    let compact: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let (international, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => match compact.strip_prefix("00") {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        },
    };
    if !(5..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // No country code starts with 0: `+0086…` is a misspelling, not another phone.
    if international && digits.starts_with('0') {
        return None;
    }
    let mobile = digits
        .strip_prefix("86")
        .filter(|n| n.len() == 11 && n.starts_with('1'));
    Some(match mobile {
        Some(national) => national.to_string(),
        None if international => format!("+{digits}"),
        None => digits.to_string(),
    })
}

/// [`canonical_phone`] of an optional field, or the field error `phone`.
pub fn phone_field(input: Option<String>) -> Result<Option<String>> {
    match input.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => canonical_phone(p)
            .map(Some)
            .ok_or_else(|| Error::field("phone", "is not a valid phone number")),
    }
}

impl App {
    /// The user whose username, e-mail or phone (in any spelling) is `login`.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        let phone = canonical_phone(login);
        self.db
            .user_by_login(login, phone.as_deref().unwrap_or(login))
            .await
    }

    pub async fn create_user(&self, input: CreateUser) -> Result<User> {
        let email = input.email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(Error::field("email", "is not a valid e-mail address"));
        }
        if input.password.chars().count() < 8 {
            return Err(Error::field(
                "password",
                "must be at least 8 characters long",
            ));
        }
        let phone = phone_field(input.phone)?;
        let username = match input.username {
            Some(name) if valid_username(&name) => name,
            Some(_) => {
                return Err(Error::field(
                    "username",
                    "must be 2–64 letters, digits, '.', '_' or '-', and not only digits",
                ));
            }
            None => self.free_username(&email).await?,
        };
        let password_hash = self
            .passwords
            .hash(&input.password)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.db
            .create_user(
                &NewUser {
                    username,
                    email: Some(email),
                    phone,
                    password_hash: Some(password_hash),
                    is_admin: input.is_admin,
                    phone_verified: false,
                },
                crate::time::now(),
            )
            .await
    }

    /// A username derived from the e-mail's local part, made unique with a suffix.
    async fn free_username(&self, email: &str) -> Result<String> {
        let local: String = email
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(48)
            .collect();
        let base = if valid_username(&local) {
            local
        } else {
            format!("user{local}")
        };
        if !self.db.username_exists(&base).await? {
            return Ok(base);
        }
        for _ in 0..8 {
            let candidate = format!("{base}-{}", rand::random::<u16>() % 10_000);
            if !self.db.username_exists(&candidate).await? {
                return Ok(candidate);
            }
        }
        Ok(format!("{base}-{}", crate::crypto::random_token(6)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        assert!(valid_email("a@b.cn"));
        assert!(!valid_email("a@b") && !valid_email("@b.cn") && !valid_email("a b@c.cn"));
        assert!(valid_username("zhang.san") && valid_username("张三"));
        assert!(!valid_username("13200000720") && !valid_username("a") && !valid_username("a b"));
        assert!(!valid_username("132-0000-0720") && !valid_username("00-852-1234"));
        let phone = |s: &str| canonical_phone(s);
        for same in [
            "13212345720",
            "+8613212345720",
            "+86 132 1234 5720",
            "0086-132-1234-5720",
            "8613212345720",
            " (+86) 132-1234-5720 ",
        ] {
            assert_eq!(phone(same).as_deref(), Some("13212345720"), "{same}");
        }
        // Other countries, and Chinese numbers that are not mobiles, keep their code.
        assert_eq!(phone("00852 1234 5678").as_deref(), Some("+85212345678"));
        assert_eq!(phone("+86 10 1234 5678").as_deref(), Some("+861012345678"));
        assert_eq!(phone("010-12345678").as_deref(), Some("01012345678"));
        for bad in [
            "12ab5",
            "123",
            "+",
            "00",
            "1.3212345720",
            "+8613212345720123456789",
            "１３２",
            "+008613212345720",
            "00008613212345720",
        ] {
            assert_eq!(phone(bad), None, "{bad}");
        }
    }
}
