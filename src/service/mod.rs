//! The operations of the product, shared by the HTTP handlers and the admin CLI.
//! [`App`] holds what every operation needs: the database, the server key and the
//! password hasher.

mod clients;
mod users;

pub use clients::{ClientCreated, CreateClient};
pub use users::CreateUser;

use crate::config::Config;
use crate::crypto::{PasswordHasher, SecretKey};
use crate::store::{DatabaseUrl, Db, StoreError};

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
        // Two hashes at a time on two cores keeps one core for the token endpoint.
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        let passwords = PasswordHasher::new(workers.clamp(1, 4))
            .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(Self {
            config,
            db,
            key,
            passwords,
        })
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
