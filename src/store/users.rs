//! Users: accounts with the profile fields of seed 003.

use super::kept::Kept;
use super::read::{Cursor, Decode, from_any_row, sql_once, sql_once_per_backend};
use super::{Backend, Db, unique_violation};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A user as stored. The password hash never leaves the store layer in a response.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub gender: Option<i64>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub area: Option<String>,
    pub birthdate: Option<String>,
    pub real_name_enc: Option<String>,
    pub id_card_enc: Option<String>,
    pub certificate_type: Option<i64>,
    pub verify_tag: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user with the names of their groups, sorted, as read at `generation` of the
/// users tables (migration 6: every change to `users`, `user_groups` or
/// `group_members` raises it, in the changing transaction).
#[derive(Debug, Clone)]
pub(super) struct KeptUser {
    pub user: Arc<User>,
    pub groups: Arc<[String]>,
    pub generation: Option<i64>,
}

/// Users kept for the resource API and userinfo, which read a user and their groups
/// with every bearer token (`docs/user-cache.md`). A kept user is used only against
/// the generation read with the token, in the token's snapshot.
pub(super) type UserCache = Kept<i64, KeptUser>;

/// Users kept at most; past this many the cache starts over.
pub(super) const CACHED_USERS: usize = 4096;

/// The names of the groups of the user whose id is `user_id` (a column), sorted, as
/// one JSON array: each engine has its own aggregate.
fn group_names_sql(backend: Backend, user_id: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "SELECT json_group_array(name) FROM (SELECT g.name FROM user_groups g \
             JOIN group_members m ON m.group_id = g.id WHERE m.user_id = {user_id} \
             ORDER BY g.name)"
        ),
        Backend::Postgres => format!(
            "SELECT COALESCE(json_agg(g.name ORDER BY g.name), '[]')::text \
             FROM user_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = {user_id}"
        ),
    }
}

/// The columns [`kept_user`] reads, of a user joined as `u`: the users tables'
/// generation, the user and their group names.
pub(super) fn kept_user_columns(backend: Backend) -> String {
    format!(
        "(SELECT n FROM user_generation WHERE id = 1), {}, ({})",
        User::columns_of("u"),
        group_names_sql(backend, "u.id"),
    )
}

/// Reads [`kept_user_columns`]; `None` when the user is missing (an outer join's).
pub(super) fn kept_user(r: &mut Cursor<'_>) -> Result<Option<KeptUser>> {
    let generation = r.opt_int()?;
    let user = User::decode_opt(r)?;
    let groups = group_names(&r.text()?)?;
    Ok(user.map(|user| KeptUser {
        user: Arc::new(user),
        groups,
        generation,
    }))
}

/// Group names as [`group_names_sql`] reads them.
fn group_names(json: &str) -> Result<Arc<[String]>> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("group names: {e}")))
}

/// A user as introspection names them: the id, the name and whether they may act.
#[derive(Debug, Clone)]
pub struct UserRef {
    pub id: i64,
    pub username: String,
    pub disabled: bool,
}

impl Decode for UserRef {
    const COLUMNS: &'static str = "id, username, disabled";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            username: r.text()?,
            disabled: r.flag()?,
        })
    }
}

impl From<&User> for UserRef {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            disabled: u.disabled,
        }
    }
}

impl Decode for User {
    const COLUMNS: &'static str = "id, username, email, email_verified, phone, phone_verified, \
        password_hash, is_admin, disabled, nickname, avatar, gender, province, city, area, \
        birthdate, real_name_enc, id_card_enc, certificate_type, verify_tag, created_at, updated_at";

    fn decode(r: &mut Cursor<'_>) -> Result<Self> {
        Ok(Self {
            id: r.int()?,
            username: r.text()?,
            email: r.opt_text()?,
            email_verified: r.flag()?,
            phone: r.opt_text()?,
            phone_verified: r.flag()?,
            password_hash: r.opt_text()?,
            is_admin: r.flag()?,
            disabled: r.flag()?,
            nickname: r.opt_text()?,
            avatar: r.opt_text()?,
            gender: r.opt_int()?,
            province: r.opt_text()?,
            city: r.opt_text()?,
            area: r.opt_text()?,
            birthdate: r.opt_text()?,
            real_name_enc: r.opt_text()?,
            id_card_enc: r.opt_text()?,
            certificate_type: r.opt_int()?,
            verify_tag: r.int()?,
            created_at: r.int()?,
            updated_at: r.int()?,
        })
    }
}

from_any_row!(User);

const COLUMNS: &str = <User as Decode>::COLUMNS;

/// What creating a user needs; the password is already hashed.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    /// The phone is proven (an account made by an SMS login).
    pub phone_verified: bool,
}

/// The editable profile of seed 003, as stored.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub gender: Option<i64>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub area: Option<String>,
    pub birthdate: Option<String>,
    pub real_name_enc: Option<String>,
    pub id_card_enc: Option<String>,
    pub certificate_type: Option<i64>,
    pub phone: Option<String>,
}

impl From<&User> for Profile {
    fn from(u: &User) -> Self {
        Self {
            nickname: u.nickname.clone(),
            avatar: u.avatar.clone(),
            gender: u.gender,
            province: u.province.clone(),
            city: u.city.clone(),
            area: u.area.clone(),
            birthdate: u.birthdate.clone(),
            real_name_enc: u.real_name_enc.clone(),
            id_card_enc: u.id_card_enc.clone(),
            certificate_type: u.certificate_type,
            phone: u.phone.clone(),
        }
    }
}

