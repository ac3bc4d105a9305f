//! The profile of seed 003: editing it, and reading it back with the ID-card number
//! and real name decrypted only where the caller masks them.

use super::App;
use crate::error::{Error, Result};
use crate::store::{Profile, User};
use serde::{Deserialize, Serialize};

/// The profile as a person edits it (plain text; encrypted before storage).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProfileInput {
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    pub gender: Option<i64>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub area: Option<String>,
    pub birthdate: Option<String>,
    pub real_name: Option<String>,
    pub id_card: Option<String>,
    pub certificate_type: Option<i64>,
    pub phone: Option<String>,
}

/// Masks all but the first `keep_start` and last `keep_end` characters (seed 003:
/// `132*****720`, `4409**********987X`).
pub fn mask(value: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..keep_start].iter().collect();
    out.push_str(&"*".repeat(chars.len() - keep_start - keep_end));
    out.extend(&chars[chars.len() - keep_end..]);
    out
}

pub fn mask_phone(phone: &str) -> String {
    mask(phone, 3, 3)
}

pub fn mask_id_card(id: &str) -> String {
    mask(id, 4, 4)
}

/// A real name shows its first character only.
pub fn mask_name(name: &str) -> String {
    mask(name, 1, 0)
}

/// The kinds of identity document a profile may name (seed 003's `certificateType`).
const CERTIFICATE_TYPES: std::ops::RangeInclusive<i64> = 1..=3;

/// A day of the calendar as `YYYY-MM-DD` (OpenID Connect's `birthdate`, whose year
/// may be 0000: left out).
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return false;
    }
    let number = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // 0000 is a leap year by the rule, so 0000-02-29 is taken.
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn clean(value: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    match value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) if v.chars().count() > max => Err(Error::field(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => {
            Err(Error::field(field, "must not contain control characters"))
        }
        other => Ok(other),
    }
}

impl App {
    /// Validates and stores a profile edit. Fields left out (`None`) are cleared,
    /// as a form that submits every field expects.
    pub async fn update_profile(&self, user: &User, input: ProfileInput) -> Result<()> {
        let avatar = clean(input.avatar, "avatar", 500)?;
        if let Some(a) = &avatar
            && !(a.starts_with("https://") || a.starts_with("http://"))
        {
            return Err(Error::field("avatar", "must be an http(s) URL"));
        }
        if let Some(g) = input.gender
            && !(0..=2).contains(&g)
        {
            return Err(Error::field(
                "gender",
                "must be 0 (unknown), 1 (male) or 2 (female)",
            ));
        }
        let birthdate = clean(input.birthdate, "birthdate", 10)?;
        // A value kept as it is stays as stored, even one from before these checks.
        if let Some(b) = &birthdate
            && birthdate != user.birthdate
            && !is_date(b)
        {
            return Err(Error::field("birthdate", "must be a date as YYYY-MM-DD"));
        }
        if let Some(t) = input.certificate_type
            && input.certificate_type != user.certificate_type
            && !CERTIFICATE_TYPES.contains(&t)
        {
            return Err(Error::field(
                "certificate_type",
                "must be 1 (resident ID card), 2 (passport) or 3 (other)",
            ));
        }
        let id_card = clean(input.id_card, "id_card", 32)?;
        if let Some(id) = &id_card
            && !id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(Error::field("id_card", "must be letters and digits only"));
        }
        // A phone kept as it is stays as stored, even in a spelling from before
        // docs/phones.md (another account may hold its one spelling).
        let phone = match clean(input.phone, "phone", 32)? {
            Some(p) if Some(p.as_str()) == user.phone.as_deref() => Some(p),
            other => super::users::phone_field(other)?,
        };
        let real_name = clean(input.real_name, "real_name", 64)?;
        let profile = Profile {
            nickname: clean(input.nickname, "nickname", 64)?,
            avatar,
            gender: input.gender,
            province: clean(input.province, "province", 64)?,
            city: clean(input.city, "city", 64)?,
            area: clean(input.area, "area", 64)?,
            birthdate,
            real_name_enc: real_name.map(|n| self.key.encrypt(n.as_bytes())),
            id_card_enc: id_card.map(|n| self.key.encrypt(n.to_ascii_uppercase().as_bytes())),
            certificate_type: input.certificate_type,
            phone,
        };
        let at = crate::time::now();
        let phone_changed = profile.phone != user.phone;
        self.db
            .update_profile(user.id, &profile, phone_changed, at)
            .await?;
        self.db
            .audit(Some(user.id), "profile_updated", &user.username, "", "", at)
            .await
    }

    /// A user's current profile in the editable form (identity decrypted).
    pub fn profile_input(&self, user: &User) -> ProfileInput {
        let (real_name, id_card) = self.identity(user);
        ProfileInput {
            nickname: user.nickname.clone(),
            avatar: user.avatar.clone(),
            gender: user.gender,
            province: user.province.clone(),
            city: user.city.clone(),
            area: user.area.clone(),
            birthdate: user.birthdate.clone(),
            real_name,
            id_card,
            certificate_type: user.certificate_type,
            phone: user.phone.clone(),
        }
    }

    /// The decrypted real name and ID-card number of a user.
    pub fn identity(&self, user: &User) -> (Option<String>, Option<String>) {
        (
            user.real_name_enc
                .as_deref()
                .and_then(|s| self.key.decrypt_text(s)),
            user.id_card_enc
                .as_deref()
                .and_then(|s| self.key.decrypt_text(s)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_seed_003() {
        assert_eq!(mask_phone("13212345720"), "132*****720");
        assert_eq!(mask_id_card("440923199001011987X"), "4409***********987X");
        assert_eq!(mask_id_card("44090000000000987X"), "4409**********987X");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn birthdates_are_days_of_the_calendar() {
        for ok in [
            "1990-01-31",
            "2000-02-29",
            "2024-02-29",
            "0001-12-31",
            "0000-02-29",
        ] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2024-99-99",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-00-10",
            "2024-01-00",
            "0000-13-01",
            "2024-1-01",
            "2024/01/01",
            "２０２４-01-01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
