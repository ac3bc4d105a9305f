//! The self-service consoles (seed 000: OAuth 第三方应用授权管理): my apps, the apps I
//! authorized, my tokens. Every operation takes the acting user and touches only
//! what is theirs: someone else's `pk` is "not found", never their data.

use super::{App, CreateClient};
use crate::error::{Error, Result};
use crate::oauth::scope;
use crate::store::{Client, Consent, HeldToken, User};

/// An authorization: an app, what I granted it, and its tokens valid now.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub client: Client,
    pub consent: Consent,
    /// Its live access and refresh tokens, newest first.
    pub tokens: Vec<HeldToken>,
    /// The grant is a remembered consent; else it stands for live tokens that a grant
    /// without the consent page gave.
    pub remembered: bool,
}

impl App {
    /// One of `user`'s apps.
    pub async fn my_app(&self, user: &User, pk: i64) -> Result<Client> {
        self.db
            .client_by_id(pk)
            .await?
            .filter(|c| c.owner_id == Some(user.id))
            .ok_or(Error::NotFound)
    }

    /// Changes one of `user`'s apps under the rules of registration. `develop` and
    /// `root` asked for and not yet approved become requests for an admin.
    pub async fn update_app(
        &self,
        user: &User,
        pk: i64,
        mut input: CreateClient,
    ) -> Result<Client> {
        let current = self.my_app(user, pk).await?;
        input.is_public = current.is_public;
        input.by_admin = false;
        // A scope the app holds but no longer defined (deleted before deletions took
        // it off every app) goes, rather than refusing every change of the app.
        let defined = self.db.scope_names().await?;
        input
            .scopes
            .retain(|s| defined.contains(s) || !current.scopes.contains(s));
        let valid = self.validate_app(input).await?;
        let now = crate::time::now();
        // What waits for an admin: privileged scopes and offline_cert not approved,
        // by the approvals as they stand when the change is written.
        let updated = self
            .db
            .edit_client(pk, now, |c| {
                if c.owner_id != Some(user.id) {
                    return Err(Error::NotFound);
                }
                let approved = &c.approved_scopes;
                c.requested_scopes = valid
                    .requested_scopes
                    .into_iter()
                    .filter(|s| !approved.contains(s))
                    .collect();
                c.name = valid.name;
                c.description = valid.description;
                c.icon = valid.icon;
                c.homepage = valid.homepage;
                c.redirect_uris = valid.redirect_uris;
                c.grant_types = valid.grant_types;
                c.scopes = valid.scopes;
                c.token_format = valid.token_format;
                c.token_policy = valid.token_policy;
                Ok(())
            })
            .await?
            .ok_or(Error::NotFound)?;
        self.db
            .audit(
                Some(user.id),
                "app_updated",
                &current.client_id,
                "",
                "",
                now,
            )
            .await?;
        Ok(updated)
    }

    /// Deletes one of `user`'s apps; every token of it stops working at once.
    pub async fn delete_app(&self, user: &User, pk: i64) -> Result<()> {
        let app = self.my_app(user, pk).await?;
        let now = crate::time::now();
        self.db.delete_client(pk).await?;
        self.db
            .audit(Some(user.id), "app_deleted", &app.client_id, "", "", now)
            .await
    }

    pub async fn reset_my_app_secret(&self, user: &User, pk: i64) -> Result<String> {
        let app = self.my_app(user, pk).await?;
        let secret = self.reset_client_secret(&app).await?;
        self.db
            .audit(
                Some(user.id),
                "app_secret_reset",
                &app.client_id,
                "",
                "",
                crate::time::now(),
            )
            .await?;
        Ok(secret)
    }

    /// The apps `user` authorized, newest first: those with a remembered consent, and
    /// those holding live tokens of the user without one (password, device, SMS, QR
    /// and card grants), whose grant is then the union of those tokens' scopes.
    pub async fn my_authorizations(&self, user: &User) -> Result<Vec<Authorization>> {
        let now = crate::time::now();
        let grants = self.db.consents_of(user.id).await?;
        let mut unremembered: Vec<Consent> = Vec::new();
        for (client_id, scope, created_at) in self.db.live_grants_of(user.id, now).await? {
            if grants.iter().any(|c| c.client_id == client_id) {
                continue;
            }
            match unremembered.iter_mut().find(|c| c.client_id == client_id) {
                // Oldest first: the first token dates the grant, the latest updates
                // it, and `parse` drops the scopes already held.
                Some(grant) => {
                    grant.scope = scope::parse(&format!("{} {scope}", grant.scope)).join(" ");
                    grant.updated_at = created_at;
                }
                None => unremembered.push(Consent {
                    client_id,
                    scope,
                    created_at,
                    updated_at: created_at,
                }),
            }
        }
        let mut grants: Vec<(Consent, bool)> = grants.into_iter().map(|c| (c, true)).collect();
        grants.extend(unremembered.into_iter().map(|c| (c, false)));
        grants.sort_by_key(|(c, _)| std::cmp::Reverse(c.updated_at));
        let mut out = Vec::new();
        for (consent, remembered) in grants {
            if let Some(client) = self.db.client_by_id(consent.client_id).await? {
                let tokens = self
                    .db
                    .valid_tokens_of(user.id, Some(client.id), now)
                    .await?;
                out.push(Authorization {
                    client,
                    consent,
                    tokens,
                    remembered,
                });
            }
        }
        Ok(out)
    }

