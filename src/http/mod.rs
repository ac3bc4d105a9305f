//! HTTP: the router and the thin handlers behind it.

pub mod api;
pub mod ctx;
pub mod extract;
mod health;
pub mod i18n;
mod oauth;
pub mod pages;

use crate::service::App;
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// What every handler can reach.
pub struct State {
    pub app: App,
    /// The public base URL (`USERCENTER_ISSUER`, or `http://` + the bound address).
    pub issuer: String,
}

pub type SharedState = Arc<State>;

/// The whole HTTP surface.
pub fn router(state: SharedState) -> Router {
    use axum::routing::{get, post};
    let (api, openapi) = api::routes::router().split_for_parts();
    let openapi = Arc::new(openapi);
    let api = api.layer(middleware::from_fn_with_state(
        state.clone(),
        api::format::errors_as_pages,
    ));
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/healthz", get(health::healthz))
        .route("/assets/{name}", get(pages::assets::asset))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/account") }),
        )
        .route(
            "/login",
            get(pages::auth::login_page).post(pages::auth::login_submit),
        )
        .route(
            "/register",
            get(pages::auth::register_page).post(pages::auth::register_submit),
        )
        .route(
            "/logout",
            get(pages::auth::logout_page).post(pages::auth::logout_submit),
        )
        .route(
            "/password/forgot",
            get(pages::password::forgot_page).post(pages::password::forgot_submit),
        )
        .route(
            "/password/reset",
            get(pages::password::reset_page).post(pages::password::reset_submit),
        )
        .route("/account", get(pages::account::account_page))
        .route("/account/profile", post(pages::account::profile_submit))
        .route("/account/password", post(pages::account::password_submit))
        .route("/account/email", post(pages::account::email_submit))
        .route(
            "/account/apps",
            get(pages::console::apps).post(pages::console::create_app),
        )
        .route(
            "/account/apps/{pk}",
            get(pages::console::app).post(pages::console::update_app),
        )
        .route(
            "/account/apps/{pk}/reset-secret",
            post(pages::console::reset_secret),
        )
        .route(
            "/account/apps/{pk}/delete",
            post(pages::console::delete_app),
        )
        .route(
            "/account/authorizations",
            get(pages::console::authorizations),
        )
        .route(
            "/account/authorizations/{pk}/scope",
            post(pages::console::change_scope),
        )
        .route(
            "/account/authorizations/{pk}/revoke",
            post(pages::console::revoke),
        )
        .route(
            "/account/authorizations/{pk}/tokens/{id}/delete",
            post(pages::console::delete_token),
        )
        .route(
            "/account/sessions/end",
            post(pages::account::end_session_submit),
        )
        .route("/account/cards", post(pages::account::card_submit))
        .route("/device", get(pages::device::get).post(pages::device::post))
        .route("/login/qr", post(pages::scan::start))
        .route("/login/qr/{id}", get(pages::scan::poll))
        .route(
            "/qr/{id}",
            get(pages::scan::phone_page).post(pages::scan::phone_decision),
        )
        .route("/admin", get(pages::admin::settings::settings_page))
        .route(
            "/admin/settings",
            get(pages::admin::settings::settings_page)
                .post(pages::admin::settings::settings_submit),
        )
        .route(
            "/admin/scopes",
            get(pages::admin::scopes::scopes_page).post(pages::admin::scopes::scopes_submit),
        )
        .route(
            "/admin/scopes/{name}",
            get(pages::admin::scopes::scope_page).post(pages::admin::scopes::scope_submit),
        )
        .route("/admin/users", get(pages::admin::users::users_page))
        .route(
            "/admin/users/{id}",
            get(pages::admin::users::user_page).post(pages::admin::users::user_submit),
        )
        .route(
            "/admin/groups",
            get(pages::admin::groups::groups_page).post(pages::admin::groups::groups_submit),
        )
        .route(
            "/admin/groups/{id}",
            get(pages::admin::groups::group_page).post(pages::admin::groups::group_submit),
        )
        .route("/admin/clients", get(pages::admin::clients::clients_page))
        .route(
            "/admin/clients/{id}",
            post(pages::admin::clients::client_submit),
        )
        .route(
            "/admin/cards",
            get(pages::admin::cards::cards_page).post(pages::admin::cards::cards_submit),
        )
        .route("/admin/audit", get(pages::admin::audit::audit_page))
        .route(
            "/.well-known/openid-configuration",
            get(oauth::discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::discovery::metadata),
        )
        .merge(oauth_routes(post(oauth::token::token)))
        // Seed 001's token endpoint, in its envelope.
        .route("/oauth2/token", post(oauth::seed001::token))
        // Seed 004's terminals: its prefix, with `sub` and `roles` in token answers.
        .route(
            "/oauth/v2/authorize",
            get(oauth::authorize::get).post(oauth::authorize::post),
        )
        .route("/oauth/v2/token", post(oauth::token::token_v2))
        .route(
            "/oauth/v2/check_token",
            get(oauth::token::check_token_v2).post(oauth::token::check_token_v2),
        )
        .route(
            "/oauth/v2/code",
            get(oauth::sms::code).post(oauth::sms::code),
        )
        .route("/oauth/v2/session/{session}/code", get(oauth::qr::code))
        .route(
            "/oauth/v2/session/{session}/state",
            get(oauth::qr::session_state),
        )
        // Seed 003's clients: the same endpoints under its prefix, and its profile.
        .nest(
            oauth::token::SEED_003_PREFIX,
            oauth_routes(post(oauth::token::token_seed003)),
        )
        .route("/client-api/userCenter/info", get(api::seed003::info))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// The OAuth 2.0 / OpenID Connect endpoints under `/oauth`, with `token` as the
/// token endpoint.
fn oauth_routes(token: axum::routing::MethodRouter<SharedState>) -> Router<SharedState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/oauth/jwks", get(oauth::discovery::jwks))
        .route(
            "/oauth/authorize",
            get(oauth::authorize::get).post(oauth::authorize::post),
        )
        .route("/oauth/token", token)
        .route(
            "/oauth/device_authorization",
            post(oauth::token::device_authorization),
        )
        .route("/oauth/introspect", post(oauth::token::introspect))
        .route("/oauth/check_token", post(oauth::token::introspect))
        .route("/oauth/revoke", post(oauth::token::revoke))
        .route("/oauth/register", post(oauth::register::register))
        .route(
            "/oauth/userinfo",
            get(oauth::userinfo::userinfo).post(oauth::userinfo::userinfo),
        )
}

/// One log line per request: method, path, status, latency. Only the path is
/// logged, never the query, which may carry a token (`/api/user?access_token=…`).
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        target: crate::log::ACCESS,
        %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = %Millis(started.elapsed()),
        "request"
    );
    response
}

/// A duration in milliseconds to the microsecond (`0.412`), for the access log.
struct Millis(std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0.as_micros();
        write!(f, "{}.{:03}", micros / 1000, micros % 1000)
    }
}
