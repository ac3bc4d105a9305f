//! usercenter: a central user system and OAuth 2.0 / OpenID Connect authorization
//! server.
//!
//! The crate is layered so that the folders say what a thing is:
//! - [`config`]: the configuration contract of SPEC §1 (environment over TOML);
//! - [`crypto`]: hashing of passwords and secrets, random tokens, the server key;
//! - [`store`]: one query layer over SQLite and PostgreSQL, with one set of migrations;
//! - [`http`]: thin handlers that extract, call and render;
//! - [`cli`]: the admin commands of the same binary;
//! - [`server`]: binding, serving and graceful shutdown.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod jose;
pub mod log;
pub mod oauth;
pub mod server;
pub mod service;
pub mod store;
pub mod time;

pub use config::Config;
pub use error::{Error, Result};
