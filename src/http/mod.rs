//! HTTP: the router and the thin handlers behind it.

mod health;

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
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request: method, path, status, latency. Only the path is
/// logged, never the query, which may carry a token (`/api/user?access_token=…`).
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        target: "usercenter::http",
        %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
