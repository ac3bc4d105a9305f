//! Registering apps and resetting their secrets (seed 002, SPEC §1).

use super::App;
use crate::crypto::random_token;
use crate::error::{Error, Result};
use crate::oauth::{GrantType, redirect_uri};
use crate::store::{Client, NewClient};

/// Input to [`App::create_client`], from the CLI, the console or the JSON API.
#[derive(Debug, Clone, Default)]
pub struct CreateClient {
    pub name: String,
    pub description: String,
    pub icon: String,
    pub homepage: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub is_public: bool,
    pub owner_id: Option<i64>,
    /// An admin's request for `develop`/`root` counts as approved.
    pub by_admin: bool,
    pub token_format: Option<String>,
    pub token_policy: Option<String>,
    /// RS256 (default), ES256 or EdDSA for ID tokens and JWT access tokens.
    pub id_token_alg: Option<String>,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub daily_quota: Option<i64>,
    /// SMS codes per minute (SPEC §4: 60 when `None`); set by operators only, and
    /// 0 for an app registered by anyone else.
    pub sms_per_minute: Option<i64>,
}

/// A new app and its secret, which is shown this once and stored only hashed.
#[derive(Debug, Clone)]
pub struct ClientCreated {
    pub client: Client,
    pub client_secret: Option<String>,
}

