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

/// Usernames: 2–64 letters, digits, `.`, `_` or `-`, not all digits (so a username
/// can never be mistaken for a phone number at login).
pub fn valid_username(name: &str) -> bool {
    (2..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.chars().all(|c| c.is_ascii_digit())
}

/// Phone numbers: digits with an optional leading `+`, 5–20 characters.
pub fn valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl App {
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
        if let Some(phone) = &input.phone
            && !valid_phone(phone)
        {
            return Err(Error::field("phone", "is not a valid phone number"));
        }
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
                    phone: input.phone,
                    password_hash: Some(password_hash),
                    is_admin: input.is_admin,
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
        assert!(valid_phone("13212345720") && valid_phone("+8613212345720"));
        assert!(!valid_phone("12ab5") && !valid_phone("123"));
    }
}
