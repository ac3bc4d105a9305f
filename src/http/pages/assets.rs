//! The pages' one script (`assets/app.js`), served from this server so that the pages'
//! CSP allows no inline script (docs/security-headers.md).
//!
//! Its address carries a hash of its text: a browser may keep it for a year, and a
//! new release's pages name a new address.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const SCRIPT: &str = include_str!("../../../assets/app.js");

/// `app.<first 16 hex digits of its SHA-256>.js`.
static SCRIPT_NAME: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    format!("app.{}.js", &hex::encode(digest)[..16])
});

static SCRIPT_PATH: LazyLock<String> = LazyLock::new(|| format!("/assets/{}", *SCRIPT_NAME));

/// Where the pages load the script from (`base.html`).
pub fn script_path() -> &'static str {
    &SCRIPT_PATH
}

/// `GET /assets/{name}`: the script under its current name; anything else is 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    if name != *SCRIPT_NAME {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = SCRIPT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