/// Splits every entry on whitespace too: seed 002 writes several URIs in one field.
fn flatten(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values.iter().flat_map(|v| v.split_whitespace()) {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    out
}

/// A random client_id that never starts with `-`, so that it can be passed to the CLI
/// (`usercenter client reset-secret ID`) without being read as a flag.
fn new_client_id() -> String {
    loop {
        let id = random_token(16);
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

fn positive(name: &str, value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(v) if v <= 0 => Err(Error::field(name, "must be a positive number")),
        other => Ok(other),
    }
}

impl App {
    /// Checks an app's fields (SPEC §1, seed 002) and returns them ready to store,
    /// without its id and secret.
    pub async fn validate_app(&self, input: CreateClient) -> Result<NewClient> {
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::field("name", "must be 1–100 characters"));
        }
        let redirect_uris = flatten(&input.redirect_uris);
        for uri in &redirect_uris {
            redirect_uri::validate(uri)
                .map_err(|why| Error::field("redirect_uris", format!("{uri}: {why}")))?;
        }
        let mut grants: Vec<GrantType> = flatten(&input.grant_types)
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<_, _>>()
            .map_err(|why| Error::field("grant_types", why))?;
        if grants.is_empty() {
            grants = GrantType::DEFAULT.to_vec();
        }
        grants.sort();
        grants.dedup();
        if grants.iter().any(|g| g.redirects()) && redirect_uris.is_empty() {
            return Err(Error::field(
                "redirect_uris",
                "at least one is required for the authorization_code and implicit grants",
            ));
        }
        if input.is_public
            && grants
                .iter()
                .any(|g| matches!(g, GrantType::ClientCredentials | GrantType::OfflineCert))
        {
            return Err(Error::field(
                "grant_types",
                "a public client has no secret, so it cannot use client_credentials or offline_cert",
            ));
        }
        let known = self.db.scope_names().await?;
        let mut scopes = flatten(&input.scopes);
        if scopes.is_empty() {
            scopes = known
                .iter()
                .filter(|s| {
                    matches!(
                        s.as_str(),
                        "openid" | "profile" | "email" | "phone" | "user.read" | "basic" | "read"
                    )
                })
                .cloned()
                .collect();
        }
        if let Some(unknown) = scopes.iter().find(|s| !known.contains(s)) {
            return Err(Error::InvalidScope(format!("unknown scope {unknown:?}")));
        }
        // develop, root and offline_cert wait for an admin unless an admin registers
        // the app (docs/cards.md).
        let mut privileged: Vec<String> = scopes
            .iter()
            .filter(|s| crate::oauth::scope::PRIVILEGED.contains(&s.as_str()))
            .cloned()
            .collect();
        if grants.contains(&GrantType::OfflineCert) {
            privileged.push(crate::oauth::scope::APPROVED_GRANT.into());
        }
        let token_format = input.token_format.unwrap_or_else(|| "opaque".into());
        if !matches!(token_format.as_str(), "opaque" | "jwt") {
            return Err(Error::field("token_format", "must be opaque or jwt"));
        }
        let token_policy = input.token_policy.unwrap_or_else(|| "independent".into());
        if !matches!(token_policy.as_str(), "independent" | "reuse" | "replace") {
            return Err(Error::field(
                "token_policy",
                "must be independent, reuse or replace",
            ));
        }
        let id_token_alg = input.id_token_alg.unwrap_or_else(|| "RS256".into());
        if id_token_alg.parse::<crate::jose::Alg>().is_err() {
            return Err(Error::field(
                "id_token_alg",
                "must be RS256, ES256 or EdDSA",
            ));
        }
        Ok(NewClient {
            client_id: String::new(),
            secret_hash: None,
            is_public: input.is_public,
            name,
            description: input.description.trim().to_string(),
            icon: input.icon.trim().to_string(),
            homepage: input.homepage.trim().to_string(),
            redirect_uris,
            grant_types: grants.iter().map(|g| g.as_str().to_string()).collect(),
            scopes,
            requested_scopes: if input.by_admin {
                Vec::new()
            } else {
                privileged.clone()
            },
            approved_scopes: if input.by_admin {
                privileged
            } else {
                Vec::new()
            },
            owner_id: input.owner_id,
            token_format,
            token_policy,
            id_token_alg,
            access_ttl: positive("access_ttl", input.access_ttl)?,
            refresh_ttl: positive("refresh_ttl", input.refresh_ttl)?,
            daily_quota: positive("daily_quota", input.daily_quota)?,
            // Sending SMS codes is an operator's grant too (docs/sms.md).
            sms_per_minute: if input.by_admin {
                positive("sms_per_minute", input.sms_per_minute)?
            } else {
                Some(0)
            },
        })
    }

    pub async fn create_client(&self, input: CreateClient) -> Result<ClientCreated> {
        let is_public = input.is_public;
        let mut new = self.validate_app(input).await?;
        let client_secret = (!is_public).then(|| random_token(32));
        new.client_id = new_client_id();
        new.secret_hash = client_secret.as_deref().map(|s| self.key.hash_secret(s));
        let client = self.db.create_client(&new, crate::time::now()).await?;
        Ok(ClientCreated {
            client,
            client_secret,
        })
    }

    /// Approves `develop` or `root` for a client (seed 001), and the client's scopes
    /// gain it; or `offline_cert` (`docs/cards.md`), which stays a grant. Either is
    /// no longer a request.
    pub async fn approve_scope(&self, client: &Client, scope: &str) -> Result<Client> {
        if !crate::oauth::scope::needs_approval(scope) {
            return Err(Error::field(
                "scope",
                "only develop, root and offline_cert need approval",
            ));
        }
        let edited = self
            .db
            .edit_client(client.id, crate::time::now(), |c| {
                // The grant is approved, never made a scope of the client's.
                let lists = if scope == crate::oauth::scope::APPROVED_GRANT {
                    vec![&mut c.approved_scopes]
                } else {
                    vec![&mut c.scopes, &mut c.approved_scopes]
                };
                for list in lists {
                    if !list.iter().any(|s| s == scope) {
                        list.push(scope.to_string());
                    }
                }
                // Approved, it is no longer asked for.
                c.requested_scopes.retain(|s| s != scope);
                Ok(())
            })
            .await?;
        edited.ok_or(Error::NotFound)
    }

    /// Defines a scope (seed 002): a lower-case identifier, a method, a path.
    pub async fn create_scope(&self, scope: crate::store::Scope) -> Result<crate::store::Scope> {
        let ok_name = !scope.name.is_empty()
            && scope.name.len() <= 64
            && scope
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
        if !ok_name {
            return Err(Error::field(
                "name",
                "use 1–64 letters, digits, '.', '_', '-' or ':'",
            ));
        }
        if scope.name == crate::oauth::scope::APPROVED_GRANT {
            return Err(Error::field(
                "name",
                "is the name of a grant an admin approves, not of a scope",
            ));
        }
        let method = scope.method.to_ascii_uppercase();
        if !matches!(
            method.as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "*"
        ) {
            return Err(Error::field(
                "method",
                "must be GET, POST, PUT, PATCH, DELETE or *",
            ));
        }
        if !(scope.path.is_empty() || scope.path.starts_with('/')) {
            return Err(Error::field("path", "must start with /"));
        }
        let scope = crate::store::Scope { method, ..scope };
        self.db.create_scope(&scope, crate::time::now()).await?;
        self.scopes_changed();
        Ok(scope)
    }

    /// Issues a new secret; the old one stops working at once.
    pub async fn reset_client_secret(&self, client: &Client) -> Result<String> {
        if client.is_public {
            return Err(Error::invalid_request("a public client has no secret"));
        }
        let secret = random_token(32);
        self.db
            .set_client_secret(
                client.id,
                &self.key.hash_secret(&secret),
                crate::time::now(),
            )
            .await?;
        Ok(secret)
    }
}
