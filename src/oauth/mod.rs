//! Protocol rules, free of HTTP and storage: plain functions that take parsed input
//! and return a decision, unit-tested beside the code.

pub mod grant_type;
pub mod guard;
pub mod pkce;
pub mod redirect_uri;
pub mod scope;

pub use grant_type::GrantType;
