//! axum's `Path`, `Query` and `Form`, refusing what they cannot read in the one error
//! shape of [`crate::error`] rather than with axum's plain-text answers: an address
//! whose id does not parse names nothing (404); a query or form whose values do not
//! parse is a bad request (400 `invalid_request`), saying what is wrong.

use crate::error::Error;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The address's parameters.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| Error::NotFound)
    }
}

/// The query string's parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e| Error::invalid_request(e.body_text()))
    }
}

/// A form's fields (`application/x-www-form-urlencoded`).
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| Self(v))
            .map_err(|e| Error::invalid_request(e.body_text()))
    }
}
