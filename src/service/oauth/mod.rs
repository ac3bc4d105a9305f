//! The authorization server's operations: client authentication, the grants, and
//! the one function that issues tokens.
//!
//! The token endpoint reads as a pipeline (STYLE.md):
//!
//! ```text
//! parse ─▶ authenticate the client (once) ─▶ grant allowed for it? ─▶ grant module ─▶ issue()
//! ```

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod grants;
mod issue;
pub mod sms;
pub mod tokens;

pub use issue::{Issue, Issued};

use crate::error::{Error, Result};
use crate::store::Client;

/// seed 001's error code 11: the grant is not registered for this client.
pub fn require_grant(client: &Client, grant: crate::oauth::GrantType) -> Result<()> {
    if client.grant_types.iter().any(|g| g == grant.as_str()) {
        Ok(())
    } else {
        Err(Error::UnauthorizedClient(format!(
            "this client is not registered for the {grant} grant"
        )))
    }
}
