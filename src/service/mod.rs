//! The operations of the product, shared by the HTTP handlers and the admin CLI.
//! [`App`] holds what every operation needs: the database, the server key and the
//! password hasher.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod claims;
mod clients;
pub mod console;
pub mod mail;
pub mod oauth;
pub mod profile;
pub mod settings;
pub mod sms;
pub mod throttle;
mod tls;
pub mod users;

pub use auth::Requester;
pub use clients::{ClientCreated, CreateClient};
pub use settings::Settings;
pub use users::CreateUser;

use crate::config::Config;
use crate::crypto::{PasswordHasher, SecretKey};
use crate::store::{DatabaseUrl, Db, StoreError};
use std::sync::{Arc, OnceLock};

/// Why the server or a command could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "USERCENTER_SECRET_KEY is required with PostgreSQL (every instance must share it; e.g. `openssl rand -hex 32`)"
    )]
    SecretKeyRequired,
    #[error("secret key: {0}")]
    SecretKey(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Everything an operation needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub db: Db,
    pub key: SecretKey,
    pub passwords: PasswordHasher,
    /// The JOSE signing keys (ID tokens, JWT access tokens).
    pub keys: crate::jose::KeySet,
    pub throttle: Arc<throttle::Throttle>,
    settings_cache: Arc<cache::Cached<Settings>>,
    scopes_cache: Arc<cache::Cached<Vec<crate::store::Scope>>>,
    pub mailer: mail::Mailer,
    pub sms: sms::SmsSender,
    issuer: Arc<OnceLock<String>>,
}

impl App {
    /// Opens the database (migrating it) and loads the server key.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        let url = DatabaseUrl::parse(&config.database_url)?;
        let key = match (&config.secret_key, url.key_file()) {
            (Some(hex), _) => SecretKey::from_hex(hex).map_err(StartError::SecretKey)?,
            (None, Some(path)) => {
                SecretKey::load_or_create(&path).map_err(StartError::SecretKey)?
            }
            (None, None) => return Err(StartError::SecretKeyRequired),
        };
        let db = Db::open(&url).await?;
        // Half the cores hash passwords; the other half stay free for the token
        // endpoint, whatever the login load (issue 6, scenario h).
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let passwords = PasswordHasher::new((cores / 2).clamp(1, 4))
            .map_err(|e| StartError::Other(e.to_string()))?;
        let host = config
            .issuer
            .as_deref()
            .and_then(|i| url::Url::parse(i).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        // Retired keys stay published long enough for every token they signed.
        let keys = crate::jose::KeySet::load(&db, &key, 90 * 86_400, crate::time::now())
            .await
            .map_err(|e| StartError::Other(format!("cannot load the signing keys: {e}")))?;
        let mailer = mail::Mailer::from_config(&config.mail, &host).map_err(StartError::Other)?;
        let sms = sms::SmsSender::from_config(&config.sms).map_err(StartError::Other)?;
        let throttle = Arc::new(match &config.redis_url {
            Some(url) => throttle::Throttle::with_redis(url, key.clone())
                .map_err(|e| StartError::Other(e.to_string()))?,
            None => throttle::Throttle::default(),
        });
        let issuer = Arc::new(OnceLock::new());
        if let Some(i) = &config.issuer {
            let _ = issuer.set(i.clone());
        }
        Ok(Self {
            config,
            db,
            key,
            passwords,
            keys,
            throttle,
            settings_cache: Arc::default(),
            scopes_cache: Arc::default(),
            mailer,
            sms,
            issuer,
        })
    }

    /// Every scope definition (kept for [`cache::TTL`]).
    pub async fn scopes(&self) -> crate::Result<Arc<Vec<crate::store::Scope>>> {
        if let Some(scopes) = self.scopes_cache.get() {
            return Ok(scopes);
        }
        Ok(self.scopes_cache.put(self.db.scopes().await?))
    }

    /// Forgets the cached scopes after a change made here.
    pub fn scopes_changed(&self) {
        self.scopes_cache.clear();
    }

    /// The public base URL: `USERCENTER_ISSUER`, or `http://` + the bound address once
    /// the server is listening.
    pub fn issuer(&self) -> String {
        self.issuer
            .get()
            .cloned()
            .unwrap_or_else(|| format!("http://{}", self.config.bind))
    }

    /// Fixes the issuer from the bound address when none was configured.
    pub fn set_bound_issuer(&self, issuer: String) {
        let _ = self.issuer.set(issuer);
    }

    /// Creates the admin of `USERCENTER_ADMIN_EMAIL`/`_PASSWORD` when no admin exists.
    pub async fn ensure_admin(&self) -> crate::Result<()> {
        let (Some(email), Some(password)) = (&self.config.admin_email, &self.config.admin_password)
        else {
            return Ok(());
        };
        if self.db.admin_exists().await? {
            return Ok(());
        }
        let user = self
            .create_user(CreateUser {
                email: email.clone(),
                password: password.clone(),
                username: None,
                phone: None,
                is_admin: true,
            })
            .await?;
        tracing::info!(user_id = user.id, "created the initial admin");
        Ok(())
    }
}
