//! The one error type of the server, and the one place it becomes an HTTP answer.
//!
//! Every endpoint answers errors in the same shape: RFC 6749 §5.2 (`error`,
//! `error_description`) plus `error_code`, the numeric code of seed 001's table, and
//! `fields` for field-level validation errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;

/// What went wrong, in the words of RFC 6749 and the seeds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed request; the `u8` is seed 001's code (1, 7, 9, …).
    #[error("{1}")]
    InvalidRequest(u8, String),
    /// Client authentication failed (code 5). RFC 6749 §5.2: 401 with
    /// `WWW-Authenticate` when the client tried HTTP Basic.
    #[error("{0}")]
    InvalidClient(String),
    /// A code, refresh token or credentials did not hold; `u8` is 3, 4, 8, 10 or 15.
    #[error("{1}")]
    InvalidGrant(u8, String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// A bearer token that is invalid or expired (RFC 6750 §3.1).
    #[error("{0}")]
    InvalidToken(String),
    /// No bearer token where one is needed: 401 `invalid_token` in the body, and a
    /// challenge that names no error (RFC 6750 §3.1).
    #[error("a Bearer token is required")]
    NoToken,
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    AccessDenied(String),
    /// Field-level validation errors.
    #[error("{message}")]
    Validation {
        message: String,
        fields: BTreeMap<String, String>,
    },
    /// A unique value is taken (`email_taken`, `username_taken`, …).
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("not found")]
    NotFound,
    /// 400 with RFC 8628's answer to a device's poll (`authorization_pending`,
    /// `slow_down`, `expired_token`, `access_denied`).
    #[error("{1}")]
    Polling(&'static str, String),
    /// 404 with an error name (`phone_not_found`).
    #[error("{1}")]
    Absent(&'static str, String),
    /// 401 with an error name (`invalid_credentials`, `login_required`).
    #[error("{1}")]
    Unauthorized(&'static str, String),
    /// 403 with an error name (`registration_closed`, `csrf_failed`).
    #[error("{1}")]
    Forbidden(&'static str, String),
    /// 400 with an error name (`invalid_token` for a spent reset link).
    #[error("{1}")]
    Rejected(&'static str, String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The client's daily token quota is used up (seed 001's `QUOTA_EXCEEDED`).
    #[error("the client's daily token quota is used up")]
    QuotaExceeded,
    /// See `From<sqlx::Error>`.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// A service outside the server that the request needs (the SMS gateway) did not
    /// take it: 503, the text says what to do; the cause goes to the log.
    #[error("{0}")]
    Unavailable(String),
    /// An issued credential could not be stored; seed 001's codes 12, 13 and 16.
    #[error("could not create the {}", .0.name())]
    NotCreated(Credential),
    /// A token was about to be stored with a kept client row that has changed since
    /// it was read ([`crate::store::Db::cached_client`]); the request is then served
    /// from a fresh read, so a caller never sees this.
    #[error("the client changed while its token was being issued")]
    ClientChanged,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    /// PostgreSQL refuses text holding a NUL character (SQLSTATE 22021), which
    /// SQLite stores: such a value came with the request (`%00` in a form, `\u0000` in
    /// JSON), so the request is bad; the server did not fail.
    fn from(e: sqlx::Error) -> Self {
        if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("22021") {
            return Self::invalid_request("a value holds a NUL character");
        }
        Self::Database(e)
    }
}

/// What the token and authorization endpoints issue, for [`Error::NotCreated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AccessToken,
    Code,
    RefreshToken,
}

impl Credential {
    fn name(self) -> &'static str {
        match self {
            Self::AccessToken => "access token",
            Self::Code => "authorization code",
            Self::RefreshToken => "refresh token",
        }
    }

    /// Seed 001's `error_code`.
    fn code(self) -> u8 {
        match self {
            Self::AccessToken => 12,
            Self::Code => 13,
            Self::RefreshToken => 16,
        }
    }

    /// Maps a failure to store this credential to [`Error::NotCreated`], logging its
    /// cause; an error that is not the store's passes unchanged.
    pub fn not_stored(self) -> impl FnOnce(Error) -> Error {
        move |e| match e {
            Error::Database(_) | Error::Sqlite(_) | Error::Internal(_) => {
                tracing::error!(error = %e, "could not store an {}", self.name());
                Error::NotCreated(self)
            }
            other => other,
        }
    }
}

impl Error {
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::InvalidRequest(1, description.into())
    }

    /// One field is wrong.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation {
            message: format!("{name}: {message}"),
            fields: BTreeMap::from([(name.to_string(), message)]),
        }
    }

    /// HTTP status, `error` and seed 001's `error_code`.
    pub fn parts(&self) -> (StatusCode, &'static str, u8) {
        match self {
            Self::InvalidRequest(code, _) => (StatusCode::BAD_REQUEST, "invalid_request", *code),
            Self::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_client", 5),
            Self::InvalidGrant(code, _) => (StatusCode::BAD_REQUEST, "invalid_grant", *code),
            Self::UnauthorizedClient(_) => (StatusCode::BAD_REQUEST, "unauthorized_client", 11),
            Self::UnsupportedGrantType(_) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type", 11)
            }
            Self::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope", 14),
            Self::InvalidToken(_) | Self::NoToken => (StatusCode::UNAUTHORIZED, "invalid_token", 6),
            Self::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope", 14),
            Self::AccessDenied(_) => (StatusCode::FORBIDDEN, "access_denied", 1),
            Self::Validation { .. } => (StatusCode::BAD_REQUEST, "invalid_request", 1),
            Self::Conflict(name, _) => (StatusCode::CONFLICT, name, 1),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", 1),
            Self::Absent(name, _) => (StatusCode::NOT_FOUND, name, 1),
            Self::Polling(name, _) => (StatusCode::BAD_REQUEST, name, 1),
            Self::Unauthorized(name, _) => (StatusCode::UNAUTHORIZED, name, 1),
            Self::Forbidden(name, _) => (StatusCode::FORBIDDEN, name, 1),
            Self::Rejected(name, _) => (StatusCode::BAD_REQUEST, name, 1),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", 1),
            Self::QuotaExceeded => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", 1),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                2,
            ),
            Self::Database(_) | Self::Sqlite(_) | Self::Internal(_) | Self::ClientChanged => {
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error", 2)
            }
            Self::NotCreated(what) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                what.code(),
            ),
        }
    }

    /// The text shown to the caller. Server errors are not described: their detail
    /// goes to the log only.
    pub fn description(&self) -> String {
        match self {
            Self::Database(_) | Self::Sqlite(_) | Self::Internal(_) | Self::ClientChanged => {
                "the server could not complete the request".into()
            }
            other => clipped(other.to_string()),
        }
    }
}

