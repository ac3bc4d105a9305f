//! `GET /healthz` (SPEC §1): 200 when the database answers, 503 when not.

use super::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    if state.app.db.ping().await {
        (StatusCode::OK, Json(json!({"status": "ok"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": "the database does not answer"})),
        )
    }
}
