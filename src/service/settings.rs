//! Admin settings with their defaults (SPEC §1, seed 002).

use super::App;
use crate::error::{Error, Result};
use serde::Serialize;

/// Every setting, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub allow_registration: bool,
    pub allow_implicit: bool,
    pub allow_password_grant: bool,
    pub require_state: bool,
    pub exact_redirect_uri: bool,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub code_ttl: i64,
    pub refresh_grace_seconds: i64,
    pub dynamic_registration: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            allow_registration: true,
            allow_implicit: false,
            allow_password_grant: false,
            require_state: false,
            exact_redirect_uri: true,
            access_token_ttl: 3600,
            refresh_token_ttl: 2_592_000,
            code_ttl: 600,
            refresh_grace_seconds: 0,
            dynamic_registration: false,
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        _ => Err(Error::field(key, "must be true or false")),
    }
}

fn parse_seconds(key: &str, value: &str, min: i64, max: i64) -> Result<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            Error::field(
                key,
                format!("must be a whole number of seconds from {min} to {max}"),
            )
        })
}

impl Settings {
    /// Sets one key from its text form, refusing unknown keys and bad values.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        const YEAR: i64 = 366 * 86_400;
        match key {
            "allow_registration" => self.allow_registration = parse_bool(key, value)?,
            "allow_implicit" => self.allow_implicit = parse_bool(key, value)?,
            "allow_password_grant" => self.allow_password_grant = parse_bool(key, value)?,
            "require_state" => self.require_state = parse_bool(key, value)?,
            "exact_redirect_uri" => self.exact_redirect_uri = parse_bool(key, value)?,
            "dynamic_registration" => self.dynamic_registration = parse_bool(key, value)?,
            "access_token_ttl" => self.access_token_ttl = parse_seconds(key, value, 60, YEAR)?,
            "refresh_token_ttl" => {
                self.refresh_token_ttl = parse_seconds(key, value, 60, 10 * YEAR)?
            }
            "code_ttl" => self.code_ttl = parse_seconds(key, value, 10, 3600)?,
            "refresh_grace_seconds" => {
                self.refresh_grace_seconds = parse_seconds(key, value, 0, 60)?
            }
            _ => return Err(Error::field("key", format!("unknown setting {key:?}"))),
        }
        Ok(())
    }
}

impl App {
    /// The settings in force: stored values over the defaults.
    /// The settings in force (kept for [`super::cache::TTL`]).
    pub async fn settings(&self) -> Result<Settings> {
        if let Some(s) = self.settings_cache.get() {
            return Ok(s.as_ref().clone());
        }
        let fresh = self.read_settings().await?;
        Ok(self.settings_cache.put(fresh).as_ref().clone())
    }

    async fn read_settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        for (key, value) in self.db.settings().await? {
            // A value stored by an older version that no longer parses keeps the default.
            if settings.set(&key, &value).is_err() {
                tracing::warn!(key, "ignoring an invalid stored setting");
            }
        }
        Ok(settings)
    }

    /// Validates and stores one setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<Settings> {
        let mut settings = self.read_settings().await?;
        settings.set(key, value)?;
        self.db
            .set_setting(key, value.trim(), crate::time::now())
            .await?;
        self.settings_cache.put(settings.clone());
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_validates_keys_and_values() {
        let mut s = Settings::default();
        s.set("allow_implicit", "true").unwrap();
        assert!(s.allow_implicit);
        s.set("access_token_ttl", "7200").unwrap();
        assert_eq!(s.access_token_ttl, 7200);
        assert!(s.set("access_token_ttl", "-1").is_err());
        assert!(s.set("allow_implicit", "maybe").is_err());
        assert!(s.set("nope", "1").is_err());
    }
}
