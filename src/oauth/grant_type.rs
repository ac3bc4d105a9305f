//! The grant types a client may be registered for (SPEC §1).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// RFC 6749 §4.1; also redeems the SMS and QR codes of seed 004.
    AuthorizationCode,
    /// RFC 6749 §4.2.
    Implicit,
    /// RFC 6749 §4.3.
    Password,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
    /// Physical card login (seed 004).
    OfflineCert,
    /// RFC 8628.
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 7] = [
        Self::AuthorizationCode,
        Self::Implicit,
        Self::Password,
        Self::ClientCredentials,
        Self::RefreshToken,
        Self::OfflineCert,
        Self::DeviceCode,
    ];

    /// What an app registered without grant types gets (SPEC §1).
    pub const DEFAULT: [GrantType; 2] = [Self::AuthorizationCode, Self::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Implicit => "implicit",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::OfflineCert => "offline_cert",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Whether using this grant involves a browser redirect, so that the client needs
    /// a redirect URI.
    pub fn redirects(self) -> bool {
        matches!(self, Self::AuthorizationCode | Self::Implicit)
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // Seed 001 spells it in the singular.
            "client_credential" => Ok(Self::ClientCredentials),
            _ => Self::ALL
                .into_iter()
                .find(|g| g.as_str() == s)
                .ok_or_else(|| format!("unknown grant type {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_alias() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), g);
        }
        assert_eq!(
            "client_credential".parse::<GrantType>().unwrap(),
            GrantType::ClientCredentials
        );
        assert!("magic".parse::<GrantType>().is_err());
    }
}
