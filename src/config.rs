//! Configuration, exactly as SPEC §1: environment variables, optionally a TOML file
//! given with `--config FILE`; the environment wins over the file.
//!
//! The TOML file uses the variable names without the `USERCENTER_` prefix, in lower
//! case (`bind = "0.0.0.0:8080"`, `database_url = "postgres://…"`).

use serde::Deserialize;
use std::path::Path;

/// The resolved configuration of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listen address; port 0 picks a free port.
    pub bind: String,
    /// Public base URL; `None` means `http://` + the address actually bound.
    pub issuer: Option<String>,
    pub database_url: String,
    pub redis_url: Option<String>,
    /// `smtp://…` or a folder for the file outbox.
    pub mail: String,
    /// A folder for the file outbox or an `http(s)://` webhook.
    pub sms: String,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// 64 hex characters; generated beside a SQLite database when unset.
    pub secret_key: Option<String>,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the
    /// caller; empty: the peer is the caller (`docs/proxies.md`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            issuer: None,
            database_url: "sqlite://data/usercenter.db".into(),
            redis_url: None,
            mail: "data/outbox/mail".into(),
            sms: "data/outbox/sms".into(),
            admin_email: None,
            admin_password: None,
            secret_key: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The keys a TOML file may carry. Unknown keys are refused so that a typo is seen.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    issuer: Option<String>,
    database_url: Option<String>,
    redis_url: Option<String>,
    mail: Option<String>,
    sms: Option<String>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    secret_key: Option<String>,
    trusted_proxies: Option<String>,
}

impl Config {
    /// Reads the optional file, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    /// Like [`Config::load`], with the environment given as a lookup function.
    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: shown.clone(),
                source,
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: shown,
                message: e.message().to_string(),
            })?;
            config.apply(parsed)?;
        }
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        config.apply(FileConfig {
            bind: var("USERCENTER_BIND"),
            issuer: var("USERCENTER_ISSUER"),
            database_url: var("USERCENTER_DATABASE_URL"),
            redis_url: var("USERCENTER_REDIS_URL"),
            mail: var("USERCENTER_MAIL"),
            sms: var("USERCENTER_SMS"),
            admin_email: var("USERCENTER_ADMIN_EMAIL"),
            admin_password: var("USERCENTER_ADMIN_PASSWORD"),
            secret_key: var("USERCENTER_SECRET_KEY"),
            trusted_proxies: var("USERCENTER_TRUSTED_PROXIES"),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn apply(&mut self, f: FileConfig) -> Result<(), ConfigError> {
        if let Some(v) = f.bind {
            // SPEC §1: ":0" picks a free port; an address without a host listens on
            // the default one, loopback.
            self.bind = match v.strip_prefix(':') {
                Some(port) => format!("127.0.0.1:{port}"),
                None => v,
            };
        }
        if let Some(v) = f.issuer {
            self.issuer = Some(v.trim_end_matches('/').to_string());
        }
        if let Some(v) = f.database_url {
            self.database_url = v;
        }
        if f.redis_url.is_some() {
            self.redis_url = f.redis_url;
        }
        if let Some(v) = f.mail {
            self.mail = v;
        }
        if let Some(v) = f.sms {
            self.sms = v;
        }
        if f.admin_email.is_some() {
            self.admin_email = f.admin_email;
        }
        if f.admin_password.is_some() {
            self.admin_password = f.admin_password;
        }
        if f.secret_key.is_some() {
            self.secret_key = f.secret_key;
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = parse_networks(&v).map_err(|reason| ConfigError::Invalid {
                name: "USERCENTER_TRUSTED_PROXIES",
                reason,
            })?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(issuer) = &self.issuer {
            let url = url::Url::parse(issuer).map_err(|e| ConfigError::Invalid {
                name: "USERCENTER_ISSUER",
                reason: format!("{e} (expected e.g. https://id.example.com)"),
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
                return Err(ConfigError::Invalid {
                    name: "USERCENTER_ISSUER",
                    reason: "must be an http(s) URL without query or fragment".into(),
                });
            }
        }
        if let Some(key) = &self.secret_key {
            crate::crypto::SecretKey::from_hex(key).map_err(|reason| ConfigError::Invalid {
                name: "USERCENTER_SECRET_KEY",
                reason,
            })?;
        }
        Ok(())
    }
}

/// Addresses or networks separated by commas or spaces: `10.0.0.0/8, 192.168.1.5`.
fn parse_networks(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or network (e.g. 10.0.0.0/8)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let c = Config::load_from(
            None,
            env(&[("USERCENTER_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ::1")]),
        )
        .unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
        let bad = Config::load_from(None, env(&[("USERCENTER_TRUSTED_PROXIES", "10.0.0.0/33")]));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "USERCENTER_TRUSTED_PROXIES",
                ..
            })
        ));
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://data/usercenter.db");
        assert_eq!(c.mail, "data/outbox/mail");
        assert_eq!(c.sms, "data/outbox/sms");
        assert!(c.issuer.is_none() && c.secret_key.is_none());
    }

    #[test]
    fn environment_wins_over_file() {
        let dir = std::env::temp_dir().join(format!("uc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:1\"\nmail = \"/tmp/m\"\n").unwrap();
        let c = Config::load_from(Some(&file), env(&[("USERCENTER_BIND", "127.0.0.1:0")])).unwrap();
        assert_eq!(c.bind, "127.0.0.1:0");
        assert_eq!(c.mail, "/tmp/m");
    }

    #[test]
    fn bad_inputs_name_the_problem() {
        let missing = Config::load_from(Some(Path::new("/nonexistent/uc.toml")), env(&[]));
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/uc.toml")
        );
        let key = Config::load_from(None, env(&[("USERCENTER_SECRET_KEY", "abc")]));
        assert!(
            key.unwrap_err()
                .to_string()
                .contains("USERCENTER_SECRET_KEY")
        );
        let issuer = Config::load_from(None, env(&[("USERCENTER_ISSUER", "not a url")]));
        assert!(
            issuer
                .unwrap_err()
                .to_string()
                .contains("USERCENTER_ISSUER")
        );
    }
}