/// The most of an error's text an answer carries: a message may repeat what the
/// request sent (an unknown field's name, a scope), which may be megabytes.
const MAX_DESCRIPTION: usize = 500;

fn clipped(text: String) -> String {
    match text.char_indices().nth(MAX_DESCRIPTION) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub error_description: String,
    pub error_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        let (_, error, error_code) = e.parts();
        Self {
            error,
            error_description: e.description(),
            error_code,
            fields: match e {
                Error::Validation { fields, .. } => Some(
                    fields
                        .iter()
                        .map(|(k, v)| (clipped(k.clone()), clipped(v.clone())))
                        .collect(),
                ),
                _ => None,
            },
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, _, _) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, axum::Json(ErrorBody::from(&self))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(value) = self.challenge() {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl Error {
    /// The `WWW-Authenticate` challenge of a failed client authentication (RFC 6749
    /// §5.2) or bearer token (RFC 6750 §3).
    pub fn challenge(&self) -> Option<HeaderValue> {
        let challenge = match self {
            Error::InvalidClient(_) => "Basic realm=\"usercenter\"".to_string(),
            Error::NoToken => "Bearer realm=\"usercenter\"".to_string(),
            Error::InvalidToken(_) | Error::InsufficientScope(_) => format!(
                "Bearer realm=\"usercenter\", error=\"{}\", error_description=\"{}\"",
                self.parts().1,
                self.description().replace(['"', '\\'], "'")
            ),
            _ => return None,
        };
        HeaderValue::from_str(&challenge).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_detail() {
        let e = Error::Internal("disk full at /secret/path".into());
        assert_eq!(e.parts().2, 2);
        assert!(!e.description().contains("/secret/path"));
    }

    #[test]
    fn what_a_request_sent_is_repeated_only_so_far() {
        let long = "é".repeat(100_000);
        let e = Error::field(&long, format!("unknown field {long}"));
        let body = ErrorBody::from(&e);
        assert_eq!(body.error_description.chars().count(), MAX_DESCRIPTION + 1);
        assert!(body.error_description.ends_with('…'));
        let (field, message) = body.fields.unwrap().pop_first().unwrap();
        assert_eq!(field.chars().count(), MAX_DESCRIPTION + 1);
        assert_eq!(message.chars().count(), MAX_DESCRIPTION + 1);
        let short = Error::invalid_request("no scope");
        assert_eq!(short.description(), "no scope");
    }

    #[test]
    fn validation_carries_fields() {
        let body = ErrorBody::from(&Error::field("email", "is not an e-mail address"));
        assert_eq!(body.error, "invalid_request");
        assert_eq!(body.fields.unwrap()["email"], "is not an e-mail address");
    }
}
