//! The admin CLI of SPEC §1. Every command prints JSON on success and exits
//! non-zero with one clear line on stderr otherwise.

use crate::config::Config;
use crate::service::{App, CreateClient, CreateUser, StartError};
use crate::store::{Client, User};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "usercenter",
    version,
    about = "Central user system and OAuth 2.0 / OpenID Connect server"
)]
pub struct Cli {
    /// A TOML configuration file; the environment wins over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients (apps).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage groups of users.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Read or change the admin settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Define scopes (seed 002).
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Manage the token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Physical cards (seed 004).
    #[command(subcommand)]
    Card(CardCommand),
}

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Bind a card number to a user.
    Bind {
        #[arg(long)]
        card: String,
        /// The user's e-mail.
        #[arg(long, value_name = "EMAIL")]
        user: String,
    },
    /// Report a card lost: its tokens then carry no scope.
    Lost {
        #[arg(long)]
        card: String,
    },
    /// Report a lost card found again.
    Found {
        #[arg(long)]
        card: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Create a scope.
    Create {
        name: String,
        /// The resource path it guards.
        #[arg(long)]
        path: Option<String>,
        /// The HTTP method it guards (default GET).
        #[arg(long)]
        method: Option<String>,
        /// Always granted, even when not requested.
        #[arg(long)]
        default: bool,
        #[arg(long = "display-name")]
        display_name: Option<String>,
        /// May use {user} and {client_name}.
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        icon: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make new signing keys; the old ones keep verifying until their tokens expire.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Put a user in a group.
    Add {
        name: String,
        /// The user's e-mail.
        #[arg(long, value_name = "EMAIL")]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting.
    Get,
    /// Change one setting.
    Set { key: String, value: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an app; prints its client_secret once.
    Create(Box<ClientCreateArgs>),
    /// Issue a new secret; the old one stops working.
    ResetSecret { client_id: String },
    /// Approve a client's use of the develop or root scope (seed 001).
    ApproveScope { client_id: String, scope: String },
    /// Set how many SMS codes an app may have sent per minute (0: none; `default`: 60).
    SmsRate {
        client_id: String,
        #[arg(value_name = "N|default")]
        per_minute: String,
    },
}

#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    #[arg(long)]
    name: String,
    /// Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Repeat for several; default authorization_code and refresh_token.
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// Repeat for several; default every built-in scope but develop and root.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// The e-mail of the user who owns the app.
    #[arg(long, value_name = "EMAIL")]
    owner: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    homepage: Option<String>,
    #[arg(long)]
    icon: Option<String>,
    /// opaque (default) or jwt.
    #[arg(long = "token-format")]
    token_format: Option<String>,
    /// independent (default), reuse or replace.
    #[arg(long = "token-policy")]
    token_policy: Option<String>,
    /// RS256 (default), ES256 or EdDSA: how ID tokens and JWT access tokens are signed.
    #[arg(long = "id-token-alg")]
    id_token_alg: Option<String>,
    /// Access token lifetime in seconds for this client.
    #[arg(long = "access-ttl")]
    access_ttl: Option<i64>,
    /// Refresh token lifetime in seconds for this client.
    #[arg(long = "refresh-ttl")]
    refresh_ttl: Option<i64>,
    /// Tokens this client may obtain per day.
    #[arg(long = "daily-quota")]
    daily_quota: Option<i64>,
    /// SMS codes this client may have sent per minute (default 60).
    #[arg(long = "sms-per-minute")]
    sms_per_minute: Option<i64>,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    App(#[from] crate::Error),
    #[error("{0}")]
    Usage(String),
}

/// Runs one command that is not `serve`, returning what to print.
pub async fn run(config: Config, command: Command) -> Result<Value, CliError> {
    let app = App::open(config).await?;
    let result = dispatch(&app, command).await;
    app.db.close().await;
    result
}

async fn dispatch(app: &App, command: Command) -> Result<Value, CliError> {
    match command {
        Command::Serve => Err(CliError::Usage("serve is not an admin command".into())),
        Command::Migrate => Ok(json!({"status": "migrated"})),
        Command::User(UserCommand::Create {
            email,
            password,
            username,
            phone,
            admin,
        }) => {
            let mut user = app
                .create_user(CreateUser {
                    email,
                    password,
                    username,
                    phone,
                    is_admin: admin,
                })
                .await?;
            // A phone an admin gives counts as proven: the account may log in by SMS
            // with it (docs/sms.md), as people imported from the seeds' platforms do.
            if let Some(phone) = user.phone.clone() {
                app.db
                    .take_phone(user.id, &phone, crate::time::now())
                    .await?;
                user.phone_verified = true;
            }
            Ok(user_json(&user))
        }
        Command::Client(ClientCommand::Create(a)) => {
            let a = *a;
            let owner_id = match &a.owner {
                Some(email) => Some(
                    app.db
                        .user_by_email(email)
                        .await?
                        .ok_or_else(|| CliError::Usage(format!("no user with e-mail {email}")))?
                        .id,
                ),
                None => None,
            };
            let created = app
                .create_client(CreateClient {
                    name: a.name,
                    description: a.description.unwrap_or_default(),
                    icon: a.icon.unwrap_or_default(),
                    homepage: a.homepage.unwrap_or_default(),
                    redirect_uris: a.redirect_uris,
                    grant_types: a.grant_types,
                    scopes: a.scopes,
                    is_public: a.public,
                    owner_id,
                    by_admin: true,
                    token_format: a.token_format,
                    token_policy: a.token_policy,
                    id_token_alg: a.id_token_alg,
                    access_ttl: a.access_ttl,
                    refresh_ttl: a.refresh_ttl,
                    daily_quota: a.daily_quota,
                    sms_per_minute: a.sms_per_minute,
                })
                .await?;
            Ok(client_json(
                &created.client,
                created.client_secret.as_deref(),
            ))
        }
        Command::Group(GroupCommand::Create { name, description }) => {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 64 {
                return Err(CliError::Usage("a group name is 1–64 characters".into()));
            }
            let group = app
                .db
                .create_group(
                    &name,
                    description.as_deref().unwrap_or(""),
                    crate::time::now(),
                )
                .await?;
            app.db
                .audit(
                    None,
                    "group_created",
                    &group.name,
                    "cli",
                    "",
                    crate::time::now(),
                )
                .await?;
            Ok(json!(group))
        }
        Command::Group(GroupCommand::Add { name, user }) => {
            let group = app
                .db
                .group_by_name(&name)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no group named {name}")))?;
            let member = app
                .db
                .user_by_email(&user)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no user with e-mail {user}")))?;
            app.db
                .add_to_group(group.id, member.id, crate::time::now())
                .await?;
            app.db
                .audit(
                    None,
                    "group_member_added",
                    &group.name,
                    "cli",
                    &member.username,
                    crate::time::now(),
                )
                .await?;
            let members: Vec<Value> = app
                .db
                .group_members(group.id)
                .await?
                .into_iter()
                .map(|(id, username)| json!({"id": id, "username": username}))
                .collect();
            Ok(json!({"id": group.id, "name": group.name, "members": members}))
        }
        Command::Settings(SettingsCommand::Get) => Ok(json!(app.settings().await?)),
        Command::Settings(SettingsCommand::Set { key, value }) => {
            let settings = app.set_setting(&key, &value).await?;
            app.db
                .audit(
                    None,
                    "setting_changed",
                    &key,
                    "cli",
                    &value,
                    crate::time::now(),
                )
                .await?;
            Ok(json!(settings))
        }
        Command::Client(ClientCommand::ApproveScope { client_id, scope }) => {
            let client = app
                .db
                .client_by_client_id(&client_id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no client with client_id {client_id}")))?;
            let client = app.approve_scope(&client, &scope).await?;
            app.db
                .audit(
                    None,
                    "client_scope_approved",
                    &client.client_id,
                    "cli",
                    &scope,
                    crate::time::now(),
                )
                .await?;
            Ok(client_json(&client, None))
        }
        Command::Client(ClientCommand::SmsRate {
            client_id,
            per_minute,
        }) => {
            let client = app
                .db
                .client_by_client_id(&client_id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no client with client_id {client_id}")))?;
            let rate = match per_minute.as_str() {
                "default" => None,
                n => Some(n.parse::<u32>().map_err(|_| {
                    CliError::Usage(format!(
                        "{n:?} is not a number of codes a minute, nor default"
                    ))
                })?),
            };
            let now = crate::time::now();
            app.db
                .set_client_sms_rate(client.id, rate.map(i64::from), now)
                .await?;
            app.db
                .audit(
                    None,
                    "client_sms_rate",
                    &client.client_id,
                    "cli",
                    &per_minute,
                    now,
                )
                .await?;
            let client = app.db.client_by_id(client.id).await?.unwrap_or(client);
            Ok(client_json(&client, None))
        }
        Command::Scope(ScopeCommand::Create {
            name,
            path,
            method,
            default,
            display_name,
            description,
            icon,
        }) => {
            let scope = app
                .create_scope(crate::store::Scope {
                    display_name: display_name.unwrap_or_else(|| name.clone()),
                    name,
                    path: path.unwrap_or_default(),
                    method: method.unwrap_or_else(|| "GET".into()),
                    is_default: default,
                    description: description.unwrap_or_default(),
                    icon: icon.unwrap_or_default(),
                    builtin: false,
                })
                .await?;
            Ok(json!(scope))
        }
        Command::Card(CardCommand::Bind { card, user }) => {
            let card = card.trim().to_string();
            if !crate::service::admin::valid_card_no(&card) {
                return Err(CliError::Usage(
                    "a card number is 1–64 letters, digits, '-' or '_'".into(),
                ));
            }
            let holder = app
                .db
                .user_by_email(&user)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no user with e-mail {user}")))?;
            app.db
                .admin_bind_card(&card, holder.id, crate::time::now())
                .await?;
            app.db
                .audit(
                    None,
                    "card_bound",
                    &card,
                    "cli",
                    &holder.username,
                    crate::time::now(),
                )
                .await?;
            Ok(
                json!({"card": card, "user_id": holder.id, "username": holder.username, "lost": false}),
            )
        }
        Command::Card(cmd @ (CardCommand::Lost { .. } | CardCommand::Found { .. })) => {
            let (card, lost) = match cmd {
                CardCommand::Lost { card } => (card, true),
                CardCommand::Found { card } | CardCommand::Bind { card, .. } => (card, false),
            };
            if !app
                .db
                .admin_set_card_lost(&card, lost, crate::time::now())
                .await?
            {
                return Err(CliError::Usage(format!("no card {card}")));
            }
            let action = if lost { "card_lost" } else { "card_found" };
            app.db
                .audit(None, action, &card, "cli", "", crate::time::now())
                .await?;
            Ok(json!({"card": card, "lost": lost}))
        }
        Command::Keys(KeysCommand::Rotate) => {
            let kids = crate::jose::rotate(&app.db, &app.key, crate::time::now()).await?;
            app.db
                .audit(
                    None,
                    "keys_rotated",
                    &kids.join(" "),
                    "cli",
                    "",
                    crate::time::now(),
                )
                .await?;
            Ok(json!({"rotated": kids}))
        }
        Command::Client(ClientCommand::ResetSecret { client_id }) => {
            let client = app
                .db
                .client_by_client_id(&client_id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no client with client_id {client_id}")))?;
            let secret = app.reset_client_secret(&client).await?;
            Ok(client_json(&client, Some(&secret)))
        }
    }
}

/// A user as the CLI prints it.
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "phone": u.phone,
        "phone_verified": u.phone_verified,
        "is_admin": u.is_admin,
        "created_at": u.created_at,
    })
}

/// A client as the CLI prints it; the secret only when just issued.
pub fn client_json(c: &Client, secret: Option<&str>) -> Value {
    c.view(secret)
}
