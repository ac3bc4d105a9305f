//! The one integration test binary (each test binary costs a link): the real server
//! on a free port with a fresh database, driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod independent;

mod accounts;
mod admin;
mod browser;
mod compat;
mod console;
mod foundation;
mod oauth;
mod smtp;
mod tls;
