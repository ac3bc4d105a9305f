//! The JSON API (SPEC §3): bodies are JSON, errors are the one shape of
//! [`crate::error::ErrorBody`].

pub mod account;
pub mod auth;
pub mod caller;
pub mod console;
pub mod format;
pub mod routes;
pub mod seed003;

use crate::error::Error;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

/// A JSON body. A wrong Content-Type is error code 9 (seed 001); a body that does
/// not parse names what is wrong.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(Error::InvalidRequest(
                9,
                "Content-Type must be application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::invalid_request(format!("cannot read the body: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Error::invalid_request(format!("the JSON body is not valid: {e}")))
    }
}
