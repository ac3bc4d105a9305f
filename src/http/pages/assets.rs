//! The pages' script and stylesheets (`assets/`), served from this server so that the
//! pages' CSP allows no inline script and no inline style (docs/security-headers.md).
//!
//! Each is compiled into the binary and served under a name that carries a hash of
//! its text: a browser may keep it for a year, and a new release's pages name a new
//! address.

use crate::http::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    /// Its file under `assets/`, which the templates name.
    file: &'static str,
    text: &'static str,
}

macro_rules! assets {
    ($($file:literal),* $(,)?) => {
        &[$(Asset { file: $file, text: include_str!(concat!("../../../assets/", $file)) }),*]
    };
}

/// `app.css` is every page's; the others are one page's, or a few pages' alike.
const ASSETS: &[Asset] = assets!(
    "app.js",
    "app.css",
    "admin.css",
    "authorizations.css",
    "consent.css",
    "console.css",
    "data.css",
    "device.css",
    "login.css",
    "scan.css",
);

/// Each asset with its address: `/assets/<stem>.<first 16 hex digits of its
/// SHA-256>.<extension>`.
static SERVED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = hex::encode(Sha256::digest(a.text.as_bytes()));
            let (stem, ext) = a.file.rsplit_once('.').unwrap_or((a.file, ""));
            (format!("/assets/{stem}.{}.{ext}", &digest[..16]), a)
        })
        .collect()
});

/// Where the pages load `file` (one of `assets/`) from. An unknown file (a
/// template's mistake, caught by the tests) gets an address that answers 404.
pub fn path(file: &str) -> &'static str {
    SERVED
        .iter()
        .find(|(_, a)| a.file == file)
        .map_or("/assets/unknown", |(path, _)| path.as_str())
}

/// `GET /assets/{name}`: an asset under its current name; anything else is 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, asset)) = SERVED
        .iter()
        .find(|(path, _)| path.strip_prefix("/assets/") == Some(name.as_str()))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = if asset.file.ends_with(".js") {
        "text/javascript; charset=utf-8"
    } else {
        "text/css; charset=utf-8"
    };
    let mut response = asset.text.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every asset a template names is one served, and every one served is named.
    #[test]
    fn the_templates_name_the_assets_there_are() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut named = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("assets::path(\"").skip(1) {
                named.push(part.split('"').next().unwrap().to_string());
            }
        }
        assert!(named.len() >= ASSETS.len(), "{named:?}");
        for file in &named {
            assert_ne!(path(file), "/assets/unknown", "{file}");
        }
        for a in ASSETS {
            assert!(named.iter().any(|n| n == a.file), "{} is not used", a.file);
        }
        assert_eq!(path("nothing.css"), "/assets/unknown");
        let js = path("app.js");
        let hash = js
            .strip_prefix("/assets/app.")
            .and_then(|n| n.strip_suffix(".js"));
        assert!(
            hash.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "{js}"
        );
    }
}