/// Maps a unique violation to the field that is taken.
fn taken(e: sqlx::Error) -> Error {
    match unique_violation(&e) {
        Some(what) if what.contains("email") => Error::Conflict(
            "email_taken",
            "this e-mail address is already registered".into(),
        ),
        Some(what) if what.contains("phone") => Error::Conflict(
            "phone_taken",
            "this phone number is already registered".into(),
        ),
        Some(what) if what.contains("username") => {
            Error::Conflict("username_taken", "this username is already taken".into())
        }
        _ => e.into(),
    }
}

impl Db {
    pub async fn create_user(&self, new: &NewUser, now: i64) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (username, email, phone, password_hash, is_admin, phone_verified, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
        );
        sqlx::query_as(&sql)
            .bind(&new.username)
            .bind(&new.email)
            .bind(&new.phone)
            .bind(&new.password_hash)
            .bind(i64::from(new.is_admin))
            .bind(i64::from(new.phone_verified))
            .bind(now)
            .fetch_one(self.wpool())
            .await
            .map_err(taken)
    }

    pub async fn user_by_phone(&self, phone: &str) -> Result<Option<User>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM users WHERE phone = $1");
        self.one(sql, &[phone.into()]).await
    }

    /// Gives `phone`, proven, to `user_id`, taking it from any other account first.
    pub async fn take_phone(&self, user_id: i64, phone: &str, now: i64) -> Result<()> {
        let mut tx = self.wpool().begin().await?;
        sqlx::query(
            "UPDATE users SET phone = NULL, phone_verified = 0, updated_at = $1 WHERE phone = $2 AND id <> $3",
        )
        .bind(now)
        .bind(phone)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET phone = $1, phone_verified = 1, updated_at = $2 WHERE id = $3",
        )
        .bind(phone)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let sql = sql_once!("SELECT {COLUMNS} FROM users WHERE id = $1");
        self.one(sql, &[id.into()]).await
    }

    /// The user `id` with their groups as of `generation` of the users tables, read
    /// by the caller in its own snapshot: the kept one when it was read at that
    /// generation, otherwise read now (in a later snapshot, never an older one) and
    /// kept. `None` when there is no such user.
    pub(super) async fn user_with_groups(
        &self,
        id: i64,
        generation: Option<i64>,
    ) -> Result<Option<KeptUser>> {
        if let Some(kept) = self.users.get(&id)
            && generation.is_some()
            && kept.generation == generation
        {
            return Ok(Some(kept));
        }
        let sql = sql_once_per_backend!(self.backend(), |backend| format!(
            "SELECT {} FROM users u WHERE u.id = $1",
            kept_user_columns(backend)
        ));
        let read = self.one_with(sql, &[id.into()], kept_user).await?.flatten();
        if let Some(kept) = &read {
            self.keep_user(kept);
        }
        Ok(read)
    }

    /// Keeps `kept` when it was read with a generation.
    pub(super) fn keep_user(&self, kept: &KeptUser) {
        if kept.generation.is_some() {
            self.users.keep(kept.user.id, kept.clone());
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(sqlx::query_as(&sql)
            .bind(email.to_lowercase())
            .fetch_optional(self.pool())
            .await?)
    }

    /// The user whose username or e-mail is `login`, or whose phone is `phone` (the
    /// login's canonical phone, when it is one); a username typed exactly first (one
    /// from before usernames could not spell a phone).
    pub async fn user_by_login(&self, login: &str, phone: &str) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE username = $1 OR email = $2 OR phone = $3 \
             ORDER BY CASE WHEN username = $1 THEN 0 ELSE 1 END, id LIMIT 1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(login)
            .bind(login.to_lowercase())
            .bind(phone)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(user_id)
            .execute(self.wpool())
            .await?;
        Ok(())
    }

    pub async fn set_email(&self, user_id: i64, email: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET email = $1, email_verified = 0, updated_at = $2 WHERE id = $3",
        )
        .bind(email.to_lowercase())
        .bind(now)
        .bind(user_id)
        .execute(self.wpool())
        .await
        .map_err(taken)?;
        Ok(())
    }

    /// Writes the profile fields of seed 003 (already validated and encrypted). The
    /// phone is written only when `phone_changed`: a save that kept it must not put
    /// back what an SMS binding changed meanwhile.
    pub async fn update_profile(
        &self,
        user_id: i64,
        p: &Profile,
        phone_changed: bool,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE users SET nickname = $1, avatar = $2, gender = $3, province = $4, city = $5, \
             area = $6, birthdate = $7, real_name_enc = $8, id_card_enc = $9, certificate_type = $10, \
             phone = CASE WHEN $14 THEN $11 ELSE phone END, \
             phone_verified = CASE WHEN NOT $14 OR phone = $11 THEN phone_verified ELSE 0 END, \
             updated_at = $12 WHERE id = $13",
        )
        .bind(&p.nickname)
        .bind(&p.avatar)
        .bind(p.gender)
        .bind(&p.province)
        .bind(&p.city)
        .bind(&p.area)
        .bind(&p.birthdate)
        .bind(&p.real_name_enc)
        .bind(&p.id_card_enc)
        .bind(p.certificate_type)
        .bind(&p.phone)
        .bind(now)
        .bind(user_id)
        .bind(phone_changed)
        .execute(self.wpool())
        .await
        .map_err(taken)?;
        Ok(())
    }

    pub async fn username_exists(&self, username: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    pub async fn admin_exists(&self) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE is_admin = 1 LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }
}
