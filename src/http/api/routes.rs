//! The JSON API's routes and its OpenAPI document, declared together: every route is
//! registered from its handler's `#[utoipa::path]`, so the document served at
//! `/api/openapi.json` cannot drift from the routes.

use super::{account, auth, console};
use crate::http::SharedState;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "usercenter JSON API",
        description = "Accounts, self-service consoles and the resource API. Callers authenticate with the \
            session cookie (unsafe methods carry X-CSRF-Token) or a Bearer token whose scopes guard the path. \
            Errors: {error, error_description, error_code, fields?}. Every route accepts ?format=json|html."
    ),
    modifiers(&Security),
    security(("session" = []), ("bearer" = []))
)]
struct Doc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "uc_session",
                "the session cookie; __Host-uc_session when the issuer is https",
            ))),
        );
    }
}

/// Every JSON API route, with its documentation.
pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::session))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::forgot))
        .routes(routes!(auth::reset))
        .routes(routes!(account::get, account::patch))
        .routes(routes!(console::resource_user))
        .routes(routes!(console::list_apps, console::create_app))
        .routes(routes!(
            console::get_app,
            console::update_app,
            console::delete_app
        ))
        .routes(routes!(console::reset_secret))
        .routes(routes!(console::list_authorizations))
        .routes(routes!(
            console::get_authorization,
            console::update_authorization,
            console::delete_authorization
        ))
        .routes(routes!(console::delete_token))
        .routes(routes!(console::list_tokens))
        .routes(routes!(console::me))
        .routes(routes!(console::user))
        .routes(routes!(console::groups))
        .routes(routes!(console::group))
}