    pub async fn my_authorization(&self, user: &User, pk: i64) -> Result<Authorization> {
        self.my_authorizations(user)
            .await?
            .into_iter()
            .find(|a| a.client.id == pk)
            .ok_or(Error::NotFound)
    }

    /// Changes what `user` granted app `pk`. Tokens that carry more than the new
    /// grant stop working.
    pub async fn change_authorization(
        &self,
        user: &User,
        pk: i64,
        new_scope: &str,
    ) -> Result<Authorization> {
        let current = self.my_authorization(user, pk).await?;
        let wanted = scope::parse(new_scope);
        let granted = scope::parse(&current.consent.scope);
        if wanted.is_empty() {
            return Err(Error::field(
                "scope",
                "grant at least one scope, or revoke the app",
            ));
        }
        if !scope::covers(&granted, &wanted) {
            return Err(Error::InvalidScope(
                "an authorization can only be narrowed here".into(),
            ));
        }
        let now = crate::time::now();
        // A consent is remembered only where the person gave one on the consent page;
        // what was unticked leaves it, and what another tab added meanwhile stays.
        if current.remembered {
            let unticked: Vec<String> = granted
                .iter()
                .filter(|s| !wanted.contains(s))
                .cloned()
                .collect();
            self.db
                .remove_from_consent(user.id, pk, &unticked, now)
                .await?;
        }
        // Refresh tokens too: whose access tokens have expired would otherwise mint
        // the wider scope again.
        for t in &current.tokens {
            if !scope::covers(&wanted, &scope::parse(&t.scope)) {
                self.end_token(t, now).await?;
            }
        }
        self.db
            .audit(
                Some(user.id),
                "authorization_changed",
                &current.client.client_id,
                "",
                &wanted.join(" "),
                now,
            )
            .await?;
        match self.my_authorization(user, pk).await {
            // A grant without consent whose every token carried more is gone now.
            Err(Error::NotFound) => Ok(Authorization {
                consent: Consent {
                    scope: wanted.join(" "),
                    updated_at: now,
                    ..current.consent
                },
                tokens: Vec::new(),
                ..current
            }),
            other => other,
        }
    }

    /// Revokes app `pk`: the consent goes and every token of it stops working.
    pub async fn revoke_authorization(&self, user: &User, pk: i64) -> Result<()> {
        let current = self.my_authorization(user, pk).await?;
        let now = crate::time::now();
        self.db.delete_consent(user.id, pk).await?;
        self.db.revoke_all_of(user.id, pk, now).await?;
        self.db
            .audit(
                Some(user.id),
                "authorization_revoked",
                &current.client.client_id,
                "",
                "",
                now,
            )
            .await
    }

    /// Deletes one token of app `pk` by the id the lists give it
    /// ([`HeldToken::listed_id`]), an access or a refresh token, with the refresh
    /// family it belongs to.
    pub async fn delete_my_token(&self, user: &User, pk: i64, listed_id: i64) -> Result<()> {
        let now = crate::time::now();
        let token = self
            .db
            .valid_tokens_of(user.id, Some(pk), now)
            .await?
            .into_iter()
            .find(|t| t.listed_id() == listed_id)
            .ok_or(Error::NotFound)?;
        self.end_token(&token, now).await?;
        self.db
            .audit(
                Some(user.id),
                "token_deleted",
                &token.id.to_string(),
                "",
                token.kind.as_str(),
                now,
            )
            .await
    }

    /// Revokes a held token with the refresh family it belongs to, if any.
    async fn end_token(&self, token: &HeldToken, now: i64) -> Result<()> {
        match &token.family_id {
            Some(family) => self.db.revoke_family(family, now).await,
            None => self.db.revoke_access_token(token.id, now).await,
        }
    }
}
