//! The operations of the admin console (SPEC §3, issue 5). Each one checks what it
//! must, makes the change and writes an `admin.<action>` entry to the audit log with
//! the admin as actor.

use super::App;
use super::auth::{Requester, check_password_policy};
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::oauth::scope::{APPROVED_GRANT, PRIVILEGED, needs_approval};
use crate::store::{Client, Scope, User};
use crate::time::now;
use std::collections::BTreeMap;

/// Who acts: the signed-in admin and where they are.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub admin: &'a User,
    pub who: &'a Requester,
}

/// Every setting as `(key, value)`, the value as JSON (a bool or a number), sorted
/// by key; read from [`Settings`] itself, so a key added there shows up here.
pub fn settings_values(settings: &Settings) -> Vec<(String, serde_json::Value)> {
    match serde_json::to_value(settings) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The text form of a setting's value, as `Settings::set` reads it.
pub fn setting_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a client waits for: `develop`/`root` recorded as requests or registered
/// without an admin's approval (seed 001), and `offline_cert` (docs/cards.md).
pub fn pending_scopes(client: &Client) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let requested = client.requested_scopes.iter();
    let registered = client
        .scopes
        .iter()
        .filter(|s| PRIVILEGED.contains(&s.as_str()));
    let card = APPROVED_GRANT.to_string();
    let card_grant = client.grant_types.contains(&card).then_some(&card);
    for s in requested.chain(registered).chain(card_grant) {
        if !client.approved_scopes.contains(s) && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Card numbers: 1–64 letters, digits, `-` or `_` (they travel as `card/<number>`).
pub fn valid_card_no(card_no: &str) -> bool {
    (1..=64).contains(&card_no.len())
        && card_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn rejected(name: &'static str, text: &str) -> Error {
    Error::Rejected(name, text.into())
}

/// Checks the parts of a scope that `create_scope` checks too (seed 002).
fn check_scope_fields(scope: Scope) -> Result<Scope> {
    let method = scope.method.trim().to_ascii_uppercase();
    if !matches!(
        method.as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "*"
    ) {
        return Err(Error::field(
            "method",
            "must be GET, POST, PUT, PATCH, DELETE or *",
        ));
    }
    let path = scope.path.trim().to_string();
    if !(path.is_empty() || path.starts_with('/')) {
        return Err(Error::field("path", "must start with /"));
    }
    Ok(Scope {
        method,
        path,
        display_name: scope.display_name.trim().to_string(),
        description: scope.description.trim().to_string(),
        icon: scope.icon.trim().to_string(),
        ..scope
    })
}

impl App {
    async fn admin_audit(
        &self,
        by: Actor<'_>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        self.db
            .audit(
                Some(by.admin.id),
                &format!("admin.{action}"),
                target,
                &by.who.ip,
                detail,
                now(),
            )
            .await
    }

    async fn admin_user(&self, user_id: i64) -> Result<User> {
        self.db.user_by_id(user_id).await?.ok_or(Error::NotFound)
    }

    /// A user named by username, e-mail or phone.
    pub async fn admin_find_user(&self, login: &str) -> Result<User> {
        let login = login.trim();
        if login.is_empty() {
            return Err(Error::field("user", "is required"));
        }
        self.user_by_login(login)
            .await?
            .ok_or_else(|| rejected("unknown_user", "no user has this username, e-mail or phone"))
    }

    // ---- settings ----

    /// Validates every submitted value first, then stores those that changed;
    /// nothing is stored when one is wrong. Returns how many changed.
    pub async fn admin_save_settings(
        &self,
        by: Actor<'_>,
        values: &[(String, String)],
    ) -> Result<usize> {
        let current = self.settings().await?;
        let mut check = current.clone();
        let mut fields = BTreeMap::new();
        for (key, value) in values {
            if let Err(Error::Validation { fields: f, .. }) = check.set(key, value.trim()) {
                fields.extend(f);
            }
        }
        if !fields.is_empty() {
            let message = fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Validation { message, fields });
        }
        let before: BTreeMap<String, String> = settings_values(&current)
            .into_iter()
            .map(|(k, v)| (k, setting_text(&v)))
            .collect();
        let after: BTreeMap<String, String> = settings_values(&check)
            .into_iter()
            .map(|(k, v)| (k, setting_text(&v)))
            .collect();
        let mut changed = 0;
        for (key, new) in &after {
            let old = before.get(key).cloned().unwrap_or_default();
            if *new != old {
                self.set_setting(key, new).await?;
                self.admin_audit(by, "setting_changed", key, &format!("{old} → {new}"))
                    .await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    // ---- scopes ----

    pub async fn admin_create_scope(&self, by: Actor<'_>, scope: Scope) -> Result<Scope> {
        let scope = check_scope_fields(scope)?;
        let scope = self.create_scope(scope).await?;
        self.admin_audit(by, "scope_created", &scope.name, &scope.path)
            .await?;
        Ok(scope)
    }

    /// Changes a scope (its name stays). A built-in scope keeps its texts too, which
    /// the pages show in the reader's language; its guard, default flag and icon
    /// change like any scope's (seed 002).
    pub async fn admin_update_scope(&self, by: Actor<'_>, scope: Scope) -> Result<()> {
        let existing = self
            .db
            .admin_scope(&scope.name)
            .await?
            .ok_or(Error::NotFound)?;
        let scope = if existing.builtin {
            Scope {
                display_name: existing.display_name,
                description: existing.description,
                ..scope
            }
        } else {
            scope
        };
        let scope = check_scope_fields(scope)?;
        if !self.db.admin_update_scope(&scope).await? {
            return Err(Error::NotFound);
        }
        self.scopes_changed();
        self.admin_audit(by, "scope_updated", &scope.name, &scope.path)
            .await
    }

    /// Deletes a scope that is not built in, and takes it off every client.
    pub async fn admin_delete_scope(&self, by: Actor<'_>, name: &str) -> Result<()> {
        let existing = self.db.admin_scope(name).await?.ok_or(Error::NotFound)?;
        if existing.builtin {
            return Err(rejected(
                "builtin_scope",
                "a built-in scope cannot be deleted",
            ));
        }
        if !self.db.delete_scope_everywhere(name, now()).await? {
            return Err(Error::NotFound);
        }
        self.scopes_changed();
        self.admin_audit(by, "scope_deleted", name, "").await
    }

    // ---- users ----

    /// Disables (ending every session) or enables an account. An admin cannot
    /// disable themself.
    pub async fn admin_set_user_disabled(
        &self,
        by: Actor<'_>,
        user_id: i64,
        disabled: bool,
    ) -> Result<User> {
        let user = self.admin_user(user_id).await?;
        if disabled && user.id == by.admin.id {
            return Err(rejected(
                "self_disable",
                "you cannot disable your own account",
            ));
        }
        if !self
            .db
            .admin_set_user_disabled(user.id, disabled, now())
            .await?
        {
            return Err(rejected(
                "last_enabled_admin",
                "the last enabled admin cannot be disabled",
            ));
        }
        if disabled {
            self.db.delete_other_sessions(user.id, None).await?;
        }
        let action = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.admin_audit(by, action, &user.username, "").await?;
        Ok(user)
    }

    /// Grants or removes the admin role; the last enabled admin keeps it.
    pub async fn admin_set_user_admin(
        &self,
        by: Actor<'_>,
        user_id: i64,
        is_admin: bool,
    ) -> Result<User> {
        let user = self.admin_user(user_id).await?;
        if !self
            .db
            .admin_set_user_admin(user.id, is_admin, now())
            .await?
        {
            return Err(rejected(
                "last_admin",
                "the last admin cannot lose the admin role",
            ));
        }
        let action = if is_admin {
            "admin_granted"
        } else {
            "admin_removed"
        };
        self.admin_audit(by, action, &user.username, "").await?;
        Ok(user)
    }

    /// Sets a password chosen by the admin and ends the user's sessions (`keep`:
    /// the admin's own session, when they reset their own password).
    pub async fn admin_reset_password(
        &self,
        by: Actor<'_>,
        user_id: i64,
        password: &str,
        keep: Option<&str>,
    ) -> Result<User> {
        let user = self.admin_user(user_id).await?;
        check_password_policy(
            password,
            &user.username,
            user.email.as_deref().unwrap_or_default(),
        )?;
        let hash = self
            .passwords
            .hash(password)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.db.set_password_hash(user.id, &hash, now()).await?;
        let keep = keep.filter(|_| user.id == by.admin.id);
        self.db.delete_other_sessions(user.id, keep).await?;
        self.admin_audit(by, "password_reset", &user.username, "")
            .await?;
        Ok(user)
    }

    // ---- groups ----

    pub async fn admin_create_group(
        &self,
        by: Actor<'_>,
        name: &str,
        description: &str,
    ) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::field("name", "must be 1–64 characters"));
        }
        let description = description.trim();
        if description.chars().count() > 500 {
            return Err(Error::field(
                "description",
                "must be at most 500 characters",
            ));
        }
        let group = self.db.create_group(name, description, now()).await?;
        self.admin_audit(by, "group_created", &group.name, "").await
    }

    pub async fn admin_delete_group(&self, by: Actor<'_>, group_id: i64) -> Result<()> {
        let group = self
            .db
            .group_by_id(group_id)
            .await?
            .ok_or(Error::NotFound)?;
        self.db.admin_delete_group(group.id).await?;
        self.admin_audit(by, "group_deleted", &group.name, "").await
    }

    pub async fn admin_add_to_group(
        &self,
        by: Actor<'_>,
        group_id: i64,
        user: &User,
    ) -> Result<()> {
        let group = self
            .db
            .group_by_id(group_id)
            .await?
            .ok_or(Error::NotFound)?;
        self.db.add_to_group(group.id, user.id, now()).await?;
        self.admin_audit(by, "group_member_added", &group.name, &user.username)
            .await
    }

    pub async fn admin_remove_from_group(
        &self,
        by: Actor<'_>,
        group_id: i64,
        user_id: i64,
    ) -> Result<()> {
        let group = self
            .db
            .group_by_id(group_id)
            .await?
            .ok_or(Error::NotFound)?;
        let user = self.admin_user(user_id).await?;
        self.db.admin_remove_from_group(group.id, user.id).await?;
        self.admin_audit(by, "group_member_removed", &group.name, &user.username)
            .await
    }

    // ---- clients ----

    async fn admin_client(&self, id: i64) -> Result<Client> {
        self.db.client_by_id(id).await?.ok_or(Error::NotFound)
    }

    /// Approves a client's `develop`/`root` (seed 001) or `offline_cert` request.
    pub async fn admin_approve_client_scope(
        &self,
        by: Actor<'_>,
        id: i64,
        scope: &str,
    ) -> Result<Client> {
        let client = self.admin_client(id).await?;
        let client = self.approve_scope(&client, scope).await?;
        self.admin_audit(by, "client_scope_approved", &client.client_id, scope)
            .await?;
        Ok(client)
    }

    /// Refuses a `develop`/`root`/`offline_cert` request, or withdraws an approval:
    /// the name leaves the request, the client's scopes and its approvals; for
    /// `offline_cert`, its grant types too, and the people's tokens it holds end.
    pub async fn admin_refuse_client_scope(
        &self,
        by: Actor<'_>,
        id: i64,
        scope: &str,
    ) -> Result<Client> {
        if !needs_approval(scope) {
            return Err(Error::field(
                "scope",
                "only develop, root and offline_cert need approval",
            ));
        }
        let at = now();
        let client = self
            .db
            .edit_client(id, at, |c| {
                c.scopes.retain(|s| s != scope);
                c.approved_scopes.retain(|s| s != scope);
                c.requested_scopes.retain(|s| s != scope);
                if scope == APPROVED_GRANT {
                    // The grant goes too, else it would be asked for again.
                    c.grant_types.retain(|g| g != scope);
                }
                Ok(())
            })
            .await?
            .ok_or(Error::NotFound)?;
        if scope == APPROVED_GRANT {
            // What the terminal holds of card holders' ends with the approval.
            self.db
                .revoke_people_tokens_of_client(client.id, at)
                .await?;
        }
        self.admin_audit(by, "client_scope_refused", &client.client_id, scope)
            .await?;
        Ok(client)
    }

    /// A disabled client's tokens and secret stop working at once (tokens.rs).
    pub async fn admin_set_client_disabled(
        &self,
        by: Actor<'_>,
        id: i64,
        disabled: bool,
    ) -> Result<Client> {
        let client = self.admin_client(id).await?;
        self.db
            .admin_set_client_disabled(client.id, disabled, now())
            .await?;
        let action = if disabled {
            "client_disabled"
        } else {
            "client_enabled"
        };
        self.admin_audit(by, action, &client.client_id, &client.name)
            .await?;
        Ok(client)
    }

    // ---- cards (seed 004) ----

    pub async fn admin_bind_card(&self, by: Actor<'_>, card_no: &str, user: &str) -> Result<()> {
        let card_no = card_no.trim();
        if !valid_card_no(card_no) {
            return Err(Error::field(
                "card_no",
                "use 1–64 letters, digits, '-' or '_'",
            ));
        }
        let user = self.admin_find_user(user).await?;
        self.db.admin_bind_card(card_no, user.id, now()).await?;
        self.admin_audit(by, "card_bound", card_no, &user.username)
            .await
    }

    pub async fn admin_set_card_lost(
        &self,
        by: Actor<'_>,
        card_no: &str,
        lost: bool,
    ) -> Result<()> {
        if !self.db.admin_set_card_lost(card_no, lost, now()).await? {
            return Err(Error::NotFound);
        }
        let action = if lost { "card_lost" } else { "card_found" };
        self.admin_audit(by, action, card_no, "").await
    }

    pub async fn admin_unbind_card(&self, by: Actor<'_>, card_no: &str) -> Result<()> {
        let holder = self
            .db
            .admin_card_user(card_no)
            .await?
            .ok_or(Error::NotFound)?;
        self.db.admin_unbind_card(card_no).await?;
        let username = self
            .db
            .user_by_id(holder)
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        self.admin_audit(by, "card_unbound", card_no, &username)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_scopes_are_requests_and_unapproved_privileged_scopes() {
        let client = Client {
            id: 1,
            client_id: "c".into(),
            secret_hash: None,
            is_public: false,
            name: "n".into(),
            description: String::new(),
            icon: String::new(),
            homepage: String::new(),
            redirect_uris: vec![],
            grant_types: vec![],
            scopes: vec!["basic".into(), "develop".into(), "root".into()],
            requested_scopes: vec!["root".into()],
            approved_scopes: vec!["develop".into()],
            owner_id: None,
            token_format: "opaque".into(),
            token_policy: "independent".into(),
            id_token_alg: "RS256".into(),
            access_ttl: None,
            refresh_ttl: None,
            daily_quota: None,
            sms_per_minute: None,
            disabled: false,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(pending_scopes(&client), vec!["root".to_string()]);
        assert!(valid_card_no("A-0001_x") && !valid_card_no("") && !valid_card_no("a/b"));
        let values = settings_values(&Settings::default());
        assert_eq!(values.len(), 10, "every key of Settings");
        assert!(
            values
                .iter()
                .any(|(k, v)| k == "exact_redirect_uri" && setting_text(v) == "true")
        );
    }
}
